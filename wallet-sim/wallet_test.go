package walletsim

import (
	"bytes"
	"context"
	"crypto/x509/pkix"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/wallet-sim/se"
)

func TestInitProfiles(t *testing.T) {
	for _, tc := range []struct {
		p    Profile
		pin  string
		code string
	}{
		{Profile{Platform: "blackberry", Model: "x"}, "", string(CodeUnsupportedProfile)},
		{Profile{Platform: PlatformApple}, "", string(CodeUnsupportedProfile)},
		{Profile{Platform: PlatformApple, Model: "iPhone17,1"}, "1234", string(CodeUnsupportedProfile)},
		{Profile{Platform: PlatformAndroid, Model: "Pixel 9"}, "", string(CodeUnsupportedProfile)},
		{Profile{Platform: PlatformAndroid, Model: "Pixel 9"}, "1234", ""},
		{Profile{Platform: PlatformApple, Model: "iPhone17,1", Rooted: true}, "", ""},
	} {
		_, err := Init(t.TempDir(), tc.p, tc.pin, Options{})
		if CodeOf(err) != tc.code {
			t.Errorf("%+v: %v, want %q", tc.p, err, tc.code)
		}
	}
	home := t.TempDir()
	w, err := Init(home, Profile{Platform: PlatformAndroid, Model: "Pixel 9"}, "1234", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Init(home, Profile{Platform: PlatformAndroid, Model: "Pixel 9"}, "1234", Options{}); CodeOf(err) != string(CodeExists) {
		t.Fatalf("second init: %v", err)
	}
	w2, err := Open(home, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p := w2.Profile(); p != w.Profile() || p.OSVersion != "Android 16" {
		t.Fatalf("reopened profile %+v", p)
	}
	if _, err := Open(t.TempDir(), Options{}); !errors.Is(err, ErrNotInitialised) {
		t.Fatalf("open empty: %v", err)
	}
}

func TestWalletDataSealed(t *testing.T) {
	w := newTestWallet(t, PlatformAndroid)
	b, err := os.ReadFile(filepath.Join(w.Home(), DataFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"山田", "credentials", mdoc.DocTypeMNC, "reader_roots"} {
		if bytes.Contains(b, []byte(s)) {
			t.Fatalf("wallet data shows %q in clear", s)
		}
	}
	// Without the element's device key the data does not open.
	os.WriteFile(filepath.Join(w.Home(), ElementDir, se.DeviceKeyFile), bytes.Repeat([]byte{7}, 32), 0o600)
	if _, err := Open(w.Home(), Options{}); !errors.Is(err, se.ErrSealedState) {
		t.Fatalf("open with another device key: %v", err)
	}
}

func TestAddCredentialChecksBinding(t *testing.T) {
	w := newTestWallet(t, PlatformAndroid)
	p := fixturePKI(t)
	k1, _ := w.NewDeviceKey("a")
	k2, _ := w.NewDeviceKey("b")
	is, err := mdoc.Issue(mdoc.IssueOptions{DocType: mdoc.DocTypeMNC, NameSpaces: mncElements(), DeviceKey: k2.Public, Signer: p.dsKey, Chain: [][]byte{p.ds.Raw}, ValidFrom: time.Now().Add(-time.Minute), Signed: time.Now().Add(-time.Minute), ValidUntil: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := is.Encode()
	if _, err := w.AddCredential(k1.ID, b, "", ""); CodeOf(err) != string(CodeCredentialInvalid) {
		t.Fatalf("wrong device key: %v", err)
	}
	// Signed by a DS the wallet's IACA did not issue.
	rogue := genKey()
	is2, _ := mdoc.Issue(mdoc.IssueOptions{DocType: mdoc.DocTypeMNC, NameSpaces: mncElements(), DeviceKey: k1.Public, Signer: rogue, Chain: [][]byte{p.ds.Raw}, ValidFrom: time.Now().Add(-time.Minute), Signed: time.Now().Add(-time.Minute), ValidUntil: time.Now().Add(time.Hour)})
	b2, _ := is2.Encode()
	if _, err := w.AddCredential(k1.ID, b2, "", ""); CodeOf(err) != string(CodeCredentialInvalid) {
		t.Fatalf("bad issuer signature: %v", err)
	}
	if _, err := w.AddCredential(k1.ID, []byte{0xa0}, "", ""); CodeOf(err) != string(CodeCredentialInvalid) {
		t.Fatalf("garbage: %v", err)
	}
}

func TestRemoteDeleteWipesKeysAndMdocs(t *testing.T) {
	fixturePKI(t)
	w := newTestWallet(t, PlatformAndroid)
	creds := w.Credentials()
	if len(creds) != 2 {
		t.Fatalf("%d credentials", len(creds))
	}
	if err := w.RemoteDelete(context.Background(), "device change"); err != nil {
		t.Fatal(err)
	}
	w2, err := Open(w.Home(), Options{Radio: w.opts.Radio, Authenticator: w.opts.Authenticator})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(w2.Credentials()); n != 0 {
		t.Fatalf("%d credentials after remote delete", n)
	}
	for _, c := range creds {
		if _, err := w2.el.Key(c.KeyID); !errors.Is(err, se.ErrKeyNotFound) {
			t.Fatalf("device key %s survives: %v", c.KeyID, err)
		}
	}
	st := w2.Status()
	if st.Element.Keys != 0 || st.RemoteDeletedAt.IsZero() || st.RemoteDeleteWhy != "device change" {
		t.Fatalf("status %+v", st)
	}
	h := mustHistory(t, w2)
	if h[len(h)-1].Kind != "remote_delete" {
		t.Fatalf("history %+v", h[len(h)-1])
	}
	// A reader now gets nothing: the wallet does not even engage, and says
	// why.
	if _, err := w2.StartProximity(ProximityOptions{Consent: Rules{ApproveAll: true}}); CodeOf(err) != string(CodeRemoteDeleted) {
		t.Fatalf("present after remote delete: %v", err)
	}
	if _, err := w2.PresentOnline(context.Background(), "openid4vp://?request_uri=http://127.0.0.1:1/x", OnlineOptions{Consent: Rules{ApproveAll: true}}); CodeOf(err) != string(CodeRemoteDeleted) {
		t.Fatalf("present online after remote delete: %v", err)
	}
}

// TestReaderTrustKeptUntilRootsChange: the reader trust store (and its
// cache of verified reader chains) is kept across presentations, and a
// change of the trusted roots replaces it, so a chain refused before a
// root was added verifies after, and nothing verified under the old roots
// is served from a stale cache.
func TestReaderTrustKeptUntilRootsChange(t *testing.T) {
	w := newTestWallet(t, PlatformAndroid)
	caKey := genKey()
	nb := time.Now().Add(-time.Hour)
	ca, err := mdoc.NewIACACertificate(caKey, mdoc.CertificateOptions{
		Subject: pkix.Name{CommonName: "Later Reader CA", Country: []string{"JP"}}, NotBefore: nb, NotAfter: nb.Add(24 * time.Hour),
		IssuerAltNameURI: "https://later.example.jp", CRLDistributionPoint: "https://later.example.jp/ca.crl",
	})
	if err != nil {
		t.Fatal(err)
	}
	reader, err := mdoc.NewReaderCertificate(genKey().Public(), ca, caKey, mdoc.CertificateOptions{
		Subject: pkix.Name{CommonName: "Later reader", Country: []string{"JP"}}, NotBefore: nb, NotAfter: nb.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	trust := func() *mdoc.TrustStore {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.readerTrust()
	}
	before := trust()
	if trust() != before {
		t.Fatal("reader trust store rebuilt although the roots did not change")
	}
	if _, err := before.VerifyChain([][]byte{reader.Raw}, time.Now()); err == nil {
		t.Fatal("reader of an untrusted CA verified")
	}
	if err := w.TrustReaderRoots(ca); err != nil {
		t.Fatal(err)
	}
	after := trust()
	if after == before {
		t.Fatal("reader trust store kept after the roots changed")
	}
	if _, err := after.VerifyChain([][]byte{reader.Raw}, time.Now()); err != nil {
		t.Fatalf("reader of a newly trusted CA: %v", err)
	}
}
