package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/cli"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/blesim"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/policy"
	"github.com/mynumber-mdoc/mnc/verifier/reader"
	"github.com/spf13/cobra"
)

// readerOptions are the flags of reader.
type readerOptions struct {
	tf                                 trustFlags
	qr, qrFile, readerCert, readerKey  string
	docType, elements, bleDir, dataDir string
	ageOver                            int
	timeout                            time.Duration
	asJSON, verbose, noReaderAuth      bool
}

func newReaderCmd() *cobra.Command {
	var o readerOptions
	cmd := &cobra.Command{
		Use:   "reader --trust PEM_OR_DIR (--qr mdoc:… | --qr-file FILE) [flags]",
		Short: "Run a proximity session with a wallet from a scanned mdoc: QR engagement (simulated BLE)",
		Long: `Reader plays the in-person reader: it takes the wallet's QR engagement (an mdoc: URI),
runs the ISO/IEC 18013-5 session over the simulated BLE transport, verifies the response
and prints the verdict. With --age-over it prints only the yes/no answer.

The request carries ReaderAuth, signed with --reader-cert/--reader-key or else with the
development reader certificate in --data-dir (made on first use, as serve does); wallets
release elements only to readers whose CA they trust.

Exit status: 0 valid (or the age check holds), 1 invalid, 2 usage error.`,
		Example: `  wallet-sim present --qr --approve-all --engagement-out qr.txt &
  mdoc-verifier reader --trust iaca.pem --qr-file qr.txt --age-over 20`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runReader(cmd.Context(), &o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	o.tf.register(f)
	f.StringVar(&o.qr, "qr", "", "the scanned QR code content, mdoc:…")
	f.StringVar(&o.qrFile, "qr-file", "", "read the QR code content from this file (as written by wallet-sim present --engagement-out)")
	f.StringVar(&o.readerCert, "reader-cert", "", "reader authentication certificate (PEM, leaf first) for ReaderAuth (default: the development certificate in --data-dir)")
	f.StringVar(&o.readerKey, "reader-key", "", "private key of --reader-cert (PEM)")
	f.StringVar(&o.dataDir, "data-dir", cli.DefaultDataDir("verifier"), "data directory: the development reader certificate when --reader-cert is not given (shared with serve)")
	f.BoolVar(&o.noReaderAuth, "no-reader-auth", false, "send the request without ReaderAuth (wallets may refuse it)")
	f.StringVar(&o.docType, "doctype", mdoc.DocTypeMNC, "docType to request")
	f.StringVar(&o.elements, "elements", "", "elements to request: NAMESPACE:ID,… (default: age_over_NN with --age-over, else family_name,given_name,birth_date)")
	f.IntVar(&o.ageOver, "age-over", 0, "run an age check: request age_over_NN and print only the yes/no answer")
	f.StringVar(&o.bleDir, "ble-dir", "", "simulated BLE rendezvous directory (default $MNC_BLESIM_DIR or the temp dir)")
	f.DurationVar(&o.timeout, "timeout", reader.DefaultTimeout, "session timeout")
	f.BoolVar(&o.asJSON, "json", false, "print the result as JSON")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "log progress to stderr")
	_ = cmd.MarkFlagRequired("trust")
	cmd.MarkFlagsOneRequired("qr", "qr-file")
	cmd.MarkFlagsMutuallyExclusive("qr", "qr-file")
	cmd.MarkFlagsRequiredTogether("reader-cert", "reader-key")
	cmd.MarkFlagsMutuallyExclusive("reader-cert", "no-reader-auth")
	cmd.MarkFlagsMutuallyExclusive("age-over", "elements")
	return cmd
}

func runReader(ctx context.Context, o *readerOptions, stdout, stderr io.Writer) error {
	logger := newLogger(stderr, o.verbose)
	qr := o.qr
	if o.qrFile != "" {
		b, err := os.ReadFile(o.qrFile)
		if err != nil {
			return usagef("--qr-file: %v", err)
		}
		qr = strings.TrimSpace(string(b))
	}
	iacas, sc, err := o.tf.load(logger)
	if err != nil {
		return err
	}
	cfg := reader.Config{Radio: blesim.DefaultRadio(), Logger: logger, Verify: verifier.Options{Trust: iacas, SkipStatus: o.tf.noStatus, Strict: o.tf.strict, Logger: logger}}
	if sc != nil {
		cfg.Verify.Status = sc
	}
	if o.bleDir != "" {
		cfg.Radio.Dir = o.bleDir
	}
	if !o.noReaderAuth {
		// Progress and paths go to stderr: stdout is the verdict.
		if cfg.Credentials, err = loadReaderCredentials(o.readerCert, o.readerKey, o.dataDir, stderr); err != nil {
			return err
		}
	}
	req, err := parseElements(o.docType, o.elements, o.ageOver)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	fmt.Fprintln(stderr, "mdoc-verifier: connecting to the wallet…")
	out, err := reader.Run(ctx, qr, []mdoc.ItemsRequest{verifier.Items(o.docType, req)}, cfg)
	if err != nil {
		return err
	}
	if o.ageOver > 0 {
		// The answer only: nothing else of the presentation is printed or kept.
		d := policy.AgeOver(out.Result, o.ageOver, time.Now())
		if o.asJSON {
			_ = json.NewEncoder(stdout).Encode(d)
		} else {
			fmt.Fprintf(stdout, "age over %d: %v (rule %s, %s)\n", o.ageOver, d.Allowed, d.Rule, d.Code)
		}
		if !d.Allowed {
			return errInvalid
		}
		return nil
	}
	if o.asJSON {
		_ = json.NewEncoder(stdout).Encode(out.Result)
	} else {
		_ = out.Result.WriteText(stdout)
	}
	if !out.Result.Valid {
		return errInvalid
	}
	return nil
}

func parseElements(docType, spec string, ageOver int) (map[string][]string, error) {
	ns := mdoc.NameSpaceISO23220
	if docType == mdoc.DocTypeMDL {
		ns = mdoc.NameSpaceMDL
	}
	if ageOver > 0 {
		if spec != "" {
			return nil, usagef("--age-over and --elements exclude each other")
		}
		return map[string][]string{ns: {mdoc.AgeOverID(ageOver)}}, nil
	}
	if spec == "" {
		return map[string][]string{ns: {"family_name", "given_name", "birth_date"}}, nil
	}
	out := map[string][]string{}
	for _, e := range strings.Split(spec, ",") {
		i := strings.LastIndex(e, ":")
		if i <= 0 || i == len(e)-1 {
			return nil, usagef("--elements entry %q is not NAMESPACE:ID", e)
		}
		out[e[:i]] = append(out[e[:i]], e[i+1:])
	}
	return out, nil
}
