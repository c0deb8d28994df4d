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
// # Wire profile
//
// Unsigned structures are read exactly as ISO/IEC 18013-5:2021 §8.3.2.1.2.2
// and §9.1.2.4 write them: map keys match the CDDL names case-sensitively
// (a "DOCTYPE" key is not docType), tags appear only where the CDDL puts
// them (#6.24 around item bytes, DeviceNameSpacesBytes and the MSO, #6.0
// around validityInfo tdates), and IssuerAuth is an untagged COSE_Sign1.
// Anything else is malformed.
//
// # Tolerated deviations
//
// Some published wallets depart from the standard in ways that change
// nothing that is signed or checked. These are accepted, and each is
// reported as a warning with a stable code in Document.Warnings
// ("warnings":[{"code","message"}] in JSON); Options.Strict rejects them
// with an error of the same code:
//
//   - cose_key_kid_text (mdoc.DeviationKidText): the MSO deviceKey
//     carries kid (label 2) as a text string instead of a byte string
//     (RFC 9052 §7.1). The TypeScript libraries @animo-id/mdoc and
//     @auth0/mdl both write a JWK's kid this way (recorded in
//     testdata/realworld), and EU PID presentations from wallets built on
//     them carry it; multipaz and isomdl accept it. No check here looks a
//     key up by kid.
//   - tdate_form (mdoc.DeviationTDateForm): an MSO validityInfo tdate has
//     fractional seconds or a numeric UTC offset instead of
//     "YYYY-MM-DDThh:mm:ssZ" (§9.1.2.4). The instant is unambiguous and
//     compared as such.
//
// Subpackages: trust (roots and reader credentials), status (Token Status
// List client), policy (age and insurance decisions), reader (proximity
// sessions over the simulated BLE transport), online (OpenID4VP and ISO/IEC
// 18013-7 Annex C server), jpkiauth (legacy JPKI login and document
// signatures in the same result format).
package verifier
