package verifier

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/mynumber-mdoc/mnc/mdoc"
)

// Error is one failure in a Result: a stable code (mdoc.Code values, plus
// the codes of this package's callers) and a message for people.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// NewError converts err to an Error, taking the code of the first
// *mdoc.Error in its chain ("malformed" when there is none: an error
// without a code never passes as a success).
func NewError(err error) Error {
	code := string(mdoc.CodeOf(err))
	var coded interface{ ErrorCode() string }
	if code == "" && errors.As(err, &coded) {
		code = coded.ErrorCode()
	}
	if code == "" {
		code = string(mdoc.CodeMalformed)
	}
	return Error{Code: code, Message: err.Error()}
}

// Result is the outcome of verifying one presentation. Its JSON form is the
// CLI contract:
//
//	{"valid":bool,"documents":[{"docType":…,"valid":bool,"status":"valid|revoked|suspended|unchecked",
//	  "elements":{ns:{id:value}},"errors":[{"code":…,"message":…}],"warnings":[{"code":…,"message":…}]}],"errors":[…]}
type Result struct {
	Valid     bool        `json:"valid"`
	Documents []*Document `json:"documents"`
	Errors    []Error     `json:"errors"`
}

// Document is the outcome for one returned document. Elements holds the
// disclosed values, JSON-ready, and only when the document is valid.
type Document struct {
	DocType  string                    `json:"docType"`
	Valid    bool                      `json:"valid"`
	Elements map[string]map[string]any `json:"elements"`
	Errors   []Error                   `json:"errors"`
	// Status is the revocation outcome: StatusValid, StatusRevoked,
	// StatusSuspended, or StatusUnchecked (no status reference, status
	// checks skipped, the issuer signature failed, or the list could not
	// be had — the last with an error that makes the document invalid).
	Status string `json:"status"`
	// Warnings are the tolerated deviations from the standard
	// (mdoc.Deviation) found in the document; under Options.Strict they
	// are Errors instead. Never nil.
	Warnings []Error `json:"warnings"`

	// Detail for policies and callers; not part of the JSON contract.
	IssuerAuthValid  bool                       `json:"-"`
	DeviceAuthValid  bool                       `json:"-"`
	DeviceAuthMethod string                     `json:"-"` // "signature" or "mac"
	NotReturned      map[string][]string        `json:"-"`
	DeviceKey        *mdoc.COSEKey              `json:"-"`
	Anchor           *x509.Certificate          `json:"-"` // the IACA the Document Signer chained to
	MSO              *mdoc.MobileSecurityObject `json:"-"`
	Values           map[string]map[string]any  `json:"-"` // typed values (mdoc.FullDate, time.Time, …) of a valid document
}

// Revocation outcomes of Document.Status.
const (
	StatusValid     = "valid"
	StatusRevoked   = "revoked"
	StatusSuspended = "suspended"
	StatusUnchecked = "unchecked"
)

// Codes returns the codes of every error in the result (response and
// documents), in order, for tests and logs.
func (r *Result) Codes() []string {
	var out []string
	for _, e := range r.Errors {
		out = append(out, e.Code)
	}
	for _, d := range r.Documents {
		for _, e := range d.Errors {
			out = append(out, e.Code)
		}
	}
	return out
}

// Document returns the first document of docType, or nil.
func (r *Result) Document(docType string) *Document {
	for _, d := range r.Documents {
		if d.DocType == docType {
			return d
		}
	}
	return nil
}

// JSONValue converts a decoded element value to its JSON form: full-date
// as "YYYY-MM-DD", tdate as RFC 3339, bstr as standard base64, maps with
// their keys as strings, arrays element by element, other tags as
// {"tag": n, "value": …}.
func JSONValue(v any) any {
	switch x := v.(type) {
	case nil, bool, string, int, int64, uint64, int32, uint32, int16, uint16, int8, uint8:
		return x
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprint(x)
		}
		return x
	case float32:
		return JSONValue(float64(x))
	case *big.Int:
		return x.String()
	case big.Int:
		return x.String()
	case mdoc.FullDate:
		return x.String()
	case *mdoc.FullDate:
		return x.String()
	case mdoc.TDate:
		return x.Time().UTC().Format(time.RFC3339)
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = JSONValue(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(JSONValue(k))] = JSONValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = JSONValue(e)
		}
		return out
	case cbor.Tag:
		return map[string]any{"tag": x.Number, "value": JSONValue(x.Content)}
	case cbor.SimpleValue:
		return map[string]any{"simple": uint8(x)}
	}
	return fmt.Sprint(v)
}
