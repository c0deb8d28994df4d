package online

import (
	"bytes"
	"testing"
)

// FuzzEncodeQR: any text up to MaxQRBytes encodes, and the codewords read
// back from the symbol are those of a fresh encoding (placement, masking
// and format information are consistent).
func FuzzEncodeQR(f *testing.F) {
	f.Add("openid4vp://?client_id=x509_hash%3Aabc&request_uri=http%3A%2F%2F127.0.0.1%3A8080%2Foid4vp%2Frequest%2Fx")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := EncodeQR(s)
		if len(s) > MaxQRBytes {
			if err == nil {
				t.Fatal("oversized text encoded")
			}
			return
		}
		if err != nil {
			return // may not fit at level M or L for high versions; capacity is checked by the error
		}
		lvl := &qrLevelM
		if c.Level == "L" {
			lvl = &qrLevelL
		}
		cb := 8
		if c.Version >= 10 {
			cb = 16
		}
		if !bytes.Equal(readBack(c, lvl), readBack(buildQR([]byte(s), c.Version, lvl, cb), lvl)) {
			t.Fatal("read back differs")
		}
	})
}
