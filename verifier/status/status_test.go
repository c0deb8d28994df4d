package status_test

import (
	"context"
	"io"
	"net/http"
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

func TestCacheTTLAndGrace(t *testing.T) {
	is, srv, iacas := setup(t)
	srv.TTL = time.Minute
	c := status.New(iacas.StatusListTrust(), status.WithGrace(10*time.Minute))
	ctx := context.Background()
	t0 := testpki.Now
	if err := c.Check(ctx, srv.Ref(0), is.IACA, t0); err != nil {
		t.Fatal(err)
	}
	// A revocation is seen after the ttl, not before.
	srv.Set(0, mdoc.StatusInvalid)
	if err := c.Check(ctx, srv.Ref(0), is.IACA, t0.Add(30*time.Second)); err != nil {
		t.Fatalf("within ttl: %v", err)
	}
	if err := c.Check(ctx, srv.Ref(0), is.IACA, t0.Add(2*time.Minute)); mdoc.CodeOf(err) != mdoc.CodeStatusInvalid {
		t.Fatalf("after ttl: %v", err)
	}
	// Server down: the cached list answers within grace, then fail closed.
	t1 := t0.Add(2 * time.Minute)
	srv.SetDown(true)
	if err := c.Check(ctx, srv.Ref(0), is.IACA, t1.Add(5*time.Minute)); mdoc.CodeOf(err) != mdoc.CodeStatusInvalid {
		t.Fatalf("down within grace: %v", err)
	}
	if err := c.Check(ctx, srv.Ref(5), is.IACA, t1.Add(5*time.Minute)); err != nil {
		t.Fatalf("down within grace, valid index: %v", err)
	}
	if err := c.Check(ctx, srv.Ref(5), is.IACA, t1.Add(12*time.Minute)); mdoc.CodeOf(err) != mdoc.CodeStatusUnavailable {
		t.Fatalf("down after grace: %v", err)
	}
	// Never fetched and down: nothing to fall back on.
	c2 := status.New(iacas.StatusListTrust(), status.WithGrace(time.Hour))
	if err := c2.Check(ctx, srv.Ref(5), is.IACA, t0); mdoc.CodeOf(err) != mdoc.CodeStatusUnavailable {
		t.Fatalf("cold and down: %v", err)
	}
}

func TestGraceNeverPassesExp(t *testing.T) {
	is, srv, iacas := setup(t)
	srv.TTL = time.Minute
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
	if err := c.Check(ctx, srv.Ref(0), is.IACA, testpki.Now.Add(4*time.Minute)); mdoc.CodeOf(err) != mdoc.CodeStatusUnavailable {
		t.Fatalf("past exp: %v", err)
	}
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
