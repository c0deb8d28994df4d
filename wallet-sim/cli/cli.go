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
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/blesim"
	walletsim "github.com/mynumber-mdoc/mnc/wallet-sim"
	"github.com/mynumber-mdoc/mnc/wallet-sim/se"
)

// Env is the process environment the commands run in.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Interactive says whether Stdin is a terminal (prompts allowed).
	Interactive bool
	Getenv      func(string) string
}

const usage = `wallet-sim: a phone wallet simulator (Apple / Google style) for the My Number Card mdoc

Usage: wallet-sim <command> [flags]

Commands:
  init      create a wallet: --profile apple|android --model M [--os V] [--rooted] [--pin P]
  trust     trust reader CAs (--reader-roots FILE) and issuer IACAs (--iaca FILE), PEM
  enroll    add the My Number Card: --card FILE --issuer URL
  list      list credentials and their state
  show      show the wallet (or one credential: show ID)
  present   present by QR (--qr) or NFC (--nfc) over the simulated BLE transport,
            or online (--request openid4vp://… | org-iso-mdoc://…)
  revoke    revoke this phone's credentials (or, with --card, any device's)
  refresh   renew the credentials before they expire
  sync      process remote deletes and refresh credential states (suspended, revoked)
  history   show what was presented to whom
  jpki      use the JPKI smartphone certificates: jpki auth | sign | status

Every command takes --home DIR (default $MNC_WALLET_HOME, else ~/.mnc-wallet)
and --json. User verification: --pin P or --biometric match|no-match, else a
prompt on a terminal. Run 'wallet-sim <command> --help' for its flags.
`

// Run executes one command and returns the process exit code.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(env.Stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmds := map[string]func(context.Context, *cmd) error{
		"init": cmdInit, "trust": cmdTrust, "enroll": cmdEnroll, "enrol": cmdEnroll, "list": cmdList, "show": cmdShow,
		"present": cmdPresent, "revoke": cmdRevoke, "refresh": cmdRefresh, "sync": cmdSync, "history": cmdHistory, "jpki": cmdJPKI,
	}
	f, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "wallet-sim: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	c := newCmd(args[0], env)
	err := f(ctx, c.parse(args[1:]))
	c.lock.Unlock()
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.Is(err, errUsage) {
		return 2
	}
	if err != nil {
		c.fail(err)
		return 1
	}
	return 0
}

var errUsage = errors.New("usage")

// cmd holds one command's flags and streams.
type cmd struct {
	name string
	env  Env
	fs   *flag.FlagSet
	home *string
	json *bool
	pin  *string
	bio  *string
	err  error
	args []string
	// lock is the advisory lock on --home, taken when the wallet is
	// opened and released when the command ends.
	lock *walletsim.HomeLock
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
	l, err := walletsim.LockHome(*c.home, mode)
	if err != nil {
		return err
	}
	c.lock = l
	return nil
}

func newCmd(name string, env Env) *cmd {
	c := &cmd{name: name, env: env, fs: flag.NewFlagSet("wallet-sim "+name, flag.ContinueOnError)}
	c.fs.SetOutput(env.Stderr)
	def := env.Getenv("MNC_WALLET_HOME")
	if def == "" {
		if h, err := os.UserHomeDir(); err == nil {
			def = filepath.Join(h, ".mnc-wallet")
		}
	}
	c.home = c.fs.String("home", def, "wallet directory (state: secure element, sealed credentials, history)")
	c.json = c.fs.Bool("json", false, "print JSON (errors carry a stable \"code\")")
	c.pin = c.fs.String("pin", "", "device PIN for user verification (android; apple has no PIN)")
	c.bio = c.fs.String("biometric", "", "simulated biometric sensor outcome: match or no-match")
	return c
}

// parse defers flag parsing to the command, which registers its own flags
// first; it keeps the raw arguments.
func (c *cmd) parse(args []string) *cmd { c.args = args; return c }

func (c *cmd) parseFlags() error {
	if err := c.fs.Parse(c.args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

func (c *cmd) options() walletsim.Options {
	logger := slog.New(slog.NewTextHandler(c.env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	o := walletsim.Options{Logger: logger, Authenticator: c.authenticator(), Radio: blesim.DefaultRadio()}
	if c.env.Interactive && *c.pin == "" && *c.bio == "" {
		o.UVAttempts = 3
	}
	return o
}

func (c *cmd) open() (*walletsim.Wallet, error) {
	if err := c.lockHome(); err != nil {
		return nil, err
	}
	return walletsim.Open(*c.home, c.options())
}

// authenticator gives the --pin / --biometric attempt, or prompts.
func (c *cmd) authenticator() walletsim.Authenticator {
	return walletsim.AuthenticatorFunc(func(ctx context.Context, reason string, p se.Policy) (se.Auth, error) {
		if *c.pin != "" {
			return se.Auth{PIN: *c.pin}, nil
		}
		if *c.bio != "" {
			b, err := se.ParseBiometric(*c.bio)
			return se.Auth{Biometric: b}, err
		}
		if !c.env.Interactive {
			return se.Auth{}, errors.New("user verification needed: give --biometric match|no-match or --pin")
		}
		r := bufio.NewReader(c.env.Stdin)
		if p.AllowBiometric {
			fmt.Fprintf(c.env.Stderr, "%s — simulated biometric sensor: does it match? [y/n%s] ", reason, map[bool]string{true: "/p for PIN", false: ""}[p.AllowPIN])
			line, _ := r.ReadString('\n')
			switch strings.TrimSpace(strings.ToLower(line)) {
			case "y", "yes", "match":
				return se.Auth{Biometric: se.BiometricMatch}, nil
			case "p":
			default:
				return se.Auth{Biometric: se.BiometricNoMatch}, nil
			}
		}
		fmt.Fprintf(c.env.Stderr, "%s — PIN: ", reason)
		line, _ := r.ReadString('\n')
		return se.Auth{PIN: strings.TrimSpace(line)}, nil
	})
}

// out prints v as JSON with --json, else the text.
func (c *cmd) out(v any, text string) {
	if *c.json {
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
}

func (c *cmd) fail(err error) {
	code := walletsim.CodeOf(err)
	if code == "" {
		code = string(se.CodeOf(err))
	}
	if code == "" {
		code = "error"
	}
	if *c.json {
		json.NewEncoder(c.env.Stdout).Encode(map[string]string{"code": code, "error": err.Error(), "hint": hints[code]})
		return
	}
	fmt.Fprintf(c.env.Stderr, "wallet-sim %s: %v\n", c.name, err)
	if h := hints[code]; h != "" {
		fmt.Fprintf(c.env.Stderr, "  → %s (code %s)\n", h, code)
	}
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
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

func cmdInit(ctx context.Context, c *cmd) error {
	profile := c.fs.String("profile", "", "apple (biometric only) or android (PIN or biometric)")
	model := c.fs.String("model", "", "device model, e.g. iPhone17,1 or Pixel 9 (the issuer checks it against its allow-list)")
	osv := c.fs.String("os", "", "OS version (default iOS 26.1 / Android 16)")
	rooted := c.fs.Bool("rooted", false, "simulate a rooted / jailbroken device (attestation reports it; issuers refuse it)")
	readerRoots := c.fs.String("reader-roots", "", "PEM file of reader CA certificates to trust")
	iaca := c.fs.String("iaca", "", "PEM file of issuer IACA certificates to trust")
	if err := c.parseFlags(); err != nil {
		return err
	}
	p := walletsim.Profile{Platform: walletsim.Platform(*profile), Model: *model, OSVersion: *osv, Rooted: *rooted}
	if err := p.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(*c.home, 0o700); err != nil {
		return err
	}
	if err := c.lockHome(); err != nil {
		return err
	}
	w, err := walletsim.Init(*c.home, p, *c.pin, c.options())
	if err != nil {
		return err
	}
	if err := trustFiles(w, *readerRoots, *iaca); err != nil {
		return err
	}
	pr := w.Profile()
	c.out(map[string]any{"home": *c.home, "profile": pr}, fmt.Sprintf("wallet created in %s: %s\n", *c.home, pr))
	return nil
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

func cmdTrust(ctx context.Context, c *cmd) error {
	readerRoots := c.fs.String("reader-roots", "", "PEM file of reader CA certificates to trust")
	iaca := c.fs.String("iaca", "", "PEM file of issuer IACA certificates to trust")
	if err := c.parseFlags(); err != nil {
		return err
	}
	if *readerRoots == "" && *iaca == "" {
		fmt.Fprintln(c.env.Stderr, "wallet-sim trust: give --reader-roots and/or --iaca")
		return errUsage
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
}

func cmdEnroll(ctx context.Context, c *cmd) error {
	cardFile := c.fs.String("card", "", "simulated My Number Card file (written by jpki-sim)")
	issuer := c.fs.String("issuer", "", "credential issuer URL (mdoc-issuer serve)")
	cardPW := c.fs.String("card-password", "", "the card's signature password (6–16 of A–Z, 0–9); prompted when absent")
	jpkiPW := c.fs.String("jpki-password", "", "new signature password for the phone JPKI certificate (6–16 of A–Z, 0–9)")
	jpkiPIN := c.fs.String("jpki-pin", "", "new 4-digit auth PIN for the phone JPKI certificate")
	tx := c.fs.String("tx-code", "", "transaction code, if the issuer sent one")
	email := c.fs.String("email", "", "contact e-mail for use notifications (optional)")
	if err := c.parseFlags(); err != nil {
		return err
	}
	if *cardFile == "" || *issuer == "" {
		fmt.Fprintln(c.env.Stderr, "wallet-sim enroll: --card and --issuer are required")
		return errUsage
	}
	if *cardPW == "" {
		if !c.env.Interactive {
			return errors.New("the card's signature password is needed: --card-password")
		}
		fmt.Fprint(c.env.Stderr, "card signature password: ")
		line, _ := bufio.NewReader(c.env.Stdin).ReadString('\n')
		*cardPW = strings.TrimSpace(line)
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
			if !*c.json {
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
}

func cmdList(ctx context.Context, c *cmd) error {
	if err := c.parseFlags(); err != nil {
		return err
	}
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
}

func cmdShow(ctx context.Context, c *cmd) error {
	if err := c.parseFlags(); err != nil {
		return err
	}
	w, err := c.open()
	if err != nil {
		return err
	}
	if id := c.fs.Arg(0); id != "" {
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
}

func cmdPresent(ctx context.Context, c *cmd) error {
	qr := c.fs.Bool("qr", false, "device engagement by QR code (mdoc: URI), then the session over the simulated BLE transport")
	nfc := c.fs.Bool("nfc", false, "device engagement by NFC static handover (Handover Select printed in hex / written to --ndef-out), session over simulated BLE")
	request := c.fs.String("request", "", "online request link: openid4vp://… (OpenID4VP 1.0) or org-iso-mdoc://… (ISO 18013-7 Annex C)")
	var approve, deny stringList
	c.fs.Var(&approve, "approve", "release this element without asking (identifier, namespace/identifier, namespace/*); repeatable")
	c.fs.Var(&deny, "deny", "never release this element (same patterns); wins over --approve; repeatable")
	approveAll := c.fs.Bool("approve-all", false, "release everything the wallet's policy allows, without asking")
	mac := c.fs.Bool("mac", false, "device authentication by MAC (deviceMac) instead of a signature")
	timeout := c.fs.Duration("timeout", 5*time.Minute, "how long to wait for a reader")
	dir := c.fs.String("blesim-dir", "", "rendezvous directory of the simulated BLE radio (default $MNC_BLESIM_DIR, else <tmp>/mnc-blesim); the reader must use the same")
	ndefOut := c.fs.String("ndef-out", "", "with --nfc: write the Handover Select NDEF message to this file")
	engOut := c.fs.String("engagement-out", "", "write the engagement (QR text or NDEF hex) to this file too, for a reader to pick up")
	c.fs.Usage = func() {
		fmt.Fprintf(c.env.Stderr, "Usage: wallet-sim present --qr|--nfc|--request URL [flags]\n\n"+
			"Proximity (--qr, --nfc) prints the device engagement and serves the ISO 18013-5 session on\n"+
			"mdoc/blesim, a loopback stand-in for Bluetooth LE (mdoc peripheral server mode): the reader\n"+
			"'scans' for the service UUID in the engagement. There is no real radio.\n\n")
		c.fs.PrintDefaults()
	}
	if err := c.parseFlags(); err != nil {
		return err
	}
	n := 0
	for _, b := range []bool{*qr, *nfc, *request != ""} {
		if b {
			n++
		}
	}
	if n != 1 {
		fmt.Fprintln(c.env.Stderr, "wallet-sim present: give exactly one of --qr, --nfc, --request URL")
		return errUsage
	}
	var consent walletsim.Consent = walletsim.Rules{ApproveAll: *approveAll, Approve: approve, Deny: deny}
	if !*approveAll && len(approve) == 0 && len(deny) == 0 {
		if c.env.Interactive {
			consent = &walletsim.Prompt{In: c.env.Stdin, Out: c.env.Stderr}
		} else {
			fmt.Fprintln(c.env.Stderr, "wallet-sim present: no terminal and no --approve/--approve-all: nothing will be released")
		}
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
	o := walletsim.ProximityOptions{Engagement: walletsim.EngagementQR, Consent: consent, MAC: *mac}
	if *nfc {
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
	if *nfc {
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
	if *c.json {
		json.NewEncoder(c.env.Stdout).Encode(map[string]string{"engagement": engagement, "ble_uuid": hex.EncodeToString(p.ServiceUUID())})
	} else {
		label := "QR code content"
		if *nfc {
			label = "NFC Handover Select (hex)"
		}
		fmt.Fprintf(c.env.Stdout, "%s:\n%s\n", label, engagement)
		fmt.Fprintf(c.env.Stderr, "advertising BLE service %x on the simulated radio; waiting for a reader (Ctrl-C to stop)…\n", p.ServiceUUID())
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res, err := p.Serve(ctx)
	if res != nil && !*c.json {
		for _, h := range res.Presentations {
			fmt.Fprint(c.env.Stdout, describe(h))
		}
	}
	if err != nil {
		return err
	}
	if *c.json {
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

func cmdRevoke(ctx context.Context, c *cmd) error {
	reason := c.fs.String("reason", "revoked by the holder", "reason recorded at the issuer")
	cardFile := c.fs.String("card", "", "revoke with the My Number Card instead (works from any phone, even one not allowed to enrol)")
	cardPW := c.fs.String("card-password", "", "with --card: the card's signature password")
	issuer := c.fs.String("issuer", "", "with --card: the issuer URL")
	device := c.fs.String("device", "", "with --card: the device id to revoke (default: every device of the person)")
	if err := c.parseFlags(); err != nil {
		return err
	}
	w, err := c.open()
	if err != nil {
		return err
	}
	if *cardFile != "" {
		if *issuer == "" || *cardPW == "" {
			fmt.Fprintln(c.env.Stderr, "wallet-sim revoke --card: --issuer and --card-password are required")
			return errUsage
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
}

func cmdRefresh(ctx context.Context, c *cmd) error {
	if err := c.parseFlags(); err != nil {
		return err
	}
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
}

func cmdSync(ctx context.Context, c *cmd) error {
	if err := c.parseFlags(); err != nil {
		return err
	}
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
}

func cmdHistory(ctx context.Context, c *cmd) error {
	if err := c.parseFlags(); err != nil {
		return err
	}
	w, err := c.open()
	if err != nil {
		return err
	}
	h := w.History()
	var b strings.Builder
	for _, e := range h {
		b.WriteString(describe(e))
	}
	if len(h) == 0 {
		b.WriteString("no history\n")
	}
	c.out(h, b.String())
	return nil
}

func cmdJPKI(ctx context.Context, c *cmd) error {
	if len(c.args) == 0 {
		fmt.Fprintln(c.env.Stderr, "Usage: wallet-sim jpki auth --jpki-pin PIN --challenge HEX | sign --password PW --file F | status")
		return errUsage
	}
	sub := c.args[0]
	c.args = c.args[1:]
	if sub == "status" {
		c.name = "jpki status" // reads only: shares the home lock
	}
	pin := c.fs.String("jpki-pin", "", "the phone auth certificate's 4-digit PIN")
	pw := c.fs.String("password", "", "the phone signature certificate's password")
	challenge := c.fs.String("challenge", "", "auth: the relying party's challenge, hex")
	file := c.fs.String("file", "", "sign: the file to sign (SHA-256, PKCS#1 v1.5)")
	if err := c.parseFlags(); err != nil {
		return err
	}
	w, err := c.open()
	if err != nil {
		return err
	}
	switch sub {
	case "auth":
		nonce, err := hex.DecodeString(*challenge)
		if err != nil || len(nonce) < 16 {
			return errors.New("--challenge must be at least 16 bytes of hex")
		}
		r, err := w.JPKIAuth(ctx, *pin, nonce)
		if err != nil {
			return err
		}
		out := map[string]string{"certificate": hex.EncodeToString(r.Certificate), "signature": hex.EncodeToString(r.Signature)}
		c.out(out, fmt.Sprintf("certificate: %s\nsignature: %s\n", out["certificate"], out["signature"]))
	case "sign":
		data, err := os.ReadFile(*file)
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
	case "status":
		a, s, tok, err := w.JPKIStatus()
		if err != nil {
			return err
		}
		c.out(map[string]any{"token": tok, "auth_pin_tries_left": a, "sign_password_tries_left": s}, fmt.Sprintf("token %s: auth PIN %d tries left, signature password %d tries left\n", tok, a, s))
	default:
		fmt.Fprintf(c.env.Stderr, "wallet-sim jpki: unknown subcommand %q (auth, sign, status)\n", sub)
		return errUsage
	}
	return nil
}
