// Package verifier decides whether to accept an mdoc presentation. It
// composes the mdoc primitives into the ISO/IEC 18013-5:2021 §9.3
// verification procedure — parse, issuer signature and chain (with the
// chain cache), digests, validity, docType, device authentication
// (signature or MAC), requested-vs-returned elements — and adds what the
// primitives leave to the relying party: per-issuer docType rules and
// revocation through Token Status Lists. The answer is one Result: an
// overall verdict, a verdict per document, the disclosed elements of valid
// documents only, and every failure with a stable code.
//
// Subpackages: trust (roots and reader credentials), status (Token Status
// List client), policy (age and insurance decisions), reader (proximity
// sessions over the simulated BLE transport), online (OpenID4VP and ISO/IEC
// 18013-7 Annex C server), jpkiauth (legacy JPKI login and document
// signatures in the same result format).
package verifier
