package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/blesim"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/online"
	"github.com/mynumber-mdoc/mnc/verifier/reader"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
	vt "github.com/mynumber-mdoc/mnc/verifier/verifiertest"
	walletsim "github.com/mynumber-mdoc/mnc/wallet-sim"
	"github.com/mynumber-mdoc/mnc/wallet-sim/se"
)

// Cross-role end-to-end tests: the project's wallet simulator presents to
// this verifier online (OpenID4VP, Annex C) and in proximity (blesim). They
// live with the binary because only cmd/ may import two roles.

type e2e struct {
	w     *walletsim.Wallet
	is    *vt.Issuer
	rd    *vt.Reader
	creds *trust.ReaderCredentials
	iacas *trust.IACAs
	radio blesim.Radio
	clock func() time.Time
}

func newE2E(t *testing.T) *e2e {
	t.Helper()
	e := &e2e{radio: blesim.Radio{Dir: t.TempDir()}, clock: func() time.Time { return vt.Now }}
	var err error
	if e.is, err = vt.NewIssuer("e2e"); err != nil {
		t.Fatal(err)
	}
	if e.rd, err = vt.NewReader(mdoc.ReaderRoles{}, ""); err != nil {
		t.Fatal(err)
	}
	if e.creds, err = trust.NewReaderCredentials([]*x509Cert{e.rd.Cert}, e.rd.Key); err != nil {
		t.Fatal(err)
	}
	e.iacas = trust.NewIACAsFromCertificates([]*x509Cert{e.is.IACA})
	e.w, err = walletsim.Init(t.TempDir(), walletsim.Profile{Platform: walletsim.PlatformApple, Model: "TestPhone 1"}, "",
		walletsim.Options{Now: e.clock, Authenticator: walletsim.StaticAuth{Biometric: se.BiometricMatch}, Radio: e.radio})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.w.TrustReaderRoots(e.rd.CA); err != nil {
		t.Fatal(err)
	}
	if err := e.w.TrustIACA(e.is.IACA); err != nil {
		t.Fatal(err)
	}
	k, err := e.w.NewDeviceKey(mdoc.DocTypeMNC)
	if err != nil {
		t.Fatal(err)
	}
	is, err := e.is.Issue(mdoc.DocTypeMNC, vt.MNCElements(mdoc.FullDate{Year: 1990, Month: 4, Day: 1}, map[int]bool{18: true, 20: true}),
		vt.DeviceKey(), nil, func(o *mdoc.IssueOptions) { o.DeviceKey = k.Public })
	if err != nil {
		t.Fatal(err)
	}
	b, _ := is.Encode()
	if _, err := e.w.AddCredential(k.ID, b, "", ""); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestE2EWalletOnline(t *testing.T) {
	e := newE2E(t)
	var h http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	defer ts.Close()
	srv, err := online.New(online.Config{BaseURL: ts.URL, Credentials: e.creds, Now: e.clock, Verify: verifier.Options{Trust: e.iacas}})
	if err != nil {
		t.Fatal(err)
	}
	h = srv.Handler()
	for _, proto := range []string{online.ProtocolOpenID4VP, online.ProtocolAnnexC} {
		t.Run(proto, func(t *testing.T) {
			c, err := srv.Create(context.Background(), online.CreateRequest{Protocol: proto, Purpose: online.Purpose{Kind: online.PurposeAge, AgeOver: 20}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.w.PresentOnline(context.Background(), c.Invocation, walletsim.OnlineOptions{Consent: walletsim.Rules{ApproveAll: true}}); err != nil {
				t.Fatalf("wallet: %v", err)
			}
			st, err := srv.StatusOf(context.Background(), c.ID, online.Grant{Secret: c.Secret})
			if err != nil {
				t.Fatal(err)
			}
			if st.State != online.StateDone || !st.Valid || st.Decision == nil || !st.Decision.Allowed {
				t.Fatalf("verdict: %+v %+v", st, st.Decision)
			}
		})
	}
}

func TestE2EWalletProximity(t *testing.T) {
	e := newE2E(t)
	for _, mac := range []bool{false, true} {
		p, err := e.w.StartProximity(walletsim.ProximityOptions{Consent: walletsim.Rules{ApproveAll: true}, MAC: mac, Radio: e.radio})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		done := make(chan error, 1)
		go func() { _, err := p.Serve(ctx); done <- err }()
		out, err := reader.Run(ctx, p.QR(), []mdoc.ItemsRequest{verifier.Items(mdoc.DocTypeMNC, map[string][]string{mdoc.NameSpaceISO23220: {"age_over_20", "family_name"}})},
			reader.Config{Radio: e.radio, Credentials: e.creds, Verify: verifier.Options{Trust: e.iacas, CurrentTime: vt.Now}})
		if err != nil {
			t.Fatalf("mac=%v reader: %v", mac, err)
		}
		if err := <-done; err != nil {
			t.Fatalf("mac=%v wallet: %v", mac, err)
		}
		cancel()
		if !out.Result.Valid || out.Result.Documents[0].Elements[mdoc.NameSpaceISO23220]["age_over_20"] != true {
			t.Fatalf("mac=%v: %v %+v", mac, out.Result.Codes(), out.Result.Documents)
		}
		if want := map[bool]string{false: "signature", true: "mac"}[mac]; out.Result.Documents[0].DeviceAuthMethod != want {
			t.Fatalf("method %s", out.Result.Documents[0].DeviceAuthMethod)
		}
	}
}
