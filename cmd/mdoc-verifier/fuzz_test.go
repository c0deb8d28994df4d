package main

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// FuzzDecodeText: input files may be binary CBOR, hex or base64url text;
// decoding never panics, binary CBOR maps pass through unchanged, and hex
// round-trips.
func FuzzDecodeText(f *testing.F) {
	f.Add([]byte("a0"))
	f.Add([]byte{0xa3, 0x67, 0x76})
	f.Add([]byte("o2d2ZXJzaW9u\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out := decodeText(b)
		if len(b) > 0 && b[0] >= 0xa0 && b[0] <= 0xbf && !bytes.Equal(out, b) {
			t.Fatalf("binary CBOR map altered")
		}
		h := hex.EncodeToString(b)
		if len(b) > 0 && !bytes.Equal(decodeText([]byte(h)), b) {
			t.Fatalf("hex did not round-trip")
		}
	})
}
