// Package trust holds the verifier's trust configuration: IACA roots read
// from PEM/DER files or directories and reloaded when they change (no
// restart), the status-list trust derived from the same IACAs, optional
// per-issuer rules (which docTypes an IACA may issue), JPKI roots, and the
// reader certificate and key used for ReaderAuth and signed request
// objects.
package trust

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/fsx"
	"github.com/mynumber-mdoc/mnc/mdoc"
)

// Bounds on trust input.
const (
	// MaxCertificateFileSize bounds one trust file: a bundle of a few
	// hundred roots (a VICAL-sized list) is well under 4 MiB.
	MaxCertificateFileSize = 4 << 20
	// MaxRoots bounds the roots loaded from all sources.
	MaxRoots = 4096
	// MaxDirEntries bounds the files read from one directory.
	MaxDirEntries = 4096
)

// certExtensions are the file names read from a trust directory.
var certExtensions = []string{".pem", ".crt", ".cer", ".der"}

// ParseCertificates reads every certificate in b (PEM blocks or one DER
// certificate); see mdoc.ParseCertificates.
func ParseCertificates(b []byte) ([]*x509.Certificate, error) { return mdoc.ParseCertificates(b) }

// files expands the configured paths: a file stands for itself, a
// directory for its certificate files (not recursive), sorted.
func files(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		if len(ents) > MaxDirEntries {
			return nil, fmt.Errorf("%s: more than %d entries", p, MaxDirEntries)
		}
		for _, e := range ents {
			if e.IsDir() || !slices.Contains(certExtensions, strings.ToLower(filepath.Ext(e.Name()))) {
				continue
			}
			out = append(out, filepath.Join(p, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// LoadCertificates reads the certificates of paths (files or directories).
func LoadCertificates(paths ...string) ([]*x509.Certificate, error) {
	fs, err := files(paths)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for _, f := range fs {
		b, err := fsx.ReadFile(f, MaxCertificateFileSize)
		if err != nil {
			return nil, err
		}
		cs, err := ParseCertificates(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, cs...)
		if len(out) > MaxRoots {
			return nil, fmt.Errorf("more than %d roots", MaxRoots)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no certificates in %s", strings.Join(paths, ", "))
	}
	return out, nil
}

// Fingerprint returns the SHA-256 fingerprint of a certificate as lower-case
// hex, the key of issuer rules.
func Fingerprint(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}

// IACAs is the verifier's issuer trust: an mdoc.Trust over IACA roots read
// from files or directories, with a chain cache, a parallel PurposeStatusList
// trust over the same roots, and per-issuer docType rules. It is safe for
// concurrent use.
type IACAs struct {
	paths  []string
	strict bool
	log    *slog.Logger

	mu      sync.RWMutex
	ds      *mdoc.TrustStore
	status  *mdoc.TrustStore
	stamp   string // names, sizes and mtimes of the files last loaded
	rules   map[string][]string
	loadErr error
}

// Option configures NewIACAs.
type Option func(*IACAs)

// WithStrict enforces the full Annex B profile on IACA and Document Signer
// (as our issuer does on itself). Off by default so that conformant peers
// whose test certificates omit optional extensions still verify.
func WithStrict(strict bool) Option { return func(t *IACAs) { t.strict = strict } }

// WithLogger sets the logger for reloads; nil means slog.Default().
func WithLogger(l *slog.Logger) Option { return func(t *IACAs) { t.log = l } }

// WithIssuerRule restricts the IACA with SHA-256 fingerprint fp (hex) to
// the given docTypes. IACAs without a rule may issue any docType.
func WithIssuerRule(fp string, docTypes ...string) Option {
	return func(t *IACAs) { t.rules[strings.ToLower(fp)] = append(t.rules[strings.ToLower(fp)], docTypes...) }
}

// NewIACAs loads the IACA roots of paths (PEM or DER files, directories of
// .pem/.crt/.cer/.der files).
func NewIACAs(paths []string, opts ...Option) (*IACAs, error) {
	t := &IACAs{paths: slices.Clone(paths), rules: map[string][]string{}}
	for _, o := range opts {
		o(t)
	}
	if t.log == nil {
		t.log = slog.Default()
	}
	if len(paths) == 0 {
		return nil, errors.New("trust: no IACA paths")
	}
	if _, err := t.Reload(); err != nil {
		return nil, err
	}
	return t, nil
}

// NewIACAsFromCertificates returns a trust over fixed roots (tests,
// embedded use); Reload is a no-op.
func NewIACAsFromCertificates(roots []*x509.Certificate, opts ...Option) *IACAs {
	t := &IACAs{rules: map[string][]string{}}
	for _, o := range opts {
		o(t)
	}
	if t.log == nil {
		t.log = slog.Default()
	}
	t.ds = mdoc.NewTrustStore(mdoc.PurposeDocumentSigner, t.strict, roots...)
	t.status = mdoc.NewTrustStore(mdoc.PurposeStatusList, t.strict, roots...)
	return t
}

func (t *IACAs) currentStamp() (string, error) {
	fs, err := files(t.paths)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, f := range fs {
		st, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s|%d|%d\n", f, st.Size(), st.ModTime().UnixNano())
	}
	return b.String(), nil
}

// Reload re-reads the roots when a file was added, removed or modified
// since the last load, and reports whether it did. A failed reload keeps
// the roots in use: a half-written or broken file never empties the trust
// list; the error is returned and logged.
func (t *IACAs) Reload() (bool, error) {
	if t.paths == nil {
		return false, nil
	}
	stamp, err := t.currentStamp()
	if err == nil {
		t.mu.RLock()
		same := stamp == t.stamp && t.ds != nil
		t.mu.RUnlock()
		if same {
			return false, nil
		}
	}
	var roots []*x509.Certificate
	if err == nil {
		roots, err = LoadCertificates(t.paths...)
	}
	if err == nil {
		for _, r := range roots {
			if !r.IsCA {
				err = fmt.Errorf("%s is not a CA certificate", r.Subject)
				break
			}
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.loadErr = err
		if t.ds != nil {
			t.log.Error("trust: reload failed, keeping previous IACA roots", "err", err)
		}
		return false, fmt.Errorf("trust: load IACA roots: %w", err)
	}
	if t.ds == nil {
		t.ds = mdoc.NewTrustStore(mdoc.PurposeDocumentSigner, t.strict, roots...)
		t.status = mdoc.NewTrustStore(mdoc.PurposeStatusList, t.strict, roots...)
	} else {
		t.ds.SetRoots(roots)
		t.status.SetRoots(roots)
		t.log.Info("trust: IACA roots reloaded", "roots", len(roots))
	}
	t.stamp, t.loadErr = stamp, nil
	return true, nil
}

// Watch polls the trust files every interval until ctx ends, reloading on
// change. Polling needs no platform file-notification API and a trust list
// changes rarely.
func (t *IACAs) Watch(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = 10 * time.Second
	}
	tk := time.NewTicker(interval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			_, _ = t.Reload()
		}
	}
}

// Roots returns the IACA roots in use.
func (t *IACAs) Roots() []*x509.Certificate {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.ds.Roots()
}

// VerifyChain implements mdoc.Trust for Document Signer chains.
func (t *IACAs) VerifyChain(chain [][]byte, at time.Time) (*mdoc.ChainResult, error) {
	t.mu.RLock()
	ds := t.ds
	t.mu.RUnlock()
	return ds.VerifyChain(chain, at)
}

// StatusListTrust returns the trust for status-list signing certificates:
// leaves issued directly by one of the same IACAs.
func (t *IACAs) StatusListTrust() mdoc.Trust { return statusTrust{t} }

type statusTrust struct{ t *IACAs }

func (s statusTrust) VerifyChain(chain [][]byte, at time.Time) (*mdoc.ChainResult, error) {
	s.t.mu.RLock()
	st := s.t.status
	s.t.mu.RUnlock()
	return st.VerifyChain(chain, at)
}

// CheckDocType applies the per-issuer rules: an IACA with a rule may only
// anchor the docTypes it lists. Breaking a rule is CodeUntrustedIssuer.
func (t *IACAs) CheckDocType(anchor *x509.Certificate, docType string) error {
	if anchor == nil {
		return nil
	}
	allowed, ok := t.rules[Fingerprint(anchor)]
	if !ok || slices.Contains(allowed, docType) {
		return nil
	}
	return &mdoc.Error{Code: mdoc.CodeUntrustedIssuer, DocType: docType,
		Detail: fmt.Sprintf("trust: IACA %q may not issue %s (allowed: %s)", anchor.Subject.CommonName, docType, strings.Join(allowed, ", "))}
}
