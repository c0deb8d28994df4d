package walletsim

import (
	"fmt"
	"strings"

	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/wallet-sim/se"
)

// Platform names the wallet style being simulated.
type Platform string

const (
	// PlatformApple: Face ID / Touch ID only, no PIN fallback for the
	// credential (iPhone wallet); JPKI token JPKIAPIOSTOKEN.
	PlatformApple Platform = "apple"
	// PlatformAndroid: device PIN or BiometricPrompt; JPKI token
	// JPKIAPGPSETOKEN on the GP-SE.
	PlatformAndroid Platform = "android"
)

// Profile is the simulated device: platform, model, OS version and whether
// it is rooted / jailbroken. The issuer's attestation service vouches for it
// at enrolment, and the issuer's allow-list decides whether it may enrol.
type Profile struct {
	Platform  Platform `json:"platform"`
	Model     string   `json:"model"`
	OSVersion string   `json:"os_version"`
	Rooted    bool     `json:"rooted"`
}

// DefaultOSVersion is used when a profile names none.
func DefaultOSVersion(p Platform) string {
	if p == PlatformApple {
		return "iOS 26.1"
	}
	return "Android 16"
}

// Validate checks the profile and fills in defaults.
func (p *Profile) Validate() error {
	switch p.Platform {
	case PlatformApple, PlatformAndroid:
	default:
		return newErr("profile", CodeUnsupportedProfile, "profile %q: use apple or android", p.Platform)
	}
	p.Model = strings.TrimSpace(p.Model)
	if p.Model == "" {
		return newErr("profile", CodeUnsupportedProfile, "a device model is required (e.g. iPhone17,1 or Pixel 9)")
	}
	if len(p.Model) > 128 || len(p.OSVersion) > 128 {
		return newErr("profile", CodeUnsupportedProfile, "model and OS version are at most 128 bytes")
	}
	if p.OSVersion == "" {
		p.OSVersion = DefaultOSVersion(p.Platform)
	}
	return nil
}

// Policy is the secure-element user-verification policy of the platform.
func (p Profile) Policy() se.Policy {
	if p.Platform == PlatformApple {
		return se.PolicyApple
	}
	return se.PolicyAndroid
}

// JPKIToken is the token label of the platform's JPKI applet.
func (p Profile) JPKIToken() jpki.Token {
	if p.Platform == PlatformApple {
		return jpki.TokenIOS
	}
	return jpki.TokenGPSE
}

func (p Profile) String() string {
	s := fmt.Sprintf("%s %s (%s)", p.Platform, p.Model, p.OSVersion)
	if p.Rooted {
		s += " rooted"
	}
	return s
}
