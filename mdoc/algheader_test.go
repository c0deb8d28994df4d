package mdoc

import (
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// generalAlg is what ParseSign1's general path reads from a protected
// header: the alg of a map whose only member is label 1.
func generalAlg(p []byte) (cose.Algorithm, bool) {
	var prot map[any]cbor.RawMessage
	if Unmarshal(p, &prot) != nil || len(prot) != 1 {
		return 0, false
	}
	raw, ok := prot[int64(headerAlg)]
	if !ok {
		return 0, false
	}
	var alg int64
	if Unmarshal(raw, &alg) != nil {
		return 0, false
	}
	return cose.Algorithm(alg), true
}

// TestAlgOnlyHeader: the three-byte fast path reads every header it takes
// as the general decoding does, and takes the headers sent in practice.
func TestAlgOnlyHeader(t *testing.T) {
	for b := range 256 {
		p := []byte{0xa1, 0x01, byte(b)}
		fast, ok := algOnlyHeader(p)
		if !ok {
			continue
		}
		if gen, gok := generalAlg(p); !gok || gen != fast {
			t.Errorf("% x: fast path %d, general decoding %d (%v)", p, fast, gen, gok)
		}
	}
	for _, tc := range []struct {
		name string
		p    []byte
		alg  cose.Algorithm
		ok   bool
	}{
		{"ES256", []byte{0xa1, 0x01, 0x26}, cose.AlgorithmES256, true},
		{"EdDSA", []byte{0xa1, 0x01, 0x27}, cose.AlgorithmEdDSA, true},
		{"ES384 takes the general path", []byte{0xa1, 0x01, 0x38, 0x22}, 0, false},
		{"alg as a text string", []byte{0xa1, 0x01, 0x61, 0x41}, 0, false},
		{"another label", []byte{0xa1, 0x02, 0x26}, 0, false},
		{"two members", []byte{0xa2, 0x01, 0x26, 0x02, 0x80}, 0, false},
		{"indefinite map", []byte{0xbf, 0x01, 0x26, 0xff}, 0, false},
		{"a byte short", []byte{0xa1, 0x01}, 0, false},
		{"a byte long", []byte{0xa1, 0x01, 0x26, 0x00}, 0, false},
		{"empty", nil, 0, false},
	} {
		alg, ok := algOnlyHeader(tc.p)
		if alg != tc.alg || ok != tc.ok {
			t.Errorf("%s: %d %v, want %d %v", tc.name, alg, ok, tc.alg, tc.ok)
		}
	}
}

func FuzzAlgOnlyHeader(f *testing.F) {
	f.Add([]byte{0xa1, 0x01, 0x26})
	f.Add([]byte{0xa1, 0x01, 0x38, 0x22})
	f.Fuzz(func(t *testing.T, p []byte) {
		fast, ok := algOnlyHeader(p)
		if !ok {
			return
		}
		if gen, gok := generalAlg(p); !gok || gen != fast {
			t.Fatalf("% x: fast path %d, general decoding %d (%v)", p, fast, gen, gok)
		}
	})
}
