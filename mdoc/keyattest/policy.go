package keyattest

import "fmt"

// AndroidPolicy is the device policy applied to verified Android facts:
// the key in hardware (TEE or StrongBox, or StrongBox only), verified boot
// with a locked bootloader (AVB "green" state), and optionally a minimum OS
// patch level. The zero value is the default policy; it cannot be relaxed
// below hardware-backed, verified and locked.
type AndroidPolicy struct {
	RequireStrongBox bool
	// MinOSPatchLevel "" skips the check; else "YYYY-MM".
	MinOSPatchLevel string
}

// CodeOSPatchLevel: the OS patch level is below the configured minimum.
const CodeOSPatchLevel Code = "os_patch_level"

// Check applies the policy, returning an *Error with CodeSecurityLevel,
// CodeBootState or CodeOSPatchLevel.
func (p AndroidPolicy) Check(f Facts) error {
	const fm = FormatAndroidKey
	for _, l := range []struct{ name, v string }{{"attestationSecurityLevel", f.SecurityLevel}, {"keyMintSecurityLevel", f.KeyMintSecurityLevel}} {
		ok := l.v == SecurityStrongBox.String() || (!p.RequireStrongBox && l.v == SecurityTrustedEnvironment.String())
		if !ok {
			want := "TrustedEnvironment or StrongBox"
			if p.RequireStrongBox {
				want = "StrongBox"
			}
			return errf(fm, CodeSecurityLevel, "%s is %s, want %s", l.name, l.v, want)
		}
	}
	if f.VerifiedBootState != BootVerified.String() {
		return errf(fm, CodeBootState, "verified boot state is %q, want Verified (bootloader unlocked or custom OS)", f.VerifiedBootState)
	}
	if f.DeviceLocked == nil || !*f.DeviceLocked {
		return errf(fm, CodeBootState, "the bootloader is unlocked")
	}
	if p.MinOSPatchLevel != "" && (f.OSPatchLevel == "" || f.OSPatchLevel[:min(7, len(f.OSPatchLevel))] < p.MinOSPatchLevel) {
		return errf(fm, CodeOSPatchLevel, "OS patch level %q is below %s", f.OSPatchLevel, p.MinOSPatchLevel)
	}
	return nil
}

// String describes the policy.
func (p AndroidPolicy) String() string {
	lvl := "TEE or StrongBox"
	if p.RequireStrongBox {
		lvl = "StrongBox"
	}
	return fmt.Sprintf("%s, verified boot, locked, patch ≥ %q", lvl, p.MinOSPatchLevel)
}
