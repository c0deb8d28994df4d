package mdoc

import (
	"crypto/ecdh"
	"crypto/subtle"
	"errors"
	"sort"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// VerifyOptions configures document verification. The zero value of each
// optional field is documented; CurrentTime and the keys are injectable so
// tests pin them.
type VerifyOptions struct {
	// Trust anchors the IssuerAuth x5chain (IACAs). Required.
	Trust Trust
	// CurrentTime is the verification time; zero means time.Now().
	CurrentTime time.Time
	// ClockSkew is tolerated on validFrom/validUntil; zero means none.
	ClockSkew time.Duration
	// SessionTranscript is the untagged SessionTranscript array the device
	// authenticated. Without it device authentication fails.
	SessionTranscript []byte
	// EReaderKey is the reader's ephemeral private key, needed to check a
	// deviceMac. Nil means a deviceMac cannot be checked (and fails).
	EReaderKey ecdh.KeyExchanger
	// Request, when set, names the elements the reader asked for; elements
	// requested but not returned are reported (not an error by themselves:
	// the holder may refuse consent) and returned elements that were not
	// requested make the document invalid.
	Request map[string][]string
	// Strict rejects the tolerated deviations (Deviation): each becomes
	// an error with its own code. False (the default) reports them in
	// DocumentResult.Warnings and lets the document pass.
	Strict bool
}

func (o *VerifyOptions) now() time.Time {
	if o.CurrentTime.IsZero() {
		return time.Now()
	}
	return o.CurrentTime
}

// ElementResult is the outcome for one returned data element.
type ElementResult struct {
	NameSpace    string
	Identifier   string
	Value        any             // decoded value (nil when undecodable)
	RawValue     cbor.RawMessage // the elementValue bytes as received
	Valid        bool            // digest matched (issuer-signed) / authorised (device-signed)
	DeviceSigned bool
	Err          error
}

// DocumentResult is the outcome of verifying one Document: each step and
// element separately, and every failure as an *Error.
type DocumentResult struct {
	DocType          string
	Valid            bool
	IssuerAuthValid  bool
	DeviceAuthValid  bool
	DeviceAuthMethod string // "signature" or "mac"
	MSO              *MobileSecurityObject
	Chain            *ChainResult
	Elements         []ElementResult
	NotReturned      map[string][]string // requested but absent (holder refusal or not held)
	Errors           []*Error
	// Warnings are the tolerated deviations of the document (empty under
	// VerifyOptions.Strict, where they are Errors instead).
	Warnings []Deviation
}

func (r *DocumentResult) fail(err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: CodeMalformed, Err: err}
	}
	if e.DocType == "" {
		c := *e
		c.DocType = r.DocType
		e = &c
	}
	r.Errors = append(r.Errors, e)
}

// Disclosed returns the verified element values as namespace → identifier
// → value. It is empty unless the whole document is valid: values from a
// document that failed any check are never handed out.
func (r *DocumentResult) Disclosed() map[string]map[string]any {
	out := map[string]map[string]any{}
	if !r.Valid {
		return out
	}
	for _, e := range r.Elements {
		if !e.Valid {
			continue
		}
		if out[e.NameSpace] == nil {
			out[e.NameSpace] = map[string]any{}
		}
		out[e.NameSpace][e.Identifier] = e.Value
	}
	return out
}

// VerifyIssuerAuth checks the IssuerAuth of a document: the x5chain against
// opts.Trust at the current time, the Document Signer's validity at the
// MSO's signed time, the COSE_Sign1 signature, the MSO's validity window
// and its docType against docType (§9.3.1 steps 1–5). It returns the chain
// result.
func VerifyIssuerAuth(ia *IssuerAuth, docType string, opts *VerifyOptions) (*ChainResult, error) {
	if opts.Trust == nil {
		return nil, newError(CodeUntrustedIssuer, "no issuer trust configured")
	}
	now := opts.now()
	cr, err := opts.Trust.VerifyChain(ia.X5Chain, now)
	if err != nil {
		if c := CodeOf(err); c == CodeExpired || c == CodeNotYetValid || c == CodeCertificateProfile || c == CodeMalformed {
			return nil, err
		}
		return nil, wrapError(CodeUntrustedIssuer, err, "issuerAuth x5chain")
	}
	signed := ia.MSO.ValidityInfo.Signed.Time()
	if signed.Before(cr.Leaf.NotBefore) || signed.After(cr.Leaf.NotAfter) {
		return nil, newError(CodeCertificateProfile, "MSO signed at %s, outside the Document Signer's validity %s–%s",
			signed.Format(time.RFC3339), cr.Leaf.NotBefore.Format(time.RFC3339), cr.Leaf.NotAfter.Format(time.RFC3339))
	}
	if ia.sign1 == nil {
		return nil, newError(CodeMalformed, "issuerAuth was not parsed")
	}
	if err := ia.sign1.Verify(cr.PublicKey, nil); err != nil {
		if CodeOf(err) != "" {
			return nil, err
		}
		return nil, newError(CodeIssuerSignatureInvalid, "%v", err)
	}
	vi := ia.MSO.ValidityInfo
	if now.Add(opts.ClockSkew).Before(vi.ValidFrom.Time()) {
		return nil, newError(CodeNotYetValid, "MSO valid from %s", vi.ValidFrom.Time().Format(time.RFC3339))
	}
	if now.Add(-opts.ClockSkew).After(vi.ValidUntil.Time()) {
		return nil, newError(CodeExpired, "MSO valid until %s", vi.ValidUntil.Time().Format(time.RFC3339))
	}
	if ia.MSO.DocType != docType {
		return nil, newError(CodeDocTypeMismatch, "document says %q, MSO says %q", docType, ia.MSO.DocType)
	}
	return cr, nil
}

// VerifyDigests checks every issuer-signed item against the MSO's value
// digests (§9.3.1 step 4), returning one result per item. Items that are
// not in the MSO or whose digest differs are invalid.
func VerifyDigests(ns IssuerNameSpaces, mso *MobileSecurityObject) []ElementResult {
	names := make([]string, 0, len(ns))
	for n := range ns {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []ElementResult
	for _, n := range names {
		digests := mso.ValueDigests[n]
		seen := make(map[uint64]bool, len(ns[n]))
		for i := range ns[n] {
			item := &ns[n][i]
			er := ElementResult{NameSpace: n, Identifier: item.Item.ElementIdentifier, RawValue: item.Item.ElementValue}
			want, ok := digests[item.Item.DigestID]
			switch {
			case !ok:
				er.Err = &Error{Code: CodeDigestMissing, Detail: "no digest for " + n + "/" + er.Identifier}
			case seen[item.Item.DigestID]:
				er.Err = &Error{Code: CodeDigestMismatch, Detail: "digestID reused by " + n + "/" + er.Identifier}
			default:
				got, err := item.Digest(mso.DigestAlgorithm)
				if err != nil {
					er.Err = err
				} else if subtle.ConstantTimeCompare(got, want) != 1 {
					er.Err = &Error{Code: CodeDigestMismatch, Detail: n + "/" + er.Identifier}
				}
			}
			seen[item.Item.DigestID] = true
			if er.Err == nil {
				v, err := item.Item.Value()
				if err != nil {
					er.Err = err
				} else {
					er.Value, er.Valid = v, true
				}
			}
			out = append(out, er)
		}
	}
	return out
}

// VerifyDeviceAuth checks the document's device authentication over
// opts.SessionTranscript with the MSO's device key (§9.3.1 step 6):
// deviceSignature with the key itself, or deviceMac with EMacKey derived
// from opts.EReaderKey. It also checks that every device-signed element is
// allowed by keyAuthorizations, returning those elements.
func VerifyDeviceAuth(doc *Document, mso *MobileSecurityObject, opts *VerifyOptions) (method string, elements []ElementResult, err error) {
	if len(opts.SessionTranscript) == 0 {
		return "", nil, newError(CodeDeviceAuthInvalid, "no session transcript to check device authentication against")
	}
	auth, err := DeviceAuthenticationBytes(opts.SessionTranscript, doc.DocType, doc.DeviceSigned.NameSpaces)
	if err != nil {
		return "", nil, err
	}
	da := doc.DeviceSigned.DeviceAuth
	switch {
	case len(da.DeviceSignature) > 0 && len(da.DeviceMac) > 0:
		return "", nil, newError(CodeMalformed, "deviceAuth has both deviceSignature and deviceMac")
	case len(da.DeviceSignature) > 0:
		method = "signature"
		msg, err := ParseSign1(da.DeviceSignature)
		if err != nil {
			return method, nil, wrapError(CodeMalformed, err, "deviceSignature")
		}
		pub, err := mso.DeviceKeyInfo.DeviceKey.PublicKey()
		if err != nil {
			return method, nil, err
		}
		if err := msg.Verify(pub, auth); err != nil {
			if c := CodeOf(err); c != "" && c != CodeDeviceAuthInvalid {
				return method, nil, err
			}
			return method, nil, newError(CodeDeviceAuthInvalid, "deviceSignature: %v", err)
		}
	case len(da.DeviceMac) > 0:
		method = "mac"
		if opts.EReaderKey == nil {
			return method, nil, newError(CodeDeviceAuthInvalid, "deviceMac needs the reader's ephemeral key")
		}
		devPub, err := mso.DeviceKeyInfo.DeviceKey.ECDH()
		if err != nil {
			return method, nil, err
		}
		stb, err := WrapEncodedCBOR(opts.SessionTranscript)
		if err != nil {
			return method, nil, err
		}
		key, err := DeriveEMacKey(opts.EReaderKey, devPub, stb.Raw)
		if err != nil {
			return method, nil, err
		}
		if err := verifyMac0(key, da.DeviceMac, auth); err != nil {
			return method, nil, err
		}
	default:
		return "", nil, newError(CodeDeviceAuthInvalid, "deviceAuth has neither deviceSignature nor deviceMac")
	}
	ns, err := doc.DeviceSigned.DeviceNameSpaces()
	if err != nil {
		return method, nil, err
	}
	ka := mso.DeviceKeyInfo.KeyAuthorizations
	for n, ids := range ns {
		for id, raw := range ids {
			er := ElementResult{NameSpace: n, Identifier: id, RawValue: raw, DeviceSigned: true}
			if !ka.Allows(n, id) {
				er.Err = &Error{Code: CodeKeyAuthorization, Detail: "device key may not sign " + n + "/" + id}
			} else if v, err := decodeValue(raw); err != nil {
				er.Err = err
			} else {
				er.Value, er.Valid = v, true
			}
			elements = append(elements, er)
		}
	}
	return method, elements, nil
}

func decodeValue(raw []byte) (any, error) {
	var v any
	if err := Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// VerifyDocument runs every check of ISO/IEC 18013-5:2021 §9.3.1 on doc and
// reports each outcome. The document is Valid only when all pass.
func VerifyDocument(doc *Document, opts *VerifyOptions) *DocumentResult {
	r := &DocumentResult{DocType: doc.DocType}
	ia := &doc.IssuerSigned.IssuerAuth
	r.MSO = &ia.MSO
	cr, err := VerifyIssuerAuth(ia, doc.DocType, opts)
	r.Chain = cr
	if err != nil {
		r.fail(err)
	} else {
		r.IssuerAuthValid = true
	}
	for _, d := range ia.Deviations {
		if opts.Strict {
			r.fail(&Error{Code: d.Code, Detail: d.Detail + " (rejected in strict mode)"})
		} else {
			r.Warnings = append(r.Warnings, d)
		}
	}
	r.Elements = VerifyDigests(doc.IssuerSigned.NameSpaces, &ia.MSO)
	method, devElems, err := VerifyDeviceAuth(doc, &ia.MSO, opts)
	r.DeviceAuthMethod = method
	if err != nil {
		r.fail(err)
	} else {
		r.DeviceAuthValid = true
	}
	r.Elements = append(r.Elements, devElems...)
	for _, e := range r.Elements {
		if e.Err != nil {
			r.fail(e.Err)
		}
	}
	if opts.Request != nil {
		checkRequested(r, opts.Request)
	}
	r.Valid = len(r.Errors) == 0 && r.IssuerAuthValid && r.DeviceAuthValid
	return r
}

// checkRequested compares returned elements with the request, exactly.
// An element returned but not requested makes the document invalid (the
// holder's wallet released more than asked). A requested age_over_NN is
// answered by age_over_NN itself or by a returned age_over_MM whose value
// settles the question (ISO/IEC 18013-5:2021 §7.2.5): true with MM ≥ NN
// (older than MM, so older than NN) or false with MM ≤ NN (not yet MM, so
// not yet NN). age_over_18 = true does not answer age_over_20: the request
// is then not returned, and the age_over_18 is an element that was not
// requested. Which substitute a relying party accepts for its decision
// stays with its policy (package verifier/policy); this is only the
// requested-vs-returned question. Requested elements that are absent are
// listed in NotReturned: the holder may refuse.
func checkRequested(r *DocumentResult, request map[string][]string) {
	returned := map[string]map[string]bool{}
	ages := map[string]map[int]any{} // namespace → MM → value of returned age_over_MM
	for _, e := range r.Elements {
		if returned[e.NameSpace] == nil {
			returned[e.NameSpace] = map[string]bool{}
		}
		returned[e.NameSpace][e.Identifier] = true
		if mm, ok := ParseAgeOver(e.Identifier); ok && e.Valid {
			if ages[e.NameSpace] == nil {
				ages[e.NameSpace] = map[int]any{}
			}
			ages[e.NameSpace][mm] = e.Value
		}
	}
	requested := map[string]map[string]bool{}
	substitutes := map[string]map[int]bool{} // returned age_over_MM that answered a request
	for ns, ids := range request {
		requested[ns] = map[string]bool{}
		for _, id := range ids {
			requested[ns][id] = true
			if returned[ns][id] {
				continue
			}
			if nn, isAge := ParseAgeOver(id); isAge {
				if mm, ok := answersAgeOver(nn, ages[ns]); ok {
					if substitutes[ns] == nil {
						substitutes[ns] = map[int]bool{}
					}
					substitutes[ns][mm] = true
					continue
				}
			}
			if r.NotReturned == nil {
				r.NotReturned = map[string][]string{}
			}
			r.NotReturned[ns] = append(r.NotReturned[ns], id)
		}
	}
	for _, e := range r.Elements {
		if requested[e.NameSpace][e.Identifier] {
			continue
		}
		if mm, isAge := ParseAgeOver(e.Identifier); isAge && substitutes[e.NameSpace][mm] {
			continue
		}
		r.fail(&Error{Code: CodeElementNotRequested, Detail: "element " + e.NameSpace + "/" + e.Identifier + " returned but not requested"})
	}
}

// answersAgeOver returns the returned age_over_MM that settles a request
// for age_over_NN: the nearest true MM ≥ NN, else the nearest false
// MM ≤ NN (§7.2.5). Values that are not booleans answer nothing.
func answersAgeOver(nn int, ages map[int]any) (int, bool) {
	best, found := 0, false
	for mm, v := range ages {
		if b, ok := v.(bool); ok && b && mm >= nn && (!found || mm < best) {
			best, found = mm, true
		}
	}
	if found {
		return best, true
	}
	for mm, v := range ages {
		if b, ok := v.(bool); ok && !b && mm <= nn && (!found || mm > best) {
			best, found = mm, true
		}
	}
	return best, found
}

// ResponseResult is the outcome of verifying a DeviceResponse.
type ResponseResult struct {
	Valid     bool
	Documents []*DocumentResult
	Errors    []*Error // response-level errors (status, no documents)
}

// VerifyDeviceResponse verifies every document of resp. The response is
// Valid when its status is OK, it holds at least one document, and every
// document is valid.
func VerifyDeviceResponse(resp *DeviceResponse, opts *VerifyOptions) *ResponseResult {
	rr := &ResponseResult{}
	if resp.Status != DeviceResponseOK {
		rr.Errors = append(rr.Errors, newError(CodeMalformed, "DeviceResponse status %d", resp.Status))
	}
	if len(resp.Documents) == 0 {
		rr.Errors = append(rr.Errors, newError(CodeElementNotReturned, "DeviceResponse holds no documents"))
	}
	valid := len(rr.Errors) == 0
	for i := range resp.Documents {
		dr := VerifyDocument(&resp.Documents[i], opts)
		rr.Documents = append(rr.Documents, dr)
		valid = valid && dr.Valid
	}
	rr.Valid = valid
	return rr
}
