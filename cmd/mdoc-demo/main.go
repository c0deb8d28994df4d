// Command mdoc-demo runs the whole mission in one process on embedded
// defaults (issuer, wallets, verifier, JPKI test CA, loopback servers) and
// narrates it with a verdict per step; "mdoc-demo serve" starts the issuer
// and the verifier together for hands-on use with wallet-sim. The behaviour
// lives in internal/demo; root.go only maps flags onto its options.
package main

import "github.com/mynumber-mdoc/mnc/internal/cli"

func main() { cli.Main(program()) }
