//go:debug x509negativeserial=1

// Command mdoc-verifier verifies ISO/IEC 18013-5 mdoc presentations: a
// recorded DeviceResponse (verify), online requests by OpenID4VP and ISO/IEC
// 18013-7 Annex C with a web page (serve), and proximity sessions from a
// scanned QR engagement (reader). Run `mdoc-verifier --help`.
//
// Exit status: 0 valid, 1 invalid (or the operation failed), 2 usage error.
//
// Interoperability: the binary accepts X.509 certificates with a negative
// serial number (GODEBUG x509negativeserial=1). RFC 5280 §4.1.2.2 forbids
// them but asks relying parties to handle them gracefully, and published
// test IACAs (the OpenWallet Foundation Multipaz test IACA among them) have
// one; without this Go refuses to parse the certificate at all. The serial
// plays no part in mdoc trust decisions.
package main

import "github.com/mynumber-mdoc/mnc/internal/cli"

func main() { cli.Main(program()) }
