package main

import (
	"github.com/spf13/cobra"

	"github.com/mynumber-mdoc/mnc/internal/attestcheck"
	"github.com/mynumber-mdoc/mnc/internal/cli"
)

// newAttestationCmd is the attestation group: check, for wallet providers
// to test their app's platform attestations against what the issuer
// accepts. It opens no issuer.
func newAttestationCmd() *cobra.Command {
	return cli.Group(&cobra.Command{
		Use:     "attestation",
		Short:   "Platform key attestation tools for wallet providers",
		Long:    "Attestation groups the tools wallet providers use to check their app's Android Key Attestation chains and Apple App Attest objects against what this issuer accepts.",
		Example: "  mdoc-issuer attestation check --format android-key --challenge 7465737461736466 chain.pem",
	}, attestcheck.NewCommand())
}
