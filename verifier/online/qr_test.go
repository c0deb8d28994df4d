package online

import (
	"strings"
	"testing"

	"github.com/mynumber-mdoc/mnc/mdoc"
)

func TestQRSVG(t *testing.T) {
	inv := "openid4vp://?client_id=x509_hash%3AuQ5u2y2a0iVjS8m1rJq8H0vYk2eP1Zc3x5L7n9Q&request_uri=http%3A%2F%2F127.0.0.1%3A8081%2Foid4vp%2Frequest%2FAAAAAAAAAAAAAAAAAAAAAA"
	svg, err := QRSVG(inv, 4)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := qrModules(inv)
	// Version v has 17+4v modules, plus 4 quiet-zone modules on each side.
	if (n-8-17)%4 != 0 || n < 21+8 {
		t.Fatalf("symbol of %d modules", n)
	}
	if !strings.HasPrefix(svg, "<svg") || !strings.Contains(svg, "viewBox=\"0 0 ") || strings.Count(svg, "h1v1h-1z") < n {
		t.Fatalf("svg: %.200s", svg)
	}
	if _, err := QRSVG(strings.Repeat("a", MaxQRBytes+1), 4); mdoc.CodeOf(err) != mdoc.CodeLimitExceeded {
		t.Fatalf("oversized: %v", err)
	}
}

// FuzzQRSVG: any text within MaxQRBytes draws without panicking.
func FuzzQRSVG(f *testing.F) {
	f.Add("openid4vp://?client_id=x&request_uri=http%3A%2F%2F127.0.0.1%3A8081%2Foid4vp%2Frequest%2Fx")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := QRSVG(s, 4); err != nil && len(s) <= MaxQRBytes && s != "" {
			t.Fatalf("%q: %v", s, err)
		}
	})
}
