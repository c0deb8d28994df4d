package verifier

import (
	"context"
	"crypto/ecdh"
	"crypto/x509"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
)

// StatusChecker answers the revocation status of a credential (see package
// status): nil when valid, else an *mdoc.Error with CodeStatusInvalid,
// CodeStatusSuspended, CodeStatusUnavailable or CodeStatusListInvalid.
type StatusChecker interface {
	Check(ctx context.Context, ref *mdoc.StatusListRef, anchor *x509.Certificate, now time.Time) error
}

// DocTypeChecker is implemented by trusts with per-issuer rules (see
// trust.IACAs.CheckDocType).
type DocTypeChecker interface {
	CheckDocType(anchor *x509.Certificate, docType string) error
}

// Request is what the verifier asked for: docType → namespace → element
// identifiers.
type Request map[string]map[string][]string

// RequestFromDeviceRequest returns the elements a DeviceRequest asks for.
func RequestFromDeviceRequest(dr *mdoc.DeviceRequest) Request {
	out := Request{}
	for _, d := range dr.DocRequests {
		if out[d.ItemsRequest.DocType] == nil {
			out[d.ItemsRequest.DocType] = map[string][]string{}
		}
		for ns, ids := range d.ItemsRequest.Elements() {
			out[d.ItemsRequest.DocType][ns] = append(out[d.ItemsRequest.DocType][ns], ids...)
		}
	}
	return out
}

// Options configure Verify. Zero values are documented per field.
type Options struct {
	// Trust anchors Document Signer chains (IACAs). Required. When it
	// also implements DocTypeChecker its per-issuer rules apply.
	Trust mdoc.Trust
	// Status checks Token Status Lists. Nil means a credential that names
	// a status list fails with status_unavailable (fail closed), unless
	// SkipStatus is set.
	Status StatusChecker
	// SkipStatus skips revocation checks (documented offline use only:
	// the result records Status "unchecked").
	SkipStatus bool
	// CurrentTime is the verification time; zero means time.Now().
	CurrentTime time.Time
	// ClockSkew is tolerated on the MSO validity window; zero means none.
	ClockSkew time.Duration
	// SessionTranscript is the untagged SessionTranscript the device
	// authenticated over. Required for device authentication.
	SessionTranscript []byte
	// EReaderKey is the reader's ephemeral private key, needed for a
	// deviceMac; nil means a MAC cannot be checked (and fails).
	EReaderKey ecdh.KeyExchanger
	// Request, when set, is compared with what was returned: a requested
	// docType or element that is missing is element_not_returned, an
	// element returned without being requested is element_not_requested.
	// A request for age_over_NN is answered by age_over_NN or by an
	// age_over_MM whose value settles it (true with MM ≥ NN, false with
	// MM ≤ NN; ISO/IEC 18013-5 §7.2.5) — age_over_18 = true does not
	// answer age_over_20. Which answer suffices for a decision is the
	// policy's (package policy).
	Request Request
	// Strict rejects the tolerated deviations listed in the package
	// documentation: each becomes an error with its own code. False (the
	// default) accepts them and reports each in Document.Warnings.
	Strict bool
	// Logger receives one line per verification; nil means slog.Default().
	Logger *slog.Logger
}

func (o *Options) now() time.Time {
	if o.CurrentTime.IsZero() {
		return time.Now()
	}
	return o.CurrentTime
}

// Verify parses and verifies an encoded DeviceResponse. It never returns
// nil: a response that does not parse is an invalid Result with the parse
// error.
func Verify(ctx context.Context, deviceResponse []byte, o Options) *Result {
	resp, err := mdoc.ParseDeviceResponse(deviceResponse)
	if err != nil {
		r := &Result{Documents: []*Document{}, Errors: []Error{NewError(fmt.Errorf("parse DeviceResponse: %w", err))}}
		o.log(ctx, r)
		return r
	}
	return VerifyResponse(ctx, resp, o)
}

// VerifyResponse verifies a parsed DeviceResponse (ISO/IEC 18013-5:2021
// §9.3.1 for every document, then status, per-issuer rules and the
// request comparison). The result is Valid only when the response status
// is OK, it holds at least one document, every document is valid, and every
// requested docType was returned.
func VerifyResponse(ctx context.Context, resp *mdoc.DeviceResponse, o Options) *Result {
	r := &Result{Documents: []*Document{}, Errors: []Error{}}
	if o.Trust == nil {
		r.Errors = append(r.Errors, Error{Code: string(mdoc.CodeUntrustedIssuer), Message: "verifier: no IACA trust configured"})
		return r
	}
	now := o.now()
	if resp.Status != mdoc.DeviceResponseOK {
		r.Errors = append(r.Errors, Error{Code: string(mdoc.CodeMalformed), Message: fmt.Sprintf("verifier: DeviceResponse status %d", resp.Status)})
	}
	if len(resp.Documents) == 0 {
		r.Errors = append(r.Errors, Error{Code: string(mdoc.CodeElementNotReturned), Message: "verifier: DeviceResponse holds no documents"})
	}
	for _, de := range resp.DocumentErrors {
		for dt, code := range de {
			r.Errors = append(r.Errors, Error{Code: string(mdoc.CodeElementNotReturned), Message: fmt.Sprintf("verifier: document %s not returned (error %d)", dt, code)})
		}
	}
	returnedTypes := map[string]bool{}
	for i := range resp.Documents {
		d := verifyDocument(ctx, &resp.Documents[i], &o, now)
		returnedTypes[d.DocType] = true
		r.Documents = append(r.Documents, d)
	}
	if o.Request != nil {
		for _, dt := range slices.Sorted(maps.Keys(o.Request)) {
			if !returnedTypes[dt] {
				r.Errors = append(r.Errors, Error{Code: string(mdoc.CodeElementNotReturned), Message: "verifier: requested document " + dt + " not returned"})
			}
		}
	}
	r.Valid = len(r.Errors) == 0
	for _, d := range r.Documents {
		r.Valid = r.Valid && d.Valid
	}
	o.log(ctx, r)
	return r
}

func (o *Options) log(ctx context.Context, r *Result) {
	l := o.Logger
	if l == nil {
		l = slog.Default()
	}
	if !l.Enabled(ctx, slog.LevelDebug) {
		return // the line below is built only when it is written
	}
	types := make([]string, 0, len(r.Documents))
	for _, d := range r.Documents {
		types = append(types, d.DocType)
	}
	l.DebugContext(ctx, "verifier: presentation verified", "valid", r.Valid, "docTypes", types, "codes", r.Codes())
}

func verifyDocument(ctx context.Context, doc *mdoc.Document, o *Options, now time.Time) *Document {
	mo := &mdoc.VerifyOptions{
		Trust: o.Trust, CurrentTime: now, ClockSkew: o.ClockSkew,
		SessionTranscript: o.SessionTranscript, EReaderKey: o.EReaderKey, Strict: o.Strict,
	}
	if o.Request != nil {
		// mdoc compares requested with returned elements (allowing the
		// §7.2.5 age_over substitution); a docType that was not asked for
		// gets an empty request, so everything it returns is extra.
		mo.Request = o.Request[doc.DocType]
		if mo.Request == nil {
			mo.Request = map[string][]string{}
		}
	}
	dr := mdoc.VerifyDocument(doc, mo)
	d := &Document{
		DocType: doc.DocType, Elements: map[string]map[string]any{}, Errors: []Error{}, Warnings: []Error{},
		IssuerAuthValid: dr.IssuerAuthValid, DeviceAuthValid: dr.DeviceAuthValid,
		DeviceAuthMethod: dr.DeviceAuthMethod, MSO: dr.MSO, Status: StatusUnchecked,
	}
	for _, w := range dr.Warnings {
		d.Warnings = append(d.Warnings, Error{Code: string(w.Code), Message: "verifier: tolerated: " + w.Detail})
	}
	for _, e := range dr.Errors {
		d.Errors = append(d.Errors, NewError(e))
	}
	if dr.MSO != nil {
		k := dr.MSO.DeviceKeyInfo.DeviceKey
		d.DeviceKey = &k
	}
	if dr.Chain != nil {
		d.Anchor = dr.Chain.Anchor
	}
	// Per-issuer rules and status only mean something for a document whose
	// issuer signature held: an unauthenticated MSO's status uri is not
	// fetched.
	if dr.IssuerAuthValid {
		if dc, ok := o.Trust.(DocTypeChecker); ok {
			if err := dc.CheckDocType(d.Anchor, doc.DocType); err != nil {
				d.Errors = append(d.Errors, NewError(err))
			}
		}
		d.Status = checkStatus(ctx, o, dr, d, now)
	}
	if len(dr.NotReturned) > 0 {
		reportNotReturned(dr.NotReturned, d)
	}
	d.Valid = dr.Valid && len(d.Errors) == 0
	if d.Valid {
		d.Values = dr.Disclosed()
		for ns, ids := range d.Values {
			d.Elements[ns] = map[string]any{}
			for id, v := range ids {
				d.Elements[ns][id] = JSONValue(v)
			}
		}
	}
	return d
}

func checkStatus(ctx context.Context, o *Options, dr *mdoc.DocumentResult, d *Document, now time.Time) string {
	if dr.MSO.Status == nil || dr.MSO.Status.StatusList == nil || o.SkipStatus {
		return StatusUnchecked
	}
	var err error
	if o.Status == nil {
		err = &mdoc.Error{Code: mdoc.CodeStatusUnavailable, DocType: d.DocType, Detail: "verifier: the credential names a status list and no status source is configured"}
	} else {
		err = o.Status.Check(ctx, dr.MSO.Status.StatusList, d.Anchor, now)
	}
	if err == nil {
		return StatusValid
	}
	d.Errors = append(d.Errors, NewError(err))
	switch mdoc.CodeOf(err) {
	case mdoc.CodeStatusInvalid:
		return StatusRevoked
	case mdoc.CodeStatusSuspended:
		return StatusSuspended
	}
	// Unavailable, stale or invalid list: nothing is known, and the
	// error above makes the document invalid (fail closed).
	return StatusUnchecked
}

// reportNotReturned turns requested-but-absent elements into an
// element_not_returned error: the holder may have refused, and the relying
// party must know its question was not answered.
func reportNotReturned(notReturned map[string][]string, d *Document) {
	var missing []string
	for _, ns := range slices.Sorted(maps.Keys(notReturned)) {
		ids := append([]string(nil), notReturned[ns]...)
		sort.Strings(ids)
		for _, id := range ids {
			missing = append(missing, ns+"/"+id)
		}
	}
	d.NotReturned = notReturned
	d.Errors = append(d.Errors, Error{Code: string(mdoc.CodeElementNotReturned),
		Message: "verifier: requested but not returned: " + strings.Join(missing, ", ")})
}
