package keyattest

import (
	"encoding/binary"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Bounds on App Attest input. A real attestation object is about 5.5 KB
// (two certificates and a receipt of a few KB); assertions are ~150 bytes.
const (
	MaxAttestationObjectBytes = 64 << 10
	MaxAssertionBytes         = 4 << 10
	maxX5C                    = 4
	maxAuthDataBytes          = 4 << 10
)

// OIDAppAttestNonce is the credential certificate extension holding the
// nonce SHA-256(authData ‖ clientDataHash) (Apple, "Validating apps that
// connect to your server", step 4).
var OIDAppAttestNonce = []int{1, 2, 840, 113635, 100, 8, 2}

// App Attest aaguids (ibid., step 8): the environment the key was made in.
var (
	AAGUIDProduction  = [16]byte{'a', 'p', 'p', 'a', 't', 't', 'e', 's', 't'}
	AAGUIDDevelopment = [16]byte{'a', 'p', 'p', 'a', 't', 't', 'e', 's', 't', 'd', 'e', 'v', 'e', 'l', 'o', 'p'}
)

// Authenticator data flags (W3C Web Authentication Level 2 §6.1).
const (
	flagAttestedCredentialData = 0x40
	flagExtensionData          = 0x80
)

// AttestationObject is an App Attest attestation object (a WebAuthn
// attestation object with fmt "apple-appattest").
type AttestationObject struct {
	Fmt      string
	X5C      [][]byte // credCert, intermediate
	Receipt  []byte
	AuthData []byte
	Raw      []byte
}

// AuthenticatorData is WebAuthn authenticator data (WebAuthn §6.1) as App
// Attest uses it.
type AuthenticatorData struct {
	RPIDHash [32]byte
	Flags    byte
	Counter  uint32
	// Attested credential data (present in attestations, not assertions).
	AAGUID              [16]byte
	CredentialID        []byte
	CredentialPublicKey []byte // COSE_Key, raw CBOR
	Raw                 []byte
}

var appAttestDecMode = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		MaxNestedLevels:   8,
		MaxArrayElements:  16,
		MaxMapPairs:       16,
		UTF8:              cbor.UTF8RejectInvalid,
		FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

type wireAttestationObject struct {
	Fmt     string `cbor:"fmt"`
	AttStmt struct {
		X5C     [][]byte `cbor:"x5c"`
		Receipt []byte   `cbor:"receipt"`
	} `cbor:"attStmt"`
	AuthData []byte `cbor:"authData"`
}

// ParseAppAttestObject parses an attestation object. It refuses
// malformed CBOR, trailing data, a fmt other than apple-appattest, an x5c
// that is not 1–4 byte strings, and authData that does not parse.
func ParseAppAttestObject(b []byte) (*AttestationObject, error) {
	const f = FormatAppleAppAttest
	if len(b) > MaxAttestationObjectBytes {
		return nil, errf(f, CodeTooLarge, "attestation object is %d bytes, over %d", len(b), MaxAttestationObjectBytes)
	}
	var w wireAttestationObject
	if err := appAttestDecMode.Unmarshal(b, &w); err != nil {
		return nil, wrapf(f, CodeMalformed, err, "attestation object")
	}
	if w.Fmt != FormatAppleAppAttest {
		return nil, errf(f, CodeUnsupported, "fmt %q, want %q", w.Fmt, FormatAppleAppAttest)
	}
	if len(w.AttStmt.X5C) == 0 || len(w.AttStmt.X5C) > maxX5C {
		return nil, errf(f, CodeMalformed, "attStmt.x5c has %d certificates, want 1–%d", len(w.AttStmt.X5C), maxX5C)
	}
	if len(w.AuthData) == 0 {
		return nil, errf(f, CodeMalformed, "authData is missing")
	}
	if _, err := ParseAuthenticatorData(w.AuthData, true); err != nil {
		return nil, err
	}
	return &AttestationObject{Fmt: w.Fmt, X5C: w.AttStmt.X5C, Receipt: w.AttStmt.Receipt, AuthData: w.AuthData, Raw: b}, nil
}

// ParseAuthenticatorData parses authenticator data; attested says whether
// attested credential data must follow (attestation) or must not
// (assertion).
func ParseAuthenticatorData(b []byte, attested bool) (*AuthenticatorData, error) {
	const f = FormatAppleAppAttest
	if len(b) > maxAuthDataBytes {
		return nil, errf(f, CodeTooLarge, "authenticator data is %d bytes, over %d", len(b), maxAuthDataBytes)
	}
	if len(b) < 37 {
		return nil, errf(f, CodeMalformed, "authenticator data is %d bytes, under 37", len(b))
	}
	a := &AuthenticatorData{Raw: b, Flags: b[32], Counter: binary.BigEndian.Uint32(b[33:37])}
	copy(a.RPIDHash[:], b[:32])
	rest := b[37:]
	if a.Flags&flagExtensionData != 0 {
		return nil, errf(f, CodeMalformed, "authenticator data carries extensions, which App Attest never sets")
	}
	if !attested {
		// Leniency: real App Attest assertions set the AT flag (0x40)
		// although no attested credential data follows (recorded iOS 14
		// assertions in testdata); WebAuthn §6.1 would forbid it. What
		// matters — nothing after the counter — is still enforced.
		if len(rest) != 0 {
			return nil, errf(f, CodeMalformed, "assertion authenticator data has %d trailing bytes", len(rest))
		}
		return a, nil
	}
	if a.Flags&flagAttestedCredentialData == 0 {
		return nil, errf(f, CodeMalformed, "attestation authenticator data lacks attested credential data")
	}
	if len(rest) < 18 {
		return nil, errf(f, CodeMalformed, "attested credential data is truncated")
	}
	copy(a.AAGUID[:], rest[:16])
	n := int(binary.BigEndian.Uint16(rest[16:18]))
	rest = rest[18:]
	if n == 0 || n > 1023 || n > len(rest) { // WebAuthn §6.5.1: at most 1023 bytes
		return nil, errf(f, CodeMalformed, "credentialId length %d does not fit", n)
	}
	a.CredentialID, rest = rest[:n], rest[n:]
	var key cbor.RawMessage
	tail, err := appAttestDecMode.UnmarshalFirst(rest, &key)
	if err != nil {
		return nil, wrapf(f, CodeMalformed, err, "credentialPublicKey")
	}
	if len(tail) != 0 {
		return nil, errf(f, CodeMalformed, "%d bytes after credentialPublicKey", len(tail))
	}
	a.CredentialPublicKey = key
	return a, nil
}

// Assertion is an App Attest assertion: {signature, authenticatorData}.
type Assertion struct {
	Signature         []byte
	AuthenticatorData *AuthenticatorData
	Raw               []byte
}

type wireAssertion struct {
	Signature         []byte `cbor:"signature"`
	AuthenticatorData []byte `cbor:"authenticatorData"`
}

// ParseAssertion parses an assertion.
func ParseAssertion(b []byte) (*Assertion, error) {
	const f = FormatAppleAppAttest
	if len(b) > MaxAssertionBytes {
		return nil, errf(f, CodeTooLarge, "assertion is %d bytes, over %d", len(b), MaxAssertionBytes)
	}
	var w wireAssertion
	if err := appAttestDecMode.Unmarshal(b, &w); err != nil {
		return nil, wrapf(f, CodeMalformed, err, "assertion")
	}
	if len(w.Signature) == 0 || len(w.Signature) > 80 {
		return nil, errf(f, CodeMalformed, "assertion signature is %d bytes", len(w.Signature))
	}
	ad, err := ParseAuthenticatorData(w.AuthenticatorData, false)
	if err != nil {
		return nil, err
	}
	return &Assertion{Signature: w.Signature, AuthenticatorData: ad, Raw: b}, nil
}

func (a *AuthenticatorData) String() string {
	return fmt.Sprintf("authData{counter %d, flags %#x}", a.Counter, a.Flags)
}
