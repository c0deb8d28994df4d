// Command wallet-sim simulates an Apple- or Google-style phone wallet holding
// the My Number Card as an ISO/IEC 18013-5 mdoc: a simulated secure element,
// enrolment against mdoc-issuer, proximity presentation by QR or NFC
// engagement over a simulated BLE transport, online presentation by
// OpenID4VP and ISO/IEC 18013-7 Annex C, and the JPKI smartphone
// certificates. Run `wallet-sim --help`; the commands live in
// wallet-sim/cli.
package main

import (
	"context"
	"os"

	icli "github.com/mynumber-mdoc/mnc/internal/cli"
	"github.com/mynumber-mdoc/mnc/wallet-sim/cli"
)

func main() {
	env := cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Interactive: icli.IsTerminal(os.Stdin)}
	os.Exit(cli.Run(context.Background(), os.Args[1:], env))
}
