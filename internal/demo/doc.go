// Package demo runs the project's whole mission in one process, on embedded
// defaults, as a narrated story with a verdict for every step: a local J-LIS
// stand-in (jpki/testca) makes a My Number Card; an android and an apple
// wallet simulator (package walletsim) enrol from it against the real issuer
// (package issuer, on a temporary SQLite data directory and its dev PKI,
// served over HTTP on a loopback port); the verifier (package verifier and
// its online server, also on a loopback port) checks age in person (QR
// engagement, session encryption, ReaderAuth over the simulated BLE
// transport), online (OpenID4VP 1.0 and ISO/IEC 18013-7 Annex C), insurance
// qualification at a clinic (mdoc and the JPKI auth certificate), and a JPKI
// login; then the lifecycle — device change, loss, linked revocation,
// emergency restriction — is played and each verdict checked.
//
// Roles never import each other; this package (like cmd/*) is the one place
// that ties them together, so that a newcomer sees the mission work with
// `go run ./cmd/mdoc-demo` and an end-to-end test runs the same story.
//
// With Options.ArtifactsDir every mdoc presentation is written out for
// outside verifiers (see Expected and WriteArtifact): the DeviceResponse,
// SessionTranscriptBytes, the IACA, the reader's ephemeral key when a MAC
// was used, the Token Status List token the verdict was based on, and
// expected.json with the verdict, the clock and the exact mdoc-verifier
// command that must agree with it.
package demo
