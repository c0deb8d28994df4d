package jpki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"golang.org/x/crypto/ocsp"
)

// MaxOCSPResponseLen bounds an OCSP response body.
const MaxOCSPResponseLen = 64 << 10

// OCSPChecker checks revocation with an OCSP responder (RFC 6960): JPKI
// runs responders next to its CRLs. It sends an unsigned POST request with
// a SHA-256 CertID and accepts a response signed by the certificate's root
// or by a responder certificate that root issued with EKU OCSPSigning.
type OCSPChecker struct {
	// URL is the responder; empty means the certificate's
	// authorityInfoAccess OCSP URL.
	URL string
	// Client performs the request; nil means http.DefaultClient. Give it a
	// timeout.
	Client *http.Client
	// Grace is how long past nextUpdate a response is still accepted.
	Grace time.Duration
}

// CheckRevocation implements RevocationChecker.
func (o *OCSPChecker) CheckRevocation(ctx context.Context, cert, root *x509.Certificate, now time.Time) (*RevocationStatus, error) {
	url := o.URL
	if url == "" && len(cert.OCSPServer) > 0 {
		url = cert.OCSPServer[0]
	}
	if url == "" {
		return nil, newError(CodeOCSPUnavailable, "no OCSP responder for serial %s", cert.SerialNumber)
	}
	req, err := ocsp.CreateRequest(cert, root, &ocsp.RequestOptions{Hash: crypto.SHA256})
	if err != nil {
		return nil, wrapError(CodeOCSPUnavailable, err, "make OCSP request")
	}
	body, err := o.post(ctx, url, req)
	if err != nil {
		return nil, wrapError(CodeOCSPUnavailable, err, "OCSP %s", url)
	}
	resp, err := ocsp.ParseResponseForCert(body, cert, root)
	if err != nil {
		return nil, wrapError(CodeOCSPUnavailable, err, "OCSP response from %s", url)
	}
	if rc := resp.Certificate; rc != nil && !bytes.Equal(rc.Raw, root.Raw) {
		if !slices.Contains(rc.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) {
			return nil, newError(CodeOCSPUnavailable, "OCSP responder certificate %s lacks EKU OCSPSigning", rc.Subject)
		}
		if now.Before(rc.NotBefore) || now.After(rc.NotAfter) {
			return nil, newError(CodeOCSPUnavailable, "OCSP responder certificate %s is not valid now", rc.Subject)
		}
	}
	if now.Before(resp.ThisUpdate.Add(-5 * time.Minute)) {
		return nil, newError(CodeOCSPUnavailable, "OCSP response thisUpdate %s is in the future", resp.ThisUpdate.UTC().Format(time.RFC3339))
	}
	if !resp.NextUpdate.IsZero() && now.After(resp.NextUpdate.Add(o.Grace)) {
		return nil, newError(CodeOCSPUnavailable, "OCSP response expired at %s", resp.NextUpdate.UTC().Format(time.RFC3339))
	}
	switch resp.Status {
	case ocsp.Good:
		return &RevocationStatus{Method: "ocsp", DistributionPoint: url, ThisUpdate: resp.ThisUpdate, NextUpdate: resp.NextUpdate}, nil
	case ocsp.Revoked:
		return nil, &Error{
			Code: CodeRevoked,
			Detail: fmt.Sprintf("serial %s revoked at %s (%s) per OCSP %s", cert.SerialNumber,
				resp.RevokedAt.UTC().Format(time.RFC3339), ReasonString(resp.RevocationReason), url),
			Revocation: &Revocation{SerialNumber: cert.SerialNumber, RevokedAt: resp.RevokedAt, Reason: resp.RevocationReason, Source: "ocsp"},
		}
	}
	return nil, newError(CodeOCSPUnavailable, "OCSP %s does not know serial %s", url, cert.SerialNumber)
}

func (o *OCSPChecker) post(ctx context.Context, url string, req []byte) ([]byte, error) {
	client := o.Client
	if client == nil {
		client = http.DefaultClient
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(req))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/ocsp-request")
	resp, err := client.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxOCSPResponseLen+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxOCSPResponseLen {
		return nil, fmt.Errorf("response over the %d-byte limit", MaxOCSPResponseLen)
	}
	return b, nil
}
