package main

import (
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mynumber-mdoc/mnc/internal/attestcheck"
	"github.com/mynumber-mdoc/mnc/internal/cli"
)

// newAttestationCmd is the attestation group: check, for wallet providers
// to test their app's platform attestations against what the issuer
// accepts. It opens no issuer.
func newAttestationCmd() *cobra.Command {
	var o attestcheck.Options
	long, example, _ := strings.Cut(attestcheck.Long, "\nExamples:\n")
	check := &cobra.Command{
		Use:     attestcheck.Usage[len("attestation "):],
		Short:   attestcheck.Short,
		Long:    strings.TrimSpace(long),
		Example: strings.TrimRight(example, "\n"),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.File = args[0]
			switch attestcheck.Run(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr()) {
			case attestcheck.ExitOK:
				return nil
			case attestcheck.ExitUsage:
				return &cli.Error{Exit: cli.ExitUsage, Code: "usage", Err: errors.New("usage error"), Silent: true}
			default:
				return &cli.Error{Exit: cli.ExitFailure, Code: "attestation_refused", Err: errors.New("the attestation does not hold"), Silent: true}
			}
		},
	}
	f := check.Flags()
	f.StringVar(&o.Format, "format", "", "android-key or apple-appattest (required)")
	f.StringVar(&o.Challenge, "challenge", "", "expected Android attestationChallenge, hex")
	f.StringVar(&o.ClientDataHash, "client-data-hash", "", "expected App Attest clientDataHash, hex")
	f.StringVar(&o.AppID, "app-id", "", "expected Android package name, or App Attest app id TEAMID.bundle.id")
	f.StringVar(&o.KeyID, "key-id", "", "expected App Attest key id, base64")
	f.StringVar(&o.Environment, "environment", "production", "production or development")
	f.StringVar(&o.Roots, "roots", "", "PEM file of trusted roots, replacing the built-in ones")
	f.StringVar(&o.At, "at", "", "verification time, RFC 3339 (default now)")
	f.BoolVar(&o.JSON, "json", false, "print the result as JSON")
	_ = check.MarkFlagRequired("format")
	return cli.Group(&cobra.Command{
		Use:     "attestation",
		Short:   "Platform key attestation tools for wallet providers",
		Long:    "Attestation groups the tools wallet providers use to check their app's Android Key Attestation chains and Apple App Attest objects against what this issuer accepts.",
		Example: "  mdoc-issuer attestation check --format android-key --challenge 7465737461736466 chain.pem",
	}, check)
}
