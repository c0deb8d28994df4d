package oid4vci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Client calls an issuer's endpoints (OpenID4VCI and the project's
// extension). BaseURL is the credential issuer identifier; endpoint paths
// are those documented in package issuer. HTTP nil means
// http.DefaultClient.
//
// Retries is how many times a request the issuer answered with 429 or 503
// and a Retry-After is sent again, after that wait (0: never; the error,
// with Error.RetryAfter, goes to the caller). A wait longer than
// MaxRetryWait (10 s when zero) is not waited out. Only these answers are
// retried: they say the issuer did not act on the request, or could not
// reach the database that would have recorded it.
type Client struct {
	BaseURL      string
	HTTP         *http.Client
	Retries      int
	MaxRetryWait time.Duration
}

// DefaultMaxRetryWait is the longest Retry-After a Client waits out when
// MaxRetryWait is zero.
const DefaultMaxRetryWait = 10 * time.Second

// MaxResponseLen bounds a response body the client reads.
const MaxResponseLen = 8 << 20

// Endpoint paths relative to the issuer identifier (package issuer documents
// their behaviour).
const (
	PathToken         = "/token"
	PathNonce         = "/nonce"
	PathCredential    = "/credential"
	PathNotification  = "/notification"
	PathEnrol         = "/mnc/enrol"
	PathCardRevoke    = "/mnc/revoke-with-card"
	PathDeviceRequest = "/mnc/device"
	PathDevAttest     = "/dev/attest"
	PathStatusList    = "/status/" // + list id
)

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// do sends a request and decodes a JSON answer into out, or an error answer
// into *Error, retrying as Retries says.
func (c *Client) do(ctx context.Context, method, path, contentType string, body []byte, bearer string, out any) error {
	maxWait := c.MaxRetryWait
	if maxWait <= 0 {
		maxWait = DefaultMaxRetryWait
	}
	for attempt := 0; ; attempt++ {
		err := c.once(ctx, method, path, contentType, body, bearer, out)
		var e *Error
		if attempt >= c.Retries || !errors.As(err, &e) || e.RetryAfter <= 0 || e.RetryAfter > maxWait ||
			(e.Status != http.StatusTooManyRequests && e.Status != http.StatusServiceUnavailable) {
			return err
		}
		t := time.NewTimer(e.RetryAfter)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("oid4vci: %s %s: waiting to retry: %w (after %w)", method, path, ctx.Err(), err)
		case <-t.C:
		}
	}
}

// once sends the request once.
func (c *Client) once(ctx context.Context, method, path, contentType string, body []byte, bearer string, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, rd)
	if err != nil {
		return fmt.Errorf("oid4vci: %s %s: %w", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http().Do(req)
	if err != nil {
		return fmt.Errorf("oid4vci: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseLen+1))
	if err != nil {
		return fmt.Errorf("oid4vci: read %s answer: %w", path, err)
	}
	if len(b) > MaxResponseLen {
		return fmt.Errorf("oid4vci: %s answer over %d bytes", path, MaxResponseLen)
	}
	if resp.StatusCode/100 != 2 {
		var er ErrorResponse
		wait := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		if json.Unmarshal(b, &er) == nil && er.Error != "" {
			return &Error{Code: er.Error, Reason: er.Reason, Description: er.ErrorDescription, Status: resp.StatusCode, RetryAfter: wait}
		}
		return &Error{Code: CodeServerError, Description: fmt.Sprintf("%s %s: HTTP %d: %.200s", method, path, resp.StatusCode, b), Status: resp.StatusCode, RetryAfter: wait}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("oid4vci: decode %s answer: %w", path, err)
	}
	return nil
}

// maxRetryAfter bounds what a Retry-After can make a client wait.
const maxRetryAfter = time.Hour

// parseRetryAfter reads a Retry-After value (RFC 9110 §10.2.3): a number
// of seconds or an HTTP date, relative to now. Anything else, a time
// passed, or more than an hour is 0 or the bound: a client never waits
// forever on a server's word.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

func (c *Client) postJSON(ctx context.Context, path string, in any, bearer string, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, path, "application/json", b, bearer, out)
}

// Metadata fetches the issuer metadata.
func (c *Client) Metadata(ctx context.Context) (*IssuerMetadata, error) {
	var m IssuerMetadata
	return &m, c.do(ctx, http.MethodGet, WellKnownIssuerPath, "", nil, "", &m)
}

// Nonce fetches a fresh c_nonce.
func (c *Client) Nonce(ctx context.Context) (string, error) {
	var n NonceResponse
	if err := c.do(ctx, http.MethodPost, PathNonce, "", nil, "", &n); err != nil {
		return "", err
	}
	return n.CNonce, nil
}

// Token redeems a pre-authorized code.
func (c *Client) Token(ctx context.Context, preAuthorizedCode, txCode string) (*TokenResponse, error) {
	r := TokenRequest{GrantType: GrantPreAuthorizedCode, PreAuthorizedCode: preAuthorizedCode, TxCode: txCode}
	var t TokenResponse
	err := c.do(ctx, http.MethodPost, PathToken, "application/x-www-form-urlencoded", []byte(r.Form().Encode()), "", &t)
	return &t, err
}

// Credential sends a credential request with an access token.
func (c *Client) Credential(ctx context.Context, accessToken string, r *CredentialRequest) (*CredentialResponse, error) {
	var out CredentialResponse
	return &out, c.postJSON(ctx, PathCredential, r, accessToken, &out)
}

// Attest asks the development attestation endpoint for a key attestation.
func (c *Client) Attest(ctx context.Context, r *AttestRequest) (string, error) {
	var out AttestResponse
	if err := c.postJSON(ctx, PathDevAttest, r, "", &out); err != nil {
		return "", err
	}
	return out.KeyAttestation, nil
}

// Enrol sends a card-signed application.
func (c *Client) Enrol(ctx context.Context, application string) (*EnrolResponse, error) {
	var out EnrolResponse
	return &out, c.postJSON(ctx, PathEnrol, EnrolRequest{Application: application}, "", &out)
}

// RevokeWithCard sends a card-signed revocation.
func (c *Client) RevokeWithCard(ctx context.Context, revocation string) (*LifecycleResponse, error) {
	var out LifecycleResponse
	return &out, c.postJSON(ctx, PathCardRevoke, CardRevocationRequest{Revocation: revocation}, "", &out)
}

// Device sends a device-key-signed request; out is a *LifecycleResponse
// (revoke), *EnrolResponse (refresh) or *PollResponse (poll, ack).
func (c *Client) Device(ctx context.Context, request string, out any) error {
	return c.postJSON(ctx, PathDeviceRequest, DeviceRequestBody{Request: request}, "", out)
}

// DeviceAttested sends a device request with an App Attest assertion over
// it (see DeviceRequestBody).
func (c *Client) DeviceAttested(ctx context.Context, request, assertion string, out any) error {
	return c.postJSON(ctx, PathDeviceRequest, DeviceRequestBody{Request: request, AppAttestAssertion: assertion}, "", out)
}

// StatusList fetches a status list token; accept is
// "application/statuslist+cwt" or "application/statuslist+jwt".
func (c *Client) StatusList(ctx context.Context, uri, accept string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, fmt.Errorf("oid4vci: get status list: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseLen+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("oid4vci: get status list: HTTP %d", resp.StatusCode)
	}
	if len(b) > MaxResponseLen {
		return nil, fmt.Errorf("oid4vci: status list over %d bytes", MaxResponseLen)
	}
	return b, nil
}

// OfferCode returns the pre-authorized code of an offer.
func (o *CredentialOffer) OfferCode() (string, error) {
	if o.Grants == nil || o.Grants.PreAuthorizedCode == nil || o.Grants.PreAuthorizedCode.PreAuthorizedCode == "" {
		return "", NewError(CodeInvalidRequest, ReasonMalformed, "offer has no pre-authorized code")
	}
	return o.Grants.PreAuthorizedCode.PreAuthorizedCode, nil
}

// Notify sends a notification (OpenID4VCI 1.0 §11) with the access token of
// the issuance.
func (c *Client) Notify(ctx context.Context, accessToken string, n *NotificationRequest) error {
	return c.postJSON(ctx, PathNotification, n, accessToken, nil)
}
