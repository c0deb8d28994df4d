package issuer

import (
	"context"
	"crypto"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/jpki/testca"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

// TestStatusListStaysFresh: a verifier holds a status list token fresh
// only until iat + ttl, so a list nobody changes must still be re-signed.
// Fetched every minute for two quiet hours, the token served is never
// older than half its ttl, its max-age never reaches past iat + ttl, and
// the list is read and compressed once; a change is served at once.
func TestStatusListStaysFresh(t *testing.T) {
	e := newEnv(t, envOptions{})
	w := e.newWallet(e.newCard(taro, testca.IssueOptions{}), "iPhone16,1")
	docs, err := w.fetch(w.enrol().CredentialOffer, "")
	if err != nil {
		t.Fatal(err)
	}
	ref := docs[oid4vci.ConfigMNC].IssuerAuth.MSO.Status.StatusList
	ttl := e.svc.cfg.StatusListTTL
	h := e.svc.Handler()
	get := func() (*mdoc.StatusListToken, time.Duration) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, ref.URI, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("status list: %d %s", rec.Code, rec.Body)
		}
		tok, err := mdoc.ParseStatusListToken(rec.Body.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if err := tok.Verify(e.pki.StatusList.PublicKey, ref.URI, e.clock()); err != nil {
			t.Fatalf("served token does not verify: %v", err)
		}
		if v := rec.Header().Get("Vary"); v != "Accept" {
			t.Fatalf("Vary %q: a shared cache would hand the CWT and the JWT forms out for each other", v)
		}
		cc := rec.Header().Get("Cache-Control")
		s, ok := strings.CutPrefix(cc, "public, max-age=")
		n, err := strconv.Atoi(s)
		if !ok || err != nil {
			t.Fatalf("Cache-Control %q", cc)
		}
		return tok, time.Duration(n) * time.Second
	}

	get()
	builds := e.svc.status.builds.Load()
	signed := map[int64]bool{}
	for range 120 {
		tok, maxAge := get()
		now, iat := e.clock(), tok.Claims.IssuedAt
		signed[iat.Unix()] = true
		if age := now.Sub(iat); age < 0 || age > ttl/2 {
			t.Fatalf("served a token %s old (ttl %s): verifiers would soon find it stale", age, ttl)
		}
		if now.Add(maxAge).After(iat.Add(ttl)) {
			t.Fatalf("max-age %s lets a cache keep the token past iat + ttl (iat %s, now %s)", maxAge, iat, now)
		}
		if maxAge < ttl/2-time.Second {
			t.Fatalf("max-age %s: the token was just re-signed or is under half its ttl old", maxAge)
		}
		e.advance(time.Minute)
	}
	if len(signed) < int(2*time.Hour/ttl) {
		t.Fatalf("%d signatures in two hours with a ttl of %s", len(signed), ttl)
	}
	if n := e.svc.status.builds.Load() - builds; n != 0 {
		t.Fatalf("an unchanged list was read and compressed %d more times", n)
	}

	// A signer that fails (an HSM session lost): the last token is served
	// while it is fresh for verifiers, and the failure shows after that.
	good := e.svc.cfg.StatusListSigner
	e.svc.cfg.StatusListSigner = failingSigner{good}
	last, _ := get()
	e.advance(ttl/2 - e.clock().Sub(last.Claims.IssuedAt) + time.Second)
	if tok, _ := get(); !tok.Claims.IssuedAt.Equal(last.Claims.IssuedAt) {
		t.Fatalf("token of %s served, want the last one of %s", tok.Claims.IssuedAt, last.Claims.IssuedAt)
	}
	e.advance(ttl / 2)
	if _, err := e.svc.StatusList(context.Background(), listID(t, ref.URI)); err == nil {
		t.Fatal("a token past its ttl served while signing fails")
	}
	e.svc.cfg.StatusListSigner = good

	// Once per half validity the list is read again even without a
	// change, in case one did not bump its version.
	before := e.svc.status.builds.Load()
	e.advance(e.svc.cfg.StatusListValidity / 2)
	get()
	if n := e.svc.status.builds.Load() - before; n != 1 {
		t.Fatalf("after half the validity the list was read %d times, want once", n)
	}
	builds = e.svc.status.builds.Load()

	// A change is served at once, whatever the age of the token.
	if _, err := e.svc.AdminChange(context.Background(), AdminTarget{DeviceID: w.deviceID}, ActionSuspend, "lost", "test"); err != nil {
		t.Fatal(err)
	}
	tok, _ := get()
	if st, err := tok.List.Get(ref.Idx); err != nil || st != mdoc.StatusSuspended {
		t.Fatalf("entry %d after the suspension: %d %v", ref.Idx, st, err)
	}
	if n := e.svc.status.builds.Load() - builds; n != 1 {
		t.Fatalf("the changed list was built %d times, want once", n)
	}
}

// failingSigner is a status-list signer whose key no longer signs.
type failingSigner struct{ StatusListSigner }

func (failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("HSM session closed")
}

// listID is the last path segment of a status list URI.
func listID(t *testing.T, uri string) string {
	t.Helper()
	i := strings.LastIndex(uri, "/")
	if i < 0 {
		t.Fatalf("status list URI %q", uri)
	}
	return uri[i+1:]
}

// TestStatusListTTLBounds: a ttl verifiers would not honour, or one that
// would have every fetch signed, is refused at start.
func TestStatusListTTLBounds(t *testing.T) {
	for _, ttl := range []time.Duration{time.Millisecond, 2 * time.Hour, 25 * time.Hour} {
		_, err := New(Config{StatusListTTL: ttl})
		if err == nil || !strings.Contains(err.Error(), "ttl") {
			t.Errorf("ttl %s: %v", ttl, err)
		}
	}
}
