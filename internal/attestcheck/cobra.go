package attestcheck

import (
	"fmt"

	"github.com/spf13/cobra"
)

// ExitError carries the command's exit code (1 refused, 2 usage) to the
// root command, which exits with it.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// NewCommand returns `check` for an `attestation` parent command
// (`mdoc-issuer attestation check`). It writes to the command's out and
// err writers and returns *ExitError for a non-zero exit; flag and
// argument errors are cobra's (the root maps them to exit 2).
func NewCommand() *cobra.Command {
	var o Options
	cmd := &cobra.Command{
		Use:           "check --format android-key|apple-appattest [flags] FILE",
		Short:         Short,
		Long:          Long,
		Args:          cobra.ExactArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.File = args[0]
			if code := Run(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr()); code != ExitOK {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Format, "format", "", "android-key or apple-appattest (required)")
	f.StringVar(&o.Challenge, "challenge", "", "expected Android attestationChallenge, hex")
	f.StringVar(&o.ClientDataHash, "client-data-hash", "", "expected App Attest clientDataHash, hex")
	f.StringVar(&o.AppID, "app-id", "", "expected Android package name, or App Attest app id TEAMID.bundle.id")
	f.StringVar(&o.KeyID, "key-id", "", "expected App Attest key id, base64")
	f.StringVar(&o.Environment, "environment", "production", "production or development")
	f.StringVar(&o.Roots, "roots", "", "PEM file of trusted roots, replacing the built-in ones")
	f.StringVar(&o.At, "at", "", "verification time, RFC 3339 (default now)")
	f.BoolVar(&o.JSON, "json", false, "print the result as JSON")
	return cmd
}
