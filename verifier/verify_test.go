package verifier_test

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/status"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
	testpki "github.com/mynumber-mdoc/mnc/verifier/verifiertest"
)

type fixture struct {
	is, other *testpki.Issuer
	iacas     *trust.IACAs
	dev       *ecdsa.PrivateKey
}

func newFixture(t testing.TB, opts ...trust.Option) *fixture {
	t.Helper()
	is, err := testpki.NewIssuer("mnc")
	if err != nil {
		t.Fatal(err)
	}
	other, err := testpki.NewIssuer("other")
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{is: is, other: other, dev: testpki.DeviceKey(),
		iacas: trust.NewIACAsFromCertificates([]*x509Cert{is.IACA}, opts...)}
}

var birth = mdoc.FullDate{Year: 1990, Month: 4, Day: 1}

func (f *fixture) mnc(t testing.TB, status *mdoc.StatusListRef, mod func(*mdoc.IssueOptions)) *mdoc.IssuerSigned {
	t.Helper()
	is, err := f.is.Issue(mdoc.DocTypeMNC, testpki.MNCElements(birth, map[int]bool{18: true, 20: true}), f.dev, status, mod)
	if err != nil {
		t.Fatal(err)
	}
	return is
}

var sel = map[string][]string{mdoc.NameSpaceISO23220: {"family_name", "birth_date", "age_over_20"}}

func present(t testing.TB, st []byte, p testpki.Presented) []byte {
	t.Helper()
	b, err := testpki.Present(st, p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyValidSignatureAndMAC(t *testing.T) {
	f := newFixture(t)
	st, er, err := testpki.QRTranscript()
	if err != nil {
		t.Fatal(err)
	}
	is := f.mnc(t, nil, nil)
	for _, mac := range []bool{false, true} {
		p := testpki.Presented{IssuerSigned: is, Selection: sel, DeviceKey: f.dev}
		if mac {
			p.EReaderKey = er.PublicKey()
		}
		r := verifier.Verify(context.Background(), present(t, st.Raw, p), verifier.Options{
			Trust: f.iacas, CurrentTime: testpki.Now, SessionTranscript: st.Raw, EReaderKey: er,
			Request: verifier.Request{mdoc.DocTypeMNC: sel},
		})
		if !r.Valid {
			t.Fatalf("mac=%v: invalid: %v", mac, r.Codes())
		}
		d := r.Documents[0]
		if d.Elements[mdoc.NameSpaceISO23220]["birth_date"] != "1990-04-01" || d.Elements[mdoc.NameSpaceISO23220]["family_name"] != "山田" {
			t.Fatalf("elements %v", d.Elements)
		}
		if want := map[bool]string{false: "signature", true: "mac"}[mac]; d.DeviceAuthMethod != want {
			t.Fatalf("method %s", d.DeviceAuthMethod)
		}
	}
}

func TestVerifyErrorCodes(t *testing.T) {
	f := newFixture(t)
	st, er, _ := testpki.QRTranscript()
	st2, _, _ := testpki.QRTranscript()
	good := f.mnc(t, nil, nil)
	base := verifier.Options{Trust: f.iacas, CurrentTime: testpki.Now, SessionTranscript: st.Raw, EReaderKey: er}
	cases := []struct {
		name string
		resp func() []byte
		opts func(o *verifier.Options)
		code string
	}{
		{"garbage", func() []byte { return []byte{0xff, 0x00} }, nil, "malformed"},
		{"untrusted issuer", func() []byte {
			is, _ := f.other.Issue(mdoc.DocTypeMNC, testpki.MNCElements(birth, nil), f.dev, nil, nil)
			return present(t, st.Raw, testpki.Presented{IssuerSigned: is, Selection: sel, DeviceKey: f.dev})
		}, nil, "untrusted_issuer"},
		{"expired", func() []byte {
			return present(t, st.Raw, testpki.Presented{IssuerSigned: good, Selection: sel, DeviceKey: f.dev})
		},
			func(o *verifier.Options) { o.CurrentTime = testpki.Now.Add(31 * 24 * time.Hour) }, "expired"},
		{"not yet valid", func() []byte {
			is := f.mnc(t, nil, func(o *mdoc.IssueOptions) { o.ValidFrom = testpki.Now.Add(time.Hour) })
			return present(t, st.Raw, testpki.Presented{IssuerSigned: is, Selection: sel, DeviceKey: f.dev})
		}, nil, "not_yet_valid"},
		{"wrong transcript (replay into another session)", func() []byte {
			return present(t, st2.Raw, testpki.Presented{IssuerSigned: good, Selection: sel, DeviceKey: f.dev})
		}, nil, "device_auth_invalid"},
		{"wrong device key", func() []byte {
			return present(t, st.Raw, testpki.Presented{IssuerSigned: good, Selection: sel, DeviceKey: testpki.DeviceKey()})
		}, nil, "device_auth_invalid"},
		{"mac without reader key", func() []byte {
			return present(t, st.Raw, testpki.Presented{IssuerSigned: good, Selection: sel, DeviceKey: f.dev, EReaderKey: er.PublicKey()})
		}, func(o *verifier.Options) { o.EReaderKey = nil }, "device_auth_invalid"},
		{"tampered element", func() []byte {
			b := present(t, st.Raw, testpki.Presented{IssuerSigned: good, Selection: sel, DeviceKey: f.dev})
			return replaceOnce(t, b, []byte("山田"), []byte("田中"))
		}, nil, "digest_mismatch"},
		{"status without source", func() []byte {
			is := f.mnc(t, &mdoc.StatusListRef{Idx: 1, URI: "http://127.0.0.1:1/status/1"}, nil)
			return present(t, st.Raw, testpki.Presented{IssuerSigned: is, Selection: sel, DeviceKey: f.dev})
		}, nil, "status_unavailable"},
		{"element not returned", func() []byte {
			return present(t, st.Raw, testpki.Presented{IssuerSigned: good, Selection: sel, DeviceKey: f.dev})
		},
			func(o *verifier.Options) {
				o.Request = verifier.Request{mdoc.DocTypeMNC: {mdoc.NameSpaceISO23220: {"family_name", "birth_date", "age_over_20", "sex"}}}
			}, "element_not_returned"},
		{"document not returned", func() []byte {
			return present(t, st.Raw, testpki.Presented{IssuerSigned: good, Selection: sel, DeviceKey: f.dev})
		},
			func(o *verifier.Options) {
				o.Request = verifier.Request{mdoc.DocTypeMNC: sel, mdoc.DocTypeHIC: {mdoc.NameSpaceHIC: {"insurer_number"}}}
			}, "element_not_returned"},
		{"returned but not requested", func() []byte {
			return present(t, st.Raw, testpki.Presented{IssuerSigned: good, Selection: sel, DeviceKey: f.dev})
		},
			func(o *verifier.Options) {
				o.Request = verifier.Request{mdoc.DocTypeMNC: {mdoc.NameSpaceISO23220: {"age_over_20"}}}
			}, "element_not_requested"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := base
			if c.opts != nil {
				c.opts(&o)
			}
			r := verifier.Verify(context.Background(), c.resp(), o)
			if r.Valid {
				t.Fatal("accepted")
			}
			if !slices.Contains(r.Codes(), c.code) {
				t.Fatalf("codes %v, want %s", r.Codes(), c.code)
			}
			for _, d := range r.Documents {
				if !d.Valid && len(d.Elements) != 0 {
					t.Fatal("elements of an invalid document handed out")
				}
			}
		})
	}
}

func TestAgeOverSubstitutionIsNotAnError(t *testing.T) {
	f := newFixture(t)
	st, _, _ := testpki.QRTranscript()
	is := f.mnc(t, nil, nil)
	// Asked age_over_19; the wallet returns age_over_20 per §7.2.5.
	b := present(t, st.Raw, testpki.Presented{IssuerSigned: is, Selection: map[string][]string{mdoc.NameSpaceISO23220: {"age_over_20"}}, DeviceKey: f.dev})
	r := verifier.Verify(context.Background(), b, verifier.Options{Trust: f.iacas, CurrentTime: testpki.Now, SessionTranscript: st.Raw,
		Request: verifier.Request{mdoc.DocTypeMNC: {mdoc.NameSpaceISO23220: {"age_over_19"}}}})
	if !r.Valid {
		t.Fatalf("codes %v", r.Codes())
	}
}

func TestIssuerRule(t *testing.T) {
	is, _ := testpki.NewIssuer("hic-only")
	iacas := trust.NewIACAsFromCertificates([]*x509Cert{is.IACA}, trust.WithIssuerRule(trust.Fingerprint(is.IACA), mdoc.DocTypeHIC))
	dev := testpki.DeviceKey()
	st, _, _ := testpki.QRTranscript()
	doc, _ := is.Issue(mdoc.DocTypeMNC, testpki.MNCElements(birth, nil), dev, nil, nil)
	r := verifier.Verify(context.Background(), present(t, st.Raw, testpki.Presented{IssuerSigned: doc, Selection: sel, DeviceKey: dev}),
		verifier.Options{Trust: iacas, CurrentTime: testpki.Now, SessionTranscript: st.Raw})
	if r.Valid || !slices.Contains(r.Codes(), "untrusted_issuer") {
		t.Fatalf("rule not applied: %v", r.Codes())
	}
}

func TestStatus(t *testing.T) {
	f := newFixture(t)
	srv, err := testpki.NewStatusServer(f.is, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Set(2, mdoc.StatusInvalid); err != nil {
		t.Fatal(err)
	}
	if err := srv.Set(3, mdoc.StatusSuspended); err != nil {
		t.Fatal(err)
	}
	st, _, _ := testpki.QRTranscript()
	sc := status.New(f.iacas.StatusListTrust())
	cases := []struct {
		idx    uint64
		valid  bool
		code   string
		status string
	}{
		{1, true, "", "valid"},
		{2, false, "revoked", "revoked"},
		{3, false, "suspended", "suspended"},
		{1000, false, "status_list_invalid", "unchecked"},
	}
	for _, c := range cases {
		is := f.mnc(t, srv.Ref(c.idx), nil)
		r := verifier.Verify(context.Background(), present(t, st.Raw, testpki.Presented{IssuerSigned: is, Selection: sel, DeviceKey: f.dev}),
			verifier.Options{Trust: f.iacas, Status: sc, CurrentTime: testpki.Now, SessionTranscript: st.Raw})
		if r.Valid != c.valid || (c.code != "" && !slices.Contains(r.Codes(), c.code)) || r.Documents[0].Status != c.status {
			t.Errorf("idx %d: valid=%v codes=%v status=%s", c.idx, r.Valid, r.Codes(), r.Documents[0].Status)
		}
	}
	// SkipStatus records that nothing was checked.
	is := f.mnc(t, srv.Ref(2), nil)
	r := verifier.Verify(context.Background(), present(t, st.Raw, testpki.Presented{IssuerSigned: is, Selection: sel, DeviceKey: f.dev}),
		verifier.Options{Trust: f.iacas, SkipStatus: true, CurrentTime: testpki.Now, SessionTranscript: st.Raw})
	if !r.Valid || r.Documents[0].Status != "unchecked" {
		t.Fatalf("skip: %v %s", r.Codes(), r.Documents[0].Status)
	}
}

func TestResultJSONShape(t *testing.T) {
	r := verifier.Verify(context.Background(), []byte{0xa0}, verifier.Options{Trust: newFixture(t).iacas})
	b, _ := json.Marshal(r)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["documents"].([]any); !ok {
		t.Fatalf("documents is not an array: %s", b)
	}
	if errs, ok := m["errors"].([]any); !ok || len(errs) == 0 {
		t.Fatalf("errors: %s", b)
	}
	if len(m) != 3 {
		t.Fatalf("extra keys: %s", b)
	}
}
