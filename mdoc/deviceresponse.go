package mdoc

import "fmt"

// DeviceResponse status codes (ISO/IEC 18013-5:2021 §8.3.2.1.2.3).
const (
	DeviceResponseOK                  = 0
	DeviceResponseGeneralError        = 10
	DeviceResponseCBORDecodingError   = 11
	DeviceResponseCBORValidationError = 12
)

// Document error codes for DocumentError and Errors (§8.3.2.1.2.3):
// 0 data not returned (for example the holder refused consent).
const ErrorDataNotReturned = 0

// DeviceResponseVersion is the version this package emits.
const DeviceResponseVersion = "1.0"

// DeviceResponse is the mdoc's answer to a DeviceRequest (§8.3.2.1.2.2).
type DeviceResponse struct {
	Version        string             `cbor:"version"`
	Documents      []Document         `cbor:"documents,omitempty"`
	DocumentErrors []map[string]int64 `cbor:"documentErrors,omitempty"`
	Status         uint64             `cbor:"status"`
}

// Document is one returned document.
type Document struct {
	DocType      string                      `cbor:"docType"`
	IssuerSigned IssuerSigned                `cbor:"issuerSigned"`
	DeviceSigned DeviceSigned                `cbor:"deviceSigned"`
	Errors       map[string]map[string]int64 `cbor:"errors,omitempty"`
}

// ParseDeviceResponse decodes a DeviceResponse, keeping every signed byte
// (items, issuerAuth, DeviceNameSpacesBytes, device auth) as received.
func ParseDeviceResponse(b []byte) (*DeviceResponse, error) {
	var r DeviceResponse
	if err := Unmarshal(b, &r); err != nil {
		return nil, wrapError(CodeMalformed, err, "DeviceResponse")
	}
	if err := checkTags(b, deviceResponseTags); err != nil {
		return nil, err
	}
	if r.Version == "" {
		return nil, newError(CodeMalformed, "DeviceResponse without version")
	}
	if r.Version[0] != '1' {
		return nil, newError(CodeUnsupported, "DeviceResponse version %q", r.Version)
	}
	for i := range r.Documents {
		d := &r.Documents[i]
		if d.DocType == "" {
			return nil, newError(CodeMalformed, "document %d without docType", i)
		}
		if len(d.IssuerSigned.IssuerAuth.Raw) == 0 {
			return nil, &Error{Code: CodeMalformed, DocType: d.DocType, Detail: "document without issuerAuth"}
		}
		if len(d.DeviceSigned.NameSpaces.Raw) == 0 {
			return nil, &Error{Code: CodeMalformed, DocType: d.DocType, Detail: "document without deviceSigned"}
		}
	}
	return &r, nil
}

// Encode returns the CBOR encoding.
func (r *DeviceResponse) Encode() ([]byte, error) { return Marshal(r) }

// String summarises the response for logs.
func (r *DeviceResponse) String() string {
	return fmt.Sprintf("DeviceResponse(version=%s, documents=%d, status=%d)", r.Version, len(r.Documents), r.Status)
}
