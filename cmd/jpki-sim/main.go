// Command jpki-sim is a local JPKI test CA and card simulator standing in
// for J-LIS: it makes roots, issues card and smartphone certificates for
// test persons, writes simulated cards (JPKI applet state files), revokes,
// publishes CRLs, and runs a user authentication against a simulated card
// with chain and CRL checks. Run `jpki-sim --help` for every command.
//
// Everything it writes is test material: the CA directory and the card
// files hold private keys.
package main

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/cli"
	"github.com/mynumber-mdoc/mnc/internal/vpcd"
	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/applet"
	"github.com/mynumber-mdoc/mnc/jpki/card"
	"github.com/mynumber-mdoc/mnc/jpki/cardsim"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
	"github.com/spf13/pflag"
)

func main() { cli.Main(program()) }

// dn renders a DER name RDN by RDN (pkix.Name.String merges repeated OUs).
func dn(raw []byte) string {
	s, err := jpki.DirNameString(raw)
	if err != nil {
		return "<unparsable name>"
	}
	return s
}

// timeFlag is an optional RFC 3339 time; zero means now.
type timeFlag struct{ t time.Time }

func (f *timeFlag) String() string {
	if f == nil || f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *timeFlag) Type() string { return "time" }

func (f *timeFlag) Set(s string) error {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("want RFC 3339, e.g. 2025-06-01T09:00:00Z: %w", err)
	}
	f.t = t
	return nil
}

func (f *timeFlag) now() func() time.Time {
	if f.t.IsZero() {
		return nil
	}
	return func() time.Time { return f.t }
}

func need(name, v string) error {
	if v == "" {
		return cli.Usagef("--%s is required", name)
	}
	return nil
}

func cmdInit(fs *pflag.FlagSet) func(context.Context, *pflag.FlagSet, io.Writer) error {
	dir := fs.String("dir", "", "CA directory to create (required)")
	fs.Bool("test", true, "make O=JPKI-TEST roots (the default; refused by verifiers in production mode)")
	prodDN := fs.Bool("production-dn", false, "make roots with the production DN O=JPKI instead (still local keys, trusted only where configured)")
	ocspURL := fs.String("ocsp-url", "", "OCSP responder URL to put into issued certificates")
	now := &timeFlag{}
	fs.Var(now, "now", "CA clock (RFC 3339); default the current time")
	return func(ctx context.Context, fs *pflag.FlagSet, out io.Writer) error {
		if err := need("dir", *dir); err != nil {
			return err
		}
		ca, err := testca.Init(*dir, testca.Options{Production: *prodDN, Now: now.now(), OCSPURL: *ocspURL})
		if err != nil {
			return err
		}
		for _, r := range ca.Roots() {
			fmt.Fprintf(out, "root %s\n  valid %s to %s\n", dn(r.RawSubject), r.NotBefore.Format(time.DateOnly), r.NotAfter.Format(time.DateOnly))
		}
		fmt.Fprintf(out, "CA written to %s; trust anchors in %s\n", *dir, ca.RootsFile())
		return nil
	}
}

func openCA(dir string, now *timeFlag) (*testca.CA, error) {
	if err := need("dir", dir); err != nil {
		return nil, err
	}
	return testca.Open(dir, testca.Options{Now: now.now()})
}

func cmdRollover(fs *pflag.FlagSet) func(context.Context, *pflag.FlagSet, io.Writer) error {
	dir := fs.String("dir", "", "CA directory (required)")
	now := &timeFlag{}
	fs.Var(now, "now", "CA clock (RFC 3339); default the current time")
	return func(ctx context.Context, fs *pflag.FlagSet, out io.Writer) error {
		ca, err := openCA(*dir, now)
		if err != nil {
			return err
		}
		if err := ca.Rollover(); err != nil {
			return err
		}
		fmt.Fprintf(out, "new root generation added; %d roots in %s\n", len(ca.Roots()), ca.RootsFile())
		return nil
	}
}

// parseBirth reads YYYY-MM-DD (00 for unknown month or day) and applies
// the era choice: auto derives it from the date.
func parseBirth(s, era string) (jpki.BirthDate, error) {
	parts := strings.Split(s, "-")
	if len(parts) != 3 || len(parts[0]) != 4 || len(parts[1]) != 2 || len(parts[2]) != 2 {
		return jpki.BirthDate{}, cli.Usagef("--birth %q: want YYYY-MM-DD", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil {
			return jpki.BirthDate{}, cli.Usagef("--birth %q: want YYYY-MM-DD", s)
		}
		n[i] = v
	}
	b := jpki.BirthDate{Year: n[0], Month: n[1], Day: n[2]}
	switch strings.ToLower(era) {
	case "", "auto":
		if b.Complete() {
			b.Era = jpki.EraOf(b.Year, time.Month(b.Month), b.Day)
		}
	default:
		e, err := jpki.ParseEra(era)
		if err != nil {
			return jpki.BirthDate{}, cli.Usagef("--era: %v", err)
		}
		b.Era = e
	}
	if err := b.Validate(); err != nil {
		return jpki.BirthDate{}, cli.Usagef("--birth %s --era %s: %v", s, era, err)
	}
	return b, nil
}

func parseIndices(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, p := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || v < 0 {
			return nil, cli.Usagef("%q is not a list of character indices", s)
		}
		out = append(out, v)
	}
	return out, nil
}

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

func cmdPerson(fs *pflag.FlagSet) func(context.Context, *pflag.FlagSet, io.Writer) error {
	dir := fs.String("dir", "", "CA directory (required)")
	name := fs.String("name", "", "氏名, family and given name separated by U+3000 (required)")
	nameSubs := fs.String("name-substitutes", "", "comma-separated character indices of the name that are substitute characters (name mask)")
	birth := fs.String("birth", "", "Gregorian birth date YYYY-MM-DD, 00 for an unknown month or day (required)")
	era := fs.String("era", "auto", "era code of the birth date: auto (from the date), meiji, taisho, showa, heisei, reiwa, unknown, or 0-5")
	sex := fs.String("sex", "", "sex code: 1 male, 2 female, 3 unknown (required)")
	address := fs.String("address", "", "住所 (required)")
	addrSubs := fs.String("address-substitutes", "", "comma-separated character indices of the address that are substitute characters")
	muni := fs.String("municipality", testca.DefaultMunicipality, "municipality naming the CRL distribution point")
	validity := fs.Int("validity-days", 5*365, "certificate lifetime in days")
	outPath := fs.String("out", "", "card file to write (required); it holds the private keys")
	signPW := fs.String("sign-password", "", "signature password: 6-16 characters A-Z 0-9 (required)")
	authPIN := fs.String("auth-pin", "", "user-authentication PIN: 4 digits (required)")
	token := fs.String("token", "card", "token: card (JPKIAPICCTOKEN2), gpse (JPKIAPGPSETOKEN) or ios (JPKIAPIOSTOKEN)")
	now := &timeFlag{}
	fs.Var(now, "now", "CA clock (RFC 3339); default the current time")
	return func(ctx context.Context, fs *pflag.FlagSet, out io.Writer) error {
		for _, f := range []struct{ n, v string }{{"name", *name}, {"birth", *birth}, {"sex", *sex}, {"address", *address}, {"out", *outPath}, {"sign-password", *signPW}, {"auth-pin", *authPIN}} {
			if err := need(f.n, f.v); err != nil {
				return err
			}
		}
		bd, err := parseBirth(*birth, *era)
		if err != nil {
			return err
		}
		sx, err := jpki.ParseSex(*sex)
		if err != nil {
			return cli.Usagef("--sex: %v", err)
		}
		tok, err := jpki.ParseToken(*token)
		if err != nil {
			return cli.Usagef("--token: %v", err)
		}
		if err := jpki.ValidateSignPassword(*signPW); err != nil {
			return cli.Usagef("--sign-password: %v", err)
		}
		if err := jpki.ValidateAuthPIN(*authPIN); err != nil {
			return cli.Usagef("--auth-pin: %v", err)
		}
		ns, err := parseIndices(*nameSubs)
		if err != nil {
			return err
		}
		as, err := parseIndices(*addrSubs)
		if err != nil {
			return err
		}
		if *validity <= 0 {
			return cli.Usagef("--validity-days must be positive")
		}
		if _, err := os.Stat(*outPath); err == nil {
			return fmt.Errorf("%s exists; refusing to overwrite a card", *outPath)
		}
		ca, err := openCA(*dir, now)
		if err != nil {
			return err
		}
		creds, err := ca.IssueCard(testca.Person{
			Name: *name, NameSubstitutes: ns, BirthDate: bd, Sex: sx, Address: *address, AddressSubstitutes: as, Municipality: *muni,
		}, testca.IssueOptions{Validity: days(*validity)})
		if err != nil {
			return err
		}
		if _, err := applet.Create(*outPath, creds.AppletConfig(tok, *signPW, *authPIN)); err != nil {
			return err
		}
		fmt.Fprintf(out, "signature certificate serial %s (%s, birth %s era %s)\n", creds.SignCert.SerialNumber, *name, bd, bd.Era)
		fmt.Fprintf(out, "auth certificate serial %s (id %s)\n", creds.AuthCert.SerialNumber, creds.AuthCert.Subject.CommonName)
		fmt.Fprintf(out, "valid until %s; card %s written to %s\n", creds.SignCert.NotAfter.Format(time.DateOnly), tok, *outPath)
		return nil
	}
}

func cmdPhone(fs *pflag.FlagSet) func(context.Context, *pflag.FlagSet, io.Writer) error {
	dir := fs.String("dir", "", "CA directory (required)")
	cardPath := fs.String("card", "", "the person's card file (required)")
	cardPW := fs.String("card-password", "", "the card's signature password, to read its signature certificate (required)")
	outPath := fs.String("out", "", "phone token file to write (required)")
	token := fs.String("token", "gpse", "phone token: gpse (Android) or ios (iPhone)")
	signPW := fs.String("sign-password", "", "the phone's own signature password: 6-16 characters A-Z 0-9 (required)")
	authPIN := fs.String("auth-pin", "", "the phone's own auth PIN: 4 digits (required)")
	validity := fs.Int("validity-days", 5*365, "requested lifetime in days; capped at the card certificate's notAfter")
	now := &timeFlag{}
	fs.Var(now, "now", "CA clock (RFC 3339); default the current time")
	return func(ctx context.Context, fs *pflag.FlagSet, out io.Writer) error {
		for _, f := range []struct{ n, v string }{{"card", *cardPath}, {"card-password", *cardPW}, {"out", *outPath}, {"sign-password", *signPW}, {"auth-pin", *authPIN}} {
			if err := need(f.n, f.v); err != nil {
				return err
			}
		}
		tok, err := jpki.ParseToken(*token)
		if err != nil || !tok.Phone() {
			return cli.Usagef("--token must be gpse or ios")
		}
		if err := jpki.ValidateSignPassword(*signPW); err != nil {
			return cli.Usagef("--sign-password: %v", err)
		}
		if err := jpki.ValidateAuthPIN(*authPIN); err != nil {
			return cli.Usagef("--auth-pin: %v", err)
		}
		if _, err := os.Stat(*outPath); err == nil {
			return fmt.Errorf("%s exists; refusing to overwrite a token", *outPath)
		}
		ca, err := openCA(*dir, now)
		if err != nil {
			return err
		}
		// Read the card's signature certificate through the applet, as the
		// phone app does over NFC.
		a, err := applet.Open(*cardPath)
		if err != nil {
			return err
		}
		c := card.New(card.InMemory(a))
		if err := c.Select(ctx); err != nil {
			return err
		}
		if err := c.VerifySignPassword(ctx, *cardPW); err != nil {
			return err
		}
		der, err := c.ReadSignCertificate(ctx)
		if err != nil {
			return err
		}
		cardCert, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("card signature certificate: %w", err)
		}
		creds, err := ca.IssueSmartphone(cardCert, testca.IssueOptions{Validity: days(*validity)})
		if err != nil {
			return err
		}
		if _, err := applet.Create(*outPath, creds.AppletConfig(tok, *signPW, *authPIN)); err != nil {
			return err
		}
		fmt.Fprintf(out, "smartphone signature certificate serial %s, auth certificate serial %s (from card serial %s)\n",
			creds.SignCert.SerialNumber, creds.AuthCert.SerialNumber, cardCert.SerialNumber)
		fmt.Fprintf(out, "valid until %s; %s token written to %s\n", creds.SignCert.NotAfter.Format(time.DateOnly), tok, *outPath)
		return nil
	}
}

func readPEM(path, typ string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, fmt.Errorf("%s: no %s PEM block", path, typ)
		}
		if block.Type == typ {
			return block.Bytes, nil
		}
	}
}

func cmdPhoneCert(fs *pflag.FlagSet) func(context.Context, *pflag.FlagSet, io.Writer) error {
	dir := fs.String("dir", "", "CA directory (required)")
	cardCert := fs.String("card-cert", "", "PEM card certificate the phone certificate derives from (the signature one for --kind sign) (required)")
	kind := fs.String("kind", "", "sign or auth (required)")
	pubPath := fs.String("pubkey", "", "PEM PUBLIC KEY (PKIX) of the key generated in the phone's secure element (required)")
	outPath := fs.String("out", "", "PEM certificate to write (required)")
	validity := fs.Int("validity-days", 5*365, "requested lifetime in days; capped at the card certificate's notAfter")
	now := &timeFlag{}
	fs.Var(now, "now", "CA clock (RFC 3339); default the current time")
	return func(ctx context.Context, fs *pflag.FlagSet, out io.Writer) error {
		for _, f := range []struct{ n, v string }{{"card-cert", *cardCert}, {"kind", *kind}, {"pubkey", *pubPath}, {"out", *outPath}} {
			if err := need(f.n, f.v); err != nil {
				return err
			}
		}
		var k jpki.Kind
		switch *kind {
		case "sign", "signature":
			k = jpki.KindSignature
		case "auth":
			k = jpki.KindAuth
		default:
			return cli.Usagef("--kind must be sign or auth")
		}
		certDER, err := readPEM(*cardCert, "CERTIFICATE")
		if err != nil {
			return err
		}
		cert, err := x509.ParseCertificate(certDER)
		if err != nil {
			return fmt.Errorf("%s: %w", *cardCert, err)
		}
		pubDER, err := readPEM(*pubPath, "PUBLIC KEY")
		if err != nil {
			return err
		}
		pub, err := x509.ParsePKIXPublicKey(pubDER)
		if err != nil {
			return fmt.Errorf("%s: %w", *pubPath, err)
		}
		rsaPub, ok := pub.(*rsa.PublicKey)
		if !ok || rsaPub.Size() != testca.KeyBits/8 {
			return fmt.Errorf("%s: JPKI keys are RSA-%d", *pubPath, testca.KeyBits)
		}
		ca, err := openCA(*dir, now)
		if err != nil {
			return err
		}
		phone, err := ca.IssueSmartphoneCertificate(cert, k, rsaPub, testca.IssueOptions{Validity: days(*validity)})
		if err != nil {
			return err
		}
		if err := os.WriteFile(*outPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: phone.Raw}), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(out, "smartphone %s certificate serial %s valid until %s written to %s\n", k, phone.SerialNumber, phone.NotAfter.Format(time.DateOnly), *outPath)
		return nil
	}
}

func cmdRevoke(fs *pflag.FlagSet) func(context.Context, *pflag.FlagSet, io.Writer) error {
	dir := fs.String("dir", "", "CA directory (required)")
	serial := fs.String("serial", "", "decimal serial number to revoke (required; see list)")
	reason := fs.String("reason", "unspecified", "RFC 5280 reason: unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, … or its number")
	when := &timeFlag{}
	fs.Var(when, "at", "revocation time (RFC 3339); default now")
	now := &timeFlag{}
	fs.Var(now, "now", "CA clock (RFC 3339); default the current time")
	return func(ctx context.Context, fs *pflag.FlagSet, out io.Writer) error {
		if err := need("serial", *serial); err != nil {
			return err
		}
		n, ok := new(big.Int).SetString(*serial, 10)
		if !ok {
			return cli.Usagef("--serial %q is not a decimal number", *serial)
		}
		r, err := jpki.ParseReason(*reason)
		if err != nil {
			return cli.Usagef("--reason: %v", err)
		}
		ca, err := openCA(*dir, now)
		if err != nil {
			return err
		}
		revoked, err := ca.Revoke(n, r, when.t)
		if err != nil {
			return err
		}
		for _, s := range revoked {
			fmt.Fprintf(out, "revoked serial %s (%s)\n", s, jpki.ReasonString(r))
		}
		fmt.Fprintln(out, "publish a new CRL (jpki-sim crl) for verifiers to see it")
		return nil
	}
}

func cmdCRL(fs *pflag.FlagSet) func(context.Context, *pflag.FlagSet, io.Writer) error {
	dir := fs.String("dir", "", "CA directory (required)")
	outDir := fs.String("out", "", "CRL directory; default DIR/crl")
	validity := fs.Duration("validity", testca.DefaultCRLValidity, "time from thisUpdate to nextUpdate")
	this := &timeFlag{}
	fs.Var(this, "this-update", "thisUpdate (RFC 3339); default now")
	now := &timeFlag{}
	fs.Var(now, "now", "CA clock (RFC 3339); default the current time")
	return func(ctx context.Context, fs *pflag.FlagSet, out io.Writer) error {
		if *validity <= 0 {
			return cli.Usagef("--validity must be positive")
		}
		ca, err := openCA(*dir, now)
		if err != nil {
			return err
		}
		crls, err := ca.PublishCRLs(*outDir, this.t, *validity)
		if err != nil {
			return err
		}
		target := *outDir
		if target == "" {
			target = ca.CRLDir()
		}
		for _, c := range crls {
			fmt.Fprintf(out, "%s  %d revoked  %s\n", c.FileName, c.Entries, c.DistributionPoint)
		}
		fmt.Fprintf(out, "%d CRLs written to %s\n", len(crls), target)
		return nil
	}
}

func cmdList(fs *pflag.FlagSet) func(context.Context, *pflag.FlagSet, io.Writer) error {
	dir := fs.String("dir", "", "CA directory (required)")
	return func(ctx context.Context, fs *pflag.FlagSet, out io.Writer) error {
		ca, err := openCA(*dir, &timeFlag{})
		if err != nil {
			return err
		}
		recs := ca.Records()
		sort.Slice(recs, func(i, j int) bool { return recs[i].Serial.Cmp(recs[j].Serial) < 0 })
		fmt.Fprintf(out, "%-8s %-9s %-10s %-3s %-20s %-10s %s\n", "SERIAL", "KIND", "FORM", "GEN", "ID", "NOT AFTER", "STATE")
		for _, r := range recs {
			state := "valid"
			if r.Revoked() {
				state = fmt.Sprintf("revoked %s (%s)", r.RevokedAt.Format(time.RFC3339), jpki.ReasonString(r.Reason))
			}
			if r.Parent != nil {
				state += " (from card serial " + r.Parent.String() + ")"
			}
			fmt.Fprintf(out, "%-8s %-9s %-10s %-3d %-20s %-10s %s\n", r.Serial, r.Kind, r.Form, r.Generation, r.ID, r.NotAfter.Format(time.DateOnly), state)
		}
		return nil
	}
}

func cmdShow(fs *pflag.FlagSet) func(context.Context, *pflag.FlagSet, io.Writer) error {
	return func(ctx context.Context, fs *pflag.FlagSet, out io.Writer) error {
		a, err := applet.Open(fs.Arg(0))
		if err != nil {
			return err
		}
		info := a.Info()
		fmt.Fprintf(out, "token %s\n", info.Token)
		fmt.Fprintf(out, "auth PIN tries left %d/%d, signature password tries left %d/%d\n",
			info.AuthPINTriesLeft, info.AuthPINMaxTries, info.SignPWTriesLeft, info.SignPWMaxTries)
		for _, c := range []struct {
			label string
			der   []byte
		}{{"signature certificate", info.SignCert}, {"auth certificate", info.AuthCert}} {
			cert, err := jpki.ParseCertificate(c.der)
			if err != nil {
				fmt.Fprintf(out, "%s: %v\n", c.label, err)
				continue
			}
			x := cert.X509
			fmt.Fprintf(out, "%s: serial %s, %s %s, subject %s\n  valid %s to %s, issuer %s\n", c.label, x.SerialNumber, cert.Form, cert.Kind,
				dn(x.RawSubject), x.NotBefore.Format(time.RFC3339), x.NotAfter.Format(time.RFC3339), dn(x.RawIssuer))
			if f := cert.Facts; f != nil {
				fmt.Fprintf(out, "  name %s (family %s, given %s) mask %s\n", f.FullName, f.FamilyName, f.GivenName, f.NameMask)
				fmt.Fprintf(out, "  birth %s era %s (%s) %s\n", f.BirthDate.Encode(), f.BirthDate.Era, f.BirthDate.Wareki(), f.BirthDate)
				fmt.Fprintf(out, "  sex %s (%s)\n  address %s mask %s\n", f.Sex.Code(), f.Sex.Unicode(), f.Address, f.AddressMask)
			}
		}
		return nil
	}
}

func cmdAuth(fs *pflag.FlagSet) func(context.Context, *pflag.FlagSet, io.Writer) error {
	cardPath := fs.String("card", "", "card or phone token file (required)")
	pin := fs.String("pin", "", "auth PIN (required)")
	rootsPath := fs.String("roots", "", "PEM file of trusted JPKI roots, e.g. CA/roots.pem (required)")
	crlDir := fs.String("crl-dir", "", "CRL directory as written by the crl command (required)")
	testRoots := fs.Bool("test-roots", false, "verify in test mode, trusting O=JPKI-TEST roots (production mode refuses them)")
	grace := fs.Duration("crl-grace", 0, "accept CRLs this long past nextUpdate")
	now := &timeFlag{}
	fs.Var(now, "now", "verification time (RFC 3339); default now")
	return func(ctx context.Context, fs *pflag.FlagSet, out io.Writer) error {
		for _, f := range []struct{ n, v string }{{"card", *cardPath}, {"pin", *pin}, {"roots", *rootsPath}, {"crl-dir", *crlDir}} {
			if err := need(f.n, f.v); err != nil {
				return err
			}
		}
		pemBytes, err := os.ReadFile(*rootsPath)
		if err != nil {
			return err
		}
		roots := &jpki.Roots{}
		if err := roots.AppendPEM(pemBytes); err != nil {
			return err
		}
		mode := jpki.ModeProduction
		if *testRoots {
			mode = jpki.ModeTest
		}
		v := &jpki.Verifier{Roots: roots, Mode: mode, Revocation: &jpki.CRLChecker{Source: jpki.CRLDir(*crlDir), Grace: *grace}}
		a, err := applet.Open(*cardPath)
		if err != nil {
			return err
		}
		nonce, err := jpki.NewNonce(nil)
		if err != nil {
			return err
		}
		certDER, sig, err := card.New(card.InMemory(a)).Authenticate(ctx, *pin, nonce)
		if err != nil {
			return err
		}
		res, err := v.VerifyAuth(ctx, nonce, certDER, sig, jpki.VerifyOptions{CurrentTime: now.t})
		if err != nil {
			return fmt.Errorf("authentication refused (%s): %w", jpki.CodeOf(err), err)
		}
		fmt.Fprintf(out, "authenticated: id %s (%s certificate serial %s, valid until %s)\n", res.ID, res.Form, res.SerialNumber, res.NotAfter.Format(time.DateOnly))
		if res.Revocation != nil {
			fmt.Fprintf(out, "revocation: %s %s, thisUpdate %s, nextUpdate %s\n", res.Revocation.Method, res.Revocation.DistributionPoint,
				res.Revocation.ThisUpdate.Format(time.RFC3339), res.Revocation.NextUpdate.Format(time.RFC3339))
		}
		return nil
	}
}

func cmdServe(fs *pflag.FlagSet) func(context.Context, *pflag.FlagSet, io.Writer) error {
	cardPath := fs.String("card", "", "card or phone token file (required); PIN tries are written back to it")
	addr := fs.String("vpcd", vpcd.DefaultAddr, "vpcd driver address (35963: reader \"Virtual PCD 00 00\", 35964: \"00 01\")")
	return func(ctx context.Context, fs *pflag.FlagSet, out io.Writer) error {
		if err := need("card", *cardPath); err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		return cardsim.Serve(ctx, *cardPath, cardsim.Options{Addr: *addr, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	}
}
