// Package walletsim is a wallet simulator that behaves like Apple Wallet or
// Google Wallet holding the My Number Card as an ISO/IEC 18013-5 mdoc, so
// that wallet providers can see how a wallet must behave and the issuer and
// verifier can be tested against it.
//
// A Wallet lives in a home directory: a simulated secure element
// (package se) holding the device keys and the JPKI smartphone applet, and
// the wallet's own data sealed under keys derived from the element's device
// key: the profile and credentials in one file (DataFile), rewritten
// atomically on every change, and the presentation history in an
// append-only log (HistoryLog), one sealed line per entry chained to the
// previous one and anchored in the data file at each save, so that a
// presentation appends a line rather than rewriting the whole bounded
// history (see historylog.go for the format and what it detects).
//
// Presentation: in proximity (ISO/IEC 18013-5) the wallet shows a
// DeviceEngagement as a QR code ("mdoc:" URI) or an NFC Handover Select,
// then serves the session over mdoc/blesim, which stands
// in for BLE (peripheral server mode). Every DocRequest must carry a
// ReaderAuth that verifies against the reader roots the wallet trusts;
// otherwise no data is released (DeviceResponse status 10). Then the
// policy filters run — health-insurance elements only to medical
// institutions, individual_number_unicode only to authorised readers, age
// questions answered with age_over_NN only (§7.2.5) — and the holder
// consents element by element (Consent). Released documents are signed (or
// MACed) by the device key in the secure element after user verification
// (PIN or biometric, per profile), encrypted with the session keys, and
// logged in the history.
//
// Online presentation speaks OpenID4VP 1.0 (DCQL, direct_post.jwt) and ISO/IEC
// 18013-7 Annex C; enrolment runs OpenID4VCI against the project's issuer
// with a card application signed by the My Number Card (package
// mdoc/oid4vci).
package walletsim
