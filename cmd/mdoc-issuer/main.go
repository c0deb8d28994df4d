// Command mdoc-issuer runs the My Number Card mdoc issuer (OpenID4VCI) and
// its administration commands. Run `mdoc-issuer --help`.
package main

import "github.com/mynumber-mdoc/mnc/internal/cli"

func main() { cli.Main(program()) }
