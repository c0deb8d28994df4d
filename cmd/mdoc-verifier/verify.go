package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/status"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
)

// trustFlags are the issuer-trust flags shared by all commands.
type trustFlags struct {
	trust       listFlag
	strict      bool
	rules       string
	noStatus    bool
	statusGrace time.Duration
	statusTO    time.Duration
	statusLists listFlag
}

func (t *trustFlags) register(fs *flag.FlagSet) {
	fs.Var(&t.trust, "trust", "IACA root certificates: a PEM/DER file or a directory of .pem/.crt/.cer/.der files (repeatable; required)")
	fs.BoolVar(&t.strict, "strict", false, "enforce the full ISO 18013-5 Annex B profile on IACA and Document Signer certificates, and reject the tolerated deviations (see package verifier) instead of reporting them as warnings")
	fs.StringVar(&t.rules, "issuer-rules", "", `JSON file restricting IACAs to docTypes: {"rules":[{"iaca":"<sha256 hex>","docTypes":["…"]}]}`)
	fs.BoolVar(&t.noStatus, "no-status", false, "do not check Token Status Lists (revocation); without it a credential naming a status list fails closed with status_unavailable when the list cannot be fetched")
	fs.DurationVar(&t.statusGrace, "status-grace", status.DefaultGrace, "how long past iat + ttl a status list token still counts as fresh; an older one is refetched, and without a fresh one the check fails closed with status_stale")
	fs.DurationVar(&t.statusTO, "status-timeout", status.DefaultTimeout, "timeout of one status list fetch")
	fs.Var(&t.statusLists, "status-list", "a local status list token (CWT, the bytes served at a status uri) (CWT or JWT) used instead of fetching the uri its sub names; still verified at --at, and stale when older than its ttl there (repeatable; for offline checks of recorded presentations)")
}

func (t *trustFlags) load(logger *slog.Logger) (*trust.IACAs, *status.Client, error) {
	if len(t.trust) == 0 {
		return nil, nil, usagef("--trust is required")
	}
	opts := []trust.Option{trust.WithStrict(t.strict), trust.WithLogger(logger)}
	if t.rules != "" {
		ro, err := trust.LoadIssuerRules(t.rules)
		if err != nil {
			return nil, nil, usagef("%v", err)
		}
		opts = append(opts, ro...)
	}
	iacas, err := trust.NewIACAs(t.trust, opts...)
	if err != nil {
		return nil, nil, usagef("%v", err)
	}
	var sc *status.Client
	if !t.noStatus {
		opts := []status.Option{status.WithGrace(t.statusGrace), status.WithTimeout(t.statusTO), status.WithLogger(logger)}
		for _, f := range t.statusLists {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, nil, usagef("--status-list: %v", err)
			}
			opts = append(opts, status.WithLocalTokens(b))
		}
		sc = status.New(iacas.StatusListTrust(), opts...)
		if err := sc.LocalTokensError(); err != nil {
			return nil, nil, usagef("--status-list: %v", err)
		}
	} else if len(t.statusLists) > 0 {
		return nil, nil, usagef("--status-list and --no-status exclude each other")
	}
	return iacas, sc, nil
}

func runVerify(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	var tf trustFlags
	tf.register(fs)
	transcript := fs.String("session-transcript", "", "file holding SessionTranscriptBytes (#6.24 tag-24 wrapped), binary or hex (required)")
	readerKey := fs.String("reader-key", "", "the reader's ephemeral private key (PEM, or 32-byte hex), needed to check a deviceMac")
	at := fs.String("at", "", "verification time, RFC 3339 (default: now)")
	request := fs.String("request", "", "DeviceRequest (CBOR, binary or hex) to compare requested with returned elements")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	verbose := fs.Bool("v", false, "log progress to stderr")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mdoc-verifier verify --trust PEM_OR_DIR --session-transcript FILE [--reader-key FILE] [--at RFC3339] [--request FILE] [--json] RESPONSE.cbor")
		fmt.Fprintln(fs.Output(), "\nVerifies a DeviceResponse. Exit status: 0 valid, 1 invalid, 2 usage error.\n\nflags:")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	logger := newLogger(stderr, *verbose)
	res, err := verifyCommand(ctx, fs, &tf, *transcript, *readerKey, *at, *request, stdin, logger)
	if err != nil {
		fmt.Fprintf(stderr, "mdoc-verifier verify: %v\n", err)
		return exitUsage
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(res); err != nil {
			fmt.Fprintf(stderr, "mdoc-verifier verify: %v\n", err)
			return exitUsage
		}
	} else {
		_ = res.WriteText(stdout)
	}
	if res.Valid {
		return exitValid
	}
	return exitInvalid
}

func verifyCommand(ctx context.Context, fs *flag.FlagSet, tf *trustFlags, transcriptPath, readerKeyPath, at, requestPath string, stdin io.Reader, logger *slog.Logger) (*verifier.Result, error) {
	if fs.NArg() != 1 {
		return nil, usagef("want exactly one RESPONSE.cbor argument, got %d", fs.NArg())
	}
	if transcriptPath == "" {
		return nil, usagef("--session-transcript is required")
	}
	iacas, sc, err := tf.load(logger)
	if err != nil {
		return nil, err
	}
	o := verifier.Options{Trust: iacas, SkipStatus: tf.noStatus, Strict: tf.strict, Logger: logger}
	if sc != nil {
		o.Status = sc
	}
	if at != "" {
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return nil, usagef("--at: %v", err)
		}
		o.CurrentTime = t
	}
	stb, err := readInput(transcriptPath, stdin)
	if err != nil {
		return nil, usagef("--session-transcript: %v", err)
	}
	st, err := mdoc.ParseSessionTranscriptBytes(stb)
	if err != nil {
		return nil, usagef("--session-transcript: not SessionTranscriptBytes (tag 24): %v", err)
	}
	o.SessionTranscript = st.Raw
	if readerKeyPath != "" {
		kb, err := os.ReadFile(readerKeyPath)
		if err != nil {
			return nil, usagef("--reader-key: %v", err)
		}
		k, err := trust.ParseReaderEphemeralKey(kb)
		if err != nil {
			return nil, usagef("--reader-key: %v", err)
		}
		o.EReaderKey = k
	}
	if requestPath != "" {
		rb, err := readInput(requestPath, stdin)
		if err != nil {
			return nil, usagef("--request: %v", err)
		}
		dr, err := mdoc.ParseDeviceRequest(rb)
		if err != nil {
			return nil, usagef("--request: not a DeviceRequest: %v", err)
		}
		o.Request = verifier.RequestFromDeviceRequest(dr)
	}
	resp, err := readInput(fs.Arg(0), stdin)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return verifier.Verify(ctx, resp, o), nil
}

func newLogger(w io.Writer, verbose bool) *slog.Logger {
	lvl := slog.LevelWarn
	if verbose {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl}))
}
