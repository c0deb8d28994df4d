package jpki

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/fsx"
)

// MaxCRLSize bounds a CRL read from any source. Real JPKI CRLs are
// partitioned by municipality and are far smaller; the bound only stops a
// hostile or broken source from exhausting memory.
const MaxCRLSize = 64 << 20

// CRLSource fetches the DER CRL for one distribution point, named by its
// DirName string form (DirNameString) or, for URI distribution points, by
// the URI.
type CRLSource interface {
	FetchCRL(ctx context.Context, distributionPoint string) ([]byte, error)
}

// CRLFileName is the file name under which a CRL for distribution point dp
// is stored in a CRLDir: a hash, because DirNames are not file names.
func CRLFileName(dp string) string {
	sum := sha256.Sum256([]byte(dp))
	return hex.EncodeToString(sum[:10]) + ".crl"
}

// CRLFile serves one CRL file for any distribution point.
type CRLFile string

// FetchCRL reads the file.
func (f CRLFile) FetchCRL(ctx context.Context, _ string) ([]byte, error) {
	return fsx.ReadFile(string(f), MaxCRLSize)
}

// CRLDir serves CRLs from a directory, one file per distribution point
// named CRLFileName(dp): the layout the test CA publishes.
type CRLDir string

// FetchCRL reads the distribution point's file.
func (d CRLDir) FetchCRL(ctx context.Context, dp string) ([]byte, error) {
	return fsx.ReadFile(filepath.Join(string(d), CRLFileName(dp)), MaxCRLSize)
}

// CRLURL fetches a CRL over HTTP(S) with a GET to URL, whatever the
// distribution point. Client nil means http.DefaultClient; give it a
// timeout.
type CRLURL struct {
	URL    string
	Client *http.Client
}

// FetchCRL performs the GET.
func (u CRLURL) FetchCRL(ctx context.Context, _ string) ([]byte, error) {
	return httpGetLimited(ctx, u.Client, u.URL, MaxCRLSize)
}

func httpGetLimited(ctx context.Context, client *http.Client, url string, limit int64) ([]byte, error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("GET %s: body over the %d-byte limit", url, limit)
	}
	return b, nil
}

// CRLSources maps distribution points (DirName string form, or URI) to
// sources. The entry with the empty key, if any, serves every distribution
// point without its own entry.
type CRLSources map[string]CRLSource

// FetchCRL dispatches to the distribution point's source.
func (m CRLSources) FetchCRL(ctx context.Context, dp string) ([]byte, error) {
	if s, ok := m[dp]; ok {
		return s.FetchCRL(ctx, dp)
	}
	if s, ok := m[""]; ok {
		return s.FetchCRL(ctx, dp)
	}
	return nil, fmt.Errorf("no CRL source configured for %q", dp)
}

// CRLChecker checks revocation with CRLs: JPKI style, one CRL per
// distribution point, signed by the root that issued the certificate.
type CRLChecker struct {
	// Source fetches CRLs by distribution point.
	Source CRLSource
	// Grace is how long past nextUpdate a CRL is still accepted; zero
	// means none.
	Grace time.Duration
	// CacheFor is how long a fetched and verified CRL is reused (never past
	// nextUpdate + Grace); zero fetches every time.
	CacheFor time.Duration

	mu    sync.Mutex
	cache map[string]*cachedCRL
}

type cachedCRL struct {
	rootRaw []byte
	crl     *x509.RevocationList
	fetched time.Time
}

// CheckRevocation implements RevocationChecker. The certificate's
// directory-name distribution points are tried first, then its URIs; the
// first CRL that is available, correctly signed, for that distribution
// point and fresh decides.
func (c *CRLChecker) CheckRevocation(ctx context.Context, cert, root *x509.Certificate, now time.Time) (*RevocationStatus, error) {
	dps, err := certDistributionPoints(cert)
	if err != nil {
		return nil, err
	}
	names := append(append([]string(nil), dps.DirNames...), dps.URIs...)
	if len(names) == 0 {
		return nil, newError(CodeCRLUnavailable, "certificate serial %s has no CRL distribution point", cert.SerialNumber)
	}
	var lastErr error
	for _, dp := range names {
		crl, err := c.crlFor(ctx, dp, root, now)
		if err != nil {
			lastErr = err
			continue
		}
		st := &RevocationStatus{Method: "crl", DistributionPoint: dp, ThisUpdate: crl.ThisUpdate, NextUpdate: crl.NextUpdate, CRLNumber: crl.Number}
		for _, e := range crl.RevokedCertificateEntries {
			if e.SerialNumber != nil && e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
				rev := &Revocation{SerialNumber: cert.SerialNumber, RevokedAt: e.RevocationTime, Reason: e.ReasonCode, Source: "crl"}
				return nil, &Error{
					Code: CodeRevoked,
					Detail: fmt.Sprintf("serial %s revoked at %s (%s) per CRL of %s", cert.SerialNumber,
						e.RevocationTime.UTC().Format(time.RFC3339), ReasonString(e.ReasonCode), dp),
					Revocation: rev,
				}
			}
		}
		return st, nil
	}
	return nil, lastErr
}

func certDistributionPoints(cert *x509.Certificate) (*DistributionPoints, error) {
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(oidExtCRLDistributionPoint) {
			return ParseDistributionPoints(ext.Value)
		}
	}
	return &DistributionPoints{}, nil
}

// crlFor returns a verified, fresh CRL for dp issued by root.
func (c *CRLChecker) crlFor(ctx context.Context, dp string, root *x509.Certificate, now time.Time) (*x509.RevocationList, error) {
	if c.CacheFor > 0 {
		c.mu.Lock()
		ce := c.cache[dp]
		c.mu.Unlock()
		if ce != nil && bytes.Equal(ce.rootRaw, root.Raw) && now.Sub(ce.fetched) < c.CacheFor &&
			checkCRLFreshness(ce.crl, dp, now, c.Grace) == nil {
			return ce.crl, nil
		}
	}
	if c.Source == nil {
		return nil, newError(CodeCRLUnavailable, "no CRL source configured")
	}
	der, err := c.Source.FetchCRL(ctx, dp)
	if err != nil {
		return nil, wrapError(CodeCRLUnavailable, err, "fetch CRL for %s", dp)
	}
	if len(der) > MaxCRLSize {
		return nil, newError(CodeCRLUnavailable, "CRL for %s is %d bytes, over the %d-byte limit", dp, len(der), MaxCRLSize)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, wrapError(CodeCRLUnavailable, err, "parse CRL for %s", dp)
	}
	if err := CheckCRL(crl, dp, root); err != nil {
		return nil, err
	}
	if err := checkCRLFreshness(crl, dp, now, c.Grace); err != nil {
		return nil, err
	}
	if c.CacheFor > 0 {
		c.mu.Lock()
		if c.cache == nil {
			c.cache = map[string]*cachedCRL{}
		}
		c.cache[dp] = &cachedCRL{rootRaw: root.Raw, crl: crl, fetched: now}
		c.mu.Unlock()
	}
	return crl, nil
}

// CheckCRL checks that crl was issued and signed by root and, when it
// carries an issuingDistributionPoint, that it covers distribution point
// dp: a CRL of another municipality, though validly signed, says nothing
// about this certificate. Unknown critical extensions (delta CRLs among
// them) are refused. All failures are CodeCRLSignature.
func CheckCRL(crl *x509.RevocationList, dp string, root *x509.Certificate) error {
	if !bytes.Equal(crl.RawIssuer, root.RawSubject) {
		return newError(CodeCRLSignature, "CRL for %s issued by %s, not by the certificate's root", dp, dnString(crl.RawIssuer))
	}
	if err := crl.CheckSignatureFrom(root); err != nil {
		return wrapError(CodeCRLSignature, err, "CRL for %s is not signed by the certificate's root", dp)
	}
	for _, ext := range crl.Extensions {
		switch {
		case ext.Id.Equal(oidExtIssuingDistPoint):
			idp, err := ParseIssuingDistributionPoint(ext.Value)
			if err != nil {
				return wrapError(CodeCRLSignature, err, "CRL for %s", dp)
			}
			if len(idp.DirNames)+len(idp.URIs) == 0 {
				continue
			}
			found := false
			for _, n := range append(idp.DirNames, idp.URIs...) {
				found = found || n == dp
			}
			if !found {
				return newError(CodeCRLSignature, "CRL covers %v, not distribution point %s", append(idp.DirNames, idp.URIs...), dp)
			}
		case ext.Critical:
			return newError(CodeCRLSignature, "CRL for %s has unsupported critical extension %s", dp, ext.Id)
		}
	}
	return nil
}

func checkCRLFreshness(crl *x509.RevocationList, dp string, now time.Time, grace time.Duration) error {
	if now.Before(crl.ThisUpdate) {
		return newError(CodeCRLStale, "CRL for %s has thisUpdate %s in the future", dp, crl.ThisUpdate.UTC().Format(time.RFC3339))
	}
	if crl.NextUpdate.IsZero() {
		return newError(CodeCRLStale, "CRL for %s has no nextUpdate", dp)
	}
	if now.After(crl.NextUpdate.Add(grace)) {
		return newError(CodeCRLStale, "CRL for %s expired at %s (nextUpdate)", dp, crl.NextUpdate.UTC().Format(time.RFC3339))
	}
	return nil
}
