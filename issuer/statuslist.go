package issuer

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v3/cert"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/mynumber-mdoc/mnc/issuer/store"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

// Media types of Status List Tokens (draft-ietf-oauth-status-list).
const (
	MediaTypeStatusListCWT = "application/statuslist+cwt"
	MediaTypeStatusListJWT = "application/statuslist+jwt"
)

// StatusListToken is a signed status list in both forms.
type StatusListToken struct {
	CWT       []byte
	JWT       []byte
	Version   int64
	IssuedAt  time.Time
	ExpiresAt time.Time
	TTL       time.Duration
}

// statusCache keeps the signed tokens per list. A token is re-signed when
// the list's version changed (any credential state change in it bumps the
// version in the same transaction), and when half its ttl has passed even
// if nothing changed: a verifier holds a token fresh only until iat + ttl
// (draft-ietf-oauth-status-list, ttl: how long it may be cached before a
// fresh one is fetched), so an issuer that re-signed only on change would
// have every verifier failing closed after a quiet ttl. Re-signing an
// unchanged list reuses its compressed form, so the list is read from the
// store and compressed once per change (and, as a safeguard against a
// change that did not bump the version, once per half validity).
type statusCache struct {
	mu sync.Mutex // guards m; each list has its own lock for its work
	m  map[string]*cachedList
	// builds counts lists read from the store and compressed (tests).
	builds atomic.Int64
}

// cachedList is a list's current token with the compressed list it
// carries: a few KB, where the list itself would be 32 KiB or more per
// list (thousands of lists at national scale).
type cachedList struct {
	mu    sync.Mutex // one build or signature of this list at a time
	tok   *StatusListToken
	bits  int
	lst   []byte    // the list's Encode(), as in tok
	built time.Time // when it was read from the store
}

func newStatusCache() *statusCache {
	return &statusCache{m: map[string]*cachedList{}}
}

// entry returns the cache entry of a list, made empty on first use.
// Callers have checked that the list exists, which bounds the map.
func (c *statusCache) entry(listID string) *cachedList {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl := c.m[listID]
	if cl == nil {
		cl = &cachedList{}
		c.m[listID] = cl
	}
	return cl
}

// statusRefresh is how old a served token may get before it is re-signed:
// half its ttl, so a verifier (or a CDN honouring max-age) always gets a
// token with at least half its ttl left; and at most half its validity.
func (s *Service) statusRefresh() time.Duration {
	return min(s.cfg.StatusListTTL, s.cfg.StatusListValidity) / 2
}

// StatusList returns the current signed token of a list.
func (s *Service) StatusList(ctx context.Context, listID string) (*StatusListToken, error) {
	if len(listID) > 32 {
		return nil, oid4vci.NewError(oid4vci.CodeNotFound, "", "no status list %q", listID)
	}
	v, err := s.lists.StatusListVersion(ctx, listID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oid4vci.NewError(oid4vci.CodeNotFound, "", "no status list %q", listID)
	}
	if err != nil {
		return nil, fmt.Errorf("status list %s: %w", listID, err)
	}
	cl := s.status.entry(listID)
	cl.mu.Lock()
	defer cl.mu.Unlock()
	// The clock is read under the list's lock, so that a request that
	// waited never signs with an iat older than the token it waited for.
	now := s.now()
	if cl.tok != nil && cl.tok.Version == v && now.Sub(cl.built) < s.cfg.StatusListValidity/2 {
		age := now.Sub(cl.tok.IssuedAt)
		if age >= 0 && age < s.statusRefresh() {
			return cl.tok, nil
		}
		// Unchanged but aging (or the clock went back): a new iat for the
		// same compressed list.
		t, err := s.signEncoded(listID, cl.bits, cl.lst, v, now, time.Now())
		if err != nil {
			if now.Before(cl.tok.IssuedAt.Add(cl.tok.TTL)) {
				// The list has not changed and its token is still fresh
				// for verifiers: serve it rather than fail them all over
				// a signing hiccup (an HSM session, say).
				s.cfg.Logger.WarnContext(ctx, "status list not re-signed; serving its last token, still within its ttl", "list", listID, "err", err)
				return cl.tok, nil
			}
			return nil, err
		}
		cl.tok = t
		return t, nil
	}
	version, entries, err := s.lists.StatusEntries(ctx, listID)
	if err != nil {
		return nil, fmt.Errorf("status list %s entries: %w", listID, err)
	}
	list, err := mdoc.NewStatusList(2, int(s.cfg.StatusListSize))
	if err != nil {
		return nil, err
	}
	for idx, st := range entries {
		if idx >= s.cfg.StatusListSize {
			// A list made with a larger configured size: grow to fit.
			if list, err = growList(list, idx); err != nil {
				return nil, err
			}
		}
		if err := list.Set(idx, statusValue(st)); err != nil {
			return nil, fmt.Errorf("status list %s idx %d: %w", listID, idx, err)
		}
	}
	s.status.builds.Add(1)
	t, lst, err := s.signStatusList(listID, list, version, now)
	if err != nil {
		return nil, err
	}
	cl.tok, cl.bits, cl.lst, cl.built = t, list.Bits, lst, now
	return t, nil
}

func growList(l *mdoc.StatusList, idx uint64) (*mdoc.StatusList, error) {
	size := l.Len()
	for size <= idx {
		size *= 2
	}
	n, err := mdoc.NewStatusList(l.Bits, int(size))
	if err != nil {
		return nil, err
	}
	for i := uint64(0); i < l.Len(); i++ {
		v, _ := l.Get(i)
		if v != 0 {
			n.Set(i, v)
		}
	}
	return n, nil
}

func statusValue(st string) uint8 {
	switch st {
	case store.CredentialValid:
		return mdoc.StatusValid
	case store.CredentialSuspended:
		return mdoc.StatusSuspended
	}
	return mdoc.StatusInvalid // revoked, and anything unknown fails closed
}

// signStatusList compresses list and signs it (signEncoded); it returns
// the compressed list too, for re-signing it unchanged.
func (s *Service) signStatusList(listID string, list *mdoc.StatusList, version int64, now time.Time) (*StatusListToken, []byte, error) {
	start := time.Now()
	// Both forms carry the same compressed list: compress it once.
	lst, err := list.Encode()
	if err != nil {
		return nil, nil, fmt.Errorf("compress status list %s: %w", listID, err)
	}
	t, err := s.signEncoded(listID, list.Bits, lst, version, now, start)
	return t, lst, err
}

// signEncoded signs a list of bits per entry, compressed as lst (its
// Encode()), as a CWT (mdoc.SignStatusListToken, x5chain = [status-list
// signer] issued by the IACA) and as a JWT (typ statuslist+jwt, x5c the
// same certificate), with sub = the list's URI. The work since start is
// reported as the signing time.
func (s *Service) signEncoded(listID string, bits int, lst []byte, version int64, now, start time.Time) (*StatusListToken, error) {
	claims := mdoc.StatusListClaims{Subject: s.statusURI(listID), IssuedAt: now, ExpiresAt: now.Add(s.cfg.StatusListValidity), TTL: s.cfg.StatusListTTL}
	cwt, err := mdoc.SignStatusListToken(s.cfg.StatusListSigner, mdoc.StatusListTokenOptions{X5Chain: rawChain(s.cfg.StatusListSigner.Chain()), Encoded: lst, Bits: bits}, claims, nil)
	if err != nil {
		return nil, fmt.Errorf("sign status list %s (CWT): %w", listID, err)
	}
	jwt, err := s.statusListJWT(claims, bits, lst)
	if err != nil {
		return nil, fmt.Errorf("sign status list %s (JWT): %w", listID, err)
	}
	if s.cfg.StatusListSigned != nil {
		s.cfg.StatusListSigned(listID, now, time.Since(start))
	}
	return &StatusListToken{CWT: cwt, JWT: jwt, Version: version, IssuedAt: now, ExpiresAt: claims.ExpiresAt, TTL: s.cfg.StatusListTTL}, nil
}

type jwtStatusList struct {
	Bits int    `json:"bits"`
	Lst  string `json:"lst"`
}

type jwtStatusClaims struct {
	Sub        string        `json:"sub"`
	Iat        int64         `json:"iat"`
	Exp        int64         `json:"exp,omitempty"`
	TTL        int64         `json:"ttl,omitempty"`
	StatusList jwtStatusList `json:"status_list"`
}

// statusListJWT signs the JWT form; lst is the list's Encode() output.
func (s *Service) statusListJWT(c mdoc.StatusListClaims, bits int, lst []byte) ([]byte, error) {
	payload, err := jsonMarshal(jwtStatusClaims{Sub: c.Subject, Iat: c.IssuedAt.Unix(), Exp: c.ExpiresAt.Unix(), TTL: int64(c.TTL / time.Second),
		StatusList: jwtStatusList{Bits: bits, Lst: base64.RawURLEncoding.EncodeToString(lst)}})
	if err != nil {
		return nil, err
	}
	h := jws.NewHeaders()
	h.Set(jws.TypeKey, "statuslist+jwt")
	var x5c cert.Chain
	for _, der := range rawChain(s.cfg.StatusListSigner.Chain()) {
		x5c.Add([]byte(base64.StdEncoding.EncodeToString(der)))
	}
	h.Set(jws.X509CertChainKey, &x5c)
	return jws.Sign(payload, jws.WithKey(jwa.ES256(), s.cfg.StatusListSigner, jws.WithProtectedHeaders(h)))
}
