//go:debug x509negativeserial=1

package verifier_test

import (
	"context"
	"crypto/ecdh"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
)

// The real-world regression set: presentations recorded from other
// wallets and libraries, each verified with nothing but its own IACA, its
// session transcript (and reader key for a MAC) and a fixed clock, with
// the verdict it must keep. Provenance and licences: testdata/README.md.
// (The Multipaz IACA has a negative serial number, which crypto/x509
// refuses without GODEBUG x509negativeserial=1; the CLI sets it too.)

// recorded is one recorded presentation.
type recorded struct {
	name       string
	iaca       []byte // PEM or DER
	transcript []byte // SessionTranscriptBytes (tag 24)
	response   []byte
	readerKey  *ecdh.PrivateKey
	at         time.Time
	request    verifier.Request

	valid    bool
	codes    []string // exactly these error codes (sorted as reported)
	warnings []string // tolerated deviations reported
	strict   []string // codes under Strict; nil: same verdict as tolerant
}

func readRecorded(t *testing.T, dir string) (iaca, st, resp []byte, rk *ecdh.PrivateKey) {
	t.Helper()
	must := func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	iaca = must(os.ReadFile(filepath.Join(dir, "iaca.pem")))
	st = must(os.ReadFile(filepath.Join(dir, "session-transcript.cbor")))
	resp = must(os.ReadFile(filepath.Join(dir, "device-response.cbor")))
	if b, err := os.ReadFile(filepath.Join(dir, "reader-key.hex")); err == nil {
		k, err := trust.ParseReaderEphemeralKey(b)
		if err != nil {
			t.Fatal(err)
		}
		rk = k
	}
	return
}

func annexDRecorded(t *testing.T) recorded {
	t.Helper()
	var f struct {
		Vectors map[string]struct{ Hex string } `json:"vectors"`
	}
	b, err := os.ReadFile("../mdoc/testdata/iso18013-5-annex-d.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	h := func(k string) []byte {
		v, err := hex.DecodeString(f.Vectors[k].Hex)
		if err != nil || len(v) == 0 {
			t.Fatalf("annex D %s: %v", k, err)
		}
		return v
	}
	rk, err := ecdh.P256().NewPrivateKey(h("ereader_key_d"))
	if err != nil {
		t.Fatal(err)
	}
	dr, err := mdoc.ParseDeviceRequest(h("device_request"))
	if err != nil {
		t.Fatal(err)
	}
	return recorded{name: "ISO/IEC 18013-5 Annex D (deviceMac, with its DeviceRequest)", iaca: h("iaca_certificate_der"),
		transcript: h("session_transcript_bytes"), response: h("device_response"), readerKey: rk,
		at: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), request: verifier.RequestFromDeviceRequest(dr), valid: true}
}

func realWorldSet(t *testing.T) []recorded {
	set := []recorded{annexDRecorded(t)}
	add := func(r recorded, dir string) {
		r.iaca, r.transcript, r.response, r.readerKey = readRecorded(t, dir)
		set = append(set, r)
	}
	at2026 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	add(recorded{name: "@auth0/mdl mDL, OpenID4VP 1.0 handover", at: time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), valid: true}, "testdata/peer/auth0-mdl")
	// Multipaz signed over a transcript that its publisher did not record
	// correctly (testdata/peer/multipaz-pid/README.md): issuer data
	// authentication must hold, device authentication must fail.
	add(recorded{name: "Multipaz EU PID (transcript not recoverable)", at: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC),
		codes: []string{"device_auth_invalid"}}, "testdata/peer/multipaz-pid")
	add(recorded{name: "@auth0/mdl EU PID, text kid in the MSO deviceKey", at: at2026, valid: true,
		warnings: []string{string(mdoc.DeviationKidText)}, strict: []string{string(mdoc.DeviationKidText)}}, "testdata/realworld/auth0-pid-text-kid")
	add(recorded{name: "@auth0/mdl mDL on P-384 (ES384, SHA-384)", at: at2026, valid: true}, "testdata/realworld/auth0-mdl-p384")
	add(recorded{name: "@animo-id/mdoc EU PID, text kid in the MSO deviceKey", at: at2026, valid: true,
		warnings: []string{string(mdoc.DeviationKidText)}, strict: []string{string(mdoc.DeviationKidText)}}, "testdata/realworld/animo-pid")
	add(recorded{name: "@auth0/mdl EU PID with deviceMac", at: at2026, valid: true,
		warnings: []string{string(mdoc.DeviationKidText)}, strict: []string{string(mdoc.DeviationKidText)}}, "testdata/realworld/auth0-pid-mac")
	return set
}

func TestRealWorldPresentations(t *testing.T) {
	set := realWorldSet(t)
	if len(set) < 6 {
		t.Fatalf("regression set has %d presentations, want at least 6", len(set))
	}
	for _, r := range set {
		t.Run(r.name, func(t *testing.T) {
			roots, err := mdoc.ParseCertificates(r.iaca)
			if err != nil {
				t.Fatal(err)
			}
			st, err := mdoc.ParseSessionTranscriptBytes(r.transcript)
			if err != nil {
				t.Fatal(err)
			}
			for _, strict := range []bool{false, true} {
				o := verifier.Options{Trust: trust.NewIACAsFromCertificates(roots), CurrentTime: r.at, SessionTranscript: st.Raw,
					EReaderKey: r.readerKey, Request: r.request, Strict: strict}
				res := verifier.Verify(context.Background(), r.response, o)
				valid, codes, warnings := r.valid, r.codes, r.warnings
				if strict {
					warnings = nil
					if r.strict != nil {
						valid, codes = false, r.strict
					}
				}
				var got []string
				for _, d := range res.Documents {
					for _, w := range d.Warnings {
						got = append(got, w.Code)
					}
				}
				if res.Valid != valid || !slices.Equal(res.Codes(), codes) || !slices.Equal(got, warnings) {
					t.Fatalf("strict=%v: valid=%v codes=%v warnings=%v; want valid=%v codes=%v warnings=%v",
						strict, res.Valid, res.Codes(), got, valid, codes, warnings)
				}
				if len(res.Documents) == 0 || !res.Documents[0].IssuerAuthValid {
					t.Fatalf("strict=%v: issuer data authentication of a recorded presentation failed: %v", strict, res.Codes())
				}
			}
			// A MAC needs the reader's key: without it, device
			// authentication fails and nothing is disclosed.
			if r.readerKey != nil {
				o := verifier.Options{Trust: trust.NewIACAsFromCertificates(roots), CurrentTime: r.at, SessionTranscript: st.Raw}
				if res := verifier.Verify(context.Background(), r.response, o); res.Valid || !slices.Contains(res.Codes(), "device_auth_invalid") {
					t.Fatalf("MAC without reader key: %v", res.Codes())
				}
			}
		})
	}
}
