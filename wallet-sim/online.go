package walletsim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vp"
)

// OnlineOptions configure an online presentation.
type OnlineOptions struct {
	// Consent decides what is released. Required.
	Consent Consent
}

// OnlineResult is what an online presentation did.
type OnlineResult struct {
	// Protocol is "oid4vp" or "annexc".
	Protocol string
	Entry    HistoryEntry
	// RedirectURI is where an OpenID4VP verifier sends the holder next.
	RedirectURI string
	// Declined is true when nothing was released and the wallet posted an
	// error response (OpenID4VP access_denied).
	Declined bool
}

// PresentOnline answers an online request given as a link:
//
//   - "openid4vp://?client_id=…&request_uri=…" — OpenID4VP 1.0: the signed
//     request object is fetched and verified against the wallet's reader
//     roots (x5c chain, client_id bound to the certificate); its DCQL query
//     becomes the ItemsRequests; the vp_token is encrypted to the verifier
//     (direct_post.jwt) and posted to response_uri.
//   - "org-iso-mdoc://?request_uri=…" — ISO/IEC 18013-7 Annex C: the
//     {deviceRequest, encryptionInfo} envelope is fetched, each DocRequest's
//     ReaderAuth is verified over the Annex C transcript (origin taken from
//     the request URL, as a browser would), and the HPKE-sealed response is
//     posted back.
//
// Release rules, consent and user verification are those of proximity.
func (w *Wallet) PresentOnline(ctx context.Context, link string, o OnlineOptions) (*OnlineResult, error) {
	if o.Consent == nil {
		return nil, newErr("present online", CodeConsentDenied, "no consent configured")
	}
	oid, annexC := strings.HasPrefix(link, oid4vp.Scheme+"://"), strings.HasPrefix(link, oid4vp.AnnexCScheme+"://")
	if !oid && !annexC {
		return nil, newErr("present online", CodeRequestInvalid, "unknown link %q: want openid4vp:// or org-iso-mdoc://", truncate(link, 64))
	}
	if err := w.requireCredentials("present online"); err != nil {
		return nil, err
	}
	if oid {
		return w.presentOID4VP(ctx, link, o)
	}
	return w.presentAnnexC(ctx, link, o)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func (w *Wallet) httpClient() *http.Client {
	if w.opts.HTTPClient != nil {
		return w.opts.HTTPClient
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// fetch GETs u and returns at most max bytes of a 200 body.
func (w *Wallet) fetch(ctx context.Context, u, accept string, max int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := w.httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("GET %s: body over %d bytes", u, max)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", u, resp.Status, truncate(string(b), 200))
	}
	return b, nil
}

func (w *Wallet) post(ctx context.Context, u, contentType string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := w.httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return b, fmt.Errorf("POST %s: %s: %s", u, resp.Status, truncate(string(b), 200))
	}
	return b, nil
}

func (w *Wallet) presentOID4VP(ctx context.Context, link string, o OnlineOptions) (*OnlineResult, error) {
	const op = "present oid4vp"
	ar, err := oid4vp.ParseAuthorizationRequest(link)
	if err != nil {
		return nil, &Error{Op: op, Code: CodeRequestInvalid, Err: err}
	}
	jwt, err := w.fetch(ctx, ar.RequestURI, "application/oauth-authz-req+jwt", oid4vp.MaxRequestObjectSize)
	if err != nil {
		return nil, &Error{Op: op, Code: CodeRequestInvalid, Detail: "fetch request object", Err: err}
	}
	w.mu.Lock()
	trust := w.readerTrust()
	w.mu.Unlock()
	vr, err := oid4vp.VerifyRequestObject(bytes.TrimSpace(jwt), oid4vp.RequestObjectOptions{Trust: trust, CurrentTime: w.now(), ClientID: ar.ClientID})
	if err != nil {
		// An unverifiable request gets nothing, not even an error post: the
		// response_uri of an unauthenticated request is not to be trusted.
		h := HistoryEntry{Time: w.now().UTC(), Kind: "presentation", Transport: "oid4vp", Reader: ar.ClientID, Outcome: "refused", Code: string(CodeReaderAuthInvalid), Detail: err.Error()}
		w.record(h)
		return &OnlineResult{Protocol: "oid4vp", Entry: h}, &Error{Op: op, Code: CodeReaderAuthInvalid, Err: err}
	}
	ro := vr.Object
	st, err := vr.SessionTranscript()
	if err != nil {
		return nil, &Error{Op: op, Code: CodeRequestInvalid, Err: err}
	}
	reader := &ReaderInfo{Cert: vr.Certificate, Subject: vr.Certificate.Subject.String(), Issuer: vr.Certificate.Issuer.String(), Roles: vr.Roles, ClientID: ro.ClientID}
	entry := HistoryEntry{Time: w.now().UTC(), Kind: "presentation", Transport: "oid4vp", Reader: reader.Name(), ReaderRoles: reader.RoleNames()}
	resp := &oid4vp.AuthorizationResponse{State: ro.State}
	released := false
	// DCQL decides which credentials and which claim set to offer
	// (claim_sets, values, credential_sets); consent decides the rest.
	plan, unsatisfied, satisfiable := w.planDCQL(ro.DCQLQuery, reader)
	for _, id := range unsatisfied {
		cq := ro.DCQLQuery.Credential(id)
		why := "not_satisfiable"
		if cq.Format != oid4vp.FormatMsoMdoc {
			why = "unsupported_format"
		}
		entry.Documents = append(entry.Documents, DocumentHistory{DocType: cq.Meta.DoctypeValue, Error: why})
	}
	if !satisfiable {
		entry.Detail = "no option of a required credential set can be satisfied by this wallet"
		plan = nil
	}
	for _, sel := range plan {
		dr, err := mdoc.NewDocRequest(sel.items)
		if err != nil {
			return nil, &Error{Op: op, Code: CodeRequestInvalid, Err: err}
		}
		req := &mdoc.DeviceRequest{Version: mdoc.DeviceRequestVersion, DocRequests: []mdoc.DocRequest{*dr}}
		dresp, h := w.respond(ctx, req, presentation{transport: "oid4vp", transcript: st.Raw, reader: reader, consent: o.Consent})
		entry.Documents = append(entry.Documents, h.Documents...)
		if h.Code != "" && entry.Code == "" {
			entry.Code, entry.Detail = h.Code, h.Detail
		}
		if len(dresp.Documents) == 0 {
			continue
		}
		b, err := dresp.Encode()
		if err != nil {
			return nil, fmt.Errorf("walletsim: encode DeviceResponse: %w", err)
		}
		resp.AddPresentation(sel.query.ID, b)
		released = true
	}
	res := &OnlineResult{Protocol: "oid4vp"}
	if !released {
		// OpenID4VP 1.0 §8.5: tell the verifier the holder declined.
		form := url.Values{"error": {"access_denied"}, "error_description": {"the holder released nothing"}}
		if ro.State != "" {
			form.Set("state", ro.State)
		}
		if _, err := w.post(ctx, ro.ResponseURI, "application/x-www-form-urlencoded", []byte(form.Encode())); err != nil {
			w.log.WarnContext(ctx, "posting access_denied failed", "err", err)
		}
		entry.Outcome = "nothing_released"
		if entry.Code != "" {
			entry.Outcome = "refused"
		}
		res.Declined, res.Entry = true, entry
		w.record(entry)
		return res, nil
	}
	jwe, err := oid4vp.EncryptResponse(resp, vr.EncryptionKey, vr.Enc)
	if err != nil {
		return nil, &Error{Op: op, Code: CodeRequestInvalid, Detail: "encrypt response", Err: err}
	}
	form := url.Values{oid4vp.ResponseFormField: {string(jwe)}}
	body, err := w.post(ctx, ro.ResponseURI, "application/x-www-form-urlencoded", []byte(form.Encode()))
	entry.Outcome = "released"
	if err != nil {
		entry.Outcome, entry.Code, entry.Detail = "error", string(CodeSessionProtocol), err.Error()
		w.record(entry)
		return &OnlineResult{Protocol: "oid4vp", Entry: entry}, &Error{Op: op, Code: CodeSessionProtocol, Detail: "post response", Err: err}
	}
	var dp oid4vp.DirectPostResult
	if len(bytes.TrimSpace(body)) > 0 {
		json.Unmarshal(body, &dp)
	}
	res.RedirectURI, res.Entry = dp.RedirectURI, entry
	w.record(entry)
	return res, nil
}

func (w *Wallet) presentAnnexC(ctx context.Context, link string, o OnlineOptions) (*OnlineResult, error) {
	const op = "present annexc"
	reqURL, origin, err := oid4vp.ParseAnnexCInvocation(link)
	if err != nil {
		return nil, &Error{Op: op, Code: CodeRequestInvalid, Err: err}
	}
	b, err := w.fetch(ctx, reqURL, "application/json", oid4vp.MaxAnnexCRequestSize)
	if err != nil {
		return nil, &Error{Op: op, Code: CodeRequestInvalid, Detail: "fetch request", Err: err}
	}
	_, dr, ei, err := oid4vp.ParseAnnexCRequest(b)
	if err != nil {
		return nil, &Error{Op: op, Code: CodeRequestInvalid, Err: err}
	}
	st, err := mdoc.AnnexCSessionTranscript(ei.Base64(), origin)
	if err != nil {
		return nil, &Error{Op: op, Code: CodeRequestInvalid, Err: err}
	}
	dresp, h := w.respond(ctx, dr, presentation{transport: "annexc", transcript: st.Raw, consent: o.Consent})
	if h.Reader == "" {
		h.Reader = origin
	}
	res := &OnlineResult{Protocol: "annexc", Entry: h, Declined: len(dresp.Documents) == 0}
	rb, err := dresp.Encode()
	if err != nil {
		return nil, fmt.Errorf("walletsim: encode DeviceResponse: %w", err)
	}
	pub, err := ei.PublicKey()
	if err != nil {
		return nil, &Error{Op: op, Code: CodeRequestInvalid, Err: err}
	}
	sealed, err := mdoc.SealAnnexC(pub, st, rb)
	if err != nil {
		return nil, &Error{Op: op, Code: CodeSessionEncryption, Err: err}
	}
	body, _ := json.Marshal(oid4vp.NewAnnexCResponse(sealed))
	if _, err := w.post(ctx, reqURL, "application/json", body); err != nil {
		h.Outcome, h.Code, h.Detail = "error", string(CodeSessionProtocol), err.Error()
		w.record(h)
		res.Entry = h
		return res, &Error{Op: op, Code: CodeSessionProtocol, Detail: "post response", Err: err}
	}
	w.record(h)
	if h.Code == string(CodeReaderAuthInvalid) {
		return res, &Error{Op: op, Code: CodeReaderAuthInvalid, Detail: h.Detail}
	}
	return res, nil
}
