// Command mdoc-demo runs the whole mission in one process on embedded
// defaults (issuer, wallets, verifier, JPKI test CA, loopback servers) and
// narrates it with a verdict per step; "mdoc-demo serve" starts the issuer
// and the verifier together for hands-on use with wallet-sim. The behaviour
// lives in internal/demo; this file only maps flags onto its options.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/demo"
)

const usage = `mdoc-demo: the My Number Card on smartphones, end to end, in one command

Usage:
  mdoc-demo [flags]          run the story (ten steps, a verdict each); exit 1 if any verdict is unexpected
  mdoc-demo serve [flags]    start the issuer and the verifier on loopback and print what to run next

Flags of the story:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "serve" {
		return runServe(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && (args[0] == "help" || args[0] == "run") {
		if args[0] == "help" {
			args = []string{"-h"}
		} else {
			args = args[1:]
		}
	}
	fs := flag.NewFlagSet("mdoc-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o demo.Options
	fs.StringVar(&o.ArtifactsDir, "artifacts", "", "write every presentation (device-response.cbor, session-transcript.cbor, iaca.pem, status-list.cwt, reader-ephemeral-key.pem when MAC, expected.json) under `DIR`")
	fs.StringVar(&o.WorkDir, "work-dir", "", "keep the issuer data, JPKI test CA, card and wallets in `DIR` (default a temporary directory, removed at the end)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the temporary work directory and print its path")
	fs.DurationVar(&o.Timeout, "timeout", demo.DefaultTimeout, "abort the story after this long")
	verbose := fs.Bool("v", false, "log the components (issuer, wallets, verifier) to stderr")
	asJSON := fs.Bool("json", false, "print the report as JSON after the transcript")
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mdoc-demo: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	o.Out = stdout
	if *verbose {
		o.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	rep, err := demo.Run(ctx, o)
	if *asJSON && rep != nil {
		if e := demo.WriteReportJSON(stdout, rep); e != nil {
			fmt.Fprintf(stderr, "mdoc-demo: %v\n", e)
		}
	}
	if rep != nil && rep.WorkDir != "" {
		fmt.Fprintf(stdout, "Work directory kept: %s\n", rep.WorkDir)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mdoc-demo: %v\n", err)
		return 1
	}
	return 0
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mdoc-demo serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o demo.ServeOptions
	fs.StringVar(&o.DataDir, "data-dir", demo.DefaultServeDataDir, "demo data directory: issuer/ (SQLite, keys, dev PKI, JPKI test CA, as mdoc-issuer --data-dir) and verifier/ (reader certificates and keys); reused across runs")
	fs.StringVar(&o.IssuerListen, "issuer-listen", demo.DefaultIssuerListen, "issuer listen address (loopback)")
	fs.StringVar(&o.VerifierListen, "verifier-listen", demo.DefaultVerifierListen, "verifier listen address (loopback)")
	verbose := fs.Bool("v", false, "debug logging")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: mdoc-demo serve [flags]\n\nStarts the issuer and the verifier together and prints the wallet-sim commands to try.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	lvl := slog.LevelInfo
	if *verbose {
		lvl = slog.LevelDebug
	}
	o.Out = stdout
	o.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	o.ShutdownTimeout = 5 * time.Second
	if err := demo.Serve(ctx, o); err != nil {
		fmt.Fprintf(stderr, "mdoc-demo serve: %v\n", err)
		return 1
	}
	return 0
}
