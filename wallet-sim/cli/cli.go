// Package cli implements the wallet-sim command line: each subcommand parses
// its flags, opens the wallet in --home and calls package walletsim.
// cmd/wallet-sim only hands it os.Args and the standard streams, so the
// commands are tested here end to end.
package cli

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	icli "github.com/mynumber-mdoc/mnc/internal/cli"
	"github.com/mynumber-mdoc/mnc/internal/vpcd"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/blesim"
	walletsim "github.com/mynumber-mdoc/mnc/wallet-sim"
	"github.com/mynumber-mdoc/mnc/wallet-sim/se"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Env is the process environment the commands run in.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Interactive says whether Stdin is a terminal (prompts allowed).
	Interactive bool
	Getenv      func(string) string
}

// Run executes one command line and returns the process exit status: 0
// success, 1 a failed operation, 2 a usage error (including a question
// that only a terminal could answer).
func Run(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	p := &icli.Program{
		Root:      func() *cobra.Command { return newRootCmd(&cmd{env: env}) },
		Code:      errorCode,
		Hint:      func(code string) string { return hints[code] },
		JSONError: writeJSONError,
	}
	return p.Run(ctx, args, env.Stdin, env.Stdout, env.Stderr)
}

// newRootCmd is the command tree: one constructor per subcommand.
func newRootCmd(c *cmd) *cobra.Command {
	root := icli.NewRoot("wallet-sim", "A phone wallet simulator (Apple / Google style) for the My Number Card mdoc",
		`wallet-sim behaves like a phone wallet holding the My Number Card as an ISO/IEC 18013-5
mdoc: a simulated secure element, enrolment against mdoc-issuer, presentation in person
(QR or NFC engagement over a simulated BLE transport) and online (OpenID4VP, ISO/IEC
18013-7 Annex C), and the JPKI smartphone certificates.

The wallet lives in --home (default $MNC_WALLET_HOME, else ~/.mnc-wallet). Commands that
use the device keys need user verification: --pin P (android) or --biometric
match|no-match; at a terminal they ask instead, elsewhere they fail naming the flag.
With --json, results are JSON on stdout, and so are errors, as {"code","error","hint"}.`,
		newInitCmd(c), newTrustCmd(c), newEnrollCmd(c), newRegisterInsuranceCmd(c), newListCmd(c), newShowCmd(c), newPresentCmd(c),
		newRevokeCmd(c), newRefreshCmd(c), newSyncCmd(c), newHistoryCmd(c), newJPKICmd(c))
	def := c.env.Getenv("MNC_WALLET_HOME")
	if def == "" {
		if h, err := os.UserHomeDir(); err == nil {
			def = filepath.Join(h, ".mnc-wallet")
		}
	}
	pf := root.PersistentFlags()
	pf.StringVar(&c.home, "home", def, "wallet directory (state: secure element, sealed credentials, history)")
	pf.BoolVar(&c.json, "json", false, "print JSON (errors carry a stable \"code\")")
	return root
}

// errorCode is the stable code of a wallet or secure-element error.
func errorCode(err error) string {
	if code := walletsim.CodeOf(err); code != "" {
		return code
	}
	return string(se.CodeOf(err))
}

// writeJSONError keeps the error shape wallet-sim has always printed with
// --json, on stdout where scripts read it: {"code","error","hint"}.
func writeJSONError(stdout, _ io.Writer, code string, err error) {
	_ = json.NewEncoder(stdout).Encode(map[string]string{"code": code, "error": err.Error(), "hint": hints[code]})
}

// cmd holds what the commands share: the streams and the flags every
// command or every user-verifying command has.
type cmd struct {
	env  Env
	home string
	json bool
	pin  string
	bio  string
	// name is the running command, for the lock mode.
	name string
	// lock is the advisory lock on --home, taken when the wallet is
	// opened and released when the command ends.
	lock *walletsim.HomeLock
	// in reads prompt answers; one reader for the whole command, so that
	// nothing typed ahead is lost between prompts.
	in *bufio.Reader
}

// readOnly commands share the home lock; every other command holds it
// exclusively while it runs (a presentation until its session ends).
var readOnly = map[string]bool{"list": true, "show": true, "history": true, "jpki status": true}

// lockHome takes the advisory lock on --home so that a second wallet-sim
// process on the same home fails with wallet_busy instead of sealing a
// stale view of the secure element over this one's changes.
func (c *cmd) lockHome() error {
	mode := walletsim.LockExclusive
	if readOnly[c.name] {
		mode = walletsim.LockShared
	}
	l, err := walletsim.LockHome(c.home, mode)
	if err != nil {
		return err
	}
	c.lock = l
	return nil
}

// runE wraps a command body: it names the command (for the lock mode) and
// releases the home lock when the body ends.
func (c *cmd) runE(name string, body func(ctx context.Context, args []string) error) func(*cobra.Command, []string) error {
	return func(cc *cobra.Command, args []string) error {
		c.name = name
		// A closure: the lock is taken inside body, after this defer.
		defer func() { c.lock.Unlock() }()
		return body(cc.Context(), args)
	}
}

// uvFlags registers the user-verification flags on a command that uses the
// device keys.
func (c *cmd) uvFlags(f *pflag.FlagSet) {
	f.StringVar(&c.pin, "pin", "", "device PIN for user verification (android; apple has no PIN)")
	f.StringVar(&c.bio, "biometric", "", "simulated biometric sensor outcome: match or no-match")
}

func (c *cmd) options() walletsim.Options {
	logger := slog.New(slog.NewTextHandler(c.env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	o := walletsim.Options{Logger: logger, Authenticator: c.authenticator(), Radio: blesim.DefaultRadio()}
	if c.env.Interactive && c.pin == "" && c.bio == "" {
		o.UVAttempts = 3
	}
	return o
}

func (c *cmd) open() (*walletsim.Wallet, error) {
	if err := c.lockHome(); err != nil {
		return nil, err
	}
	return walletsim.Open(c.home, c.options())
}

// authenticator gives the --pin / --biometric attempt, or prompts.
func (c *cmd) authenticator() walletsim.Authenticator {
	return walletsim.AuthenticatorFunc(func(ctx context.Context, reason string, p se.Policy) (se.Auth, error) {
		if c.pin != "" {
			return se.Auth{PIN: c.pin}, nil
		}
		if c.bio != "" {
			b, err := se.ParseBiometric(c.bio)
			return se.Auth{Biometric: b}, err
		}
		if !c.env.Interactive {
			flag := "--pin PIN or --biometric match|no-match"
			if !p.AllowPIN {
				flag = "--biometric match|no-match"
			}
			return se.Auth{}, icli.NeedInput("user verification ("+reason+")", flag)
		}
		if p.AllowBiometric {
			fmt.Fprintf(c.env.Stderr, "%s — simulated biometric sensor: does it match? [y/n%s] ", reason, map[bool]string{true: "/p for PIN", false: ""}[p.AllowPIN])
			line, err := c.readLine()
			if err != nil {
				return se.Auth{}, err
			}
			switch strings.ToLower(line) {
			case "y", "yes", "match":
				return se.Auth{Biometric: se.BiometricMatch}, nil
			case "p":
			default:
				return se.Auth{Biometric: se.BiometricNoMatch}, nil
			}
		}
		fmt.Fprintf(c.env.Stderr, "%s — PIN: ", reason)
		line, err := c.readLine()
		if err != nil {
			return se.Auth{}, err
		}
		return se.Auth{PIN: line}, nil
	})
}

// stdin is the one buffered reader of prompt answers.
func (c *cmd) stdin() *bufio.Reader {
	if c.in == nil {
		c.in = bufio.NewReader(c.env.Stdin)
	}
	return c.in
}

// readLine reads one answer from the terminal. End of input is no answer,
// never a "no" or an empty PIN: either would use up a try of the secure
// element.
func (c *cmd) readLine() (string, error) {
	line, err := c.stdin().ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("no answer: input ended")
	}
	return strings.TrimSpace(line), nil
}

// out prints v as JSON with --json, else the text.
func (c *cmd) out(v any, text string) {
	if c.json {
		enc := json.NewEncoder(c.env.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(v)
		return
	}
	fmt.Fprint(c.env.Stdout, text)
}

// hints turn stable codes into what a user should do.
var hints = map[string]string{
	string(se.CodePINLocked):                  "the PIN is locked after too many wrong tries; the wallet must be reset (rm the home directory and enrol again)",
	string(se.CodeWrongPIN):                   "wrong PIN",
	string(se.CodeBiometricNoMatch):           "biometric check did not match",
	string(se.CodeBiometricLocked):            "biometrics are locked after too many failed matches",
	string(se.CodeMethodNotAllowed):           "this device does not accept that verification method (apple: biometric only)",
	string(walletsim.CodeCredentialSuspended): "the credential is suspended (一時利用停止); contact the support line to lift it",
	string(walletsim.CodeCredentialRevoked):   "the credential is revoked (失効); enrol again with the card",
	string(walletsim.CodeDeviceNotAllowed):    "the issuer does not allow this device (unverified model, blocked OS version, or rooted); you can still revoke an old phone with 'revoke --card'",
	string(walletsim.CodeNotInitialised):      "run 'wallet-sim init' first",
	string(walletsim.CodeNotEnrolled):         "run 'wallet-sim enroll' first",
	string(walletsim.CodeWalletBusy):          "another wallet-sim command is using this --home (a presentation waiting for a reader holds it); wait for it or stop it",
	string(walletsim.CodeRemoteDeleted):       "the issuer deleted this phone's credentials (device change or revocation); enrol again with the card to use this phone",
	string(walletsim.CodeReaderAuthInvalid):   "the reader could not prove who it is; nothing was shared",
	string(walletsim.CodeUnsupportedProfile):  "use --profile apple or android, and give --model",
	string(walletsim.CodeHistoryCorrupt):      "the history log is damaged (lines cut off, an older copy put back, or modified); 'wallet-sim history reset' keeps it aside and starts a new one",
	string(walletsim.CodeHistorySound):        "the history log is not damaged; 'wallet-sim history reset --force' starts a new one anyway (the old one is kept aside)",
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Type() string       { return "patterns" }
func (s *stringList) Set(v string) error { *s = append(*s, strings.Split(v, ",")...); return nil }

func readPEMCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	certs, err := mdoc.ParseCertificates(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return certs, nil
}

func newInitCmd(c *cmd) *cobra.Command {
	cc := &cobra.Command{
		Use:   "init --profile apple|android --model MODEL [--os VERSION] [--rooted] [--pin PIN]",
		Short: "Create a wallet: a simulated phone with its secure element",
		Long: `Init creates the wallet in --home: the device profile the issuer's attestation reports
(platform, model, OS, rooted) and a secure element. Android wallets need a device PIN
(--pin); Apple wallets use biometrics only. --reader-roots and --iaca trust reader CAs and
issuer IACAs at once (see trust).`,
		Example: `  wallet-sim init --home phone --profile android --model "Pixel 9" --pin 135790 --iaca iaca.pem
  wallet-sim init --home iphone --profile apple --model iPhone17,1`,
		Args: cobra.NoArgs,
	}
	f := cc.Flags()
	f.StringVar(&c.pin, "pin", "", "device PIN to set (android: required, 4-16 digits; apple has no PIN)")
	profile := f.String("profile", "", "apple (biometric only) or android (PIN or biometric)")
	model := f.String("model", "", "device model, e.g. iPhone17,1 or Pixel 9 (the issuer checks it against its allow-list)")
	osv := f.String("os", "", "OS version (default iOS 26.1 / Android 16)")
	rooted := f.Bool("rooted", false, "simulate a rooted / jailbroken device (attestation reports it; issuers refuse it)")
	readerRoots := f.String("reader-roots", "", "PEM file of reader CA certificates to trust")
	iaca := f.String("iaca", "", "PEM file of issuer IACA certificates to trust")
	cc.RunE = c.runE("init", func(ctx context.Context, args []string) error {
		p := walletsim.Profile{Platform: walletsim.Platform(*profile), Model: *model, OSVersion: *osv, Rooted: *rooted}
		if err := p.Validate(); err != nil {
			return err
		}
		if err := os.MkdirAll(c.home, 0o700); err != nil {
			return err
		}
		if err := c.lockHome(); err != nil {
			return err
		}
		w, err := walletsim.Init(c.home, p, c.pin, c.options())
		if err != nil {
			return err
		}
		if err := trustFiles(w, *readerRoots, *iaca); err != nil {
			return err
		}
		pr := w.Profile()
		c.out(map[string]any{"home": c.home, "profile": pr}, fmt.Sprintf("wallet created in %s: %s\n", c.home, pr))
		return nil
	})
	return cc
}

func trustFiles(w *walletsim.Wallet, readerRoots, iaca string) error {
	if readerRoots != "" {
		certs, err := readPEMCerts(readerRoots)
		if err != nil {
			return err
		}
		if err := w.TrustReaderRoots(certs...); err != nil {
			return err
		}
	}
	if iaca != "" {
		certs, err := readPEMCerts(iaca)
		if err != nil {
			return err
		}
		if err := w.TrustIACA(certs...); err != nil {
			return err
		}
	}
	return nil
}

func newTrustCmd(c *cmd) *cobra.Command {
	cc := &cobra.Command{
		Use:   "trust [--reader-roots FILE] [--iaca FILE]",
		Short: "Trust reader CAs and issuer IACAs (PEM)",
		Long: `Trust adds certificates the wallet trusts: reader CAs, whose readers may authenticate
their requests (ReaderAuth), and issuer IACAs, whose credentials the wallet accepts.`,
		Example: `  wallet-sim trust --home phone --reader-roots reader-ca.pem --iaca iaca.pem`,
		Args:    cobra.NoArgs,
	}
	f := cc.Flags()
	readerRoots := f.String("reader-roots", "", "PEM file of reader CA certificates to trust")
	iaca := f.String("iaca", "", "PEM file of issuer IACA certificates to trust")
	cc.RunE = c.runE("trust", func(ctx context.Context, args []string) error {
		if *readerRoots == "" && *iaca == "" {
			return icli.Usagef("give --reader-roots and/or --iaca")
		}
		w, err := c.open()
		if err != nil {
			return err
		}
		if err := trustFiles(w, *readerRoots, *iaca); err != nil {
			return err
		}
		st := w.Status()
		c.out(map[string]int{"reader_roots": st.ReaderRoots, "iaca_roots": st.IACARoots}, fmt.Sprintf("trusted: %d reader root(s), %d IACA root(s)\n", st.ReaderRoots, st.IACARoots))
		return nil
	})
	return cc
}

func newRegisterInsuranceCmd(c *cmd) *cobra.Command {
	cc := &cobra.Command{
		Use:   "register-insurance --card FILE --issuer URL --card-password PW --card-pin PIN",
		Short: "Register the My Number Card for health-insurance use (マイナ保険証)",
		Long: `Register-insurance links the card's user-authentication certificate to the holder at the
issuer, as a phone app does by reading the card: the card proves both of its keys (the auth
PIN and the signature password). Clinic readers that later authenticate the card with its
PIN get the holder's qualification by online confirmation (mdoc-verifier nfc --issuer).`,
		Example: `  wallet-sim register-insurance --home phone --card card.json --issuer http://127.0.0.1:8080 \
      --card-password ABC123 --card-pin 1234`,
		Args: cobra.NoArgs,
	}
	f := cc.Flags()
	cardFile := f.String("card", "", "simulated My Number Card file (written by jpki-sim)")
	issuer := f.String("issuer", "", "credential issuer URL (mdoc-issuer serve)")
	cardPW := f.String("card-password", "", "the card's signature password")
	cardPIN := f.String("card-pin", "", "the card's 4-digit auth PIN")
	cc.RunE = c.runE("register-insurance", func(ctx context.Context, args []string) error {
		if *cardFile == "" || *issuer == "" || *cardPW == "" || *cardPIN == "" {
			return icli.Usagef("--card, --issuer, --card-password and --card-pin are required")
		}
		w, err := c.open()
		if err != nil {
			return err
		}
		t, err := walletsim.OpenCardFile(*cardFile)
		if err != nil {
			return err
		}
		r, err := w.RegisterInsurance(ctx, walletsim.InsuranceOptions{IssuerURL: *issuer, Card: t, CardPassword: *cardPW, CardPIN: *cardPIN})
		if err != nil {
			return err
		}
		q := "no valid qualification on record yet"
		if r.Qualified {
			q = "a valid qualification is on record"
		}
		c.out(r, fmt.Sprintf("the card is registered for health-insurance use; %s\n", q))
		return nil
	})
	return cc
}

func newEnrollCmd(c *cmd) *cobra.Command {
	cc := &cobra.Command{
		Use:   "enroll --card FILE --issuer URL --card-password PW [flags]",
		Short: "Add the My Number Card: enrol with an issuer using the card",
		Long: `Enroll reads the card's signature certificate, has the card sign the application, and
receives the mdoc credentials by OpenID4VCI, bound to a key made in the secure element.
With --jpki-password and --jpki-pin it also installs the JPKI smartphone certificates.
The card must come from a CA the issuer trusts: for mdoc-issuer serve, its JPKI test CA
(jpki-sim person --dir <issuer data dir>/jpki-testca).`,
		Example: `  wallet-sim enroll --home phone --card card.json --issuer http://127.0.0.1:8080 \
      --card-password ABC123 --pin 135790`,
		Args: cobra.NoArgs,
	}
	f := cc.Flags()
	cardFile := f.String("card", "", "simulated My Number Card file (written by jpki-sim)")
	issuer := f.String("issuer", "", "credential issuer URL (mdoc-issuer serve)")
	cardPW := f.String("card-password", "", "the card's signature password (6–16 of A–Z, 0–9); prompted when absent")
	jpkiPW := f.String("jpki-password", "", "new signature password for the phone JPKI certificate (6–16 of A–Z, 0–9)")
	jpkiPIN := f.String("jpki-pin", "", "new 4-digit auth PIN for the phone JPKI certificate")
	tx := f.String("tx-code", "", "transaction code, if the issuer sent one")
	email := f.String("email", "", "contact e-mail for use notifications (optional)")
	c.uvFlags(f)
	cc.RunE = c.runE("enroll", func(ctx context.Context, args []string) error {
		if *cardFile == "" || *issuer == "" {
			return icli.Usagef("--card and --issuer are required")
		}
		if *cardPW == "" {
			if !c.env.Interactive {
				return icli.NeedInput("the card's signature password", "--card-password")
			}
			fmt.Fprint(c.env.Stderr, "card signature password: ")
			line, err := c.readLine()
			if err != nil {
				return err
			}
			*cardPW = line
		}
		w, err := c.open()
		if err != nil {
			return err
		}
		t, err := walletsim.OpenCardFile(*cardFile)
		if err != nil {
			return err
		}
		res, err := w.Enrol(ctx, walletsim.EnrolOptions{
			IssuerURL: *issuer, Card: t, CardPassword: *cardPW, JPKIPassword: *jpkiPW, JPKIPIN: *jpkiPIN, TxCode: *tx, ContactEmail: *email,
			Progress: func(s string) {
				if !c.json {
					fmt.Fprintln(c.env.Stderr, "…", s)
				}
			},
		})
		if err != nil {
			return err
		}
		var b strings.Builder
		fmt.Fprintf(&b, "enrolled as device %s\n", res.DeviceID)
		if res.ReplacedDeviceID != "" {
			fmt.Fprintf(&b, "previous phone %s was revoked; it deletes its credentials when it next syncs\n", res.ReplacedDeviceID)
		}
		for _, cr := range res.Credentials {
			fmt.Fprintf(&b, "  %s  %s  valid until %s\n", cr.ID, cr.DocType, cr.ValidUntil.Format(time.DateOnly))
		}
		if res.JPKI {
			fmt.Fprintln(&b, "  JPKI smartphone certificates installed")
		}
		c.out(res, b.String())
		return nil
	})
	return cc
}

func newListCmd(c *cmd) *cobra.Command {
	cc := &cobra.Command{
		Use:     "list",
		Short:   "List credentials and their state",
		Long:    `List prints each credential: id, docType, state (VALID, SUSPENDED, REVOKED, UNKNOWN) and validity.`,
		Example: `  wallet-sim list --home phone --json`,
		Args:    cobra.NoArgs,
	}
	cc.RunE = c.runE("list", func(ctx context.Context, args []string) error {
		w, err := c.open()
		if err != nil {
			return err
		}
		creds := w.Credentials()
		var b strings.Builder
		if len(creds) == 0 {
			b.WriteString("no credentials\n")
			if st := w.Status(); !st.RemoteDeletedAt.IsZero() {
				fmt.Fprintf(&b, "credentials were deleted at %s: %s\n", st.RemoteDeletedAt.Format(time.RFC3339), st.RemoteDeleteWhy)
			}
		}
		for _, cr := range creds {
			state := strings.ToUpper(cr.State)
			fmt.Fprintf(&b, "%-14s %-24s %-10s valid %s – %s\n", cr.ID, cr.DocType, state, cr.ValidFrom.Format(time.DateOnly), cr.ValidUntil.Format(time.DateOnly))
		}
		type item struct {
			ID, DocType, State    string
			ValidFrom, ValidUntil time.Time
		}
		items := []item{}
		for _, cr := range creds {
			items = append(items, item{cr.ID, cr.DocType, cr.State, cr.ValidFrom, cr.ValidUntil})
		}
		c.out(items, b.String())
		return nil
	})
	return cc
}

func newShowCmd(c *cmd) *cobra.Command {
	cc := &cobra.Command{
		Use:   "show [CREDENTIAL-ID]",
		Short: "Show the wallet, or one credential's elements",
		Long:  `Show prints the device, enrolment, secure element counters and trust; with a credential id, that credential's elements.`,
		Example: `  wallet-sim show --home phone
  wallet-sim show --home phone mnc-1a2b3c`,
		Args: cobra.MaximumNArgs(1),
	}
	cc.RunE = c.runE("show", func(ctx context.Context, args []string) error {
		w, err := c.open()
		if err != nil {
			return err
		}
		if len(args) == 1 {
			id := args[0]
			cr, err := w.Credential(id)
			if err != nil {
				return err
			}
			is, err := mdoc.ParseIssuerSigned(cr.IssuerSigned)
			if err != nil {
				return err
			}
			var b strings.Builder
			fmt.Fprintf(&b, "%s (%s) state %s, valid until %s\n", cr.ID, cr.DocType, cr.State, cr.ValidUntil.Format(time.RFC3339))
			vals := map[string]map[string]any{}
			for ns, items := range is.NameSpaces {
				vals[ns] = map[string]any{}
				for _, it := range items {
					v, _ := it.Item.Value()
					vals[ns][it.Item.ElementIdentifier] = fmt.Sprint(v)
					fmt.Fprintf(&b, "  %s/%s = %v\n", ns, it.Item.ElementIdentifier, v)
				}
			}
			c.out(map[string]any{"credential": cr.ID, "doc_type": cr.DocType, "state": cr.State, "elements": vals}, b.String())
			return nil
		}
		st := w.Status()
		var b strings.Builder
		fmt.Fprintf(&b, "device: %s\n", st.Profile)
		if st.DeviceID != "" {
			fmt.Fprintf(&b, "enrolled: device %s at %s\n", st.DeviceID, st.IssuerURL)
		}
		fmt.Fprintf(&b, "credentials: %d\n", st.Credentials)
		e := st.Element
		if e.Policy.AllowPIN {
			fmt.Fprintf(&b, "PIN: %d of %d tries left%s\n", e.PINTriesLeft, e.PINMaxTries, map[bool]string{true: " (LOCKED)"}[e.PINLocked])
		}
		fmt.Fprintf(&b, "biometric: %d failed match(es)%s\n", e.BiometricFailures, map[bool]string{true: " (LOCKED)"}[e.BiometricLocked])
		fmt.Fprintf(&b, "secure element keys: %d\n", e.Keys)
		if st.JPKI != nil {
			fmt.Fprintf(&b, "JPKI smartphone certificates until %s\n", st.JPKI.NotAfter.Format(time.DateOnly))
		}
		fmt.Fprintf(&b, "trusted reader roots: %d, IACA roots: %d\n", st.ReaderRoots, st.IACARoots)
		if !st.RemoteDeletedAt.IsZero() {
			fmt.Fprintf(&b, "remote delete processed at %s: %s\n", st.RemoteDeletedAt.Format(time.RFC3339), st.RemoteDeleteWhy)
		}
		c.out(st, b.String())
		return nil
	})
	return cc
}

func newPresentCmd(c *cmd) *cobra.Command {
	cc := &cobra.Command{
		Use:   "present (--qr | --nfc | --nfc-ble | --request URL) [flags]",
		Short: "Present credentials in person (QR, NFC) or online (OpenID4VP, Annex C)",
		Long: `Present answers a reader.

--nfc taps the phone on a PC/SC NFC reader: the phone becomes a virtual card of the
vsmartcard vpcd driver (--vpcd, default 127.0.0.1:35963; apt-get install -y pcscd
vsmartcard-vpcd) and answers as an NFC Forum Type 4 Tag (engagement by static handover)
and as the ISO/IEC 18013-5 mdoc application (session messages in ENVELOPE / GET RESPONSE),
with the same consent, ReaderAuth enforcement and element rules as every other way.
--jpki also serves the phone's JPKI applet (its own PIN counters) for clinic readers.

--qr and --nfc-ble print the device engagement (QR text, or the NFC Handover Select) and
serve the session on mdoc/blesim, a loopback stand-in for Bluetooth LE (mdoc peripheral
server mode). Online (--request) it answers an openid4vp:// or org-iso-mdoc:// link.
Consent is per element: --approve, --deny, --approve-all, or a prompt at a terminal.`,
		Example: `  wallet-sim present --home phone --qr --approve-all --pin 135790 --engagement-out qr.txt
  wallet-sim present --home phone --nfc --jpki --approve-all --pin 135790
  wallet-sim present --home phone --request 'openid4vp://?client_id=…' --approve age_over_20 --pin 135790`,
		Args: cobra.NoArgs,
	}
	f := cc.Flags()
	qr := f.Bool("qr", false, "device engagement by QR code (mdoc: URI), then the session over the simulated BLE transport")
	nfc := f.Bool("nfc", false, "tap a PC/SC NFC reader: serve engagement and session as a virtual card of the vpcd driver (--vpcd)")
	nfcBLE := f.Bool("nfc-ble", false, "device engagement by NFC static handover (Handover Select printed in hex / written to --ndef-out), session over simulated BLE")
	vpcdAddr := f.String("vpcd", vpcd.DefaultAddr, "with --nfc: address of the vpcd driver (reader \"Virtual PCD 00 00\"; port 35964 is reader 01)")
	withJPKI := f.Bool("jpki", false, "with --nfc: also serve the phone's JPKI applet (GP-SE token) for JPKI readers")
	negotiated := f.Bool("negotiated", false, "with --nfc: ask for negotiated handover (TNEP: the reader writes a Handover Request) instead of static handover")
	request := f.String("request", "", "online request link: openid4vp://… (OpenID4VP 1.0) or org-iso-mdoc://… (ISO 18013-7 Annex C)")
	var approve, deny stringList
	f.Var(&approve, "approve", "release this element without asking (identifier, namespace/identifier, namespace/*); repeatable")
	f.Var(&deny, "deny", "never release this element (same patterns); wins over --approve; repeatable")
	approveAll := f.Bool("approve-all", false, "release everything the wallet's policy allows, without asking")
	mac := f.Bool("mac", false, "device authentication by MAC (deviceMac) instead of a signature")
	timeout := f.Duration("timeout", 5*time.Minute, "how long to wait for a reader")
	dir := f.String("blesim-dir", "", "rendezvous directory of the simulated BLE radio (default $MNC_BLESIM_DIR, else <tmp>/mnc-blesim); the reader must use the same")
	ndefOut := f.String("ndef-out", "", "with --nfc-ble: write the Handover Select NDEF message to this file")
	engOut := f.String("engagement-out", "", "write the engagement (QR text or NDEF hex) to this file too, for a reader to pick up")
	c.uvFlags(f)
	cc.RunE = c.runE("present", func(ctx context.Context, args []string) error {
		n := 0
		for _, b := range []bool{*qr, *nfc, *nfcBLE, *request != ""} {
			if b {
				n++
			}
		}
		if n != 1 {
			return icli.Usagef("give exactly one of --qr, --nfc, --nfc-ble, --request URL")
		}
		if (*withJPKI || *negotiated) && !*nfc {
			return icli.Usagef("--jpki and --negotiated go with --nfc")
		}
		var consent walletsim.Consent = walletsim.Rules{ApproveAll: *approveAll, Approve: approve, Deny: deny}
		if !*approveAll && len(approve) == 0 && len(deny) == 0 {
			if !c.env.Interactive {
				// Asking is the only other way to consent; without a
				// terminal the holder's choice must be on the command line.
				return icli.NeedInput("consent to release elements", "--approve ELEMENT, --deny ELEMENT or --approve-all")
			}
			consent = &walletsim.Prompt{In: c.stdin(), Out: c.env.Stderr}
		}
		w, err := c.open()
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
		defer stop()
		if *request != "" {
			res, err := w.PresentOnline(ctx, *request, walletsim.OnlineOptions{Consent: consent})
			if err != nil {
				return err
			}
			c.out(res, describe(res.Entry)+redirect(res.RedirectURI))
			return nil
		}
		if *nfc {
			return c.presentNFC(ctx, w, walletsim.NFCOptions{Consent: consent, MAC: *mac, JPKI: *withJPKI, Negotiated: *negotiated}, *vpcdAddr, *timeout)
		}
		o := walletsim.ProximityOptions{Engagement: walletsim.EngagementQR, Consent: consent, MAC: *mac}
		if *nfcBLE {
			o.Engagement = walletsim.EngagementNFC
		}
		if *dir != "" {
			o.Radio = blesim.Radio{Dir: *dir}
		}
		p, err := w.StartProximity(o)
		if err != nil {
			return err
		}
		defer p.Close()
		engagement := p.QR()
		if *nfcBLE {
			engagement = hex.EncodeToString(p.HandoverSelect())
			if *ndefOut != "" {
				if err := os.WriteFile(*ndefOut, p.HandoverSelect(), 0o644); err != nil {
					return err
				}
			}
		}
		if *engOut != "" {
			if err := os.WriteFile(*engOut, []byte(engagement+"\n"), 0o644); err != nil {
				return err
			}
		}
		if c.json {
			json.NewEncoder(c.env.Stdout).Encode(map[string]string{"engagement": engagement, "ble_uuid": hex.EncodeToString(p.ServiceUUID())})
		} else {
			label := "QR code content"
			if *nfcBLE {
				label = "NFC Handover Select (hex)"
			}
			fmt.Fprintf(c.env.Stdout, "%s:\n%s\n", label, engagement)
			fmt.Fprintf(c.env.Stderr, "advertising BLE service %x on the simulated radio; waiting for a reader (Ctrl-C to stop)…\n", p.ServiceUUID())
		}
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		res, err := p.Serve(ctx)
		if res != nil && !c.json {
			for _, h := range res.Presentations {
				fmt.Fprint(c.env.Stdout, describe(h))
			}
		}
		if err != nil {
			return err
		}
		if c.json {
			json.NewEncoder(c.env.Stdout).Encode(res)
		} else {
			fmt.Fprintf(c.env.Stdout, "session ended (%s)\n", res.EndedBy)
		}
		return nil
	})
	return cc
}

// presentNFC taps the phone on the vpcd reader until the mdoc session
// ends (or the JPKI reader is done and the phone is taken away: Ctrl-C or
// --timeout).
func (c *cmd) presentNFC(ctx context.Context, w *walletsim.Wallet, o walletsim.NFCOptions, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dev, err := w.StartNFC(ctx, o)
	if err != nil {
		return err
	}
	defer dev.Close()
	conn, err := vpcd.Dial(ctx, addr, vpcd.WithLogger(slog.New(slog.NewTextHandler(c.env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		return err
	}
	defer conn.Close()
	served := make(chan error, 1)
	go func() { served <- conn.Serve(ctx, dev) }()
	if !c.json {
		fmt.Fprintf(c.env.Stderr, "phone on the NFC reader (vpcd %s); waiting for a reader's session (Ctrl-C to take it away)…\n", addr)
	}
	var res *walletsim.SessionResult
	select {
	case <-dev.Done():
		res, err = dev.Result()
	case err = <-served:
		if err == nil {
			err = ctx.Err()
		}
		return fmt.Errorf("the phone left the reader before an mdoc session ended: %w", err)
	case <-ctx.Done():
		if o.JPKI {
			// A JPKI reader leaves no mdoc session to wait for.
			return nil
		}
		return fmt.Errorf("no mdoc session: %w", ctx.Err())
	}
	if res != nil && !c.json {
		for _, h := range res.Presentations {
			fmt.Fprint(c.env.Stdout, describe(h))
		}
	}
	if err != nil {
		return err
	}
	if c.json {
		json.NewEncoder(c.env.Stdout).Encode(res)
	} else {
		fmt.Fprintf(c.env.Stdout, "session ended (%s)\n", res.EndedBy)
	}
	return nil
}

func redirect(u string) string {
	if u == "" {
		return ""
	}
	return "verifier redirects to " + u + "\n"
}

func describe(h walletsim.HistoryEntry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s → %s: %s", h.Time.Local().Format("2006-01-02 15:04:05"), h.Kind, orDash(h.Reader), h.Outcome)
	if h.Transport != "" {
		fmt.Fprintf(&b, " [%s]", h.Transport)
	}
	if len(h.ReaderRoles) > 0 {
		fmt.Fprintf(&b, " (reader roles: %s)", strings.Join(h.ReaderRoles, ", "))
	}
	if h.Code != "" {
		fmt.Fprintf(&b, " code=%s", h.Code)
	}
	b.WriteString("\n")
	if h.Detail != "" {
		fmt.Fprintf(&b, "    %s\n", h.Detail)
	}
	for _, d := range h.Documents {
		fmt.Fprintf(&b, "    %s: asked %d", d.DocType, len(d.Requested))
		if d.Error != "" {
			fmt.Fprintf(&b, ", not returned (%s)", d.Error)
		}
		b.WriteString("\n")
		for _, e := range d.Released {
			fmt.Fprintf(&b, "      released  %s\n", e)
		}
		for _, wh := range d.Withheld {
			fmt.Fprintf(&b, "      withheld  %s (%s)\n", wh.Element, wh.Reason)
		}
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newRevokeCmd(c *cmd) *cobra.Command {
	cc := &cobra.Command{
		Use:   "revoke [--reason TEXT] | revoke --card FILE --card-password PW --issuer URL [--device ID]",
		Short: "Revoke this phone's credentials (or, with --card, any device's)",
		Long: `Revoke asks the issuer to revoke this phone's credentials and deletes them here. With
--card it revokes with the My Number Card instead, from any phone — even one the issuer
does not allow to enrol — for another device or all of the person's devices.`,
		Example: `  wallet-sim revoke --home phone --pin 135790
  wallet-sim revoke --home other --card card.json --card-password ABC123 --issuer http://127.0.0.1:8080`,
		Args: cobra.NoArgs,
	}
	f := cc.Flags()
	reason := f.String("reason", "revoked by the holder", "reason recorded at the issuer")
	cardFile := f.String("card", "", "revoke with the My Number Card instead (works from any phone, even one not allowed to enrol)")
	cardPW := f.String("card-password", "", "with --card: the card's signature password")
	issuer := f.String("issuer", "", "with --card: the issuer URL")
	device := f.String("device", "", "with --card: the device id to revoke (default: every device of the person)")
	c.uvFlags(f)
	cc.RunE = c.runE("revoke", func(ctx context.Context, args []string) error {
		w, err := c.open()
		if err != nil {
			return err
		}
		if *cardFile != "" {
			if *issuer == "" || *cardPW == "" {
				return icli.Usagef("with --card, --issuer and --card-password are required")
			}
			t, err := walletsim.OpenCardFile(*cardFile)
			if err != nil {
				return err
			}
			lr, err := w.RevokeWithCard(ctx, *issuer, t, *cardPW, *device, *reason)
			if err != nil {
				return err
			}
			c.out(lr, fmt.Sprintf("revoked devices %v (state %s)\n", lr.DeviceIDs, lr.State))
			return nil
		}
		lr, err := w.Revoke(ctx, *reason)
		if err != nil {
			return err
		}
		c.out(lr, fmt.Sprintf("revoked at the issuer (%d credential(s)); keys and credentials deleted from this wallet\n", lr.CredentialsChanged))
		return nil
	})
	return cc
}

func newRefreshCmd(c *cmd) *cobra.Command {
	cc := &cobra.Command{
		Use:     "refresh",
		Short:   "Renew the credentials before they expire",
		Long:    `Refresh obtains new credentials for the same device key from the issuer that issued them.`,
		Example: `  wallet-sim refresh --home phone --pin 135790`,
		Args:    cobra.NoArgs,
	}
	f := cc.Flags()
	c.uvFlags(f)
	cc.RunE = c.runE("refresh", func(ctx context.Context, args []string) error {
		w, err := c.open()
		if err != nil {
			return err
		}
		creds, err := w.Refresh(ctx)
		if err != nil {
			return err
		}
		var b strings.Builder
		for _, cr := range creds {
			fmt.Fprintf(&b, "refreshed %s %s, valid until %s\n", cr.ID, cr.DocType, cr.ValidUntil.Format(time.DateOnly))
		}
		c.out(creds, b.String())
		return nil
	})
	return cc
}

func newSyncCmd(c *cmd) *cobra.Command {
	cc := &cobra.Command{
		Use:   "sync",
		Short: "Process remote deletes and refresh credential states (suspended, revoked)",
		Long: `Sync asks the issuer for this device's state, deletes everything on a remote delete
(device change, revocation), and reads the credentials' status lists.`,
		Example: `  wallet-sim sync --home phone --pin 135790`,
		Args:    cobra.NoArgs,
	}
	f := cc.Flags()
	c.uvFlags(f)
	cc.RunE = c.runE("sync", func(ctx context.Context, args []string) error {
		w, err := c.open()
		if err != nil {
			return err
		}
		res, err := w.Sync(ctx)
		if err != nil {
			return err
		}
		var b strings.Builder
		if res.RemoteDeleted {
			b.WriteString("remote delete received: credentials, device keys and JPKI certificates were deleted from this wallet\n")
		}
		for id, st := range res.States {
			fmt.Fprintf(&b, "%s: %s\n", id, strings.ToUpper(st))
		}
		fmt.Fprintf(&b, "device state at the issuer: %s\n", res.DeviceState)
		if !res.RemoteDeleted && w.NeedsRefresh(30*24*time.Hour) {
			b.WriteString("credentials expire within 30 days: run 'wallet-sim refresh'\n")
		}
		c.out(res, b.String())
		return nil
	})
	return cc
}

func newHistoryCmd(c *cmd) *cobra.Command {
	cc := &cobra.Command{
		Use:   "history",
		Short: "Show what was presented to whom",
		Long: `History lists every enrolment and presentation: reader, transport, released and withheld elements.
A damaged history log (lines cut off, replaced or modified) fails with history_corrupt;
'history reset' keeps it aside and starts a new one.`,
		Example: `  wallet-sim history --home phone`,
		Args:    cobra.NoArgs,
	}
	cc.AddCommand(newHistoryResetCmd(c))
	cc.RunE = c.runE("history", func(ctx context.Context, args []string) error {
		w, err := c.open()
		if err != nil {
			return err
		}
		h, err := w.History()
		if err != nil {
			return err
		}
		var b strings.Builder
		for _, e := range h {
			b.WriteString(describe(e))
		}
		if len(h) == 0 {
			b.WriteString("no history\n")
		}
		c.out(h, b.String())
		return nil
	})
	return cc
}

func newHistoryResetCmd(c *cmd) *cobra.Command {
	cc := &cobra.Command{
		Use:   "reset [--force]",
		Short: "Start a new history log when the current one is damaged",
		Long: `Reset is the way out of history_corrupt. The damaged log is not deleted: it is kept in
--home as history.log.reset-<UTC time>. A new log starts whose first entry records the
reset and the damage found, and the wallet data is anchored to it. A sound log is refused
(history_sound) unless --force.`,
		Example: `  wallet-sim history reset --home phone
  wallet-sim history reset --home phone --force --json`,
		Args: cobra.NoArgs,
	}
	force := cc.Flags().Bool("force", false, "reset even a sound log (it is kept aside too)")
	cc.RunE = c.runE("history reset", func(ctx context.Context, args []string) error {
		w, err := c.open()
		if err != nil {
			return err
		}
		r, err := w.ResetHistory(ctx, *force)
		if err != nil {
			return err
		}
		kept := "there was no log file to keep"
		if r.KeptAs != "" {
			kept = "the previous log is kept as " + r.KeptAs
		}
		c.out(r, fmt.Sprintf("history log reset; %s\n  reason: %s\n", kept, r.Reason))
		return nil
	})
	return cc
}

func newJPKICmd(c *cmd) *cobra.Command {
	return icli.Group(&cobra.Command{
		Use:   "jpki",
		Short: "Use the JPKI smartphone certificates: auth, sign, status",
		Long: `The jpki commands use the JPKI smartphone certificates installed at enrolment: a user
authentication (auth), a document signature (sign), and the tries left (status).`,
		Example: "  wallet-sim jpki status --home phone",
	}, newJPKIAuthCmd(c), newJPKISignCmd(c), newJPKIStatusCmd(c))
}

func newJPKIAuthCmd(c *cmd) *cobra.Command {
	cc := &cobra.Command{
		Use:   "auth --jpki-pin PIN --challenge HEX",
		Short: "Sign a relying party's challenge with the phone's JPKI auth key",
		Long: `Auth signs a challenge with the user-authentication key, after its 4-digit PIN, and
prints the certificate and signature for the relying party to verify.`,
		Example: "  wallet-sim jpki auth --home phone --jpki-pin 5678 --challenge 00112233445566778899aabbccddeeff",
		Args:    cobra.NoArgs,
	}
	f := cc.Flags()
	pin := f.String("jpki-pin", "", "the phone auth certificate's 4-digit PIN")
	challenge := f.String("challenge", "", "the relying party's challenge, hex (at least 16 bytes)")
	_ = cc.MarkFlagRequired("jpki-pin")
	_ = cc.MarkFlagRequired("challenge")
	cc.RunE = c.runE("jpki auth", func(ctx context.Context, _ []string) error {
		nonce, err := hex.DecodeString(*challenge)
		if err != nil || len(nonce) < 16 {
			return icli.Usagef("--challenge must be at least 16 bytes of hex")
		}
		w, err := c.open()
		if err != nil {
			return err
		}
		r, err := w.JPKIAuth(ctx, *pin, nonce)
		if err != nil {
			return err
		}
		out := map[string]string{"certificate": hex.EncodeToString(r.Certificate), "signature": hex.EncodeToString(r.Signature)}
		c.out(out, fmt.Sprintf("certificate: %s\nsignature: %s\n", out["certificate"], out["signature"]))
		return nil
	})
	return cc
}

func newJPKISignCmd(c *cmd) *cobra.Command {
	cc := &cobra.Command{
		Use:     "sign --password PW --file FILE",
		Short:   "Sign a file with the phone's JPKI signature key",
		Long:    "Sign signs the SHA-256 of a file (PKCS#1 v1.5) with the signature key, after its password.",
		Example: "  wallet-sim jpki sign --home phone --password PHONEPW1 --file contract.pdf",
		Args:    cobra.NoArgs,
	}
	f := cc.Flags()
	pw := f.String("password", "", "the phone signature certificate's password")
	file := f.String("file", "", "the file to sign (SHA-256, PKCS#1 v1.5)")
	_ = cc.MarkFlagRequired("password")
	_ = cc.MarkFlagRequired("file")
	cc.RunE = c.runE("jpki sign", func(ctx context.Context, _ []string) error {
		data, err := os.ReadFile(*file)
		if err != nil {
			return err
		}
		w, err := c.open()
		if err != nil {
			return err
		}
		cert, sig, err := w.JPKISign(ctx, *pw, data)
		if err != nil {
			return err
		}
		d := sha256.Sum256(data)
		out := map[string]string{"certificate": hex.EncodeToString(cert), "signature": hex.EncodeToString(sig), "sha256": hex.EncodeToString(d[:])}
		c.out(out, fmt.Sprintf("sha256: %s\ncertificate: %s\nsignature: %s\n", out["sha256"], out["certificate"], out["signature"]))
		return nil
	})
	return cc
}

func newJPKIStatusCmd(c *cmd) *cobra.Command {
	cc := &cobra.Command{
		Use:     "status",
		Short:   "Show the JPKI token and the PIN and password tries left",
		Long:    "Status prints the token label and how many PIN and password tries are left; it reads only.",
		Example: "  wallet-sim jpki status --home phone --json",
		Args:    cobra.NoArgs,
	}
	cc.RunE = c.runE("jpki status", func(context.Context, []string) error {
		w, err := c.open()
		if err != nil {
			return err
		}
		a, s, tok, err := w.JPKIStatus()
		if err != nil {
			return err
		}
		c.out(map[string]any{"token": tok, "auth_pin_tries_left": a, "sign_password_tries_left": s}, fmt.Sprintf("token %s: auth PIN %d tries left, signature password %d tries left\n", tok, a, s))
		return nil
	})
	return cc
}
