package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/mynumber-mdoc/mnc/internal/cli"
	"github.com/mynumber-mdoc/mnc/issuer"
	"github.com/mynumber-mdoc/mnc/issuer/app"
	"github.com/mynumber-mdoc/mnc/issuer/store"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
	"github.com/spf13/cobra"
)

// newAdminChangeCmd makes suspend, resume and revoke: one lifecycle action
// on a device or on every device of a person.
func newAdminChangeCmd(c *common, action, short, effect string) *cobra.Command {
	var device, person, reason string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   action + " (--device ID | --person ID) [--reason TEXT]",
		Short: short,
		Long: fmt.Sprintf(`%s changes the credentials of one device (--device) or of every device of a person
(--person): they become %s. The change is in the audit log with --reason.`, strings.ToUpper(action[:1])+action[1:], effect),
		Example: fmt.Sprintf("  mdoc-issuer %s --person P-1 --reason \"lost phone, support call 2025-06-01\"", action),
		Args:    cobra.NoArgs,
		RunE: withApp(c, func(cmd *cobra.Command, a *app.App, _ []string) error {
			r, err := a.Service.AdminChange(cmd.Context(), issuer.AdminTarget{DeviceID: device, PersonID: person}, action, reason, "admin-cli")
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), r)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d device(s) changed %v, %d credential(s) updated\n", action, len(r.DeviceIDs), r.DeviceIDs, r.CredentialsChanged)
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&device, "device", "", "device id")
	f.StringVar(&person, "person", "", "person id (all of the person's devices)")
	f.StringVar(&reason, "reason", "", "reason, recorded in the audit log")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	cmd.MarkFlagsOneRequired("device", "person")
	cmd.MarkFlagsMutuallyExclusive("device", "person")
	return cmd
}

// newBlockCmd makes block-model, unblock-model, block-os and unblock-os.
func newBlockCmd(c *common, name, arg, short string, block bool) *cobra.Command {
	kind := store.BlockModel
	if strings.HasSuffix(name, "-os") {
		kind = store.BlockOS
	}
	var reason string
	var suspendExisting, asJSON bool
	example := fmt.Sprintf("  mdoc-issuer %s \"Pixel 8\"", name)
	if kind == store.BlockOS {
		example = fmt.Sprintf("  mdoc-issuer %s \"Android 14\"", name)
	}
	long := short + ". Enrolment from it is refused until it is unblocked."
	if block {
		example += " --reason CVE-2025-0001 --suspend-existing"
		long += " With --suspend-existing the credentials already on it are suspended too."
	} else {
		long = short + ". Credentials suspended by the block become usable again."
	}
	cmd := &cobra.Command{
		Use:     name + " " + arg,
		Short:   short,
		Long:    long,
		Example: example,
		Args:    cobra.ExactArgs(1),
		RunE: withApp(c, func(cmd *cobra.Command, a *app.App, args []string) error {
			var r *oid4vci.LifecycleResponse
			var err error
			if block {
				r, err = a.Service.Block(cmd.Context(), issuer.BlockRequest{Kind: kind, Value: args[0], Reason: reason, SuspendExisting: &suspendExisting}, "admin-cli")
			} else {
				r, err = a.Service.Unblock(cmd.Context(), kind, args[0], "admin-cli")
			}
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), r)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %q: %d device(s) now %s\n", name, args[0], len(r.DeviceIDs), r.State)
			return nil
		}),
	}
	if block {
		cmd.Flags().StringVar(&reason, "reason", "", "reason (e.g. the CVE)")
		cmd.Flags().BoolVar(&suspendExisting, "suspend-existing", false, "also suspend existing credentials on it")
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newBlocksCmd(c *common) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "blocks",
		Short:   "List model and OS restrictions",
		Long:    "Blocks lists the device models and OS versions that may not enrol, newest first.",
		Example: "  mdoc-issuer blocks --json",
		Args:    cobra.NoArgs,
		RunE: withApp(c, func(cmd *cobra.Command, a *app.App, _ []string) error {
			b, err := a.Store.Blocks(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), b)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KIND\tVALUE\tSUSPEND\tSINCE\tREASON")
			for _, x := range b {
				fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\n", x.Kind, x.Value, x.SuspendExisting, x.CreatedAt.Format("2006-01-02 15:04"), x.Reason)
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newInsuranceImportCmd(c *common) *cobra.Command {
	return &cobra.Command{
		Use:     "insurance-import FILE.csv",
		Short:   "Load the health-insurance qualification registry from CSV",
		Long:    "Insurance-import loads qualification records; enrolment issues the health-insurance document to persons found there.",
		Example: "  mdoc-issuer insurance-import qualifications.csv",
		Args:    cobra.ExactArgs(1),
		RunE: withApp(c, func(cmd *cobra.Command, a *app.App, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			n, err := a.Service.ImportInsurance(cmd.Context(), f, "admin-cli")
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "imported %d insurance qualification(s)\n", n)
			return nil
		}),
	}
}

func newListDevicesCmd(c *common) *cobra.Command {
	var person string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list-devices [--person ID] [--limit N]",
		Short:   "List enrolled devices and their state",
		Long:    "List-devices shows enrolled phones, newest first: person, state, model, OS and why the state changed.",
		Example: "  mdoc-issuer list-devices --person P-1 --json",
		Args:    cobra.NoArgs,
		RunE: withApp(c, func(cmd *cobra.Command, a *app.App, _ []string) error {
			d, err := a.Service.Devices(cmd.Context(), person, limit)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), issuer.DeviceViews(d))
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DEVICE\tPERSON\tSTATE\tMODEL\tOS\tENROLLED\tREASON")
			for _, x := range d {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.ID, x.PersonID, x.State, x.Model, x.OSVersion, x.CreatedAt.Format("2006-01-02 15:04"), x.StateReason)
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().StringVar(&person, "person", "", "person id")
	cmd.Flags().IntVar(&limit, "limit", 50, "maximum rows")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newAuditCmd(c *common) *cobra.Command {
	var device, person string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "audit [--device ID] [--person ID] [--limit N]",
		Short:   "Show the audit log",
		Long:    "Audit prints who did what to which device, newest first.",
		Example: "  mdoc-issuer audit --device D-1 --limit 20",
		Args:    cobra.NoArgs,
		RunE: withApp(c, func(cmd *cobra.Command, a *app.App, _ []string) error {
			l, err := a.Service.Audit(cmd.Context(), device, person, limit)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), issuer.AuditViews(l))
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "AT\tACTOR\tACTION\tDEVICE\tDETAIL")
			for _, x := range l {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", x.At.Format("2006-01-02 15:04:05"), x.Actor, x.Action, x.DeviceID, x.Detail)
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().StringVar(&device, "device", "", "device id")
	cmd.Flags().StringVar(&person, "person", "", "person id")
	cmd.Flags().IntVar(&limit, "limit", 50, "maximum rows")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newReaderCertCmd(c *common) *cobra.Command {
	var pubkey, cn, out string
	var medical, indivNum bool
	cmd := &cobra.Command{
		Use:   "reader-cert --pubkey FILE.pem --cn NAME [--medical] [--individual-number] [--out FILE]",
		Short: "Issue a reader authentication certificate from the issuer's reader CA",
		Long: `Reader-cert issues a reader certificate (ISO/IEC 18013-5 ReaderAuth) for a verifier's
public key. --medical lets the reader receive health-insurance elements; wallets trust
the reader CA printed by serve.`,
		Example: "  mdoc-issuer reader-cert --pubkey clinic-pub.pem --cn \"Clinic A\" --medical --out clinic.pem",
		Args:    cobra.NoArgs,
		RunE: withApp(c, func(cmd *cobra.Command, a *app.App, _ []string) error {
			b, err := os.ReadFile(pubkey)
			if err != nil {
				return err
			}
			p, err := a.Service.IssueReaderCertificate(cmd.Context(), issuer.ReaderCertificateRequest{PublicKeyPEM: string(b), CommonName: cn, Medical: medical, IndividualNumber: indivNum}, "admin-cli")
			if err != nil {
				return err
			}
			if out == "" {
				_, err = cmd.OutOrStdout().Write(p)
				return err
			}
			if err := os.WriteFile(out, p, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "reader certificate written to %s (reader CA: %s)\n", out, a.PKI.ReaderCAPath)
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&pubkey, "pubkey", "", "reader public key, PEM PUBLIC KEY (required)")
	f.StringVar(&cn, "cn", "", "reader common name, e.g. the clinic (required)")
	f.BoolVar(&medical, "medical", false, "medical institution: may receive health-insurance elements")
	f.BoolVar(&indivNum, "individual-number", false, "authorised to receive the My Number")
	f.StringVar(&out, "out", "", "write the certificate here (default stdout)")
	_ = cmd.MarkFlagRequired("pubkey")
	_ = cmd.MarkFlagRequired("cn")
	return cmd
}

func newRevokeCertCmd(c *common) *cobra.Command {
	var caName string
	var reasonCode int
	cmd := &cobra.Command{
		Use:   "revoke-cert --ca iaca|reader-ca [--reason-code N] CERT.pem",
		Short: "Put a Document Signer, status-list signer or reader certificate on its CA's CRL",
		Long: `Revoke-cert revokes a certificate the issuer's PKI made: a Document Signer or status-list
signer (--ca iaca, served at /pki/iaca.crl) or a reader certificate (--ca reader-ca,
/pki/reader-ca.crl).`,
		Example: "  mdoc-issuer revoke-cert --ca reader-ca --reason-code 1 clinic.pem",
		Args:    cobra.ExactArgs(1),
		RunE: withApp(c, func(cmd *cobra.Command, a *app.App, args []string) error {
			if caName != "iaca" && caName != "reader-ca" {
				return cli.Usagef("--ca must be iaca or reader-ca, not %q", caName)
			}
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			if err := a.Service.RevokeIssuerCertificate(cmd.Context(), issuer.CertificateRevocationRequest{CA: caName, CertificatePEM: string(b), ReasonCode: reasonCode}, "admin-cli"); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked; served at %s/pki/%s.crl from the next request\n", a.Service.Config().IssuerURL, caName)
			return nil
		}),
	}
	cmd.Flags().StringVar(&caName, "ca", "", `issuing CA: "iaca" (Document Signer, status-list signer) or "reader-ca" (required)`)
	cmd.Flags().IntVar(&reasonCode, "reason-code", 0, "RFC 5280 CRLReason: 0 unspecified, 1 keyCompromise, 4 superseded, 5 cessationOfOperation")
	_ = cmd.MarkFlagRequired("ca")
	return cmd
}

func newCRLPollCmd(c *common) *cobra.Command {
	return &cobra.Command{
		Use:     "crl-poll",
		Short:   "Run linked revocation now: revoke phones whose card certificate is revoked",
		Long:    "Crl-poll fetches the JPKI CRLs now (serve does it every --crl-poll) and revokes the phone credentials of revoked cards.",
		Example: "  mdoc-issuer crl-poll --jpki-crl-dir crl",
		Args:    cobra.NoArgs,
		RunE: withApp(c, func(cmd *cobra.Command, a *app.App, _ []string) error {
			n, err := a.Service.PollCRLs(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "linked revocation: %d device(s) revoked\n", n)
			return nil
		}),
	}
}

func newIACACmd(c *common) *cobra.Command {
	var withPEM bool
	cmd := &cobra.Command{
		Use:     "iaca [--pem]",
		Short:   "Print the path of the IACA certificate (and the PEM with --pem)",
		Long:    "IACA prints where the issuer's IACA root is: the certificate wallets and verifiers trust.",
		Example: "  mdoc-verifier reader --trust \"$(mdoc-issuer iaca)\" --qr-file qr.txt",
		Args:    cobra.NoArgs,
		RunE: withApp(c, func(cmd *cobra.Command, a *app.App, _ []string) error {
			abs, _ := filepath.Abs(a.PKI.IACAPath)
			fmt.Fprintln(cmd.OutOrStdout(), abs)
			if withPEM {
				b, err := os.ReadFile(a.PKI.IACAPath)
				if err != nil {
					return err
				}
				_, err = cmd.OutOrStdout().Write(b)
				return err
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&withPEM, "pem", false, "print the PEM too")
	return cmd
}
