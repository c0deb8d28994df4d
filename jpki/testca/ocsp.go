package testca

import (
	"io"
	"math/big"
	"net/http"
	"time"

	"golang.org/x/crypto/ocsp"
)

// maxOCSPRequest bounds an OCSP request body.
const maxOCSPRequest = 8 << 10

// OCSPResponder returns an HTTP handler answering OCSP POST requests
// (RFC 6960) from the CA's records, each response signed directly by the
// root generation that issued the certificate and valid for validity (zero:
// DefaultCRLValidity). Unknown serials get status unknown.
func (ca *CA) OCSPResponder(validity time.Duration) http.Handler {
	if validity == 0 {
		validity = DefaultCRLValidity
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST an application/ocsp-request", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxOCSPRequest+1))
		if err != nil || len(body) > maxOCSPRequest {
			w.Write(ocsp.MalformedRequestErrorResponse)
			return
		}
		req, err := ocsp.ParseRequest(body)
		if err != nil {
			w.Write(ocsp.MalformedRequestErrorResponse)
			return
		}
		der, err := ca.ocspResponse(req, validity)
		if err != nil {
			w.Write(ocsp.InternalErrorErrorResponse)
			return
		}
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Write(der)
	})
}

func (ca *CA) ocspResponse(req *ocsp.Request, validity time.Duration) ([]byte, error) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	now := ca.opts.now().UTC().Truncate(time.Second)
	tmpl := ocsp.Response{
		SerialNumber: new(big.Int).Set(req.SerialNumber),
		ThisUpdate:   now,
		NextUpdate:   now.Add(validity),
		IssuerHash:   req.HashAlgorithm,
		Status:       ocsp.Unknown,
	}
	rec := ca.record(req.SerialNumber)
	var root *Root
	if rec != nil {
		for _, r := range ca.roots {
			if r.Kind == rec.Kind && r.Generation == rec.Generation {
				root = r
			}
		}
	}
	if root == nil {
		root = ca.roots[0]
	} else if rec.Revoked() {
		tmpl.Status, tmpl.RevokedAt, tmpl.RevocationReason = ocsp.Revoked, *rec.RevokedAt, rec.Reason
	} else {
		tmpl.Status = ocsp.Good
	}
	return ocsp.CreateResponse(root.Cert, root.Cert, tmpl, root.key)
}
