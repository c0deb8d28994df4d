package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/blesim"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/policy"
	"github.com/mynumber-mdoc/mnc/verifier/reader"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
)

func runReader(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reader", flag.ContinueOnError)
	var tf trustFlags
	tf.register(fs)
	qr := fs.String("qr", "", "the scanned QR code content, mdoc:… (required)")
	readerCert := fs.String("reader-cert", "", "reader authentication certificate (PEM) for ReaderAuth; without it the request is unauthenticated")
	readerKey := fs.String("reader-key", "", "private key of the reader certificate (PEM)")
	docType := fs.String("doctype", mdoc.DocTypeMNC, "docType to request")
	elements := fs.String("elements", "", "elements to request: NAMESPACE:ID,… (default: age_over_NN with --age-over, else family_name,given_name,birth_date)")
	ageOver := fs.Int("age-over", 0, "run an age check: request age_over_NN and print only the yes/no answer")
	bleDir := fs.String("ble-dir", "", "simulated BLE rendezvous directory (default $MNC_BLESIM_DIR or the temp dir)")
	timeout := fs.Duration("timeout", reader.DefaultTimeout, "session timeout")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	verbose := fs.Bool("v", false, "log progress to stderr")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mdoc-verifier reader --trust PEM_OR_DIR --qr mdoc:… [--reader-cert FILE --reader-key FILE] [flags]")
		fmt.Fprintln(fs.Output(), "\nRuns an ISO 18013-5 proximity session over the simulated BLE transport. Exit status: 0 valid, 1 invalid, 2 usage error.\n\nflags:")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	logger := newLogger(stderr, *verbose)
	if *qr == "" {
		fmt.Fprintln(stderr, "mdoc-verifier reader: --qr is required")
		return exitUsage
	}
	iacas, sc, err := tf.load(logger)
	if err != nil {
		fmt.Fprintf(stderr, "mdoc-verifier reader: %v\n", err)
		return exitUsage
	}
	cfg := reader.Config{Radio: blesim.DefaultRadio(), Logger: logger, Verify: verifier.Options{Trust: iacas, SkipStatus: tf.noStatus, Strict: tf.strict, Logger: logger}}
	if sc != nil {
		cfg.Verify.Status = sc
	}
	if *bleDir != "" {
		cfg.Radio.Dir = *bleDir
	}
	if *readerCert != "" || *readerKey != "" {
		if cfg.Credentials, err = trust.LoadReaderCredentials(*readerCert, *readerKey); err != nil {
			fmt.Fprintf(stderr, "mdoc-verifier reader: %v\n", err)
			return exitUsage
		}
	}
	req, err := parseElements(*docType, *elements, *ageOver)
	if err != nil {
		fmt.Fprintf(stderr, "mdoc-verifier reader: %v\n", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	fmt.Fprintln(stderr, "mdoc-verifier: connecting to the wallet…")
	out, err := reader.Run(ctx, *qr, []mdoc.ItemsRequest{verifier.Items(*docType, req)}, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "mdoc-verifier reader: %v\n", err)
		return exitInvalid
	}
	if *ageOver > 0 {
		// The answer only: nothing else of the presentation is printed or kept.
		d := policy.AgeOver(out.Result, *ageOver, time.Now())
		if *asJSON {
			_ = json.NewEncoder(stdout).Encode(d)
		} else {
			fmt.Fprintf(stdout, "age over %d: %v (rule %s, %s)\n", *ageOver, d.Allowed, d.Rule, d.Code)
		}
		if d.Allowed {
			return exitValid
		}
		return exitInvalid
	}
	if *asJSON {
		_ = json.NewEncoder(stdout).Encode(out.Result)
	} else {
		_ = out.Result.WriteText(stdout)
	}
	if out.Result.Valid {
		return exitValid
	}
	return exitInvalid
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
