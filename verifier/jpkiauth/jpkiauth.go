// Package jpkiauth reports legacy JPKI verifications in the verifier's
// result format: login with the user-authentication certificate (the
// verifier issues a one-time nonce, the card or phone signs it, the
// signature, chain and CRL are checked by jpki.Verifier) and verification
// of a document signature made with the signature certificate. A login
// result discloses only the opaque id of the auth certificate; a document
// signature result discloses the signer's four basic facts.
package jpkiauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"sync"
	"time"

	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier"
)

// Pseudo docTypes and namespace of JPKI results.
const (
	DocTypeAuth      = "jp.jpki.auth"
	DocTypeSignature = "jp.jpki.signature"
	NameSpace        = "jp.jpki"
)

// Codes beside the jpki codes.
const (
	CodeChallengeUnknown = "challenge_unknown" // no such challenge, or already used, or expired
	CodeTooManyPending   = "too_many_challenges"
)

// MaxPending bounds the open challenges.
const MaxPending = 100_000

// Service issues login challenges and checks logins.
type Service struct {
	V   *jpki.Verifier
	TTL time.Duration
	Now func() time.Time

	mu      sync.Mutex
	pending map[string]challenge
}

type challenge struct {
	nonce   []byte
	expires time.Time
}

// New returns a service; ttl ≤ 0 means 5 minutes, now nil means time.Now.
func New(v *jpki.Verifier, ttl time.Duration, now func() time.Time) *Service {
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	if now == nil {
		now = time.Now
	}
	return &Service{V: v, TTL: ttl, Now: now, pending: map[string]challenge{}}
}

// Challenge returns a fresh challenge id and nonce (jpki.DefaultNonceLen
// random bytes) to be signed by the auth key.
func (s *Service) Challenge() (id string, nonce []byte, err error) {
	nonce, err = jpki.NewNonce(rand.Reader)
	if err != nil {
		return "", nil, err
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	id = base64.RawURLEncoding.EncodeToString(b)
	now := s.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) >= MaxPending {
		for k, c := range s.pending {
			if now.After(c.expires) {
				delete(s.pending, k)
			}
		}
		if len(s.pending) >= MaxPending {
			return "", nil, errors.New("jpkiauth: too many open challenges")
		}
	}
	s.pending[id] = challenge{nonce: nonce, expires: now.Add(s.TTL)}
	return id, nonce, nil
}

// take consumes a challenge: each nonce is usable once, so a replayed
// signature is refused.
func (s *Service) take(id string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.pending[id]
	delete(s.pending, id)
	if !ok || !s.Now().Before(c.expires) {
		return nil, false
	}
	return c.nonce, true
}

func errResult(docType, code, msg string) *verifier.Result {
	return &verifier.Result{Documents: []*verifier.Document{{DocType: docType, Elements: map[string]map[string]any{},
		Errors: []verifier.Error{{Code: code, Message: msg}}}}, Errors: []verifier.Error{}}
}

func jpkiError(err error) verifier.Error {
	code := string(jpki.CodeOf(err))
	if code == "" {
		code = string(mdoc.CodeMalformed)
	}
	return verifier.Error{Code: code, Message: err.Error()}
}

// Login checks a user authentication for challenge id: signature is the
// auth key's PKCS#1 v1.5 signature over the nonce's SHA-256 DigestInfo and
// certDER the auth certificate, checked with chain and revocation.
func (s *Service) Login(ctx context.Context, id string, certDER, signature []byte) *verifier.Result {
	nonce, ok := s.take(id)
	if !ok {
		return errResult(DocTypeAuth, CodeChallengeUnknown, "jpkiauth: unknown, used or expired challenge")
	}
	return VerifyAuth(ctx, s.V, nonce, certDER, signature, s.Now())
}

// VerifyAuth checks a user authentication over nonce (PKCS#1 v1.5 over
// its SHA-256 DigestInfo by the auth certificate's key, chain and
// revocation at now) and reports it as a result that discloses only the
// certificate's opaque id and form. Login uses it for challenges it
// issued; a counter reader uses it for the nonce it had the card sign.
func VerifyAuth(ctx context.Context, v *jpki.Verifier, nonce, certDER, signature []byte, now time.Time) *verifier.Result {
	ar, err := v.VerifyAuth(ctx, nonce, certDER, signature, jpki.VerifyOptions{CurrentTime: now})
	if err != nil {
		r := errResult(DocTypeAuth, "", "")
		r.Documents[0].Errors = []verifier.Error{jpkiError(err)}
		return r
	}
	return &verifier.Result{Valid: true, Errors: []verifier.Error{}, Documents: []*verifier.Document{{
		DocType: DocTypeAuth, Valid: true, Errors: []verifier.Error{},
		Elements: map[string]map[string]any{NameSpace: {
			"id": ar.ID, "form": ar.Form.String(), "not_after": ar.NotAfter.UTC().Format(time.RFC3339), "test": ar.Test,
		}},
	}}}
}

// VerifySignature checks a detached document signature (PKCS#1 v1.5 over
// SHA-256(data)) by the signature certificate, with chain and revocation,
// at now (zero: time.Now()).
func VerifySignature(ctx context.Context, v *jpki.Verifier, data, signature, certDER []byte, now time.Time) *verifier.Result {
	sr, err := v.VerifySignature(ctx, data, signature, certDER, jpki.VerifyOptions{CurrentTime: now})
	if err != nil {
		r := errResult(DocTypeSignature, "", "")
		r.Documents[0].Errors = []verifier.Error{jpkiError(err)}
		return r
	}
	el := map[string]any{"form": sr.Certificate.Form.String(), "test": sr.Test}
	if f := sr.Facts; f != nil {
		el["full_name"] = f.FullName
		el["sex"] = f.Sex.Unicode()
		el["birth_date"] = f.BirthDate.Gregorian()
		el["address"] = f.Address
	}
	return &verifier.Result{Valid: true, Errors: []verifier.Error{}, Documents: []*verifier.Document{{
		DocType: DocTypeSignature, Valid: true, Errors: []verifier.Error{},
		Elements: map[string]map[string]any{NameSpace: el},
	}}}
}
