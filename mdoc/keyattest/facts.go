package keyattest

import (
	"fmt"
	"time"
)

// Facts are what a verified platform attestation says about the device and
// app, in one shape for both platforms: the issuer's enrolment policy reads
// them and `mdoc-issuer attestation check` prints them. Fields a platform
// does not attest are empty.
type Facts struct {
	Format string `json:"format"`
	// SecurityLevel is where the key lives: Software, TrustedEnvironment or
	// StrongBox (Android attestationSecurityLevel), SecureEnclave (App Attest).
	SecurityLevel        string `json:"security_level"`
	KeyMintSecurityLevel string `json:"keymint_security_level,omitempty"`
	AttestationVersion   int64  `json:"attestation_version,omitempty"`
	// VerifiedBootState and DeviceLocked come from the hardware-enforced
	// RootOfTrust; absent when only software-enforced.
	VerifiedBootState string `json:"verified_boot_state,omitempty"`
	DeviceLocked      *bool  `json:"device_locked,omitempty"`
	OSVersion         string `json:"os_version,omitempty"`     // "14.0.0" (Android), "17.4" (iOS)
	OSPatchLevel      string `json:"os_patch_level,omitempty"` // "2024-03"
	// PackageNames and SigningCertDigests (hex SHA-256) are Android's
	// attestationApplicationId; AppID is App Attest's "TEAMID.bundle.id".
	PackageNames       []string `json:"package_names,omitempty"`
	SigningCertDigests []string `json:"signing_cert_digests,omitempty"`
	AppID              string   `json:"app_id,omitempty"`
	// Device-ID attestation (Android), when the device supplied it.
	Brand        string `json:"brand,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Model        string `json:"model,omitempty"`
	Device       string `json:"device,omitempty"`
	Product      string `json:"product,omitempty"`
	// Environment is production or development: App Attest's aaguid, or for
	// Android whether the chain ends in a simulated development root.
	Environment string  `json:"environment"`
	Simulated   bool    `json:"simulated,omitempty"`
	Counter     *uint32 `json:"counter,omitempty"`
	KeyID       string  `json:"key_id,omitempty"` // App Attest key id, base64
	Challenge   string  `json:"challenge,omitempty"`
	Root        string  `json:"root"`
	ChainLength int     `json:"chain_length"`
	// ValidFrom and ValidUntil bound when every certificate of the chain is
	// valid (the latest notBefore, the earliest notAfter).
	ValidFrom  time.Time `json:"valid_from"`
	ValidUntil time.Time `json:"valid_until"`
}

// androidOSVersion renders KeyMint's osVersion (MMmmss, e.g. 130000) as
// "13.0.0"; 0 means unknown (e.g. a key created before the OS reported it).
func androidOSVersion(v int64) string {
	if v <= 0 {
		return ""
	}
	return fmt.Sprintf("%d.%d.%d", v/10000, v/100%100, v%100)
}

// androidPatchLevel renders YYYYMM (osPatchLevel) or YYYYMMDD as
// "YYYY-MM" / "YYYY-MM-DD".
func androidPatchLevel(v int64) string {
	switch {
	case v >= 19000000:
		return fmt.Sprintf("%04d-%02d-%02d", v/10000, v/100%100, v%100)
	case v >= 190000:
		return fmt.Sprintf("%04d-%02d", v/100, v%100)
	}
	return ""
}
