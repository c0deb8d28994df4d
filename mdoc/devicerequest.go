package mdoc

import (
	"sort"

	"github.com/fxamacker/cbor/v2"
)

// DeviceRequestVersion is the version this package emits.
const DeviceRequestVersion = "1.0"

// DeviceRequest is the reader's request (ISO/IEC 18013-5:2021 §8.3.2.1.2.1).
type DeviceRequest struct {
	Version     string       `cbor:"version"`
	DocRequests []DocRequest `cbor:"docRequests"`
}

// DocRequest asks for one document. ItemsRequestBytes is kept verbatim
// because ReaderAuth signs it; ItemsRequest is its decoded form.
type DocRequest struct {
	ItemsRequestBytes EncodedCBOR     `cbor:"itemsRequest"`
	ReaderAuth        cbor.RawMessage `cbor:"readerAuth,omitempty"`
	ItemsRequest      ItemsRequest    `cbor:"-"`
}

// ItemsRequest names the requested elements; the bool is intentToRetain.
type ItemsRequest struct {
	DocType     string                     `cbor:"docType"`
	NameSpaces  map[string]map[string]bool `cbor:"nameSpaces"`
	RequestInfo map[string]cbor.RawMessage `cbor:"requestInfo,omitempty"`
}

// Elements returns namespace → sorted requested identifiers.
func (r *ItemsRequest) Elements() map[string][]string {
	out := make(map[string][]string, len(r.NameSpaces))
	for ns, ids := range r.NameSpaces {
		for id := range ids {
			out[ns] = append(out[ns], id)
		}
		sort.Strings(out[ns])
	}
	return out
}

// NewDocRequest encodes items as ItemsRequestBytes (without ReaderAuth;
// see SignReaderAuth).
func NewDocRequest(items ItemsRequest) (*DocRequest, error) {
	if items.DocType == "" || len(items.NameSpaces) == 0 {
		return nil, newError(CodeMalformed, "ItemsRequest needs a docType and at least one namespace")
	}
	b, err := NewEncodedCBOR(items)
	if err != nil {
		return nil, err
	}
	return &DocRequest{ItemsRequestBytes: b, ItemsRequest: items}, nil
}

// ParseDeviceRequest decodes a DeviceRequest and each ItemsRequest.
func ParseDeviceRequest(b []byte) (*DeviceRequest, error) {
	var r DeviceRequest
	if err := Unmarshal(b, &r); err != nil {
		return nil, wrapError(CodeMalformed, err, "DeviceRequest")
	}
	if r.Version == "" || r.Version[0] != '1' {
		return nil, newError(CodeUnsupported, "DeviceRequest version %q", r.Version)
	}
	if len(r.DocRequests) == 0 {
		return nil, newError(CodeMalformed, "DeviceRequest without docRequests")
	}
	for i := range r.DocRequests {
		d := &r.DocRequests[i]
		if err := d.ItemsRequestBytes.Decode(&d.ItemsRequest); err != nil {
			return nil, wrapError(CodeMalformed, err, "ItemsRequest %d", i)
		}
		if d.ItemsRequest.DocType == "" {
			return nil, newError(CodeMalformed, "ItemsRequest %d without docType", i)
		}
	}
	return &r, nil
}

// Encode returns the CBOR encoding (ItemsRequestBytes and ReaderAuth
// verbatim).
func (r *DeviceRequest) Encode() ([]byte, error) { return Marshal(r) }
