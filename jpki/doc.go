// Package jpki implements the legacy JPKI (公的個人認証サービス) certificate
// paths of the My Number Card: parsing the signature and
// user-authentication certificate profiles, reading the four basic facts,
// path validation against JPKI roots, revocation by CRL (and OCSP), and
// verification of user authentications, document signatures and
// card-signed JWS, following the JPKI certificate profile and the rules
// of the smartphone certificate service.
//
// # Certificates
//
// ParseCertificate checks a certificate against the end-entity profile and
// classifies it by Kind (signature or auth) and Form (card or smartphone).
// The signature certificate carries the four basic facts (基本4情報) in
// subjectAltName otherName entries, which crypto/x509 drops, so
// ParseOtherNames reads extension 2.5.29.17 itself; ParseFacts turns them
// into Facts: the name split at U+3000, sex code, the era-coded birth date
// `EYYYYMMDD` (BirthDate, Era) and the address, with their
// substitute-character masks (one '0'/'1' per character, '1' marking a
// 代替文字). The auth certificate carries only an opaque id (subject CN).
//
// # Card and smartphone certificates
//
// A smartphone certificate is a new certificate for a key generated in the
// phone's secure element, issued from the same roots as card certificates.
// This package tells them apart by certificate policy: the card policies
// are J-LIS's 1.2.392.200149.8.5.1.1.20 (signature) and …1.3.30 (auth);
// the smartphone policies are an assumption of this project,
// OIDPolicySignatureSmartphone (…1.1.21) and OIDPolicyAuthSmartphone
// (…1.3.31), defined in one place so a published value can replace them.
// At the APDU level the token label in EF 0006 tells the token apart
// (JPKIAPICCTOKEN2 card, JPKIAPGPSETOKEN Android, JPKIAPIOSTOKEN iPhone).
//
// # Trust and revocation
//
// JPKI roots are single-tier, self-signed RSA-2048 and several generations
// share one DN, so Roots.IssuerOf picks the root by signature. In
// ModeProduction a certificate issued under O=JPKI-TEST is refused with
// CodeTestRootInProduction even if a test root was configured. CRL
// distribution points are directory names, one per municipality: the
// CRLChecker maps the DirName string (DirNameString) to a CRLSource (a
// file, a directory laid out by CRLFileName, or a URL), checks that the CRL
// is signed by the certificate's root and covers that distribution point,
// and that thisUpdate ≤ now ≤ nextUpdate + grace. OCSPChecker asks an OCSP
// responder; FirstOf combines checkers.
//
// # Errors
//
// Every failure is an *Error with a stable Code (CodeProfile, CodeRevoked,
// CodeCRLStale, …) usable with errors.Is against the Err… sentinels.
//
// Subpackages: apdu (ISO 7816-4 APDU encoding), applet (the JPKI applet
// emulated at the APDU level), card (the reader-side client), testca (a
// local CA standing in for J-LIS).
package jpki
