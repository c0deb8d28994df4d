package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/cli"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/status"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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

func (t *trustFlags) register(fs *pflag.FlagSet) {
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

func newVerifyCmd() *cobra.Command {
	var (
		tf                                 trustFlags
		transcript, readerKey, at, request string
		asJSON, verbose                    bool
	)
	cmd := &cobra.Command{
		Use:   "verify --trust PEM_OR_DIR --session-transcript FILE [flags] RESPONSE.cbor",
		Short: "Verify a recorded DeviceResponse (CBOR) against IACA roots and a session transcript",
		Long: `Verify checks a DeviceResponse: issuer signatures and chains to the --trust roots,
digests, validity, device authentication over the session transcript, and the
credentials' status lists. Inputs are binary CBOR, hex or base64url; "-" reads stdin.

Exit status: 0 valid, 1 invalid, 2 usage error (including unreadable or malformed input files).`,
		Example: `  mdoc-verifier verify --trust iaca.pem --session-transcript st.cbor --json response.cbor
  mdoc-verifier verify --trust iacas/ --session-transcript st.hex --reader-key rk.pem \
      --at 2025-06-01T09:00:00Z --request request.cbor response.cbor`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			logger := newLogger(cmd.ErrOrStderr(), verbose)
			res, err := verifyCommand(cmd.Context(), args[0], &tf, transcript, readerKey, at, request, cmd.InOrStdin(), logger)
			if err != nil {
				return err
			}
			stdout := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(stdout)
				enc.SetEscapeHTML(false)
				if err := enc.Encode(res); err != nil {
					return err
				}
			} else {
				_ = res.WriteText(stdout)
			}
			if !res.Valid {
				// The verdict is the output; the exit status repeats it.
				return errInvalid
			}
			return nil
		},
	}
	f := cmd.Flags()
	tf.register(f)
	f.StringVar(&transcript, "session-transcript", "", "file holding SessionTranscriptBytes (#6.24 tag-24 wrapped), binary or hex (required)")
	f.StringVar(&readerKey, "reader-key", "", "the reader's ephemeral private key (PEM, or 32-byte hex), needed to check a deviceMac")
	f.StringVar(&at, "at", "", "verification time, RFC 3339 (default: now)")
	f.StringVar(&request, "request", "", "DeviceRequest (CBOR, binary or hex) to compare requested with returned elements")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.BoolVarP(&verbose, "verbose", "v", false, "log progress to stderr")
	_ = cmd.MarkFlagRequired("trust")
	_ = cmd.MarkFlagRequired("session-transcript")
	return cmd
}

func verifyCommand(ctx context.Context, responsePath string, tf *trustFlags, transcriptPath, readerKeyPath, at, requestPath string, stdin io.Reader, logger *slog.Logger) (*verifier.Result, error) {
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
	resp, err := readInput(responsePath, stdin)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return verifier.Verify(ctx, resp, o), nil
}

// errInvalid is the failure of a check whose verdict was already printed:
// exit 1 with no second message.
var errInvalid = &cli.Error{Exit: cli.ExitFailure, Code: "invalid", Err: errors.New("not valid"), Silent: true}
