package mdoc

import (
	"crypto"
	"crypto/ecdh"
	"io"
)

// PresentOptions says how the device authenticates a presented document
// (ISO/IEC 18013-5:2021 §9.1.3): with a signature by DeviceSigner, or — when
// DeviceKeyAgreement and EReaderKey are set — with a MAC keyed by EMacKey.
// Both keys are the document's device key, typically held by a secure
// element that never exports it.
type PresentOptions struct {
	// SessionTranscript is the untagged SessionTranscript array. Required.
	SessionTranscript []byte
	// DeviceSigner signs DeviceAuthentication (deviceSignature).
	DeviceSigner crypto.Signer
	// DeviceKeyAgreement and EReaderKey select deviceMac instead.
	DeviceKeyAgreement ecdh.KeyExchanger
	EReaderKey         *ecdh.PublicKey
	// DeviceNameSpaces are device-signed elements (usually none).
	DeviceNameSpaces map[string]map[string]any
	// Rand nil means crypto/rand.
	Rand io.Reader
}

// Present returns a Document releasing only the selected elements of is
// (namespace → identifiers), with item and issuerAuth bytes copied
// verbatim, and device authentication over the session. Selected elements
// that is does not hold are reported in the Document's errors with
// ErrorDataNotReturned.
func Present(is *IssuerSigned, selection map[string][]string, o PresentOptions) (*Document, error) {
	docType := is.IssuerAuth.MSO.DocType
	released, missing := is.Select(selection)
	var ds *DeviceSigned
	var err error
	switch {
	case o.DeviceKeyAgreement != nil && o.EReaderKey != nil:
		ds, err = NewDeviceSignedMAC(o.DeviceKeyAgreement, o.EReaderKey, o.SessionTranscript, docType, o.DeviceNameSpaces)
	case o.DeviceSigner != nil:
		ds, err = NewDeviceSignedSignature(o.Rand, o.DeviceSigner, o.SessionTranscript, docType, o.DeviceNameSpaces)
	default:
		return nil, newError(CodeMalformed, "present: no device key")
	}
	if err != nil {
		return nil, err
	}
	doc := &Document{DocType: docType, IssuerSigned: *released, DeviceSigned: *ds}
	for ns, ids := range missing {
		if doc.Errors == nil {
			doc.Errors = map[string]map[string]int64{}
		}
		doc.Errors[ns] = map[string]int64{}
		for _, id := range ids {
			doc.Errors[ns][id] = ErrorDataNotReturned
		}
	}
	return doc, nil
}

// NewDeviceResponse wraps documents in a DeviceResponse with status OK.
// docErrors lists requested docTypes that are not returned (docType →
// error code).
func NewDeviceResponse(docs []Document, docErrors map[string]int64) *DeviceResponse {
	r := &DeviceResponse{Version: DeviceResponseVersion, Documents: docs, Status: DeviceResponseOK}
	if len(docErrors) > 0 {
		r.DocumentErrors = []map[string]int64{docErrors}
	}
	return r
}
