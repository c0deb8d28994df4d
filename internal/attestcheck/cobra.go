package attestcheck

import (
	"errors"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mynumber-mdoc/mnc/internal/cli"
)

// bindFlags registers the command's flags on fs: the one definition that
// both NewCommand and ParseArgs use.
func bindFlags(fs *pflag.FlagSet, o *Options) {
	fs.StringVar(&o.Format, "format", "", "android-key or apple-appattest (required)")
	fs.StringVar(&o.Challenge, "challenge", "", "expected Android attestationChallenge, hex")
	fs.StringVar(&o.ClientDataHash, "client-data-hash", "", "expected App Attest clientDataHash, hex")
	fs.StringVar(&o.AppID, "app-id", "", "expected Android package name, or App Attest app id TEAMID.bundle.id")
	fs.StringVar(&o.KeyID, "key-id", "", "expected App Attest key id, base64")
	fs.StringVar(&o.Environment, "environment", "production", "production or development")
	fs.StringVar(&o.Roots, "roots", "", "PEM file of trusted roots, replacing the built-in ones")
	fs.StringVar(&o.At, "at", "", "verification time, RFC 3339 (default now)")
	fs.BoolVar(&o.JSON, "json", false, "print the result as JSON")
}

// NewCommand returns `check` for an `attestation` parent command
// (`mdoc-issuer attestation check`), in the project's command-line style:
// results and refusals are written by Run; a refusal exits 1 and a usage
// error 2 through cli.Error.
func NewCommand() *cobra.Command {
	var o Options
	long, example, _ := strings.Cut(Long, "\nExamples:\n")
	cmd := &cobra.Command{
		Use:     Usage[len("attestation "):],
		Short:   Short,
		Long:    strings.TrimSpace(long),
		Example: strings.TrimRight(example, "\n"),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.File = args[0]
			switch Run(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr()) {
			case ExitOK:
				return nil
			case ExitUsage:
				return &cli.Error{Exit: cli.ExitUsage, Code: "usage", Err: errors.New("usage error"), Silent: true}
			default:
				return &cli.Error{Exit: cli.ExitFailure, Code: "attestation_refused", Err: errors.New("the attestation does not hold"), Silent: true}
			}
		},
	}
	bindFlags(cmd.Flags(), &o)
	_ = cmd.MarkFlagRequired("format")
	return cmd
}
