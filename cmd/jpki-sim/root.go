package main

import (
	"context"
	"io"

	"github.com/mynumber-mdoc/mnc/internal/cli"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit statuses.
const (
	exitOK    = cli.ExitOK
	exitFail  = cli.ExitFailure // the operation failed (verification refused, file missing, …)
	exitUsage = cli.ExitUsage   // bad command line
)

// newRootCmd is the command tree: one constructor per subcommand.
func newRootCmd() *cobra.Command {
	return cli.NewRoot("jpki-sim", "A local JPKI test CA and card simulator (stands in for J-LIS)",
		`jpki-sim makes JPKI test roots, issues card and smartphone certificates for test
persons, writes simulated cards (JPKI applet state files), revokes, publishes CRLs and
runs a user authentication against a simulated card with chain and CRL checks.

A CA directory holds ca.json (root keys and records, mode 0600), roots.pem (the roots
for a verifier) and crl/ (CRLs named after their distribution point, the layout
jpki.CRLDir reads). Card files are simulated JPKI applets: they hold private keys. All
of it is test material. mdoc-issuer serve keeps such a CA in <data-dir>/jpki-testca:
make cards there (person --dir) for the issuer to accept them.

Typical session:
  jpki-sim init --dir ca
  jpki-sim person --dir ca --name "山田　太郎" --birth 1990-04-01 --sex 1 \
      --address "東京都千代田区千代田1-1" --out card.json --sign-password ABC123 --auth-pin 1234
  jpki-sim crl --dir ca
  jpki-sim auth --card card.json --pin 1234 --roots ca/roots.pem --crl-dir ca/crl --test-roots
  jpki-sim revoke --dir ca --serial 1002 --reason keyCompromise && jpki-sim crl --dir ca
  jpki-sim auth ...            # now fails: revoked

Exit status: 0 success, 1 the operation failed, 2 usage error.`,
		newInitCmd(), newRolloverCmd(), newPersonCmd(), newPhoneCmd(), newPhoneCertCmd(),
		newRevokeCmd(), newCRLCmd(), newListCmd(), newShowCmd(), newAuthCmd(), newServeCmd())
}

func program() *cli.Program { return &cli.Program{Root: newRootCmd} }

// run executes one command line; tests call it like main does.
func run(args []string, stdout, stderr io.Writer) int {
	return program().Run(context.Background(), args, nil, stdout, stderr)
}

// action is a command body: flags registers the command's flags and
// returns what to run once they are parsed.
type action func(fs *pflag.FlagSet) func(ctx context.Context, fs *pflag.FlagSet, out io.Writer) error

// leaf makes a subcommand from its texts and its action.
func leaf(use, short, long, example string, args cobra.PositionalArgs, a action) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Long: long, Example: example, Args: args}
	run := a(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return run(cmd.Context(), cmd.Flags(), cmd.OutOrStdout())
	}
	return cmd
}

func newInitCmd() *cobra.Command {
	return leaf("init --dir DIR", "Create a CA directory with signature and auth roots (RSA-2048, 10 years)",
		"Init creates a CA directory: one signature root and one user-authentication root, O=JPKI-TEST unless --production-dn.",
		"  jpki-sim init --dir ca", cobra.NoArgs, cmdInit)
}

func newRolloverCmd() *cobra.Command {
	return leaf("rollover --dir DIR", "Add a new root generation (same DNs, new keys); later certificates use it",
		"Rollover adds a root generation under the same names, as J-LIS does; verifiers choose the root by signature.",
		"  jpki-sim rollover --dir ca", cobra.NoArgs, cmdRollover)
}

func newPersonCmd() *cobra.Command {
	return leaf("person --dir DIR --name NAME --birth YYYY-MM-DD --sex N --address ADDR --out CARD.json [flags]",
		"Issue card certificates for a test person and write a simulated card",
		`Person issues the signature certificate (with the four basic facts) and the user
authentication certificate of a test person, and writes a simulated card holding their keys.`,
		`  jpki-sim person --dir ca --name "山田　太郎" --birth 1990-04-01 --sex 1 \
      --address "東京都千代田区千代田1-1" --out card.json --sign-password ABC123 --auth-pin 1234`,
		cobra.NoArgs, cmdPerson)
}

func newPhoneCmd() *cobra.Command {
	return leaf("phone --dir DIR --card CARD.json --card-password PW --out PHONE.json [flags]",
		"Issue smartphone certificates from a simulated card and write a phone token",
		"Phone issues the smartphone JPKI certificates for the person of a card, with keys in a simulated GP-SE or iPhone token.",
		"  jpki-sim phone --dir ca --card card.json --card-password ABC123 --out phone.json --sign-password PHONE1 --auth-pin 5678",
		cobra.NoArgs, cmdPhone)
}

func newPhoneCertCmd() *cobra.Command {
	return leaf("phone-cert --dir DIR --card-cert CERT --kind sign|auth --pubkey FILE.pem --out FILE [flags]",
		"Issue one smartphone certificate for a public key generated elsewhere",
		"Phone-cert issues one smartphone certificate for a key made in a real or simulated secure element.",
		"  jpki-sim phone-cert --dir ca --card-cert card-sign.pem --kind auth --pubkey se-pub.pem --out auth.pem",
		cobra.NoArgs, cmdPhoneCert)
}

func newRevokeCmd() *cobra.Command {
	return leaf("revoke --dir DIR --serial N [--reason R]",
		"Revoke a certificate by serial (linked: its phone certificates too)",
		"Revoke marks a certificate revoked; revoking a card certificate revokes the phone certificates issued from it. Run crl to publish.",
		"  jpki-sim revoke --dir ca --serial 1002 --reason keyCompromise", cobra.NoArgs, cmdRevoke)
}

func newCRLCmd() *cobra.Command {
	return leaf("crl --dir DIR", "Publish one CRL per distribution point into the CRL directory",
		"CRL writes the CRLs under DIR/crl, named after their distribution point (the layout jpki.CRLDir reads).",
		"  jpki-sim crl --dir ca", cobra.NoArgs, cmdCRL)
}

func newListCmd() *cobra.Command {
	return leaf("list --dir DIR", "List issued certificates and their revocation state",
		"List prints every certificate the CA issued: serial, kind, form, root generation, id, expiry and state.",
		"  jpki-sim list --dir ca", cobra.NoArgs, cmdList)
}

func newShowCmd() *cobra.Command {
	return leaf("show CARD.json", "Show a simulated card: token, certificates, facts, tries left",
		"Show prints what a card file holds, without its keys.",
		"  jpki-sim show card.json", cobra.ExactArgs(1), cmdShow)
}

func newAuthCmd() *cobra.Command {
	return leaf("auth --card CARD.json --pin PIN --roots ROOTS.pem --crl-dir DIR [flags]",
		"Run a user authentication on a simulated card and verify it (chain + CRL)",
		"Auth signs a fresh nonce with the card's authentication key and verifies signature, chain and revocation as a relying party would.",
		"  jpki-sim auth --card card.json --pin 1234 --roots ca/roots.pem --crl-dir ca/crl --test-roots",
		cobra.NoArgs, cmdAuth)
}

func newServeCmd() *cobra.Command {
	return leaf("serve --card CARD.json [--vpcd ADDR]",
		"Put a simulated card into the vpcd virtual reader (pcscd + vsmartcard-vpcd) until interrupted",
		`Serve taps a simulated My Number Card (or phone token) on a PC/SC reader: the card becomes
a virtual card of the vsmartcard vpcd driver that pcscd loads (apt-get install -y pcscd
vsmartcard-vpcd; start pcscd as root), and answers as the JPKI AP with its real PIN
counters, written back to the card file after each change. Readers such as
mdoc-verifier nfc then see it as any card in "Virtual PCD 00 00". Ctrl-C takes it away.`,
		"  jpki-sim serve --card card.json &\n  mdoc-verifier nfc --trust iaca.pem --jpki-roots ca/roots.pem --jpki-crl-dir ca/crl --jpki-test --pin 1234",
		cobra.NoArgs, cmdServe)
}
