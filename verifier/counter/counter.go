// Package counter is the reader at a counter — a clinic's insurance
// reader or a shop's age check — driving whatever is tapped on its NFC
// reader: it tells a phone with mdocs from a My Number Card (or a phone's
// JPKI applet) by which application answers SELECT, and decides.
//
//   - mdoc (ISO/IEC 18013-5 NFC engagement and data retrieval): the
//     insurance check (insurance and identity documents for a reader
//     certificate with the medical-institution role, deviceMac) or the age
//     check (age_over_NN, deviceSignature), with the verifier's policies.
//   - JPKI (the card's JPKI AP or a GP-SE phone's): the auth PIN, user
//     authentication over a nonce, chain and CRL, then online qualification
//     confirmation at the issuer for medical readers.
//
// The package drives any Transmitter (a PC/SC card handle in production);
// it keeps no state between taps.
package counter

import (
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/card"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/jpkiauth"
	"github.com/mynumber-mdoc/mnc/verifier/policy"
	"github.com/mynumber-mdoc/mnc/verifier/reader"
)

// Checks a counter performs on an mdoc phone.
const (
	CheckInsurance = "insurance"
	CheckAge       = "age"
)

// Device kinds, by what answered SELECT.
const (
	KindMdoc = "mdoc"
	KindJPKI = "jpki"
)

// Codes of a verdict beside the verifier's, jpki's and policy's.
const (
	CodeOK                = "ok"
	CodeNotSupported      = "not_supported_device" // neither a My Number Card nor an mdoc device
	CodePINRequired       = "pin_required"         // no PIN source for a JPKI tap
	CodeWrongPIN          = string(card.CodeWrongPIN)
	CodePINLocked         = string(card.CodeLocked)
	CodeRemoved           = "device_removed"     // the card or phone left the field mid-session
	CodeQualificationDown = "qualification_down" // the issuer could not be asked
)

// jpkiAID is the JPKI AP (card and GP-SE phone applet).
var jpkiAID = []byte("\xD3\x92\xF0\x00\x26\x01\x00\x00\x00\x01")

// PINSource returns the holder's 4-digit auth PIN for a JPKI tap. It is
// called only after the card said how many tries are left.
type PINSource func(ctx context.Context, triesLeft int) (string, error)

// Qualifier asks the issuer for the qualification linked to a JPKI
// authentication: Nonce returns a fresh issuer nonce for the card to
// sign, Confirm sends the reader-signed request.
type Qualifier struct {
	Client *oid4vci.Client
	// IssuerURL is the audience of requests (the issuer identifier).
	IssuerURL string
	// Chain is the reader certificate chain (leaf first) and Key its key:
	// a certificate of the issuer's reader CA with the medical role.
	Chain [][]byte
	Key   crypto.Signer
}

// Config configures a counter.
type Config struct {
	// Check is what an mdoc phone is asked: CheckInsurance or CheckAge.
	Check string
	// AgeOver is NN of the age check (default 20, Japan's age of majority
	// for alcohol and tobacco).
	AgeOver int
	// Reader configures mdoc sessions: credentials for ReaderAuth,
	// verification options (trust, status), APDU limits.
	Reader reader.NFCConfig
	// JPKI verifies auth certificates (chain and CRL). Required for JPKI
	// taps.
	JPKI *jpki.Verifier
	// PIN supplies the auth PIN; nil refuses JPKI taps with pin_required.
	PIN PINSource
	// Qualifier, when set, confirms the qualification of a JPKI tap
	// online; without it a JPKI tap ends at authentication.
	Qualifier *Qualifier
	// Mode "" picks by what answers (mdoc first); "mdoc" or "jpki" forces
	// one path (a phone answers both).
	Mode string
	Now  func() time.Time
	// Logger nil means slog.Default(); PINs are never logged.
	Logger *slog.Logger
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// JPKIOutcome is what a JPKI tap established.
type JPKIOutcome struct {
	Token     string `json:"token"`
	TriesLeft int    `json:"tries_left"`
	// Certificate is the auth certificate read (DER), Nonce what it
	// signed and Signature the card's signature.
	Certificate []byte `json:"-"`
	Nonce       []byte `json:"-"`
	Signature   []byte `json:"-"`
}

// Verdict is the counter's decision for one tap, in the verifier's
// result format: Result is the verification (mdoc documents, or the JPKI
// pseudo-document), Decision the policy's, Code the one stable reason.
type Verdict struct {
	Kind          string                         `json:"kind"`
	Check         string                         `json:"check"`
	OK            bool                           `json:"ok"`
	Code          string                         `json:"code"`
	Message       string                         `json:"message,omitempty"`
	Result        *verifier.Result               `json:"result,omitempty"`
	Decision      *policy.Decision               `json:"decision,omitempty"`
	JPKI          *JPKIOutcome                   `json:"jpki,omitempty"`
	Qualification *oid4vci.QualificationResponse `json:"qualification,omitempty"`
	Outcome       *reader.Outcome                `json:"-"`
}

// Items returns what the counter asks an mdoc for cfg.Check.
func Items(check string, ageOver int) []mdoc.ItemsRequest {
	if check == CheckInsurance {
		return []mdoc.ItemsRequest{
			verifier.Items(mdoc.DocTypeHIC, map[string][]string{mdoc.NameSpaceHIC: {"insurer_number", "insured_card_symbol", "insured_number", "insured_branch_number",
				"insured_relationship", "qualification_valid_from", "qualification_valid_until", "copayment_ratio"}}),
			verifier.Items(mdoc.DocTypeMNC, map[string][]string{mdoc.NameSpaceISO23220: {"family_name", "given_name", "birth_date"}}),
		}
	}
	return []mdoc.ItemsRequest{verifier.Items(mdoc.DocTypeMNC, map[string][]string{mdoc.NameSpaceISO23220: {mdoc.AgeOverID(ageOver)}})}
}

// Tap runs one tap on t. Errors are for failures with no verdict (the
// device left the field, the transport broke): they carry a code
// (CodeOf). A completed check always yields a Verdict, OK or not.
func Tap(ctx context.Context, t reader.Transmitter, cfg Config) (*Verdict, error) {
	if cfg.AgeOver == 0 {
		cfg.AgeOver = 20
	}
	if cfg.Check == "" {
		cfg.Check = CheckAge
	}
	kind := cfg.Mode
	if kind == "" {
		ok, err := reader.SelectApplication(ctx, t, []byte(mdoc.NDEFApplicationAID))
		if err != nil {
			return nil, removed(err)
		}
		if ok {
			kind = KindMdoc
		} else if ok, err = reader.SelectApplication(ctx, t, jpkiAID); err != nil {
			return nil, removed(err)
		} else if ok {
			kind = KindJPKI
		} else {
			return &Verdict{Code: CodeNotSupported, Message: "not a My Number Card or mdoc device: neither the NDEF nor the JPKI application answered SELECT"}, nil
		}
	}
	switch kind {
	case KindMdoc:
		return tapMdoc(ctx, t, cfg)
	case KindJPKI:
		return tapJPKI(ctx, t, cfg)
	}
	return nil, fmt.Errorf("counter: mode %q: use mdoc or jpki", kind)
}

func tapMdoc(ctx context.Context, t reader.Transmitter, cfg Config) (*Verdict, error) {
	out, err := reader.RunNFC(ctx, t, Items(cfg.Check, cfg.AgeOver), cfg.Reader)
	if err != nil {
		if mdoc.CodeOf(err) == mdoc.CodeNotMdocDevice {
			return &Verdict{Kind: KindMdoc, Check: cfg.Check, Code: CodeNotSupported, Message: err.Error()}, nil
		}
		return nil, removed(err)
	}
	v := &Verdict{Kind: KindMdoc, Check: cfg.Check, Result: out.Result, Outcome: out}
	var d policy.Decision
	if cfg.Check == CheckInsurance {
		d = policy.Insurance(out.Result, cfg.now(), policy.InsuranceOptions{})
	} else {
		d = policy.AgeOver(out.Result, cfg.AgeOver, cfg.now())
	}
	v.Decision = &d
	v.OK, v.Code, v.Message = d.Allowed, d.Code, d.Message
	return v, nil
}

func tapJPKI(ctx context.Context, t reader.Transmitter, cfg Config) (*Verdict, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	v := &Verdict{Kind: KindJPKI, Check: "jpki_auth", JPKI: &JPKIOutcome{}}
	if cfg.Qualifier != nil {
		v.Check = CheckInsurance
	}
	cl := card.New(t)
	if err := cl.Select(ctx); err != nil {
		if errors.Is(err, card.ErrNotFound) {
			v.Code, v.Message = CodeNotSupported, "not a My Number Card or mdoc device: the JPKI application is missing"
			return v, nil
		}
		return nil, removed(err)
	}
	tok, err := cl.ReadToken(ctx)
	if err != nil {
		return nil, removed(err)
	}
	v.JPKI.Token = string(tok)
	tries, err := cl.TriesLeft(ctx, card.KeyAuth)
	if err != nil && !errors.Is(err, card.ErrLocked) {
		return nil, removed(err)
	}
	v.JPKI.TriesLeft = tries
	if tries == 0 || errors.Is(err, card.ErrLocked) {
		v.Code, v.Message = CodePINLocked, "the auth PIN is locked (too many wrong tries): the holder must reset it at the municipality"
		return v, nil
	}
	if cfg.PIN == nil {
		v.Code, v.Message = CodePINRequired, "a PIN is needed for a JPKI tap"
		return v, nil
	}
	pin, err := cfg.PIN(ctx, tries)
	if err != nil {
		// No PIN is no verdict: the caller's input is missing (e.g. no
		// terminal to ask at), so the error goes back as it is.
		return nil, fmt.Errorf("counter: PIN: %w", err)
	}
	if err := cl.VerifyAuthPIN(ctx, pin); err != nil {
		if left, ok := card.TriesLeft(err); ok {
			v.JPKI.TriesLeft = left
			v.Code = CodeWrongPIN
			if left == 0 {
				v.Code = CodePINLocked
			}
			v.Message = err.Error()
			log.InfoContext(ctx, "counter: JPKI PIN refused", "tries_left", left)
			return v, nil
		}
		if errors.Is(err, card.ErrInvalidPIN) {
			v.Code, v.Message = string(card.CodeInvalidPIN), err.Error()
			return v, nil
		}
		return nil, removed(err)
	}
	certDER, err := cl.ReadAuthCertificate(ctx)
	if err != nil {
		return nil, removed(err)
	}
	// The nonce comes from the issuer when it will be asked (it checks
	// that the card signed its fresh nonce), else from the reader.
	var nonce []byte
	if q := cfg.Qualifier; q != nil {
		n, err := q.Client.Nonce(ctx)
		if err != nil {
			v.Code, v.Message = CodeQualificationDown, "issuer nonce: "+err.Error()
			return v, nil
		}
		nonce = []byte(n)
	} else if nonce, err = jpki.NewNonce(rand.Reader); err != nil {
		return nil, err
	}
	sig, err := cl.SignChallenge(ctx, nonce)
	if err != nil {
		return nil, removed(err)
	}
	v.JPKI.Certificate, v.JPKI.Nonce, v.JPKI.Signature = certDER, nonce, sig
	if cfg.JPKI == nil {
		return nil, errors.New("counter: no JPKI verifier configured")
	}
	v.Result = jpkiauth.VerifyAuth(ctx, cfg.JPKI, nonce, certDER, sig, cfg.now())
	if !v.Result.Valid {
		v.Code = v.Result.Codes()[0]
		v.Message = "JPKI authentication failed: " + v.Code
		return v, nil
	}
	if cfg.Qualifier == nil {
		v.OK, v.Code = true, CodeOK
		return v, nil
	}
	q := cfg.Qualifier
	req := &oid4vci.QualificationRequest{Audience: oid4vci.Audience{q.IssuerURL}, Nonce: string(nonce), IssuedAt: cfg.now().Unix(), AuthProof: oid4vci.NewAuthProof(certDER, sig)}
	compact, err := oid4vci.SignQualificationRequest(req, q.Chain, q.Key)
	if err != nil {
		return nil, err
	}
	qr, err := q.Client.ConfirmQualification(ctx, compact)
	if err != nil {
		v.Code, v.Message = CodeQualificationDown, "qualification confirmation: "+err.Error()
		return v, nil
	}
	v.Qualification = qr
	v.OK, v.Code, v.Message = qr.Qualified, qr.Code, qr.Description
	return v, nil
}

// Error is a tap that ended without a verdict.
type Error struct {
	Code string
	Err  error
}

func (e *Error) Error() string { return "counter: " + e.Code + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// CodeOf returns the code of a tap error: the counter's, mdoc's or the
// card's, or "" when it has none.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if c := mdoc.CodeOf(err); c != "" {
		return string(c)
	}
	var ce *card.Error
	if errors.As(err, &ce) {
		return string(ce.Code)
	}
	return ""
}

// removed classifies a transport failure mid-tap as the device leaving
// the field; protocol errors keep their own codes.
func removed(err error) error {
	if mdoc.CodeOf(err) != "" {
		return err
	}
	var ce *card.Error
	if errors.As(err, &ce) && ce.Code != card.CodeTransport {
		return err
	}
	return &Error{Code: CodeRemoved, Err: err}
}

// Text renders the verdict for a person at the counter: the decision
// first, then what it rests on.
func (v *Verdict) Text() string {
	var b strings.Builder
	mark := "NG"
	if v.OK {
		mark = "OK"
	}
	what := v.Check
	if v.Kind != "" {
		what = v.Kind + " " + v.Check
	}
	fmt.Fprintf(&b, "%s  %s: %s", mark, what, v.Code)
	if v.Message != "" && !v.OK {
		fmt.Fprintf(&b, " (%s)", v.Message)
	}
	b.WriteString("\n")
	if v.JPKI != nil && v.JPKI.Token != "" {
		fmt.Fprintf(&b, "  token %s, PIN tries left %d\n", v.JPKI.Token, v.JPKI.TriesLeft)
	}
	if v.Result != nil {
		for _, d := range v.Result.Documents {
			state := "valid"
			if !d.Valid {
				state = "invalid"
			}
			fmt.Fprintf(&b, "  %s: %s", d.DocType, state)
			if d.DeviceAuthMethod != "" {
				fmt.Fprintf(&b, ", device authentication %s", d.DeviceAuthMethod)
			}
			b.WriteString("\n")
			for _, e := range d.Errors {
				fmt.Fprintf(&b, "    %s: %s\n", e.Code, e.Message)
			}
		}
		for _, e := range v.Result.Errors {
			fmt.Fprintf(&b, "  %s: %s\n", e.Code, e.Message)
		}
	}
	if q := v.Qualification; q != nil && q.Qualification != nil {
		x := q.Qualification
		fmt.Fprintf(&b, "  qualification: insurer %s, %s to %s, copayment %d%%\n", x.InsurerNumber, x.ValidFrom, x.ValidUntil, x.CopaymentRatio)
	}
	return b.String()
}
