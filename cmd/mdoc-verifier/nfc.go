package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mynumber-mdoc/mnc/internal/apdu"
	"github.com/mynumber-mdoc/mnc/internal/cli"
	"github.com/mynumber-mdoc/mnc/internal/pcsc"
	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/counter"
	"github.com/mynumber-mdoc/mnc/verifier/reader"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
)

// nfcOptions are the flags of nfc.
type nfcOptions struct {
	tf                                   trustFlags
	pcscReader, socket, check, mode, pin string
	readerCert, readerKey, dataDir       string
	issuer, trace                        string
	jpkiRoots                            listFlag
	jpkiCRL                              string
	jpkiTest, short, asJSON, verbose     bool
	ageOver                              int
	timeout                              time.Duration
}

func newNFCCmd() *cobra.Command {
	var o nfcOptions
	cmd := &cobra.Command{
		Use:   "nfc --trust PEM_OR_DIR [--check insurance|age] [flags]",
		Short: "Wait for a tap on a PC/SC NFC reader and decide: a phone with mdocs or a My Number Card",
		Long: `Nfc is the reader at a counter. It waits for a tap on a PC/SC reader (--reader, default
the first), tells a phone from a card by which application answers SELECT, and decides:

  a phone with mdocs    ISO/IEC 18013-5 NFC engagement and data retrieval: the insurance
                        check (insurance and identity documents, deviceMac; the reader
                        certificate must mark a medical institution) or the age check
                        (age_over_NN, deviceSignature);
  a My Number Card, or  the auth PIN (--pin, or asked at the terminal; never logged),
  a phone's JPKI applet user authentication, chain and CRL (--jpki-roots, --jpki-crl-dir),
                        and with --issuer the online qualification confirmation (the
                        reader certificate from the issuer's reader CA, medical role).

The same command drives a real USB NFC reader through pcscd; for development,
wallet-sim present --nfc and jpki-sim serve tap a virtual phone or card through
the vsmartcard vpcd driver (apt-get install -y pcscd vsmartcard-vpcd).

Exit status: 0 when the check holds, 1 when it does not or the tap failed, 2 usage error.`,
		Example: `  # a shop: age check
  mdoc-verifier nfc --trust iaca.pem --check age --age-over 20
  # a clinic: insurance by phone, or card + PIN with online qualification
  mdoc-verifier nfc --trust iaca.pem --check insurance \
    --reader-cert clinic.pem --reader-key clinic.key --issuer http://127.0.0.1:8080 \
    --jpki-roots jpki-roots.pem --jpki-crl-dir crl/ --jpki-test --trace taps.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNFC(cmd.Context(), &o, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	o.tf.register(f)
	f.StringVar(&o.pcscReader, "reader", "", "PC/SC reader name (default: the first reader pcscd lists)")
	f.StringVar(&o.socket, "pcsc-socket", pcsc.DefaultSocket, "pcscd socket")
	f.StringVar(&o.check, "check", counter.CheckAge, "what a phone is asked: insurance or age")
	f.IntVar(&o.ageOver, "age-over", 20, "NN of the age check (age_over_NN)")
	f.StringVar(&o.mode, "mode", "auto", "auto (by what answers SELECT, mdoc first), mdoc or jpki (a phone answers both)")
	f.StringVar(&o.pin, "pin", "", "the card's 4-digit auth PIN for JPKI taps (default: asked at the terminal)")
	f.StringVar(&o.readerCert, "reader-cert", "", "reader authentication certificate (PEM, leaf first) for ReaderAuth and qualification requests (default: the development certificate in --data-dir)")
	f.StringVar(&o.readerKey, "reader-key", "", "private key of --reader-cert (PEM)")
	f.StringVar(&o.dataDir, "data-dir", cli.DefaultDataDir("verifier"), "data directory of the development reader certificate")
	f.StringVar(&o.issuer, "issuer", "", "issuer URL for online qualification confirmation of JPKI taps (needs a medical reader certificate from its reader CA)")
	f.Var(&o.jpkiRoots, "jpki-roots", "JPKI root certificates (file or directory, repeatable); needed for JPKI taps")
	f.StringVar(&o.jpkiCRL, "jpki-crl-dir", "", "directory of JPKI CRLs named by distribution point (jpki.CRLFileName); required with --jpki-roots")
	f.BoolVar(&o.jpkiTest, "jpki-test", false, "accept JPKI-TEST roots (never in production)")
	f.BoolVar(&o.short, "short-apdus", false, "use short APDUs only (readers without extended length); long messages are chained")
	f.StringVar(&o.trace, "trace", "", "write every APDU to FILE, one per line as '> HEX' / '< HEX', PIN bytes masked")
	f.DurationVar(&o.timeout, "timeout", 2*time.Minute, "how long to wait for a tap and the session")
	f.BoolVar(&o.asJSON, "json", false, "print the verdict as JSON")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "log progress to stderr")
	_ = cmd.MarkFlagRequired("trust")
	cmd.MarkFlagsRequiredTogether("reader-cert", "reader-key")
	cmd.MarkFlagsRequiredTogether("jpki-roots", "jpki-crl-dir")
	return cmd
}

func runNFC(ctx context.Context, o *nfcOptions, stdin io.Reader, stdout, stderr io.Writer) error {
	logger := newLogger(stderr, o.verbose)
	if o.check != counter.CheckAge && o.check != counter.CheckInsurance {
		return usagef("--check %q: use insurance or age", o.check)
	}
	cfg := counter.Config{Check: o.check, AgeOver: o.ageOver, Logger: logger}
	switch o.mode {
	case "auto":
	case counter.KindMdoc, counter.KindJPKI:
		cfg.Mode = o.mode
	default:
		return usagef("--mode %q: use auto, mdoc or jpki", o.mode)
	}
	iacas, sc, err := o.tf.load(logger)
	if err != nil {
		return err
	}
	creds, err := loadReaderCredentials(o.readerCert, o.readerKey, o.dataDir, stderr)
	if err != nil {
		return err
	}
	cfg.Reader = reader.NFCConfig{Config: reader.Config{Credentials: creds, Logger: logger,
		Verify: verifier.Options{Trust: iacas, SkipStatus: o.tf.noStatus, Logger: logger}}}
	if sc != nil {
		cfg.Reader.Verify.Status = sc
	}
	if len(o.jpkiRoots) > 0 {
		roots, err := trust.LoadJPKIRoots(o.jpkiRoots...)
		if err != nil {
			return usagef("--jpki-roots: %v", err)
		}
		mode := jpki.ModeProduction
		if o.jpkiTest {
			mode = jpki.ModeTest
		}
		cfg.JPKI = &jpki.Verifier{Roots: roots, Mode: mode, Revocation: &jpki.CRLChecker{Source: jpki.CRLDir(o.jpkiCRL)}}
	}
	if o.issuer != "" {
		if o.readerCert == "" {
			return usagef("--issuer needs --reader-cert/--reader-key: a medical reader certificate from the issuer's reader CA (mdoc-issuer reader-cert --medical)")
		}
		cfg.Qualifier = &counter.Qualifier{Client: &oid4vci.Client{BaseURL: o.issuer}, IssuerURL: o.issuer, Chain: creds.Chain, Key: creds.Key}
	}
	cfg.PIN = pinSource(o.pin, stdin, stderr)

	pcOpts := []pcsc.Option{pcsc.WithSocket(o.socket), pcsc.WithLogger(logger)}
	if o.short {
		pcOpts = append(pcOpts, pcsc.WithLimits(pcsc.Short))
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	pc, err := pcsc.Open(ctx, pcOpts...)
	if err != nil {
		return cli.Fail(pcscCode(err), err)
	}
	defer pc.Close()
	fmt.Fprintln(stderr, "mdoc-verifier: waiting for a tap…")
	card, err := pc.Wait(ctx, o.pcscReader)
	if err != nil {
		return cli.Fail(pcscCode(err), err)
	}
	defer card.Close()
	l := card.Limits()
	cfg.Reader.Limits = reader.Limits{MaxCommandData: l.MaxCommandData, MaxResponseData: l.MaxResponseData}
	var t reader.Transmitter = card
	if o.trace != "" {
		f, err := os.Create(o.trace)
		if err != nil {
			return usagef("--trace: %v", err)
		}
		defer f.Close()
		t = apdu.Trace(card, f)
	}
	v, err := counter.Tap(ctx, t, cfg)
	var ce *cli.Error
	if errors.As(err, &ce) {
		return err // e.g. no --pin and no terminal: a usage error
	}
	if err != nil {
		code := counter.CodeOf(err)
		if code == "" {
			code = "tap_failed"
		}
		return cli.Fail(code, fmt.Errorf("no verdict: %w", err))
	}
	if o.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return err
		}
	} else {
		fmt.Fprint(stdout, v.Text())
	}
	if !v.OK {
		return errInvalid
	}
	return nil
}

// pinSource is the PIN from --pin, else a prompt at the terminal; never a
// prompt on a non-terminal (fail naming --pin).
func pinSource(flag string, stdin io.Reader, stderr io.Writer) counter.PINSource {
	return func(ctx context.Context, triesLeft int) (string, error) {
		if flag != "" {
			return flag, nil
		}
		f, ok := stdin.(*os.File)
		if !ok || !cli.IsTerminal(stdin) {
			return "", cli.NeedInput("the card's auth PIN", "--pin")
		}
		fmt.Fprintf(stderr, "auth PIN (%d tries left): ", triesLeft)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", errors.New("reading the PIN: " + err.Error())
		}
		return string(b), nil
	}
}

// pcscCode is the stable code of a PC/SC failure.
func pcscCode(err error) string {
	var e *pcsc.Error
	if errors.As(err, &e) {
		return "pcsc_" + string(e.Code)
	}
	return "pcsc_failed"
}
