// Package mdoc implements the ISO/IEC 18013-5:2021 mobile document (mdoc)
// data model and its cryptography: the CBOR profile, COSE_Sign1/COSE_Mac0,
// issuer-signed items and the Mobile Security Object, device engagement,
// session transcripts and session encryption, device requests and responses,
// reader authentication, the online handovers of OpenID4VP 1.0 and
// ISO/IEC 18013-7 Annex C, and IETF Token Status Lists.
//
// It is a library with no HTTP and no storage: the issuer, the wallet
// simulator and the verifier compose its primitives.
//
// Two rules run through the package. First, received CBOR is never
// re-encoded: every digest, signature and transcript is computed over the
// bytes as received, which the parsed types keep in Raw fields. Second,
// parsing only rejects malformed input; policy (trust, validity, digests,
// key authorizations) is checked by the Verify functions, which return
// *Error values carrying a stable Code.
package mdoc
