// Package attestcheck implements `mdoc-issuer attestation check`: verify
// one recorded platform attestation (an Android Key Attestation chain or an
// App Attest attestation object) and print the attested facts. The issuer's
// enrolment runs the same package keyattest code; this command lets an
// operator check a wallet provider's sample, or a device's, by hand.
//
// Exit codes: 0 the attestation holds (chain to a trusted root at --at,
// challenge or nonce, package or app id and key id when given,
// environment); 1 it does not, or FILE cannot be read; 2 usage errors.
// Device policy (boot state, lock, security level, OS) is reported, not
// judged: the issuer's enrolment policy enforces it.
package attestcheck

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/fsx"
	"github.com/mynumber-mdoc/mnc/mdoc/keyattest"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitFail  = 1
	ExitUsage = 2
)

// Usage is the one-line summary and Long the description with examples.
const (
	Usage = "attestation check --format android-key|apple-appattest [flags] FILE"
	Short = "Verify a platform key attestation and print what it attests"
	Long  = `Verify an Android Key Attestation certificate chain (PEM, leaf first) or an
Apple App Attest attestation object (CBOR, or its base64) and print the
attested facts: security level, verified boot state, bootloader lock, OS
version and patch level, package or app id, environment, counter.

The command exits 0 when the attestation holds — the chain reaches a
trusted root at --at, and the challenge (Android) or clientDataHash (Apple),
app id or package, key id and environment match when given — 1 when it does
not, 2 on usage errors. Device policy is reported, not judged: the issuer's
enrolment policy enforces it. --roots replaces the built-in roots (Google's
hardware attestation roots; Apple's App Attestation Root CA).

Examples:
  mdoc-issuer attestation check --format android-key --challenge 7465737461736466 \
      --app-id com.example.wallet --at 2022-07-10T00:00:00Z chain.pem
  mdoc-issuer attestation check --format apple-appattest --environment development \
      --app-id 6MURL8TA57.de.example.app --client-data-hash 8be6…c67b \
      --key-id 2o0syRGn1HDKDv85d522XBC9nLqrHWHGnt/mJ5hWMQM= --at 2020-11-21T22:13:00Z --json att.b64`
)

// Options are the parsed flags.
type Options struct {
	Format         string
	Challenge      string // hex
	ClientDataHash string // hex
	AppID          string // Android package name or App Attest "TEAMID.bundle.id"
	KeyID          string // base64
	Environment    string // production (default) or development
	Roots          string // PEM file replacing the built-in roots
	At             string // RFC 3339; "" is now
	JSON           bool
	File           string
}

// UsageError is a usage error (exit 2).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, args ...any) error { return &UsageError{Msg: fmt.Sprintf(format, args...)} }

// BindFlags registers the command's flags on fs (for the standard flag
// package; a cobra port binds the same names to its pflag set).
func BindFlags(fs *flag.FlagSet, o *Options) {
	fs.StringVar(&o.Format, "format", "", "android-key or apple-appattest (required)")
	fs.StringVar(&o.Challenge, "challenge", "", "expected Android attestationChallenge, hex")
	fs.StringVar(&o.ClientDataHash, "client-data-hash", "", "expected App Attest clientDataHash, hex")
	fs.StringVar(&o.AppID, "app-id", "", "expected Android package name, or App Attest app id TEAMID.bundle.id")
	fs.StringVar(&o.KeyID, "key-id", "", "expected App Attest key id, base64")
	fs.StringVar(&o.Environment, "environment", "production", "production or development")
	fs.StringVar(&o.Roots, "roots", "", "PEM file of trusted roots, replacing the built-in ones")
	fs.StringVar(&o.At, "at", "", "verification time, RFC 3339 (default now)")
	fs.BoolVar(&o.JSON, "json", false, "print the result as JSON")
}

// ParseArgs parses args (after "attestation check") with the standard
// flag package. Errors are *UsageError.
func ParseArgs(args []string, stderr io.Writer) (Options, error) {
	var o Options
	fs := flag.NewFlagSet("attestation check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: mdoc-issuer %s\n\n%s\n\nFlags:\n", Usage, Long)
		fs.PrintDefaults()
	}
	BindFlags(fs, &o)
	if err := fs.Parse(args); err != nil {
		return o, &UsageError{Msg: err.Error()}
	}
	if fs.NArg() != 1 {
		return o, usagef("attestation check needs exactly one FILE, got %d", fs.NArg())
	}
	o.File = fs.Arg(0)
	return o, nil
}

// Result is the --json output.
type Result struct {
	OK     bool             `json:"ok"`
	Format string           `json:"format"`
	Facts  *keyattest.Facts `json:"facts,omitempty"`
	Error  *ErrorOut        `json:"error,omitempty"`
}

// ErrorOut is a refusal in --json output.
type ErrorOut struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

type checked struct {
	format         string
	at             time.Time
	env            keyattest.Environment
	roots          *keyattest.Roots
	challenge, cdh []byte
	keyID          []byte
}

func validate(o Options) (*checked, error) {
	c := &checked{format: o.Format}
	switch o.Format {
	case keyattest.FormatAndroidKey:
		if o.ClientDataHash != "" || o.KeyID != "" {
			return nil, usagef("--client-data-hash and --key-id apply to apple-appattest, not android-key")
		}
	case keyattest.FormatAppleAppAttest:
		if o.Challenge != "" {
			return nil, usagef("--challenge applies to android-key; App Attest binds the request with --client-data-hash")
		}
	case "":
		return nil, usagef("--format is required: android-key or apple-appattest")
	default:
		return nil, usagef("--format %q: want android-key or apple-appattest", o.Format)
	}
	var err error
	if c.env, err = keyattest.ParseEnvironment(o.Environment); err != nil {
		return nil, usagef("--environment %q: want production or development", o.Environment)
	}
	if o.At != "" {
		if c.at, err = time.Parse(time.RFC3339, o.At); err != nil {
			return nil, usagef("--at %q is not RFC 3339 (e.g. 2024-01-02T03:04:05Z)", o.At)
		}
	}
	if o.Challenge != "" {
		if c.challenge, err = hex.DecodeString(o.Challenge); err != nil {
			return nil, usagef("--challenge is not hex: %v", err)
		}
	}
	if o.ClientDataHash != "" {
		if c.cdh, err = hex.DecodeString(o.ClientDataHash); err != nil || len(c.cdh) != 32 {
			return nil, usagef("--client-data-hash must be 32 bytes of hex (a SHA-256)")
		}
	}
	if o.KeyID != "" {
		if c.keyID, err = base64.StdEncoding.DecodeString(o.KeyID); err != nil {
			if c.keyID, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(o.KeyID, "=")); err != nil {
				return nil, usagef("--key-id is not base64: %v", err)
			}
		}
	}
	return c, nil
}

// Run checks the attestation in o.File and writes the result: the facts to
// stdout, a refusal to stderr (both as JSON with --json). It returns the
// exit code.
func Run(ctx context.Context, o Options, stdout, stderr io.Writer) int {
	c, err := validate(o)
	if err != nil {
		fmt.Fprintf(stderr, "mdoc-issuer attestation check: %v\n", err)
		return ExitUsage
	}
	if o.Roots != "" {
		b, err := readBounded(o.Roots, keyattest.MaxRootsPEM)
		if err != nil {
			fmt.Fprintf(stderr, "mdoc-issuer attestation check: --roots: %v\n", err)
			return ExitUsage
		}
		if c.roots, err = keyattest.ParseRootsPEM(b); err != nil {
			fmt.Fprintf(stderr, "mdoc-issuer attestation check: --roots %s: %v\n", o.Roots, err)
			return ExitUsage
		}
	}
	facts, err := check(ctx, c, o)
	res := Result{OK: err == nil, Format: o.Format, Facts: facts}
	if err != nil {
		code := string(keyattest.CodeOf(err))
		if code == "" {
			code = "error"
		}
		res.Error = &ErrorOut{Code: code, Detail: err.Error()}
	}
	if o.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res)
		if res.Error != nil {
			json.NewEncoder(stderr).Encode(map[string]any{"error": res.Error})
		}
	} else {
		if facts != nil {
			printFacts(stdout, facts)
		}
		if res.Error != nil {
			fmt.Fprintf(stderr, "mdoc-issuer attestation check: refused: %v\n", err)
		} else {
			fmt.Fprintln(stdout, "result:               the attestation holds")
		}
	}
	if err != nil {
		return ExitFail
	}
	return ExitOK
}

// readBounded reads a file the check takes as input, refusing one over max
// bytes as keyattest.CodeTooLarge like an over-long input on stdin.
func readBounded(path string, max int) ([]byte, error) {
	b, err := fsx.ReadFile(path, int64(max))
	if errors.Is(err, fsx.ErrTooLarge) {
		return nil, &keyattest.Error{Code: keyattest.CodeTooLarge, Detail: err.Error()}
	}
	return b, err
}

func check(_ context.Context, c *checked, o Options) (*keyattest.Facts, error) {
	switch c.format {
	case keyattest.FormatAndroidKey:
		b, err := readBounded(o.File, 2*keyattest.MaxChainBytes)
		if err != nil {
			return nil, err
		}
		chain, err := keyattest.ParseChainPEM(b, 2*keyattest.MaxChainBytes, keyattest.MaxChainCerts)
		if err != nil {
			return nil, err
		}
		a, err := keyattest.VerifyAndroid(chain, keyattest.AndroidOptions{
			Roots: c.roots, Environment: c.env, Challenge: c.challenge, PackageName: o.AppID, CurrentTime: c.at,
		})
		if err != nil {
			return nil, err
		}
		return &a.Facts, nil
	default:
		b, err := readBounded(o.File, 2*keyattest.MaxAttestationObjectBytes)
		if err != nil {
			return nil, err
		}
		raw := decodeMaybeBase64(b)
		obj, err := keyattest.ParseAppAttestObject(raw)
		if err != nil {
			return nil, err
		}
		a, err := keyattest.VerifyAppAttest(obj, keyattest.AppAttestOptions{
			Roots: c.roots, Environment: c.env, AppID: o.AppID, ClientDataHash: c.cdh, KeyID: c.keyID, CurrentTime: c.at,
		})
		if err != nil {
			return nil, err
		}
		return &a.Facts, nil
	}
}

// decodeMaybeBase64 returns b decoded when it is base64 text (standard or
// URL alphabet, padded or not), else b itself (raw CBOR: a map starts with
// 0xa0–0xbf, never a base64 character).
func decodeMaybeBase64(b []byte) []byte {
	s := string(bytes.Join(bytes.Fields(b), nil))
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if d, err := enc.DecodeString(s); err == nil {
			return d
		}
	}
	return b
}

func printFacts(w io.Writer, f *keyattest.Facts) {
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%-22s%s\n", k+":", v)
		}
	}
	line("format", f.Format)
	line("security level", f.SecurityLevel)
	line("keymint level", f.KeyMintSecurityLevel)
	if f.AttestationVersion != 0 {
		line("attestation version", fmt.Sprint(f.AttestationVersion))
	}
	line("verified boot state", f.VerifiedBootState)
	if f.DeviceLocked != nil {
		line("bootloader locked", fmt.Sprint(*f.DeviceLocked))
	}
	line("os version", f.OSVersion)
	line("os patch level", f.OSPatchLevel)
	line("package", strings.Join(f.PackageNames, ", "))
	line("signing cert sha-256", strings.Join(f.SigningCertDigests, ", "))
	line("app id", f.AppID)
	line("brand", f.Brand)
	line("manufacturer", f.Manufacturer)
	line("model", f.Model)
	line("environment", f.Environment)
	if f.Counter != nil {
		line("counter", fmt.Sprint(*f.Counter))
	}
	line("key id", f.KeyID)
	line("challenge", f.Challenge)
	line("root", f.Root)
	line("chain valid", f.ValidFrom.Format(time.RFC3339)+" – "+f.ValidUntil.Format(time.RFC3339))
}

// IsUsage reports whether err is a usage error.
func IsUsage(err error) bool {
	var u *UsageError
	return errors.As(err, &u)
}
