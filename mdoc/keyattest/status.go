package keyattest

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// DefaultStatusURL is Google's attestation status list (revoked and
// suspended attestation keys and intermediates by serial number),
// https://developer.android.com/privacy-and-security/security-key-attestation#certificate_status.
const DefaultStatusURL = "https://android.googleapis.com/attestation/status"

// Bounds and defaults of the status list.
const (
	// MaxStatusListBytes bounds the list: Google's is a few hundred KiB.
	MaxStatusListBytes = 16 << 20
	// MaxStatusEntries bounds its entries.
	MaxStatusEntries = 1 << 20
	// DefaultStatusTTL is how long a fetched list is used before refetching;
	// Google serves it with a short max-age and updates it rarely.
	DefaultStatusTTL = time.Hour
	// DefaultStatusMaxStale is how long a cached list may still be used when
	// refetching fails, before verification fails closed.
	DefaultStatusMaxStale = 24 * time.Hour
)

// StatusEntry is one entry of the status list.
type StatusEntry struct {
	Status  string `json:"status"` // REVOKED or SUSPENDED
	Reason  string `json:"reason,omitempty"`
	Comment string `json:"comment,omitempty"`
	Expires string `json:"expires,omitempty"`
}

// StatusList is Google's attestation status list: entries keyed by
// certificate serial number in lower-case hexadecimal without leading
// zeros.
type StatusList struct {
	Entries map[string]StatusEntry `json:"entries"`
}

// ParseStatusList parses the JSON status list.
func ParseStatusList(b []byte) (*StatusList, error) {
	if len(b) > MaxStatusListBytes {
		return nil, errf(FormatAndroidKey, CodeTooLarge, "status list is %d bytes, over %d", len(b), MaxStatusListBytes)
	}
	var l StatusList
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&l); err != nil {
		return nil, wrapf(FormatAndroidKey, CodeMalformed, err, "status list")
	}
	if l.Entries == nil {
		return nil, errf(FormatAndroidKey, CodeMalformed, "status list has no entries object")
	}
	if len(l.Entries) > MaxStatusEntries {
		return nil, errf(FormatAndroidKey, CodeTooLarge, "status list has %d entries, over %d", len(l.Entries), MaxStatusEntries)
	}
	norm := make(map[string]StatusEntry, len(l.Entries))
	for k, v := range l.Entries {
		norm[strings.ToLower(strings.TrimLeft(k, "0"))] = v
	}
	l.Entries = norm
	return &l, nil
}

// Check refuses a chain any certificate of which the list names (REVOKED
// or SUSPENDED: both mean the key must not be trusted now).
func (l *StatusList) Check(chain []*x509.Certificate) error {
	for i, c := range chain {
		serial := strings.TrimLeft(c.SerialNumber.Text(16), "0")
		if e, ok := l.Entries[serial]; ok {
			return errf(FormatAndroidKey, CodeRevoked, "certificate %d (serial %s) is %s on the attestation status list (reason %s)", i, serial, e.Status, e.Reason)
		}
	}
	return nil
}

// StatusSource loads the status list from a file or URL and caches it.
// It is safe for concurrent use.
type StatusSource struct {
	// Location is a file path or an http(s) URL; "" is DefaultStatusURL.
	Location string
	// Client fetches URLs; nil is a client with a 30 s timeout.
	Client *http.Client
	// TTL zero is DefaultStatusTTL; MaxStale zero is DefaultStatusMaxStale.
	TTL, MaxStale time.Duration
	// Now zero is time.Now.
	Now    func() time.Time
	Logger *slog.Logger

	mu      sync.Mutex
	list    *StatusList
	fetched time.Time
}

// List returns the cached list, refetching it when older than TTL. When a
// refetch fails, a list younger than MaxStale is still used (and the failure
// logged); otherwise the error has CodeStatusUnavailable, so verification
// fails closed.
func (s *StatusSource) List(ctx context.Context) (*StatusList, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	ttl, maxStale := s.TTL, s.MaxStale
	if ttl == 0 {
		ttl = DefaultStatusTTL
	}
	if maxStale == 0 {
		maxStale = DefaultStatusMaxStale
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := now()
	if s.list != nil && t.Sub(s.fetched) < ttl {
		return s.list, nil
	}
	l, err := s.load(ctx)
	if err == nil {
		s.list, s.fetched = l, t
		return l, nil
	}
	if s.list != nil && t.Sub(s.fetched) < maxStale {
		if s.Logger != nil {
			s.Logger.WarnContext(ctx, "attestation status list refresh failed; using cached copy", "location", s.location(), "age", t.Sub(s.fetched), "err", err)
		}
		return s.list, nil
	}
	return nil, wrapf(FormatAndroidKey, CodeStatusUnavailable, err, "attestation status list %s", s.location())
}

func (s *StatusSource) location() string {
	if s.Location == "" {
		return DefaultStatusURL
	}
	return s.Location
}

func (s *StatusSource) load(ctx context.Context) (*StatusList, error) {
	loc := s.location()
	if !strings.HasPrefix(loc, "http://") && !strings.HasPrefix(loc, "https://") {
		f, err := os.Open(loc)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, MaxStatusListBytes+1))
		if err != nil {
			return nil, err
		}
		return ParseStatusList(b)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return nil, err
	}
	c := s.Client
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", loc, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxStatusListBytes+1))
	if err != nil {
		return nil, err
	}
	return ParseStatusList(b)
}
