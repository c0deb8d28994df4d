// Command mdoc-issuer runs the My Number Card mdoc issuer (OpenID4VCI) and
// its administration commands. Run "mdoc-issuer help" for usage.
package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/mynumber-mdoc/mnc/internal/attestcheck"
	"github.com/mynumber-mdoc/mnc/issuer"
	"github.com/mynumber-mdoc/mnc/issuer/app"
	"github.com/mynumber-mdoc/mnc/issuer/store"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

const usage = `mdoc-issuer: OpenID4VCI issuer of My Number Card mdocs (development defaults: no flags needed)

Usage:
  mdoc-issuer serve [flags]                         start the issuer (default 127.0.0.1:8080, data in ./mnc-issuer-data)
  mdoc-issuer suspend  (--device ID | --person ID) [--reason TEXT]   lost phone: temporary suspension
  mdoc-issuer resume   (--device ID | --person ID)                   phone found: usable again
  mdoc-issuer revoke   (--device ID | --person ID) [--reason TEXT]   permanent, queues a remote delete
  mdoc-issuer block-model MODEL [--reason TEXT] [--suspend-existing]   emergency restriction of a model
  mdoc-issuer unblock-model MODEL
  mdoc-issuer block-os VERSION [--reason TEXT] [--suspend-existing]    emergency restriction of an OS version
  mdoc-issuer unblock-os VERSION
  mdoc-issuer blocks                                list restrictions
  mdoc-issuer insurance-import FILE.csv             load the insurance qualification registry
  mdoc-issuer list-devices [--person ID] [--limit N]
  mdoc-issuer audit [--device ID] [--person ID] [--limit N]
  mdoc-issuer reader-cert --pubkey FILE.pem --cn NAME [--medical] [--individual-number] [--out FILE]
  mdoc-issuer revoke-cert --ca iaca|reader-ca [--reason-code N] CERT.pem
                                                    put a Document Signer / status-list signer (iaca) or a reader
                                                    certificate (reader-ca) on that CA's CRL (/pki/iaca.crl, /pki/reader-ca.crl)
  mdoc-issuer crl-poll                              linked revocation now
  mdoc-issuer iaca                                  print the IACA certificate path (and PEM with --pem)
  mdoc-issuer attestation check --format android-key|apple-appattest [--challenge HEX] [--client-data-hash HEX]
              [--app-id ID] [--key-id BASE64] [--environment production|development] [--roots PEM]
              [--at RFC3339] [--json] FILE          verify a platform key attestation, print the attested facts

Common flags (every command): --data-dir, --postgres, --pkcs11-module, --pkcs11-token, --pkcs11-pin,
--production, --jpki-roots, --jpki-crl-dir, --jpki-ca-dir, --attestation-roots, --json.
Administration commands work on the data directory directly (the server may be running).
Environment: MNC_ISSUER_PKCS11_PIN may hold the PIN instead of --pkcs11-pin.
`

func main() {
	if len(os.Args) < 2 || os.Args[1] == "help" || os.Args[1] == "-h" || os.Args[1] == "--help" {
		fmt.Print(usage)
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	cmd, args := os.Args[1], os.Args[2:]
	if cmd == "attestation" && len(args) > 0 && args[0] == "check" {
		o, err := attestcheck.ParseArgs(args[1:], os.Stderr)
		if err != nil {
			fmt.Fprintf(os.Stderr, "mdoc-issuer attestation check: %v\n", err)
			os.Exit(attestcheck.ExitUsage)
		}
		os.Exit(attestcheck.Run(context.Background(), o, os.Stdout, os.Stderr))
	}
	if err := run(cmd, args); err != nil {
		var e *oid4vci.Error
		if errors.As(err, &e) {
			fmt.Fprintf(os.Stderr, "mdoc-issuer %s: %s (%s)\n", cmd, e.Description, e.Code)
		} else {
			fmt.Fprintf(os.Stderr, "mdoc-issuer %s: %v\n", cmd, err)
		}
		os.Exit(1)
	}
}

type common struct {
	opts          app.Options
	asJSON        bool
	models        string
	walletDigests string
	verbose       bool
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.opts.DataDir, "data-dir", app.DefaultDataDir, "data directory (database, keys, certificates, admin token); created on first run")
	fs.StringVar(&c.opts.PostgresDSN, "postgres", "", "PostgreSQL DSN (postgres://user:pass@host/db); default SQLite in the data directory")
	fs.StringVar(&c.opts.PKCS11.Module, "pkcs11-module", "", "PKCS#11 module for the signing keys (e.g. /usr/lib/softhsm/libsofthsm2.so); default file keys")
	fs.StringVar(&c.opts.PKCS11.TokenLabel, "pkcs11-token", "", "PKCS#11 token label")
	fs.StringVar(&c.opts.PKCS11.PIN, "pkcs11-pin", os.Getenv("MNC_ISSUER_PKCS11_PIN"), "PKCS#11 user PIN (or MNC_ISSUER_PKCS11_PIN)")
	fs.BoolVar(&c.opts.Production, "production", false, "production mode: refuse file keys and JPKI test roots, disable /dev/attest")
	fs.StringVar(&c.opts.JPKIRootsFile, "jpki-roots", "", "PEM file of trusted JPKI roots (production); default the development test CA")
	fs.StringVar(&c.opts.JPKICRLDir, "jpki-crl-dir", "", "directory of JPKI CRLs named by distribution point")
	fs.StringVar(&c.opts.JPKICADir, "jpki-ca-dir", "", "development JPKI test CA directory (default <data-dir>/jpki-testca; may be a jpki-sim CA)")
	fs.StringVar(&c.opts.AttestationRootsFile, "attestation-roots", "", "PEM file of platform key-attestation roots (required in production)")
	fs.StringVar(&c.opts.WalletAndroidPackage, "wallet-android-package", "", "Android package name of the wallet app the platform must attest (required in production)")
	fs.StringVar(&c.walletDigests, "wallet-android-signing-digest", "", "comma-separated hex SHA-256 of the wallet APK signing certificate (required in production)")
	fs.StringVar(&c.opts.WalletAppleAppID, "wallet-apple-app-id", "", "App Attest app id TEAMID.bundle.id of the wallet app (required in production)")
	fs.BoolVar(&c.opts.AttestationRequireStrongBox, "attestation-require-strongbox", false, "accept only StrongBox-backed Android device keys (default: TEE or StrongBox)")
	fs.StringVar(&c.opts.AttestationMinPatch, "attestation-min-patch", "", "refuse Android devices below this security patch level (YYYY-MM)")
	fs.StringVar(&c.opts.AttestationStatus, "attestation-status", "", "Google attestation status list, file or URL (production default: Google's URL)")
	fs.StringVar(&c.models, "allowed-models", "", "comma-separated device model allow-list (default: the built-in development list)")
	fs.BoolVar(&c.asJSON, "json", false, "print JSON")
	fs.BoolVar(&c.verbose, "v", false, "debug logging")
}

func (c *common) open(ctx context.Context) (*app.App, error) {
	if c.models != "" {
		c.opts.AllowedModels = strings.Split(c.models, ",")
	}
	if c.walletDigests != "" {
		c.opts.WalletAndroidSigningDigests = strings.Split(c.walletDigests, ",")
	}
	lvl := slog.LevelInfo
	if c.verbose {
		lvl = slog.LevelDebug
	}
	c.opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	return app.Open(ctx, c.opts)
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func run(cmd string, args []string) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage+"\nFlags of "+cmd+":\n"); fs.PrintDefaults() }
	var c common
	c.register(fs)
	var (
		device, person, reason, pubkey, cn, out string
		suspendExisting, medical, indivNum, pem bool
		limit, reasonCode                       int
		caName                                  string
	)
	switch cmd {
	case "serve":
		fs.StringVar(&c.opts.Listen, "listen", app.DefaultListen, "listen address")
		fs.StringVar(&c.opts.PublicURL, "public-url", "", "public base URL, the credential issuer identifier (default http://<listen>)")
		fs.StringVar(&c.opts.WebhookURL, "webhook", "", "notification webhook URL (JSON POST per event)")
		fs.StringVar(&c.opts.SMTPAddr, "smtp", "", "SMTP server host:port for e-mail notifications")
		fs.StringVar(&c.opts.SMTPFrom, "smtp-from", "issuer@localhost", "From address of notification e-mail")
		fs.StringVar(&c.opts.SMTPUser, "smtp-user", "", "SMTP user (PLAIN auth)")
		fs.StringVar(&c.opts.SMTPPass, "smtp-password", os.Getenv("MNC_ISSUER_SMTP_PASSWORD"), "SMTP password (or MNC_ISSUER_SMTP_PASSWORD)")
		fs.DurationVar(&c.opts.CRLPollInterval, "crl-poll", app.DefaultCRLPoll, "interval of the CRL poll that drives linked revocation")
		fs.BoolVar(&c.opts.SuspendOnBlock, "suspend-on-block", false, "blocking a model or OS suspends existing credentials unless the block says otherwise")
		fs.BoolVar(&c.opts.RequireTxCode, "require-tx-code", false, "enrolment offers need a 6-digit tx_code, sent only by e-mail (SMTP) to the contact_email of the application; needs --smtp")
	case "suspend", "resume", "revoke":
		fs.StringVar(&device, "device", "", "device id")
		fs.StringVar(&person, "person", "", "person id (all of the person's devices)")
		fs.StringVar(&reason, "reason", "", "reason, recorded in the audit log")
	case "block-model", "block-os":
		fs.StringVar(&reason, "reason", "", "reason (e.g. the CVE)")
		fs.BoolVar(&suspendExisting, "suspend-existing", false, "also suspend existing credentials on it")
	case "list-devices", "audit":
		fs.StringVar(&device, "device", "", "device id")
		fs.StringVar(&person, "person", "", "person id")
		fs.IntVar(&limit, "limit", 50, "maximum rows")
	case "reader-cert":
		fs.StringVar(&pubkey, "pubkey", "", "reader public key, PEM PUBLIC KEY")
		fs.StringVar(&cn, "cn", "", "reader common name (e.g. the clinic)")
		fs.BoolVar(&medical, "medical", false, "medical institution: may receive health-insurance elements")
		fs.BoolVar(&indivNum, "individual-number", false, "authorised to receive the My Number")
		fs.StringVar(&out, "out", "", "write the certificate here (default stdout)")
	case "iaca":
		fs.BoolVar(&pem, "pem", false, "print the PEM too")
	case "revoke-cert":
		fs.StringVar(&caName, "ca", "", `issuing CA: "iaca" (Document Signer, status-list signer) or "reader-ca"`)
		fs.IntVar(&reasonCode, "reason-code", 0, "RFC 5280 CRLReason: 0 unspecified, 1 keyCompromise, 4 superseded, 5 cessationOfOperation")
	case "unblock-model", "unblock-os", "blocks", "insurance-import", "crl-poll":
	default:
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	svc := a.Service
	arg := func() (string, error) {
		if len(positional) != 1 {
			return "", fmt.Errorf("%s needs exactly one argument, got %d", cmd, len(positional))
		}
		return positional[0], nil
	}
	switch cmd {
	case "serve":
		return serve(ctx, a)
	case "suspend", "resume", "revoke":
		if (device == "") == (person == "") {
			return errors.New("give exactly one of --device or --person")
		}
		r, err := svc.AdminChange(ctx, issuer.AdminTarget{DeviceID: device, PersonID: person}, cmd, reason, "admin-cli")
		if err != nil {
			return err
		}
		if c.asJSON {
			return printJSON(r)
		}
		fmt.Printf("%s: %d device(s) changed %v, %d credential(s) updated\n", cmd, len(r.DeviceIDs), r.DeviceIDs, r.CredentialsChanged)
		return nil
	case "block-model", "block-os", "unblock-model", "unblock-os":
		v, err := arg()
		if err != nil {
			return err
		}
		kind := store.BlockModel
		if strings.HasSuffix(cmd, "-os") {
			kind = store.BlockOS
		}
		var r *oid4vci.LifecycleResponse
		if strings.HasPrefix(cmd, "block") {
			r, err = svc.Block(ctx, issuer.BlockRequest{Kind: kind, Value: v, Reason: reason, SuspendExisting: &suspendExisting}, "admin-cli")
		} else {
			r, err = svc.Unblock(ctx, kind, v, "admin-cli")
		}
		if err != nil {
			return err
		}
		if c.asJSON {
			return printJSON(r)
		}
		fmt.Printf("%s %q: %d device(s) now %s\n", cmd, v, len(r.DeviceIDs), r.State)
		return nil
	case "blocks":
		b, err := a.Store.Blocks(ctx)
		if err != nil {
			return err
		}
		if c.asJSON {
			return printJSON(b)
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KIND\tVALUE\tSUSPEND\tSINCE\tREASON")
		for _, x := range b {
			fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\n", x.Kind, x.Value, x.SuspendExisting, x.CreatedAt.Format("2006-01-02 15:04"), x.Reason)
		}
		return tw.Flush()
	case "insurance-import":
		p, err := arg()
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		n, err := svc.ImportInsurance(ctx, f, "admin-cli")
		if err != nil {
			return err
		}
		fmt.Printf("imported %d insurance qualification(s)\n", n)
		return nil
	case "list-devices":
		d, err := svc.Devices(ctx, person, limit)
		if err != nil {
			return err
		}
		if c.asJSON {
			return printJSON(issuer.DeviceViews(d))
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "DEVICE\tPERSON\tSTATE\tMODEL\tOS\tENROLLED\tREASON")
		for _, x := range d {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.ID, x.PersonID, x.State, x.Model, x.OSVersion, x.CreatedAt.Format("2006-01-02 15:04"), x.StateReason)
		}
		return tw.Flush()
	case "audit":
		l, err := svc.Audit(ctx, device, person, limit)
		if err != nil {
			return err
		}
		if c.asJSON {
			return printJSON(issuer.AuditViews(l))
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "AT\tACTOR\tACTION\tDEVICE\tDETAIL")
		for _, x := range l {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", x.At.Format("2006-01-02 15:04:05"), x.Actor, x.Action, x.DeviceID, x.Detail)
		}
		return tw.Flush()
	case "reader-cert":
		if pubkey == "" || cn == "" {
			return errors.New("--pubkey and --cn are required")
		}
		b, err := os.ReadFile(pubkey)
		if err != nil {
			return err
		}
		p, err := svc.IssueReaderCertificate(ctx, issuer.ReaderCertificateRequest{PublicKeyPEM: string(b), CommonName: cn, Medical: medical, IndividualNumber: indivNum}, "admin-cli")
		if err != nil {
			return err
		}
		if out == "" {
			_, err = os.Stdout.Write(p)
			return err
		}
		if err := os.WriteFile(out, p, 0o644); err != nil {
			return err
		}
		fmt.Printf("reader certificate written to %s (reader CA: %s)\n", out, a.PKI.ReaderCAPath)
		return nil
	case "revoke-cert":
		file, err := arg()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		if err := svc.RevokeIssuerCertificate(ctx, issuer.CertificateRevocationRequest{CA: caName, CertificatePEM: string(b), ReasonCode: reasonCode}, "admin-cli"); err != nil {
			return err
		}
		fmt.Printf("revoked; served at %s/pki/%s.crl from the next request\n", svc.Config().IssuerURL, caName)
		return nil
	case "crl-poll":
		n, err := svc.PollCRLs(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("linked revocation: %d device(s) revoked\n", n)
		return nil
	case "iaca":
		abs, _ := filepath.Abs(a.PKI.IACAPath)
		fmt.Println(abs)
		if pem {
			os.Stdout.Write(pemBytes(a.PKI.IACA))
		}
		return nil
	}
	return nil
}

func pemBytes(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func serve(ctx context.Context, a *app.App) error {
	abs := func(p string) string { s, _ := filepath.Abs(p); return s }
	return a.Serve(ctx, func(addr string) {
		fmt.Printf("mdoc-issuer listening on http://%s (credential issuer %s)\n", addr, a.Service.Config().IssuerURL)
		fmt.Printf("  IACA certificate:      %s\n", abs(a.PKI.IACAPath))
		fmt.Printf("  IACA CRL:              %s/pki/iaca.crl\n", a.Service.Config().IssuerURL)
		fmt.Printf("  reader CA certificate: %s\n", abs(a.PKI.ReaderCAPath))
		if a.PKI.AttestationCAPath != "" {
			fmt.Printf("  attestation CA (dev):  %s\n", abs(a.PKI.AttestationCAPath))
		}
		if a.TestCA != nil {
			fmt.Printf("  JPKI test CA (J-LIS stand-in): %s (roots %s)\n", abs(a.TestCA.Dir()), abs(a.TestCA.RootsFile()))
		}
		fmt.Printf("  data directory:        %s (keys: %s)\n", abs(a.Opts.DataDir), a.PKI.KeyKind)
		if a.AdminTokenNew {
			fmt.Printf("  admin token (shown once; also in %s): %s\n", abs(a.AdminTokenPath), a.AdminToken)
		} else {
			fmt.Printf("  admin token in %s\n", abs(a.AdminTokenPath))
		}
		fmt.Printf("  metadata: %s%s\n", a.Service.Config().IssuerURL, oid4vci.WellKnownIssuerPath)
	})
}

// parseInterspersed parses flags that may come before or after positional
// arguments ("block-model 'Pixel 8' --reason CVE").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
