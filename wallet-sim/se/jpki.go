package se

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"

	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/applet"
)

// jpkiRecord is the JPKI smartphone applet inside the element: first the
// key pairs generated for an application (pending), then, once the
// certificates are issued, the applet's whole state.
type jpkiRecord struct {
	PendingSign []byte     `json:"pending_sign_pkcs8,omitempty"`
	PendingAuth []byte     `json:"pending_auth_pkcs8,omitempty"`
	Token       jpki.Token `json:"token,omitempty"`
	// Applet is the jpki/applet state file content. It holds the keys in
	// PKCS#8, which is why it lives only inside the sealed state.
	Applet []byte `json:"applet,omitempty"`
}

func (e *Element) genRSA() (*rsa.PrivateKey, error) {
	if e.opts.GenerateRSA != nil {
		return e.opts.GenerateRSA()
	}
	return rsa.GenerateKey(rand.Reader, 2048)
}

// GenerateJPKIKeys makes the two RSA-2048 key pairs of the JPKI smartphone
// certificates (signature and user authentication) inside the element and
// returns their public halves for the application. They stay pending until
// ProvisionJPKI; calling it again replaces pending keys (a new application),
// but never an installed applet's keys.
func (e *Element) GenerateJPKIKeys() (sign, auth *rsa.PublicKey, err error) {
	sk, err := e.genRSA()
	if err != nil {
		return nil, nil, fmt.Errorf("se: generate JPKI signature key: %w", err)
	}
	ak, err := e.genRSA()
	if err != nil {
		return nil, nil, fmt.Errorf("se: generate JPKI auth key: %w", err)
	}
	sder, err := x509.MarshalPKCS8PrivateKey(sk)
	if err != nil {
		return nil, nil, err
	}
	ader, err := x509.MarshalPKCS8PrivateKey(ak)
	if err != nil {
		return nil, nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.st.JPKI == nil {
		e.st.JPKI = &jpkiRecord{}
	}
	e.st.JPKI.PendingSign, e.st.JPKI.PendingAuth = sder, ader
	if err := e.save(); err != nil {
		return nil, nil, err
	}
	return &sk.PublicKey, &ak.PublicKey, nil
}

// JPKICertificates are the DER certificates issued for the phone.
type JPKICertificates struct {
	SignCert, SignCACert, AuthCert, AuthCACert []byte
}

// ProvisionJPKI installs the JPKI applet with the pending keys and the
// issued certificates, the holder's new signature password (6–16 of A–Z,
// 0–9; 5 tries) and auth PIN (4 digits; 3 tries), separate from the card's
// (the smartphone JPKI service's rules). token is JPKIAPGPSETOKEN
// (Android) or JPKIAPIOSTOKEN (iPhone), the JPKI-AP token labels.
func (e *Element) ProvisionJPKI(token jpki.Token, certs JPKICertificates, signPassword, authPIN string) error {
	const op = "provision jpki"
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.st.JPKI
	if r == nil || len(r.PendingSign) == 0 || len(r.PendingAuth) == 0 {
		return newErr(op, CodeJPKINotProvisioned, "no pending JPKI keys: generate them for the application first")
	}
	sk, err := parseRSA(r.PendingSign)
	if err != nil {
		return err
	}
	ak, err := parseRSA(r.PendingAuth)
	if err != nil {
		return err
	}
	cfg := applet.Config{
		Token: token, SignKey: sk, AuthKey: ak,
		SignCert: certs.SignCert, SignCACert: certs.SignCACert, AuthCert: certs.AuthCert, AuthCACert: certs.AuthCACert,
		SignPassword: signPassword, AuthPIN: authPIN,
	}
	// The applet hands its state (keys in PKCS#8, counters) to the
	// persister, which keeps it in memory only: it becomes part of the
	// sealed state below and is never written anywhere else.
	var b []byte
	if _, err := applet.NewPersisted(cfg, func(state []byte) error { b = bytes.Clone(state); return nil }); err != nil {
		return fmt.Errorf("se: %s: %w", op, err)
	}
	if len(b) == 0 || len(b) > MaxSealedSize {
		return newErr(op, CodeSealedState, "applet state of %d bytes", len(b))
	}
	e.st.JPKI = &jpkiRecord{Token: token, Applet: b}
	return e.save()
}

func parseRSA(der []byte) (*rsa.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, &Error{Op: "jpki", Code: CodeSealedState, Err: err}
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, newErr("jpki", CodeSealedState, "JPKI key is %T", k)
	}
	return rk, nil
}

// JPKIApplet is an open session with the JPKI applet in the element. It
// implements jpki/card.Transport, so the wallet drives it with the same
// client a card reader uses. Retry counters and reference-data changes are
// sealed back after every command.
type JPKIApplet struct {
	e    *Element
	card *applet.Card
}

// OpenJPKI opens a session with the installed applet. Close it.
func (e *Element) OpenJPKI() (*JPKIApplet, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.st.JPKI
	if r == nil || len(r.Applet) == 0 {
		return nil, newErr("open jpki", CodeJPKINotProvisioned, "no JPKI smartphone certificates in this wallet")
	}
	// Every change the applet makes (a retry counter, new reference data)
	// goes straight into the sealed state; if sealing fails, the command
	// fails, so a counter decrement is never lost.
	c, err := applet.Load(r.Applet, e.persistJPKI)
	if err != nil {
		return nil, &Error{Op: "open jpki", Code: CodeSealedState, Err: err}
	}
	return &JPKIApplet{e: e, card: c}, nil
}

// persistJPKI is the applet's Persister: the applet state goes into the
// element's state, which is sealed before the call returns.
func (e *Element) persistJPKI(state []byte) error {
	if len(state) > MaxSealedSize {
		return newErr("jpki", CodeSealedState, "applet state of %d bytes", len(state))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.st.JPKI == nil || len(e.st.JPKI.Applet) == 0 {
		return newErr("jpki", CodeJPKINotProvisioned, "the applet was wiped")
	}
	prev := e.st.JPKI.Applet
	e.st.JPKI.Applet = bytes.Clone(state)
	if err := e.save(); err != nil {
		e.st.JPKI.Applet = prev
		return err
	}
	return nil
}

// Transmit sends one command APDU to the applet.
func (j *JPKIApplet) Transmit(ctx context.Context, command []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if j.card == nil {
		return nil, fmt.Errorf("se: jpki session closed")
	}
	return j.card.Transmit(command)
}

// Info returns the applet's public data: certificates, token and counters.
func (j *JPKIApplet) Info() applet.Info {
	i := j.card.Info()
	i.Path = ""
	return i
}

// Close ends the session. The state is already sealed.
func (j *JPKIApplet) Close() error {
	j.card = nil
	return nil
}

// RemoveJPKI deletes the JPKI applet and any pending keys.
func (e *Element) RemoveJPKI() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.st.JPKI = nil
	return e.save()
}
