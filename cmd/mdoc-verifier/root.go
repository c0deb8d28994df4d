package main

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"github.com/mynumber-mdoc/mnc/internal/cli"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/spf13/cobra"
)

// Exit statuses (the CLI contract).
const (
	exitValid   = cli.ExitOK
	exitInvalid = cli.ExitFailure
	exitUsage   = cli.ExitUsage
)

// newRootCmd is the command tree: one constructor per subcommand.
func newRootCmd() *cobra.Command {
	return cli.NewRoot("mdoc-verifier", "Verify ISO/IEC 18013-5 mdoc presentations",
		`mdoc-verifier checks mdoc presentations against trusted IACA roots: a recorded
DeviceResponse (verify), online presentations with a web page (serve), and
in-person presentations from a scanned QR code (reader), and taps on a PC/SC NFC
reader: phones with mdocs and My Number Cards (nfc).

Exit status: 0 valid, 1 invalid, 2 usage error.`,
		newVerifyCmd(), newServeCmd(), newReaderCmd(), newNFCCmd())
}

func program() *cli.Program {
	return &cli.Program{Root: newRootCmd, Code: errorCode}
}

// errorCode gives failures the mdoc error code they carry, if any.
func errorCode(err error) string {
	return string(mdoc.CodeOf(err))
}

// run executes one command line; tests call it like main does.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return program().Run(ctx, args, stdin, stdout, stderr)
}

// usagef marks a command-line mistake (exit 2).
func usagef(format string, args ...any) error { return cli.Usagef(format, args...) }

// listFlag collects a repeatable flag; commas also separate values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Type() string   { return "list" }
func (l *listFlag) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

func newLogger(w io.Writer, verbose bool) *slog.Logger {
	lvl := slog.LevelWarn
	if verbose {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl}))
}
