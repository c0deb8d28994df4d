package demo

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vp"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/online"
	"github.com/mynumber-mdoc/mnc/verifier/status"
)

// maxTappedBody bounds what the tap copies of one wallet response; the
// online server applies the same bound (online.MaxBody) itself.
const maxTappedBody = online.MaxBody

// statusRecorder is the verifiers' StatusChecker in the story. Every check
// fetches the list afresh with a new status.Client (no cache carried from
// one relying party to the next, so a revocation is seen at the next
// presentation, as a fresh verifier would see it), and keeps the exact token
// bytes it was given so that an offline checker can be handed the same
// token (mdoc-verifier verify --status-list).
type statusRecorder struct {
	trust mdoc.Trust

	mu     sync.Mutex
	tokens map[string][]byte // uri → token of the latest check
}

func newStatusRecorder(t mdoc.Trust) *statusRecorder {
	return &statusRecorder{trust: t, tokens: map[string][]byte{}}
}

// Check implements verifier.StatusChecker.
func (s *statusRecorder) Check(ctx context.Context, ref *mdoc.StatusListRef, anchor *x509.Certificate, now time.Time) error {
	rt := &recordingTransport{base: http.DefaultTransport}
	c := status.New(s.trust, status.WithHTTPClient(&http.Client{Transport: rt, Timeout: 10 * time.Second}))
	err := c.Check(ctx, ref, anchor, now)
	if b := rt.body(ref.URI); b != nil {
		s.mu.Lock()
		s.tokens[ref.URI] = b
		s.mu.Unlock()
	}
	return err
}

// reset forgets recorded tokens (before a presentation).
func (s *statusRecorder) reset() {
	s.mu.Lock()
	clear(s.tokens)
	s.mu.Unlock()
}

// take returns the tokens recorded since reset, by uri.
func (s *statusRecorder) take() map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]byte, len(s.tokens))
	for k, v := range s.tokens {
		out[k] = v
	}
	return out
}

// recordingTransport keeps the bodies of successful GETs, bounded by
// status.MaxTokenSize (the client refuses larger tokens anyway).
type recordingTransport struct {
	base   http.RoundTripper
	mu     sync.Mutex
	bodies map[string][]byte
}

func (t *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, status.MaxTokenSize+1))
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("demo: read status list %s: %w", r.URL, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	t.mu.Lock()
	if t.bodies == nil {
		t.bodies = map[string][]byte{}
	}
	t.bodies[r.URL.String()] = b
	t.mu.Unlock()
	return resp, nil
}

func (t *recordingTransport) body(uri string) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.bodies[uri]
}

// onlineTap records what wallets post to the online verifier so that each
// online presentation can be written out as artefacts: the verifier server
// decrypts and verifies responses internally and keeps only the verdict, so
// the tap keeps each transaction (its keys never leave this process) and a
// copy of the posted body, and decrypts the copy the same way the server
// did (oid4vp.DecryptResponse / mdoc.OpenAnnexC). It never alters a request.
type onlineTap struct {
	online.Store

	mu     sync.Mutex
	txs    map[string]*online.Transaction
	bodies map[string][]byte
}

func newOnlineTap() *onlineTap {
	return &onlineTap{Store: online.NewMemoryStore(), txs: map[string]*online.Transaction{}, bodies: map[string][]byte{}}
}

// Put implements online.Store, remembering the transaction.
func (t *onlineTap) Put(ctx context.Context, tx *online.Transaction) error {
	t.mu.Lock()
	t.txs[tx.ID] = tx
	t.mu.Unlock()
	return t.Store.Put(ctx, tx)
}

// Wrap returns h with the response endpoints tapped.
func (t *onlineTap) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := tappedID(r)
		if !ok {
			h.ServeHTTP(w, r)
			return
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, maxTappedBody+1))
		r.Body.Close()
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		t.mu.Lock()
		t.bodies[id] = b
		t.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func tappedID(r *http.Request) (string, bool) {
	if r.Method != http.MethodPost {
		return "", false
	}
	for _, p := range []string{"/oid4vp/response/", "/annexc/request/"} {
		if id, ok := strings.CutPrefix(r.URL.Path, p); ok && id != "" && !strings.Contains(id, "/") {
			return id, true
		}
	}
	return "", false
}

// presentation decrypts the recorded response of transaction id.
func (t *onlineTap) presentation(id string) (*Presentation, error) {
	t.mu.Lock()
	tx, body := t.txs[id], t.bodies[id]
	t.mu.Unlock()
	if tx == nil || body == nil {
		return nil, fmt.Errorf("demo: no recorded response for transaction %s", id)
	}
	switch tx.Protocol {
	case online.ProtocolOpenID4VP:
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("demo: OpenID4VP response form: %w", err)
		}
		resp, err := oid4vp.DecryptResponseString(form.Get(oid4vp.ResponseFormField), oid4vp.DecryptOptions{
			Key: tx.EncKey, Kid: tx.KeyID, Enc: []string{oid4vp.EncA128GCM, oid4vp.EncA256GCM}})
		if err != nil {
			return nil, fmt.Errorf("demo: decrypt OpenID4VP response: %w", err)
		}
		jwk, err := oid4vp.NewEncryptionJWK(tx.EncKey.PublicKey(), tx.KeyID)
		if err != nil {
			return nil, err
		}
		thumb, err := jwk.Thumbprint()
		if err != nil {
			return nil, err
		}
		st, err := oid4vp.SessionTranscript(tx.ClientID, tx.Nonce, thumb, tx.ResponseURI)
		if err != nil {
			return nil, fmt.Errorf("demo: OpenID4VP transcript: %w", err)
		}
		if len(tx.Query.Credentials) != 1 {
			return nil, fmt.Errorf("demo: the tap records single-credential queries, got %d", len(tx.Query.Credentials))
		}
		q := tx.Query.Credentials[0]
		ps, err := resp.Presentations(q.ID)
		if err != nil || len(ps) != 1 {
			return nil, fmt.Errorf("demo: vp_token for %q: %d presentations (%v)", q.ID, len(ps), err)
		}
		return &Presentation{DeviceResponse: ps[0], Transcript: st, Request: verifier.Request{q.Meta.DoctypeValue: q.Elements()}}, nil
	case online.ProtocolAnnexC:
		enc, err := oid4vp.ParseAnnexCResponse(body)
		if err != nil {
			return nil, fmt.Errorf("demo: Annex C response: %w", err)
		}
		plain, err := mdoc.OpenAnnexC(tx.EncKey, tx.Transcript, enc)
		if err != nil {
			return nil, fmt.Errorf("demo: open Annex C response: %w", err)
		}
		drb, err := base64.RawURLEncoding.DecodeString(tx.AnnexCRequest.DeviceRequest)
		if err != nil {
			return nil, fmt.Errorf("demo: Annex C device request: %w", err)
		}
		return &Presentation{DeviceResponse: plain, Transcript: tx.Transcript, DeviceRequest: drb, Request: tx.Request}, nil
	}
	return nil, fmt.Errorf("demo: unknown protocol %q", tx.Protocol)
}
