package walletsim

import (
	"testing"

	"github.com/mynumber-mdoc/mnc/mdoc/keyattest"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
	"github.com/mynumber-mdoc/mnc/wallet-sim/se"
)

// The simulator's platform attestations are real-format and judged by the
// real checks: a rooted Android profile yields an unlocked, unverified
// boot state that the enrolment policy refuses.
func TestPlatformAttestationFormats(t *testing.T) {
	for _, c := range []struct {
		prof Profile
		want keyattest.Code
	}{
		{Profile{Platform: PlatformAndroid, Model: "Pixel 9", OSVersion: "Android 16"}, ""},
		{Profile{Platform: PlatformAndroid, Model: "Pixel 9", OSVersion: "Android 16", Rooted: true}, keyattest.CodeBootState},
		{Profile{Platform: PlatformApple, Model: "iPhone17,1", OSVersion: "iOS 26.1"}, ""},
	} {
		w, err := Init(t.TempDir(), c.prof, pinFor(c.prof.Platform), Options{Authenticator: StaticAuth{Biometric: se.BiometricMatch}})
		if err != nil {
			t.Fatal(err)
		}
		dk, err := w.NewDeviceKey("mdoc device key")
		if err != nil {
			t.Fatal(err)
		}
		j, _ := oid4vci.NewJWK(dk.Public)
		pa, err := w.platformAttestation(c.prof, "nonce-42", dk, j)
		if err != nil {
			t.Fatal(err)
		}
		app := &oid4vci.CardApplication{Nonce: "nonce-42", DeviceKey: j, PlatformAttestation: pa}
		err = checkPlatform(app)
		if got := keyattest.CodeOf(err); got != c.want || (c.want == "" && err != nil) {
			t.Errorf("%v: %v, want %q", c.prof, err, c.want)
		}
		// A replay under another nonce fails.
		app.Nonce = "nonce-43"
		if err := checkPlatform(app); keyattest.CodeOf(err) != keyattest.CodeChallengeMismatch {
			t.Errorf("%v: replay under another nonce: %v", c.prof, err)
		}
	}
}
