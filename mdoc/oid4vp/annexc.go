package oid4vp

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/mynumber-mdoc/mnc/mdoc"
)

// ISO/IEC 18013-7 Annex C (org-iso-mdoc) without a browser.
//
// Over the W3C Digital Credentials API the browser hands the wallet the
// reader's request {deviceRequest, encryptionInfo} together with the web
// origin of the page, and returns the wallet's {response} to the page.
// This project has no browser, so the exchange is carried over HTTP and the
// wallet plays the browser's part:
//
//  1. the verifier shows AnnexCInvocation(requestURL): the link
//     "org-iso-mdoc://?request_uri=<requestURL>";
//  2. the wallet GETs requestURL and receives an AnnexCRequest (JSON);
//  3. the wallet computes the origin from requestURL itself (Origin) — as a
//     browser does, never from anything the verifier asserts — and uses
//     mdoc.AnnexCSessionTranscript(encryptionInfo, origin) for ReaderAuth,
//     DeviceAuthentication and HPKE (mdoc.SealAnnexC);
//  4. the wallet POSTs an AnnexCResponse (JSON) to the same requestURL.
//
// A verifier therefore refuses a response produced for another origin: its
// own transcript differs, so HPKE opening fails.

// Annex C constants.
const (
	// ProtocolOrgIsoMdoc is the Digital Credentials API protocol
	// identifier of ISO/IEC 18013-7 Annex C.
	ProtocolOrgIsoMdoc = "org-iso-mdoc"
	// AnnexCScheme is the scheme of the invocation link (see above).
	AnnexCScheme = "org-iso-mdoc"
	// MaxAnnexCRequestSize bounds the request envelope.
	MaxAnnexCRequestSize = 256 << 10
	// MaxAnnexCResponseSize bounds the response envelope: a base64url
	// EncryptedResponse around a DeviceResponse of at most
	// mdoc.MaxMessageSize.
	MaxAnnexCResponseSize = mdoc.MaxMessageSize*4/3 + 64<<10
)

// AnnexCRequest is the reader's request of ISO/IEC 18013-7 Annex C: the
// DeviceRequest and EncryptionInfo, each base64url without padding.
type AnnexCRequest struct {
	DeviceRequest  string `json:"deviceRequest"`
	EncryptionInfo string `json:"encryptionInfo"`
}

// NewAnnexCRequest encodes a DeviceRequest (with ReaderAuth already signed
// over the Annex C transcript) and the EncryptionInfo.
func NewAnnexCRequest(dr *mdoc.DeviceRequest, ei *mdoc.EncryptionInfo) (*AnnexCRequest, error) {
	b, err := dr.Encode()
	if err != nil {
		return nil, wrap(mdoc.CodeMalformed, err, "encode DeviceRequest")
	}
	return &AnnexCRequest{DeviceRequest: base64.RawURLEncoding.EncodeToString(b), EncryptionInfo: ei.Base64()}, nil
}

// ParseAnnexCRequest decodes the JSON envelope, bounded by
// MaxAnnexCRequestSize, and its two members.
func ParseAnnexCRequest(b []byte) (*AnnexCRequest, *mdoc.DeviceRequest, *mdoc.EncryptionInfo, error) {
	if len(b) > MaxAnnexCRequestSize {
		return nil, nil, nil, errorf(mdoc.CodeLimitExceeded, "Annex C request of %d bytes, limit %d", len(b), MaxAnnexCRequestSize)
	}
	var r AnnexCRequest
	if err := strictJSON(b, &r); err != nil {
		return nil, nil, nil, wrap(mdoc.CodeMalformed, err, "Annex C request")
	}
	dr, ei, err := r.Decode()
	if err != nil {
		return nil, nil, nil, err
	}
	return &r, dr, ei, nil
}

// Decode parses the DeviceRequest and EncryptionInfo.
func (r *AnnexCRequest) Decode() (*mdoc.DeviceRequest, *mdoc.EncryptionInfo, error) {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(r.DeviceRequest)
	if err != nil {
		return nil, nil, wrap(mdoc.CodeMalformed, err, "deviceRequest is not base64url")
	}
	dr, err := mdoc.ParseDeviceRequest(raw)
	if err != nil {
		return nil, nil, err
	}
	ei, err := mdoc.ParseEncryptionInfoBase64(r.EncryptionInfo)
	if err != nil {
		return nil, nil, err
	}
	return dr, ei, nil
}

// AnnexCResponse is the wallet's answer: the EncryptedResponse, base64url
// without padding.
type AnnexCResponse struct {
	Response string `json:"response"`
}

// NewAnnexCResponse wraps an encoded EncryptedResponse (mdoc.SealAnnexC).
func NewAnnexCResponse(encryptedResponse []byte) *AnnexCResponse {
	return &AnnexCResponse{Response: base64.RawURLEncoding.EncodeToString(encryptedResponse)}
}

// ParseAnnexCResponse decodes the JSON envelope, bounded by
// MaxAnnexCResponseSize, returning the encoded EncryptedResponse.
func ParseAnnexCResponse(b []byte) ([]byte, error) {
	if len(b) > MaxAnnexCResponseSize {
		return nil, errorf(mdoc.CodeLimitExceeded, "Annex C response of %d bytes, limit %d", len(b), MaxAnnexCResponseSize)
	}
	var r AnnexCResponse
	if err := strictJSON(b, &r); err != nil {
		return nil, wrap(mdoc.CodeMalformed, err, "Annex C response")
	}
	out, err := base64.RawURLEncoding.Strict().DecodeString(r.Response)
	if err != nil || len(out) == 0 {
		return nil, errorf(mdoc.CodeMalformed, "response is not base64url")
	}
	return out, nil
}

// AnnexCInvocation returns the link a verifier shows for an Annex C request
// served at requestURL.
func AnnexCInvocation(requestURL string) string {
	return AnnexCScheme + "://?" + url.Values{"request_uri": {requestURL}}.Encode()
}

// ParseAnnexCInvocation returns the request URL of an Annex C link and the
// origin the wallet must use for it.
func ParseAnnexCInvocation(s string) (requestURL, origin string, err error) {
	if len(s) > MaxAuthorizationRequestLength {
		return "", "", errorf(mdoc.CodeLimitExceeded, "link longer than %d", MaxAuthorizationRequestLength)
	}
	u, err := url.Parse(s)
	if err != nil || !strings.EqualFold(u.Scheme, AnnexCScheme) {
		return "", "", errorf(CodeInvalidRequest, "not an %s:// link", AnnexCScheme)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil || len(q["request_uri"]) != 1 {
		return "", "", errorf(CodeInvalidRequest, "link needs exactly one request_uri")
	}
	requestURL = q.Get("request_uri")
	origin, err = Origin(requestURL)
	if err != nil {
		return "", "", err
	}
	return requestURL, origin, nil
}

// Origin returns the ASCII serialisation of the web origin of an http(s)
// URL (RFC 6454 §6.2): lower-case scheme and host, and the port only when
// it is not the scheme's default. It is what a browser reports to the
// wallet, and what the Annex C handover hashes.
func Origin(rawURL string) (string, error) {
	if err := checkHTTPURL(rawURL); err != nil {
		return "", err
	}
	u, _ := url.Parse(rawURL)
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	port := u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		return scheme + "://" + host + ":" + port, nil
	}
	return scheme + "://" + host, nil
}

// strictJSON decodes one JSON object and refuses trailing data. Unknown
// members are ignored, so peers may add fields.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errorf(mdoc.CodeMalformed, "trailing data after JSON object")
	}
	return nil
}
