// Command mnc-load is a bounded load tool for the issuer and the online
// verifier: run `mnc-load --help`.
//
// Exit status: 0 the run completed with operations that succeeded, 1 it
// could not run or nothing succeeded, 2 usage error.
package main

import "github.com/mynumber-mdoc/mnc/internal/cli"

func main() { cli.Main(program()) }
