package status_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier/status"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
	testpki "github.com/mynumber-mdoc/mnc/verifier/verifiertest"
)

func setup(t *testing.T) (*testpki.Issuer, *testpki.StatusServer, *trust.IACAs) {
	t.Helper()
	is, err := testpki.NewIssuer("st")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := testpki.NewStatusServer(is, 16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return is, srv, trust.NewIACAsFromCertificates([]*x509Cert{is.IACA})
}

func TestStatusValues(t *testing.T) {
	is, srv, iacas := setup(t)
	srv.Set(1, mdoc.StatusInvalid)
	srv.Set(2, mdoc.StatusSuspended)
	srv.Set(3, 3) // undefined value: fails closed as revoked
	c := status.New(iacas.StatusListTrust())
	want := map[uint64]mdoc.Code{0: "", 1: mdoc.CodeStatusInvalid, 2: mdoc.CodeStatusSuspended, 3: mdoc.CodeStatusInvalid, 99: mdoc.CodeStatusListInvalid}
	for idx, code := range want {
		err := c.Check(context.Background(), srv.Ref(idx), is.IACA, testpki.Now)
		if mdoc.CodeOf(err) != code {
			t.Errorf("idx %d: %v, want %q", idx, err, code)
		}
	}
	if srv.Hits.Load() != 1 {
		t.Errorf("fetched %d times, want 1 (cached by ttl)", srv.Hits.Load())
	}
}

// clock is the issuer's clock in a test: the status server signs each
// token at the time the test sets.
type clock struct{ t atomic.Int64 }

func (c *clock) now() time.Time { return time.Unix(0, c.t.Load()).UTC() }

func (c *clock) set(t time.Time) { c.t.Store(t.UnixNano()) }

func TestCacheTTLAndFreshness(t *testing.T) {
	for _, jwt := range []bool{false, true} {
		is, srv, iacas := setup(t)
		srv.JWT = jwt
		srv.TTL = time.Minute
		issuer := &clock{}
		issuer.set(testpki.Now)
		srv.Clock = issuer.now
		c := status.New(iacas.StatusListTrust(), status.WithGrace(2*time.Minute))
		ctx := context.Background()
		t0 := testpki.Now
		check := func(idx uint64, at time.Duration) error {
			issuer.set(t0.Add(at)) // a live issuer signs at the time of the request
			return c.Check(ctx, srv.Ref(idx), is.IACA, t0.Add(at))
		}
		if err := check(0, 0); err != nil {
			t.Fatal(jwt, err)
		}
		// A revocation is seen after the ttl, not before.
		srv.Set(0, mdoc.StatusInvalid)
		if err := check(0, 30*time.Second); err != nil {
			t.Fatalf("jwt=%v within ttl: %v", jwt, err)
		}
		if err := check(0, 2*time.Minute); mdoc.CodeOf(err) != mdoc.CodeStatusInvalid {
			t.Fatalf("jwt=%v after ttl: %v", jwt, err)
		}
		// Server down: the cached token (iat t0+2m) answers while fresh
		// (iat + ttl + grace = t0+5m), then the check fails closed.
		srv.SetDown(true)
		if err := check(0, 4*time.Minute); mdoc.CodeOf(err) != mdoc.CodeStatusInvalid {
			t.Fatalf("jwt=%v down, fresh: %v", jwt, err)
		}
		if err := check(5, 4*time.Minute); err != nil {
			t.Fatalf("jwt=%v down, fresh, valid index: %v", jwt, err)
		}
		if err := check(5, 6*time.Minute); mdoc.CodeOf(err) != mdoc.CodeStatusStale {
			t.Fatalf("jwt=%v down, stale: %v", jwt, err)
		}
		// Never fetched and down: nothing to fall back on.
		c2 := status.New(iacas.StatusListTrust(), status.WithGrace(time.Hour))
		if err := c2.Check(ctx, srv.Ref(5), is.IACA, t0); mdoc.CodeOf(err) != mdoc.CodeStatusUnavailable {
			t.Fatalf("jwt=%v cold and down: %v", jwt, err)
		}
	}
}

// TestOldTokenIsStale is the attack of issue 11: a credential revoked at T,
// and the verifier handed a token signed before T that has not reached
// its 24 h exp. Two hours later, with a ttl of five minutes, that token is
// stale and the check fails closed instead of answering valid.
func TestOldTokenIsStale(t *testing.T) {
	for _, jwt := range []bool{false, true} {
		is, srv, iacas := setup(t)
		srv.JWT, srv.TTL, srv.Exp = jwt, 5*time.Minute, 24*time.Hour
		old, err := srv.Token(is) // signed at testpki.Now, status valid
		if err != nil {
			t.Fatal(err)
		}
		srv.Set(3, mdoc.StatusInvalid) // revoked at T = Now
		srv.Replay = old
		c := status.New(iacas.StatusListTrust())
		at := testpki.Now.Add(2 * time.Hour)
		err = c.Check(context.Background(), srv.Ref(3), is.IACA, at)
		if mdoc.CodeOf(err) != mdoc.CodeStatusStale {
			t.Fatalf("jwt=%v: old token two hours later: %v, want status_stale", jwt, err)
		}
		// The same token from a file at the same time: stale too.
		lc := status.New(iacas.StatusListTrust(), status.WithLocalTokens(old))
		if err := lc.Check(context.Background(), srv.Ref(3), is.IACA, at); mdoc.CodeOf(err) != mdoc.CodeStatusStale {
			t.Fatalf("jwt=%v: local old token: %v, want status_stale", jwt, err)
		}
		// Within its ttl + grace the old token still answers (what ttl
		// promises), and a fresh token shows the revocation.
		if err := lc.Check(context.Background(), srv.Ref(3), is.IACA, testpki.Now.Add(9*time.Minute)); err != nil {
			t.Fatalf("jwt=%v: old token within ttl+grace: %v", jwt, err)
		}
		srv.Replay = nil
		srv.Clock = func() time.Time { return at }
		if err := c.Check(context.Background(), srv.Ref(3), is.IACA, at); mdoc.CodeOf(err) != mdoc.CodeStatusInvalid {
			t.Fatalf("jwt=%v: fresh token: %v, want revoked", jwt, err)
		}
	}
}

// TestReplayedTokenNeverReplacesNewer: once a token issued at t1 has been
// seen, one issued earlier is refused even if its own ttl would still
// cover it.
func TestReplayedTokenNeverReplacesNewer(t *testing.T) {
	is, srv, iacas := setup(t)
	t0 := testpki.Now
	srv.TTL = time.Hour
	old, err := srv.Token(is) // iat t0, fresh until t0+1h5m, status valid
	if err != nil {
		t.Fatal(err)
	}
	srv.Set(2, mdoc.StatusInvalid)
	srv.TTL = time.Minute
	srv.Clock = func() time.Time { return t0.Add(10 * time.Minute) }
	c := status.New(iacas.StatusListTrust())
	ctx := context.Background()
	if err := c.Check(ctx, srv.Ref(2), is.IACA, t0.Add(10*time.Minute)); mdoc.CodeOf(err) != mdoc.CodeStatusInvalid {
		t.Fatalf("newer token: %v", err)
	}
	// Past the newer token's ttl the client refetches and is served the
	// old one: refused; the cached newer token answers while fresh.
	srv.Replay = old
	if err := c.Check(ctx, srv.Ref(2), is.IACA, t0.Add(12*time.Minute)); mdoc.CodeOf(err) != mdoc.CodeStatusInvalid {
		t.Fatalf("replay while cached is fresh: %v, want revoked", err)
	}
	if err := c.Check(ctx, srv.Ref(2), is.IACA, t0.Add(20*time.Minute)); mdoc.CodeOf(err) != mdoc.CodeStatusStale {
		t.Fatalf("replay after cached went stale: %v, want status_stale", err)
	}
}

func TestExpBoundsFreshness(t *testing.T) {
	is, srv, iacas := setup(t)
	srv.TTL = time.Hour
	srv.Exp = 3 * time.Minute
	c := status.New(iacas.StatusListTrust(), status.WithGrace(time.Hour))
	ctx := context.Background()
	if err := c.Check(ctx, srv.Ref(0), is.IACA, testpki.Now); err != nil {
		t.Fatal(err)
	}
	srv.SetDown(true)
	if err := c.Check(ctx, srv.Ref(0), is.IACA, testpki.Now.Add(2*time.Minute)); err != nil {
		t.Fatalf("within exp: %v", err)
	}
	if err := c.Check(ctx, srv.Ref(0), is.IACA, testpki.Now.Add(4*time.Minute)); mdoc.CodeOf(err) != mdoc.CodeStatusStale {
		t.Fatalf("past exp: %v", err)
	}
}

func TestJWTForm(t *testing.T) {
	is, srv, iacas := setup(t)
	srv.JWT = true
	srv.Set(1, mdoc.StatusInvalid)
	srv.Set(2, mdoc.StatusSuspended)
	c := status.New(iacas.StatusListTrust())
	want := map[uint64]mdoc.Code{0: "", 1: mdoc.CodeStatusInvalid, 2: mdoc.CodeStatusSuspended, 99: mdoc.CodeStatusListInvalid}
	for idx, code := range want {
		if err := c.Check(context.Background(), srv.Ref(idx), is.IACA, testpki.Now); mdoc.CodeOf(err) != code {
			t.Errorf("idx %d: %v, want %q", idx, err, code)
		}
	}
	good, err := srv.Token(is)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(good), ".")
	other, _ := testpki.NewIssuer("other")
	foreign, _ := srv.Token(other)
	bad := map[string][]byte{
		"signature of another token": []byte(parts[0] + "." + parts[1] + "." + strings.Split(string(foreign), ".")[2]),
		"payload changed":            []byte(parts[0] + "." + b64json(t, map[string]any{"sub": srv.URI(), "iat": testpki.Now.Unix(), "status_list": map[string]any{"bits": 1, "lst": "eNoDAAAAAAE"}}) + "." + parts[2]),
		"typ jwt":                    []byte(b64json(t, map[string]any{"alg": "ES256", "typ": "JWT", "x5c": []string{base64.StdEncoding.EncodeToString(is.StatusSigner.Raw)}}) + "." + parts[1] + "." + parts[2]),
		"alg none":                   []byte(b64json(t, map[string]any{"alg": "none", "typ": "statuslist+jwt", "x5c": []string{base64.StdEncoding.EncodeToString(is.StatusSigner.Raw)}}) + "." + parts[1] + "."),
		"two parts":                  []byte(parts[0] + "." + parts[1]),
	}
	for name, b := range bad {
		srv.Replay = b
		c := status.New(iacas.StatusListTrust())
		if err := c.Check(context.Background(), srv.Ref(0), is.IACA, testpki.Now); mdoc.CodeOf(err) != mdoc.CodeStatusListInvalid {
			t.Errorf("%s: %v, want status_list_invalid", name, err)
		}
	}
}

func b64json(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestWrongSigner(t *testing.T) {
	is, srv, iacas := setup(t)
	other, _ := testpki.NewIssuer("other")
	// Token signed under an IACA the verifier does not trust.
	srv.SignWith = other
	c := status.New(iacas.StatusListTrust())
	if err := c.Check(context.Background(), srv.Ref(0), is.IACA, testpki.Now); mdoc.CodeOf(err) != mdoc.CodeStatusListInvalid {
		t.Fatalf("untrusted signer: %v", err)
	}
	// Token signed under another trusted IACA than the credential's.
	both := trust.NewIACAsFromCertificates([]*x509Cert{is.IACA, other.IACA})
	c = status.New(both.StatusListTrust())
	if err := c.Check(context.Background(), srv.Ref(0), is.IACA, testpki.Now); mdoc.CodeOf(err) != mdoc.CodeStatusListInvalid {
		t.Fatalf("cross-issuer token: %v", err)
	}
	// Document Signer certificates cannot sign status lists... but the
	// status-list signer's chain must also not be usable for credentials.
	if _, err := iacas.VerifyChain([][]byte{is.StatusSigner.Raw}, testpki.Now); err == nil {
		t.Fatal("status-list signer accepted as Document Signer")
	}
}

func TestSubjectMismatch(t *testing.T) {
	is, srv, iacas := setup(t)
	c := status.New(iacas.StatusListTrust())
	// The credential names a uri whose server returns the token of /status/1.
	ref := &mdoc.StatusListRef{Idx: 0, URI: srv.URL + "/status/1?other"}
	if err := c.Check(context.Background(), ref, is.IACA, testpki.Now); err == nil {
		t.Fatal("token for another uri accepted")
	}
}

// TestLocalTokens: a recorded token checks a recorded presentation offline,
// verified as strictly as a fetched one.
func TestLocalTokens(t *testing.T) {
	is, srv, iacas := setup(t)
	srv.Exp = time.Hour
	srv.Set(4, mdoc.StatusSuspended)
	resp, err := http.Get(srv.URI())
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	srv.SetDown(true)
	hits := srv.Hits.Load()
	c := status.New(iacas.StatusListTrust(), status.WithLocalTokens(tok))
	if err := c.LocalTokensError(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Check(ctx, srv.Ref(4), is.IACA, testpki.Now); mdoc.CodeOf(err) != mdoc.CodeStatusSuspended {
		t.Errorf("idx 4: %v, want suspended", err)
	}
	if err := c.Check(ctx, srv.Ref(0), is.IACA, testpki.Now); err != nil {
		t.Errorf("idx 0: %v", err)
	}
	if srv.Hits.Load() != hits {
		t.Error("a local token did not stop the fetch")
	}
	// Past its exp, the recorded token no longer answers.
	if err := c.Check(ctx, srv.Ref(0), is.IACA, testpki.Now.Add(2*time.Hour)); err == nil {
		t.Error("expired local token accepted")
	}
	// Under another IACA it is refused.
	other, _ := testpki.NewIssuer("other")
	c2 := status.New(trust.NewIACAsFromCertificates([]*x509Cert{other.IACA}).StatusListTrust(), status.WithLocalTokens(tok))
	if err := c2.Check(ctx, srv.Ref(0), other.IACA, testpki.Now); mdoc.CodeOf(err) != mdoc.CodeStatusListInvalid {
		t.Errorf("token under a foreign IACA: %v", err)
	}
	if c3 := status.New(iacas.StatusListTrust(), status.WithLocalTokens([]byte("junk"))); c3.LocalTokensError() == nil {
		t.Error("junk local token not reported")
	}
}
