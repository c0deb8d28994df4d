package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/cli"
	"github.com/mynumber-mdoc/mnc/internal/demo"
	"github.com/spf13/cobra"
)

// newRootCmd is the command tree. Unlike the other binaries the root runs
// something itself — the story — because "go run ./cmd/mdoc-demo" with
// nothing else is the project's first impression.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "mdoc-demo",
		Short: "The My Number Card on smartphones, end to end, in one command",
		Long: `mdoc-demo runs the whole story in one process on loopback ports — issuer, JPKI test CA,
wallets, verifier — and prints a narrated transcript with a verdict per step. It exits 1
if any verdict is unexpected. serve starts the issuer and the verifier for hands-on use.`,
		Example: `  mdoc-demo
  mdoc-demo --artifacts out --json
  mdoc-demo --nfc --artifacts out     # the counter story over PC/SC (pcscd + vsmartcard-vpcd)
  mdoc-demo serve`,
		Args:          cobra.NoArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	runStory := storyFlags(root)
	root.RunE = runStory
	run := &cobra.Command{
		Use:     "run [flags]",
		Short:   "Run the story (what mdoc-demo does with no command)",
		Long:    "Run runs the story: ten steps, a verdict each; exit 1 if any verdict is unexpected.",
		Example: "  mdoc-demo run --keep",
		Args:    cobra.NoArgs,
	}
	run.RunE = storyFlags(run)
	root.AddCommand(run, newServeCmd())
	return root
}

func program() *cli.Program { return &cli.Program{Root: newRootCmd} }

// run executes one command line; tests call it like main does.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return program().Run(ctx, args, nil, stdout, stderr)
}

// storyFlags registers the story's flags on cmd and returns its body.
func storyFlags(cmd *cobra.Command) func(*cobra.Command, []string) error {
	var o demo.Options
	var verbose, asJSON bool
	f := cmd.Flags()
	f.StringVar(&o.ArtifactsDir, "artifacts", "", "write every presentation (device-response.cbor, session-transcript.cbor, iaca.pem, status-list.cwt, reader-ephemeral-key.pem when MAC, expected.json) under `DIR`")
	f.StringVar(&o.WorkDir, "work-dir", "", "keep the issuer data, JPKI test CA, card and wallets in `DIR` (default a temporary directory, removed at the end)")
	f.BoolVar(&o.Keep, "keep", false, "keep the temporary work directory and print its path")
	f.DurationVar(&o.Timeout, "timeout", demo.DefaultTimeout, "abort the story after this long")
	f.BoolVarP(&verbose, "verbose", "v", false, "log the components (issuer, wallets, verifier) to stderr")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON after the transcript")
	f.BoolVar(&o.NFC, "nfc", false, "play the counter story over PC/SC instead: phone and card taps on the vpcd reader of a running pcscd (apt-get install -y pcscd vsmartcard-vpcd; start pcscd as root)")
	f.StringVar(&o.NFCReader, "nfc-reader", "", "with --nfc: the PC/SC reader (default the first \"Virtual PCD\" reader)")
	f.StringVar(&o.VPCDAddr, "vpcd", "", "with --nfc: the vpcd driver address of that reader (default 127.0.0.1:35963)")
	return func(cmd *cobra.Command, _ []string) error {
		stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
		o.Out = stdout
		if verbose {
			o.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
		rep, err := demo.Run(cmd.Context(), o)
		if asJSON && rep != nil {
			if e := demo.WriteReportJSON(stdout, rep); e != nil {
				fmt.Fprintf(stderr, "mdoc-demo: %v\n", e)
			}
		}
		if rep != nil && rep.WorkDir != "" {
			fmt.Fprintf(stdout, "Work directory kept: %s\n", rep.WorkDir)
		}
		return err
	}
}

func newServeCmd() *cobra.Command {
	var o demo.ServeOptions
	var verbose bool
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Start the issuer and the verifier together on loopback and print what to run next",
		Long: `Serve starts the issuer and the online verifier together, writes reader credentials for a
shop and a clinic, and prints the wallet-sim, jpki-sim and mdoc-verifier commands to try.`,
		Example: "  mdoc-demo serve --data-dir demo-data",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lvl := slog.LevelInfo
			if verbose {
				lvl = slog.LevelDebug
			}
			o.Out = cmd.OutOrStdout()
			o.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: lvl}))
			o.ShutdownTimeout = 5 * time.Second
			return demo.Serve(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.DataDir, "data-dir", cli.DefaultDataDir("demo"), "demo data directory: issuer/ (SQLite, keys, dev PKI, JPKI test CA, as mdoc-issuer --data-dir) and verifier/ (reader certificates and keys); reused across runs")
	f.StringVar(&o.IssuerListen, "issuer-listen", demo.DefaultIssuerListen, "issuer listen address (loopback)")
	f.StringVar(&o.VerifierListen, "verifier-listen", demo.DefaultVerifierListen, "verifier listen address (loopback)")
	f.BoolVarP(&verbose, "verbose", "v", false, "debug logging")
	return cmd
}
