// Package status is the verifier's Token Status List client
// (draft-ietf-oauth-status-list): it fetches the CWT a credential's MSO
// points at, trusts it through its x5chain to the same IACA that anchored
// the credential's Document Signer, caches it for its ttl (never past
// exp), and answers valid, revoked or suspended. When the status server is
// unreachable it keeps using the last good token for a configurable grace
// and then fails closed with status_unavailable.
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
	// DefaultTTL is how long a token without ttl and exp is cached.
	DefaultTTL = 5 * time.Minute
	// MaxTTL caps any ttl, so a revocation is seen within the hour even if
	// the issuer asks for longer caching.
	MaxTTL = time.Hour
	// DefaultTimeout bounds one fetch.
	DefaultTimeout = 10 * time.Second
	// DefaultGrace is how long a cached token keeps answering after its
	// ttl while the server is unreachable.
	DefaultGrace = 15 * time.Minute
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
	token     *mdoc.StatusListToken
	anchor    []byte // DER of the IACA the token chained to
	fetched   time.Time
	refreshAt time.Time // after this, fetch again
	expiresAt time.Time // exp; zero when absent
}

type call struct {
	done chan struct{}
	err  error
}

// Option configures New.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (default: one with DefaultTimeout).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.httpc = h } }

// WithGrace sets how long a cached token may answer past its ttl while the
// server is unreachable; 0 means fail closed as soon as the ttl ends.
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
	st, err := e.token.Status(ref.Idx)
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

// token returns a usable verified token for uri: a fresh cached one, else a
// newly fetched one, else — when fetching fails — a cached one still within
// its grace and exp.
func (c *Client) token(ctx context.Context, uri string, now time.Time) (*entry, error) {
	c.mu.Lock()
	e := c.cache[uri]
	c.mu.Unlock()
	if e != nil && now.Before(e.refreshAt) && usable(e, now) {
		return e, nil
	}
	ne, err := c.fetchOnce(ctx, uri, now)
	if err == nil {
		return ne, nil
	}
	if e != nil && usable(e, now) && now.Before(e.refreshAt.Add(c.grace)) && mdoc.CodeOf(err) == mdoc.CodeStatusUnavailable {
		c.log.Warn("status: server unreachable, using cached list within grace", "uri", uri,
			"fetched", e.fetched, "graceUntil", e.refreshAt.Add(c.grace), "err", err)
		return e, nil
	}
	return nil, err
}

func usable(e *entry, now time.Time) bool { return e.expiresAt.IsZero() || now.Before(e.expiresAt) }

// fetchOnce deduplicates concurrent fetches of one uri.
func (c *Client) fetchOnce(ctx context.Context, uri string, now time.Time) (*entry, error) {
	c.mu.Lock()
	if cl, ok := c.calls[uri]; ok {
		c.mu.Unlock()
		select {
		case <-cl.done:
		case <-ctx.Done():
			return nil, &mdoc.Error{Code: mdoc.CodeStatusUnavailable, Detail: "status: " + uri, Err: ctx.Err()}
		}
		if cl.err != nil {
			return nil, cl.err
		}
		c.mu.Lock()
		e := c.cache[uri]
		c.mu.Unlock()
		return e, nil
	}
	cl := &call{done: make(chan struct{})}
	c.calls[uri] = cl
	c.mu.Unlock()

	e, err := c.fetch(ctx, uri, now)
	c.mu.Lock()
	if err == nil {
		if _, ok := c.cache[uri]; !ok && len(c.cache) >= MaxCachedLists {
			c.evictOldest()
		}
		c.cache[uri] = e
	}
	delete(c.calls, uri)
	cl.err = err
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
			tok, err := mdoc.ParseStatusListToken(b)
			if err != nil {
				c.localErr = fmt.Errorf("status: local token %d: %w", i+1, err)
				continue
			}
			c.local[tok.Claims.Subject] = b
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
	req.Header.Set("Accept", mdoc.StatusListCWTType)
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

// verifyToken parses and verifies a token for uri and makes its cache entry.
func (c *Client) verifyToken(body []byte, uri string, now time.Time) (*entry, error) {
	tok, err := mdoc.ParseStatusListToken(body)
	if err != nil {
		return nil, err
	}
	if len(tok.X5Chain) == 0 {
		return nil, &mdoc.Error{Code: mdoc.CodeStatusListInvalid, Detail: "status: token at " + uri + " has no x5chain"}
	}
	cr, err := c.trust.VerifyChain(tok.X5Chain, now)
	if err != nil {
		return nil, &mdoc.Error{Code: mdoc.CodeStatusListInvalid, Detail: "status: token signer at " + uri, Err: err}
	}
	if err := tok.Verify(cr.PublicKey, uri, now); err != nil {
		return nil, err
	}
	ttl := DefaultTTL
	if tok.Claims.TTL > 0 {
		ttl = tok.Claims.TTL
	}
	if ttl > MaxTTL {
		ttl = MaxTTL
	}
	e := &entry{token: tok, anchor: cr.Anchor.Raw, fetched: now, refreshAt: now.Add(ttl), expiresAt: tok.Claims.ExpiresAt}
	if !e.expiresAt.IsZero() && e.expiresAt.Before(e.refreshAt) {
		e.refreshAt = e.expiresAt
	}
	return e, nil
}
