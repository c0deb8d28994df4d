package mdoc

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"sync"
	"testing"
	"time"
)

// annexDTime is a fixed clock at which every Annex D certificate and the
// MSO are valid.
var annexDTime = time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	annexDOnce sync.Once
	annexDVecs map[string][]byte
	annexDErr  error
)

// annexD returns the ISO/IEC 18013-5 Annex D vector called name, decoded
// from testdata/iso18013-5-annex-d.json (a copy of shared/testdata).
func annexD(t testing.TB, name string) []byte {
	t.Helper()
	annexDOnce.Do(func() {
		raw, err := os.ReadFile("testdata/iso18013-5-annex-d.json")
		if err != nil {
			annexDErr = err
			return
		}
		var doc struct {
			Vectors map[string]struct {
				Hex string `json:"hex"`
			} `json:"vectors"`
		}
		if annexDErr = json.Unmarshal(raw, &doc); annexDErr != nil {
			return
		}
		annexDVecs = make(map[string][]byte, len(doc.Vectors))
		for k, v := range doc.Vectors {
			b, err := hex.DecodeString(v.Hex)
			if err != nil {
				annexDErr = err
				return
			}
			annexDVecs[k] = b
		}
	})
	if annexDErr != nil {
		t.Fatalf("load Annex D vectors: %v", annexDErr)
	}
	b, ok := annexDVecs[name]
	if !ok {
		t.Fatalf("no Annex D vector %q", name)
	}
	return b
}
