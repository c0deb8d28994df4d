// Package status is the verifier's Token Status List client
// (draft-ietf-oauth-status-list): it fetches the token a credential's MSO
// points at — CWT (application/statuslist+cwt) or JWT
// (application/statuslist+jwt) —, trusts it through its x5chain / x5c to
// the same IACA that anchored the credential's Document Signer, and
// answers valid, revoked or suspended.
//
// Freshness. A token says how old it is (iat) and how long it may be used
// (ttl, "Status List Token" claims); exp only bounds its validity. A
// verifier that accepted any unexpired token would accept the "before"
// picture of a revocation for up to exp, from its own cache or from
// whoever hands it an old token. So a token is fresh only until
// iat + ttl + grace (ttl capped at MaxTTL, DefaultTTL when absent; grace
// DefaultGrace, covering clock drift and the issuer's re-signing
// interval). A cached token is used until iat + ttl, then refetched; if
// the server is unreachable the cached token answers until it stops being
// fresh. A token older than one already seen for the same uri is a replay
// and never replaces it. When no fresh token can be had the check fails
// closed with status_stale (or status_unavailable when there was never a
// token). The same rules apply to tokens read from files (WithLocalTokens)
// at the verification time the caller gives.
package status

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
)

// Defaults and bounds.
const (
	// MaxTokenSize bounds a fetched token. The compressed list of a large
	// issuer is a few MiB at most; mdoc bounds the decompressed list.
	MaxTokenSize = 8 << 20
	// DefaultTTL is the ttl of a token that has none: it is fresh for
	// this long after its iat.
	DefaultTTL = 5 * time.Minute
	// MaxTTL caps any ttl, so a revocation is seen within the hour even if
	// the issuer asks for longer caching.
	MaxTTL = time.Hour
	// DefaultTimeout bounds one fetch.
	DefaultTimeout = 10 * time.Second
	// DefaultGrace is how long past iat + ttl a token still counts as
	// fresh: issuer and verifier clocks drift by seconds, and an issuer
	// re-signs its list on a schedule, so a token served just before the
	// next signing may be slightly past its ttl. Five minutes covers both
	// without reopening the window the ttl closes.
	DefaultGrace = 5 * time.Minute
	// MaxCachedLists bounds the cache; the oldest entry is dropped.
	MaxCachedLists = 1024
)

// Client checks statuses. The zero value is not usable; use New.
type Client struct {
	httpc   *http.Client
	trust   mdoc.Trust
	grace   time.Duration
	timeout time.Duration
	log     *slog.Logger

	local    map[string][]byte // sub → token bytes, from WithLocalTokens
	localErr error

	mu    sync.Mutex
	cache map[string]*entry
	calls map[string]*call
}

type entry struct {
	claims    mdoc.StatusListClaims
	list      *mdoc.StatusList
	anchor    []byte // DER of the IACA the token chained to
	fetched   time.Time
	refreshAt time.Time // iat + ttl (never past exp): after this, fetch again
	staleAt   time.Time // iat + ttl + grace (never past exp): from here on, not usable
}

// fresh reports whether e may answer at now.
func (e *entry) fresh(now time.Time) bool { return now.Before(e.staleAt) }

type call struct {
	done  chan struct{}
	entry *entry
	err   error
}

// Option configures New.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (default: one with DefaultTimeout).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.httpc = h } }

// WithGrace sets how long past iat + ttl a token still counts as fresh
// (default DefaultGrace); 0 means stale as soon as the ttl ends.
func WithGrace(d time.Duration) Option { return func(c *Client) { c.grace = d } }

// WithTimeout bounds each fetch (default DefaultTimeout).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithLogger sets the logger; nil means slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// New returns a client that trusts status list tokens through trust, a
// PurposeStatusList trust over the IACAs (trust.IACAs.StatusListTrust).
func New(trust mdoc.Trust, opts ...Option) *Client {
	c := &Client{trust: trust, grace: DefaultGrace, timeout: DefaultTimeout,
		cache: map[string]*entry{}, calls: map[string]*call{}}
	for _, o := range opts {
		o(c)
	}
	if c.httpc == nil {
		c.httpc = &http.Client{Timeout: c.timeout}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	return c
}

// Check returns the status of the credential whose MSO carries ref and
// whose Document Signer chained to anchor: nil when valid, otherwise an
// *mdoc.Error with CodeStatusInvalid (revoked), CodeStatusSuspended,
// CodeStatusUnavailable or CodeStatusListInvalid.
func (c *Client) Check(ctx context.Context, ref *mdoc.StatusListRef, anchor *x509.Certificate, now time.Time) error {
	if ref == nil {
		return nil
	}
	if now.IsZero() {
		now = time.Now()
	}
	if anchor == nil {
		return &mdoc.Error{Code: mdoc.CodeStatusListInvalid, Detail: "status: credential has no trust anchor"}
	}
	e, err := c.token(ctx, ref.URI, now)
	if err != nil {
		return err
	}
	if !bytes.Equal(e.anchor, anchor.Raw) {
		return &mdoc.Error{Code: mdoc.CodeStatusListInvalid, Detail: "status: list at " + ref.URI + " is signed under another IACA than the credential"}
	}
	st, err := e.list.Get(ref.Idx)
	if err != nil {
		return err
	}
	if err := mdoc.StatusError(st); err != nil {
		var me *mdoc.Error
		if errors.As(err, &me) {
			c2 := *me
			c2.Detail = fmt.Sprintf("status: %s index %d", ref.URI, ref.Idx)
			return &c2
		}
		return err
	}
	return nil
}

// token returns a fresh verified token for uri: the cached one before its
// refresh time, else a newly fetched one, else — when fetching fails or
// yields nothing fresh — the cached one while it is still fresh. Anything
// else fails closed.
func (c *Client) token(ctx context.Context, uri string, now time.Time) (*entry, error) {
	c.mu.Lock()
	cached := c.cache[uri]
	c.mu.Unlock()
	if cached != nil && now.Before(cached.refreshAt) && cached.fresh(now) {
		return cached, nil
	}
	ne, err := c.fetchOnce(ctx, uri, now)
	if err == nil {
		switch {
		case cached != nil && ne.claims.IssuedAt.Before(cached.claims.IssuedAt):
			err = &mdoc.Error{Code: mdoc.CodeStatusStale, Detail: fmt.Sprintf("status: token at %s issued %s is older than one already seen (issued %s): replayed",
				uri, ne.claims.IssuedAt.Format(time.RFC3339), cached.claims.IssuedAt.Format(time.RFC3339))}
		case !ne.fresh(now):
			err = staleError(uri, ne, now)
		default:
			return ne, nil
		}
	}
	if cached != nil && cached.fresh(now) {
		c.log.Warn("status: no newer token, using the cached one while fresh", "uri", uri,
			"issuedAt", cached.claims.IssuedAt, "freshUntil", cached.staleAt, "err", err)
		return cached, nil
	}
	if cached != nil && mdoc.CodeOf(err) == mdoc.CodeStatusUnavailable {
		return nil, &mdoc.Error{Code: mdoc.CodeStatusStale, Detail: fmt.Sprintf("status: %s unreachable and the cached token went stale at %s",
			uri, cached.staleAt.Format(time.RFC3339)), Err: err}
	}
	return nil, err
}

func staleError(uri string, e *entry, now time.Time) error {
	return &mdoc.Error{Code: mdoc.CodeStatusStale, Detail: fmt.Sprintf("status: token for %s issued %s was fresh until %s (iat + ttl + grace), it is %s",
		uri, e.claims.IssuedAt.Format(time.RFC3339), e.staleAt.Format(time.RFC3339), now.Format(time.RFC3339))}
}

// fetchOnce deduplicates concurrent fetches of one uri. A fetched token
// replaces the cached one only if it is not older.
func (c *Client) fetchOnce(ctx context.Context, uri string, now time.Time) (*entry, error) {
	c.mu.Lock()
	if cl, ok := c.calls[uri]; ok {
		c.mu.Unlock()
		select {
		case <-cl.done:
		case <-ctx.Done():
			return nil, &mdoc.Error{Code: mdoc.CodeStatusUnavailable, Detail: "status: " + uri, Err: ctx.Err()}
		}
		return cl.entry, cl.err
	}
	cl := &call{done: make(chan struct{})}
	c.calls[uri] = cl
	c.mu.Unlock()

	e, err := c.fetch(ctx, uri, now)
	c.mu.Lock()
	if err == nil {
		old, ok := c.cache[uri]
		if !ok && len(c.cache) >= MaxCachedLists {
			c.evictOldest()
		}
		if !ok || !e.claims.IssuedAt.Before(old.claims.IssuedAt) {
			c.cache[uri] = e
		}
	}
	delete(c.calls, uri)
	cl.entry, cl.err = e, err
	c.mu.Unlock()
	close(cl.done)
	return e, err
}

func (c *Client) evictOldest() {
	var oldest string
	var t time.Time
	for k, v := range c.cache {
		if oldest == "" || v.fetched.Before(t) {
			oldest, t = k, v.fetched
		}
	}
	delete(c.cache, oldest)
}

func unavailable(uri string, err error, format string, args ...any) error {
	return &mdoc.Error{Code: mdoc.CodeStatusUnavailable, Detail: "status: " + uri + ": " + fmt.Sprintf(format, args...), Err: err}
}

// WithLocalTokens gives the client status list tokens read from files (the
// bytes served at a status uri), for offline checks of recorded
// presentations. Each is used, instead of fetching, for the uri its `sub`
// names, and is verified exactly like a fetched one (chain to the IACA,
// signature, sub, exp and iat at the verification time). A token that does
// not parse is an error at construction, reported by LocalTokensError.
func WithLocalTokens(tokens ...[]byte) Option {
	return func(c *Client) {
		if c.local == nil {
			c.local = map[string][]byte{}
		}
		for i, b := range tokens {
			tok, err := parseToken(b)
			if err != nil {
				c.localErr = fmt.Errorf("status: local token %d: %w", i+1, err)
				continue
			}
			c.local[tok.claims.Subject] = b
		}
	}
}

// LocalTokensError reports a local token given to WithLocalTokens that did
// not parse.
func (c *Client) LocalTokensError() error { return c.localErr }

func (c *Client) fetch(ctx context.Context, uri string, now time.Time) (*entry, error) {
	if b, ok := c.local[uri]; ok {
		return c.verifyToken(b, uri, now)
	}
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, &mdoc.Error{Code: mdoc.CodeStatusListInvalid, Detail: fmt.Sprintf("status: uri %q is not an http(s) URL", uri)}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, unavailable(uri, err, "request")
	}
	req.Header.Set("Accept", mdoc.StatusListCWTType+", "+StatusListJWTMediaType+";q=0.9")
	resp, err := c.httpc.Do(req)
	if err != nil {
		return nil, unavailable(uri, err, "fetch")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, unavailable(uri, nil, "HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxTokenSize+1))
	if err != nil {
		return nil, unavailable(uri, err, "read")
	}
	if len(body) > MaxTokenSize {
		return nil, &mdoc.Error{Code: mdoc.CodeLimitExceeded, Detail: fmt.Sprintf("status: token at %s over %d bytes", uri, MaxTokenSize)}
	}
	return c.verifyToken(body, uri, now)
}

// verifyToken parses and verifies a token for uri (either form) and makes
// its cache entry. Freshness is judged by the caller.
func (c *Client) verifyToken(body []byte, uri string, now time.Time) (*entry, error) {
	tok, err := parseToken(body)
	if err != nil {
		return nil, err
	}
	if len(tok.chain) == 0 {
		return nil, &mdoc.Error{Code: mdoc.CodeStatusListInvalid, Detail: "status: token at " + uri + " has no x5chain"}
	}
	cr, err := c.trust.VerifyChain(tok.chain, now)
	if err != nil {
		return nil, &mdoc.Error{Code: mdoc.CodeStatusListInvalid, Detail: "status: token signer at " + uri, Err: err}
	}
	if err := tok.verify(cr.PublicKey, uri, now); err != nil {
		return nil, err
	}
	ttl := DefaultTTL
	if tok.claims.TTL > 0 {
		ttl = tok.claims.TTL
	}
	if ttl > MaxTTL {
		ttl = MaxTTL
	}
	iat := tok.claims.IssuedAt
	e := &entry{claims: tok.claims, list: tok.list, anchor: cr.Anchor.Raw, fetched: now,
		refreshAt: iat.Add(ttl), staleAt: iat.Add(ttl + c.grace)}
	if exp := tok.claims.ExpiresAt; !exp.IsZero() {
		if exp.Before(e.refreshAt) {
			e.refreshAt = exp
		}
		if exp.Before(e.staleAt) {
			e.staleAt = exp
		}
	}
	return e, nil
}
