package mdoc

import (
	"crypto"
	"crypto/ecdh"
	"io"

	"github.com/fxamacker/cbor/v2"
)

// DeviceSigned is the device-signed part of a document (ISO/IEC
// 18013-5:2021 §8.3.2.1.2.2): DeviceNameSpacesBytes and the device
// authentication over the session.
type DeviceSigned struct {
	NameSpaces EncodedCBOR `cbor:"nameSpaces"` // DeviceNameSpacesBytes, kept verbatim
	DeviceAuth DeviceAuth  `cbor:"deviceAuth"`
}

// DeviceAuth holds exactly one of deviceSignature (COSE_Sign1, detached)
// or deviceMac (COSE_Mac0, detached).
type DeviceAuth struct {
	DeviceSignature cbor.RawMessage `cbor:"deviceSignature,omitempty"`
	DeviceMac       cbor.RawMessage `cbor:"deviceMac,omitempty"`
}

// DeviceNameSpaces decodes DeviceNameSpacesBytes into namespace →
// identifier → raw value.
func (d *DeviceSigned) DeviceNameSpaces() (map[string]map[string]cbor.RawMessage, error) {
	var ns map[string]map[string]cbor.RawMessage
	if err := d.NameSpaces.Decode(&ns); err != nil {
		return nil, wrapError(CodeMalformed, err, "DeviceNameSpaces")
	}
	if err := checkTags(d.NameSpaces.Data, deviceNameSpacesTags); err != nil {
		return nil, err
	}
	return ns, nil
}

// DeviceAuthenticationBytes builds #6.24(bstr .cbor DeviceAuthentication)
// with DeviceAuthentication = ["DeviceAuthentication", SessionTranscript,
// DocType, DeviceNameSpacesBytes] (§9.1.3.4). sessionTranscript is the
// untagged SessionTranscript array as received, embedded verbatim.
func DeviceAuthenticationBytes(sessionTranscript []byte, docType string, deviceNameSpaces EncodedCBOR) ([]byte, error) {
	inner, err := Marshal([]any{"DeviceAuthentication", cbor.RawMessage(sessionTranscript), docType, deviceNameSpaces})
	if err != nil {
		return nil, err
	}
	w, err := WrapEncodedCBOR(inner)
	if err != nil {
		return nil, err
	}
	return w.Raw, nil
}

// emptyDeviceNameSpaces is #6.24(bstr .cbor {}), what a wallet sends when it
// signs no elements itself.
func emptyDeviceNameSpaces() EncodedCBOR {
	e, _ := WrapEncodedCBOR([]byte{0xa0})
	return e
}

// NewDeviceSignedSignature makes DeviceSigned with a deviceSignature by
// signer (the device key, typically inside a secure element).
// deviceNameSpaces may be nil (no device-signed elements).
func NewDeviceSignedSignature(rand io.Reader, signer crypto.Signer, sessionTranscript []byte, docType string, deviceNameSpaces map[string]map[string]any) (*DeviceSigned, error) {
	ns, auth, err := deviceAuthPayload(sessionTranscript, docType, deviceNameSpaces)
	if err != nil {
		return nil, err
	}
	sig, err := sign1(rand, signer, auth, nil, nil, true, false)
	if err != nil {
		return nil, err
	}
	return &DeviceSigned{NameSpaces: ns, DeviceAuth: DeviceAuth{DeviceSignature: sig}}, nil
}

// NewDeviceSignedMAC makes DeviceSigned with a deviceMac keyed by EMacKey,
// derived from the device key and the reader's ephemeral key (§9.1.3.5).
func NewDeviceSignedMAC(deviceKey ecdh.KeyExchanger, eReaderKey *ecdh.PublicKey, sessionTranscript []byte, docType string, deviceNameSpaces map[string]map[string]any) (*DeviceSigned, error) {
	ns, auth, err := deviceAuthPayload(sessionTranscript, docType, deviceNameSpaces)
	if err != nil {
		return nil, err
	}
	stb, err := WrapEncodedCBOR(sessionTranscript)
	if err != nil {
		return nil, err
	}
	key, err := DeriveEMacKey(deviceKey, eReaderKey, stb.Raw)
	if err != nil {
		return nil, err
	}
	mac, err := signMac0(key, auth)
	if err != nil {
		return nil, err
	}
	return &DeviceSigned{NameSpaces: ns, DeviceAuth: DeviceAuth{DeviceMac: mac}}, nil
}

func deviceAuthPayload(sessionTranscript []byte, docType string, deviceNameSpaces map[string]map[string]any) (EncodedCBOR, []byte, error) {
	if len(sessionTranscript) == 0 {
		return EncodedCBOR{}, nil, newError(CodeMalformed, "device authentication needs the session transcript")
	}
	ns := emptyDeviceNameSpaces()
	if len(deviceNameSpaces) > 0 {
		var err error
		if ns, err = NewEncodedCBOR(deviceNameSpaces); err != nil {
			return EncodedCBOR{}, nil, err
		}
	}
	auth, err := DeviceAuthenticationBytes(sessionTranscript, docType, ns)
	return ns, auth, err
}
