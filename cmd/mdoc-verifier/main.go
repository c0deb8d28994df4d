//go:debug x509negativeserial=1

// Command mdoc-verifier verifies ISO/IEC 18013-5 mdoc presentations.
//
//	mdoc-verifier verify --trust PEM_OR_DIR --session-transcript FILE [--reader-key FILE]
//	                     [--at RFC3339] [--request FILE] [--json] RESPONSE.cbor
//	mdoc-verifier serve  --trust PEM_OR_DIR --reader-cert FILE --reader-key FILE [--addr HOST:PORT] …
//	mdoc-verifier reader --trust PEM_OR_DIR --reader-cert FILE --reader-key FILE --qr mdoc:… …
//
// verify exits 0 when the response is valid, 1 when it is not, and 2 on
// usage errors (bad flags, unreadable or malformed input files). Run
// `mdoc-verifier COMMAND --help` for every flag.
//
// Interoperability: the binary accepts X.509 certificates with a negative
// serial number (GODEBUG x509negativeserial=1). RFC 5280 §4.1.2.2 forbids
// them but asks relying parties to handle them gracefully, and published
// test IACAs (the OpenWallet Foundation Multipaz test IACA among them) have
// one; without this Go refuses to parse the certificate at all. The serial
// plays no part in mdoc trust decisions.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit codes (the CLI contract).
const (
	exitValid   = 0
	exitInvalid = 1
	exitUsage   = 2
)

// errUsage marks command-line mistakes.
var errUsage = errors.New("usage error")

func usagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"verify", "verify a DeviceResponse (CBOR) against IACA roots and a session transcript", runVerify},
		{"serve", "run the online verifier (OpenID4VP 1.0, ISO/IEC 18013-7 Annex C, JPKI login) with a web page", runServe},
		{"reader", "run a proximity session with a wallet from a scanned mdoc: QR URI (simulated BLE)", runReader},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: mdoc-verifier COMMAND [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'mdoc-verifier COMMAND --help' for the flags of a command.")
	fmt.Fprintln(w, "Exit status: 0 valid, 1 invalid, 2 usage error.")
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(stdout)
		return exitValid
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdin, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "mdoc-verifier: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

// listFlag collects a repeatable flag; commas also separate values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// parseFlags parses args, printing help to stdout for --help (exit 0) and
// errors to stderr (exit 2).
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return exitValid, false
	}
	if err != nil {
		fmt.Fprintf(stderr, "mdoc-verifier %s: %v\n", fs.Name(), err)
		fs.SetOutput(stderr)
		fs.Usage()
		return exitUsage, false
	}
	return 0, true
}
