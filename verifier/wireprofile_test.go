package verifier_test

import (
	"context"
	"crypto/rand"
	"slices"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier"
	testpki "github.com/mynumber-mdoc/mnc/verifier/verifiertest"
)

// The tests in this file rewrite a valid presentation at the CBOR level —
// as a sloppy or hostile wallet would send it — and check the verdict.
// The rewrite decodes the response generically (tags kept as cbor.Tag,
// tdates as RFC 3339 text), edits it and re-encodes it; signed bytes
// (items, DeviceNameSpacesBytes, the MSO) stay as they were unless the
// test re-signs the MSO with the issuer's Document Signer key.

var genericDec = func() cbor.DecMode {
	dm, err := cbor.DecOptions{DefaultMapType: mapAnyType, TimeTagToAny: cbor.TimeTagToRFC3339Nano}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

func decodeGeneric(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	if err := genericDec.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func encodeGeneric(t testing.TB, v any) []byte {
	t.Helper()
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	b, err := em.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wireFixture is one valid presentation and how to verify it.
type wireFixture struct {
	f    *fixture
	resp []byte
	opts verifier.Options
}

func newWireFixture(t testing.TB) *wireFixture {
	t.Helper()
	f := newFixture(t)
	st, _, err := testpki.QRTranscript()
	if err != nil {
		t.Fatal(err)
	}
	resp := present(t, st.Raw, testpki.Presented{IssuerSigned: f.mnc(t, nil, nil), Selection: sel, DeviceKey: f.dev})
	return &wireFixture{f: f, resp: resp, opts: verifier.Options{Trust: f.iacas, CurrentTime: testpki.Now,
		SessionTranscript: st.Raw, Request: verifier.Request{mdoc.DocTypeMNC: sel}}}
}

// mutate returns the response with its first document changed by edit.
func (w *wireFixture) mutate(t testing.TB, edit func(doc map[any]any)) []byte {
	t.Helper()
	dr := decodeGeneric(t, w.resp).(map[any]any)
	edit(dr["documents"].([]any)[0].(map[any]any))
	return encodeGeneric(t, dr)
}

// resignMSO returns the document's issuerAuth with its MSO changed by edit
// and signed again by the issuer's Document Signer: a conforming signature
// over a nonconforming MSO, as a lenient issuer library produces.
func (w *wireFixture) resignMSO(t testing.TB, doc map[any]any, edit func(mso map[any]any)) {
	t.Helper()
	is := doc["issuerSigned"].(map[any]any)
	ia := is["issuerAuth"].([]any)
	payload := decodeGeneric(t, ia[2].([]byte)).(cbor.Tag)
	mso := decodeGeneric(t, payload.Content.([]byte)).(map[any]any)
	vi := mso["validityInfo"].(map[any]any)
	for k, v := range vi {
		vi[k] = cbor.Tag{Number: 0, Content: v} // back to tdate
	}
	edit(mso)
	inner := encodeGeneric(t, mso)
	msg := cose.NewSign1Message()
	msg.Headers.Protected.SetAlgorithm(cose.AlgorithmES256)
	msg.Headers.Unprotected[int64(33)] = w.f.is.DS.Raw
	msg.Payload = encodeGeneric(t, cbor.Tag{Number: 24, Content: inner})
	signer, err := cose.NewSigner(cose.AlgorithmES256, w.f.is.DSKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := msg.Sign(rand.Reader, nil, signer); err != nil {
		t.Fatal(err)
	}
	um := cose.UntaggedSign1Message(*msg)
	raw, err := um.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	is["issuerAuth"] = decodeGeneric(t, raw)
}

func (w *wireFixture) verify(b []byte, strict bool) *verifier.Result {
	o := w.opts
	o.Strict = strict
	return verifier.Verify(context.Background(), b, o)
}

func TestWireProfileHarnessKeepsValidity(t *testing.T) {
	w := newWireFixture(t)
	plain := w.mutate(t, func(map[any]any) {})
	resigned := w.mutate(t, func(doc map[any]any) { w.resignMSO(t, doc, func(map[any]any) {}) })
	for name, b := range map[string][]byte{"re-encoded": plain, "re-signed": resigned} {
		r := w.verify(b, true)
		if !r.Valid || len(r.Documents[0].Warnings) != 0 {
			t.Fatalf("%s: a conforming rewrite must stay valid without warnings: %v %v", name, r.Codes(), r.Documents)
		}
	}
}

// TestWireProfileRejects: case variants of CDDL keys and tags where the
// CDDL has none are malformed, whatever the signatures say.
func TestWireProfileRejects(t *testing.T) {
	w := newWireFixture(t)
	cases := map[string]func(doc map[any]any){
		"DOCTYPE key": func(doc map[any]any) {
			doc["DOCTYPE"] = doc["docType"]
			delete(doc, "docType")
		},
		"IssuerSigned key": func(doc map[any]any) {
			doc["IssuerSigned"] = doc["issuerSigned"]
			delete(doc, "issuerSigned")
		},
		"docType in tag 32": func(doc map[any]any) {
			doc["docType"] = cbor.Tag{Number: 32, Content: doc["docType"]}
		},
		"issuerAuth in tag 18": func(doc map[any]any) {
			is := doc["issuerSigned"].(map[any]any)
			is["issuerAuth"] = cbor.Tag{Number: 18, Content: is["issuerAuth"]}
		},
		"deviceSignature in tag 18": func(doc map[any]any) {
			da := doc["deviceSigned"].(map[any]any)["deviceAuth"].(map[any]any)
			da["deviceSignature"] = cbor.Tag{Number: 18, Content: da["deviceSignature"]}
		},
		"item bytes in a second tag 24": func(doc map[any]any) {
			ns := doc["issuerSigned"].(map[any]any)["nameSpaces"].(map[any]any)[mdoc.NameSpaceISO23220].([]any)
			ns[0] = cbor.Tag{Number: 24, Content: ns[0]}
		},
		"MSO DocType key": func(doc map[any]any) {
			w.resignMSO(t, doc, func(mso map[any]any) {
				mso["DocType"] = mso["docType"]
				delete(mso, "docType")
			})
		},
		"MSO docType in tag 32": func(doc map[any]any) {
			w.resignMSO(t, doc, func(mso map[any]any) { mso["docType"] = cbor.Tag{Number: 32, Content: mso["docType"]} })
		},
		"MSO validUntil without tag 0": func(doc map[any]any) {
			w.resignMSO(t, doc, func(mso map[any]any) {
				vi := mso["validityInfo"].(map[any]any)
				vi["validUntil"] = vi["validUntil"].(cbor.Tag).Content
			})
		},
		"MSO validUntil in tag 1004": func(doc map[any]any) {
			w.resignMSO(t, doc, func(mso map[any]any) {
				vi := mso["validityInfo"].(map[any]any)
				vi["validUntil"] = cbor.Tag{Number: 1004, Content: vi["validUntil"]}
			})
		},
		"deviceKey x in tag 2": func(doc map[any]any) {
			w.resignMSO(t, doc, func(mso map[any]any) {
				dk := mso["deviceKeyInfo"].(map[any]any)["deviceKey"].(map[any]any)
				dk[int64(-2)] = cbor.Tag{Number: 2, Content: dk[int64(-2)]}
			})
		},
		"deviceKey kid as an integer": func(doc map[any]any) {
			w.resignMSO(t, doc, func(mso map[any]any) {
				mso["deviceKeyInfo"].(map[any]any)["deviceKey"].(map[any]any)[int64(2)] = int64(7)
			})
		},
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			for _, strict := range []bool{false, true} {
				r := w.verify(w.mutate(t, edit), strict)
				if r.Valid || !slices.Contains(r.Codes(), string(mdoc.CodeMalformed)) {
					t.Fatalf("strict=%v: want malformed, got valid=%v %v", strict, r.Valid, r.Codes())
				}
			}
		})
	}
}

// TestToleratedDeviations: each deviation listed in the package
// documentation passes with a warning carrying its code, and fails under
// Strict with an error carrying the same code.
func TestToleratedDeviations(t *testing.T) {
	w := newWireFixture(t)
	cases := []struct {
		name string
		code mdoc.Code
		edit func(mso map[any]any)
	}{
		{"text kid", mdoc.DeviationKidText, func(mso map[any]any) {
			mso["deviceKeyInfo"].(map[any]any)["deviceKey"].(map[any]any)[int64(2)] = "device-key-1"
		}},
		{"fractional tdate", mdoc.DeviationTDateForm, func(mso map[any]any) {
			mso["validityInfo"].(map[any]any)["signed"] = cbor.Tag{Number: 0, Content: testpki.Now.Add(-30 * 60e9).Format("2006-01-02T15:04:05.000Z")}
		}},
		{"offset tdate", mdoc.DeviationTDateForm, func(mso map[any]any) {
			mso["validityInfo"].(map[any]any)["validFrom"] = cbor.Tag{Number: 0, Content: testpki.Now.Add(-60 * 60e9).In(jst).Format("2006-01-02T15:04:05-07:00")}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := w.mutate(t, func(doc map[any]any) { w.resignMSO(t, doc, c.edit) })
			r := w.verify(b, false)
			if !r.Valid {
				t.Fatalf("tolerant: invalid %v", r.Codes())
			}
			d := r.Documents[0]
			if len(d.Warnings) != 1 || d.Warnings[0].Code != string(c.code) {
				t.Fatalf("tolerant: warnings %v, want one %s", d.Warnings, c.code)
			}
			r = w.verify(b, true)
			if r.Valid || !slices.Contains(r.Codes(), string(c.code)) || len(r.Documents[0].Warnings) != 0 {
				t.Fatalf("strict: valid=%v codes=%v warnings=%v", r.Valid, r.Codes(), r.Documents[0].Warnings)
			}
		})
	}
	// A byte-string kid is what RFC 9052 says: no warning.
	b := w.mutate(t, func(doc map[any]any) {
		w.resignMSO(t, doc, func(mso map[any]any) {
			mso["deviceKeyInfo"].(map[any]any)["deviceKey"].(map[any]any)[int64(2)] = []byte("device-key-1")
		})
	})
	if r := w.verify(b, true); !r.Valid || len(r.Documents[0].Warnings) != 0 {
		t.Fatalf("bstr kid: %v %v", r.Codes(), r.Documents[0].Warnings)
	}
}
