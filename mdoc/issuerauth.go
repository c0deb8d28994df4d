package mdoc

import (
	"bytes"
	"crypto/x509"
)

// IssuerAuth is the issuer's COSE_Sign1 over the MobileSecurityObject
// (ISO/IEC 18013-5:2021 §9.1.2.4): untagged, protected {1: alg},
// unprotected {33: x5chain}, payload #6.24(bstr .cbor MSO).
type IssuerAuth struct {
	Raw      []byte      // the COSE_Sign1 as received; emitted verbatim
	MSOBytes EncodedCBOR // the payload, MobileSecurityObjectBytes
	MSO      MobileSecurityObject
	X5Chain  [][]byte // DER certificates, Document Signer first, as received
	// Deviations are the tolerated departures from the standard found
	// while parsing (see Deviation); empty for a conforming IssuerAuth.
	Deviations []Deviation
	sign1      *Sign1
}

// MarshalCBOR emits Raw verbatim.
func (a IssuerAuth) MarshalCBOR() ([]byte, error) {
	if len(a.Raw) == 0 {
		return nil, newError(CodeMalformed, "empty issuerAuth")
	}
	return a.Raw, nil
}

// UnmarshalCBOR parses the COSE_Sign1 and its MSO, keeping all bytes.
func (a *IssuerAuth) UnmarshalCBOR(data []byte) error {
	p, err := ParseIssuerAuth(data)
	if err != nil {
		return err
	}
	*a = *p
	return nil
}

// ParseIssuerAuth parses an IssuerAuth COSE_Sign1. It checks structure only;
// VerifyIssuerAuth checks signature, chain and trust.
func ParseIssuerAuth(data []byte) (*IssuerAuth, error) {
	msg, err := ParseSign1(data)
	if err != nil {
		return nil, wrapError(CodeMalformed, err, "issuerAuth")
	}
	if msg.Tagged {
		// §9.1.2.4: IssuerAuth is COSE_Sign1 without tag 18.
		return nil, newError(CodeMalformed, "issuerAuth is a tagged COSE_Sign1 (tag 18); ISO 18013-5 sends it untagged")
	}
	if msg.Payload == nil {
		return nil, newError(CodeMalformed, "issuerAuth has a detached payload")
	}
	chain := msg.X5Chain
	if len(chain) == 0 {
		return nil, newError(CodeMalformed, "issuerAuth without x5chain")
	}
	msoBytes, err := ParseEncodedCBOR(msg.Payload)
	if err != nil {
		return nil, wrapError(CodeMalformed, err, "issuerAuth payload is not MobileSecurityObjectBytes")
	}
	a := &IssuerAuth{Raw: bytes.Clone(data), MSOBytes: msoBytes, X5Chain: chain, sign1: msg}
	if err := msoBytes.Decode(&a.MSO); err != nil {
		return nil, wrapError(CodeMalformed, err, "MobileSecurityObject")
	}
	if err := checkTags(msoBytes.Data, msoTags); err != nil {
		return nil, err
	}
	if err := a.MSO.check(); err != nil {
		return nil, err
	}
	a.Deviations = msoDeviations(&a.MSO)
	return a, nil
}

// Certificates parses X5Chain. Verification uses a cache instead; this is
// for display and tests.
func (a *IssuerAuth) Certificates() ([]*x509.Certificate, error) {
	out := make([]*x509.Certificate, len(a.X5Chain))
	for i, der := range a.X5Chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, newError(CodeMalformed, "x5chain certificate %d: %v", i, err)
		}
		out[i] = c
	}
	return out, nil
}
