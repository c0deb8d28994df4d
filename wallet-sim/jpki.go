package walletsim

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"strconv"

	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/card"
	"github.com/mynumber-mdoc/mnc/wallet-sim/se"
)

// JPKIAuthResult is a user authentication with the phone's JPKI auth
// certificate: what a relying party checks with jpki.Verifier.VerifyAuth.
type JPKIAuthResult struct {
	Certificate []byte
	Signature   []byte
}

// JPKIAuth signs a relying party's challenge with the phone's user
// authentication key, after the 4-digit auth PIN (3 tries, separate from
// the card's). On the GP-SE token the certificate itself is read only after
// the PIN.
func (w *Wallet) JPKIAuth(ctx context.Context, pin string, challenge []byte) (*JPKIAuthResult, error) {
	const op = "jpki auth"
	a, err := w.el.OpenJPKI()
	if err != nil {
		return nil, &Error{Op: op, Code: CodeJPKI, Err: err}
	}
	defer a.Close()
	cert, sig, err := card.New(a).Authenticate(ctx, pin, challenge)
	if err != nil {
		return nil, jpkiErr(op, err)
	}
	w.record(HistoryEntry{Time: w.now().UTC(), Kind: "jpki", Outcome: "authenticated", Detail: "user authentication with the phone certificate"})
	return &JPKIAuthResult{Certificate: cert, Signature: sig}, nil
}

// JPKISign signs data with the phone's signature key after its password,
// returning the signature certificate and a PKCS#1 v1.5 SHA-256 signature.
func (w *Wallet) JPKISign(ctx context.Context, password string, data []byte) (certDER, sig []byte, err error) {
	const op = "jpki sign"
	a, err := w.el.OpenJPKI()
	if err != nil {
		return nil, nil, &Error{Op: op, Code: CodeJPKI, Err: err}
	}
	defer a.Close()
	c := card.New(a)
	if err := c.Select(ctx); err != nil {
		return nil, nil, jpkiErr(op, err)
	}
	if err := c.VerifySignPassword(ctx, password); err != nil {
		return nil, nil, jpkiErr(op, err)
	}
	if certDER, err = c.ReadSignCertificate(ctx); err != nil {
		return nil, nil, jpkiErr(op, err)
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return nil, nil, &Error{Op: op, Code: CodeJPKI, Err: err}
	}
	pub, _ := cert.PublicKey.(*rsa.PublicKey)
	d := sha256.Sum256(data)
	if sig, err = c.Signer(ctx, card.KeySign, pub).Sign(nil, d[:], crypto.SHA256); err != nil {
		return nil, nil, jpkiErr(op, err)
	}
	w.record(HistoryEntry{Time: w.now().UTC(), Kind: "jpki", Outcome: "signed", Detail: "document signature with the phone certificate"})
	return certDER, sig, nil
}

// JPKIStatus returns the tries left for the phone's auth PIN and
// signature password.
func (w *Wallet) JPKIStatus() (authTries, signTries int, token jpki.Token, err error) {
	a, err := w.el.OpenJPKI()
	if err != nil {
		return 0, 0, "", &Error{Op: "jpki", Code: CodeJPKI, Err: err}
	}
	defer a.Close()
	i := a.Info()
	return i.AuthPINTriesLeft, i.SignPWTriesLeft, i.Token, nil
}

func jpkiErr(op string, err error) error {
	detail := "the phone's JPKI applet refused"
	switch {
	case errors.Is(err, card.ErrLocked):
		detail = "the PIN or password is locked after too many wrong tries; re-issue the phone certificates with the card"
	case errors.Is(err, card.ErrWrongPIN):
		if n, ok := card.TriesLeft(err); ok {
			detail = "wrong PIN or password: " + strconv.Itoa(n) + " tries left"
		}
	case errors.Is(err, se.ErrJPKINotProvisioned):
		detail = "no JPKI smartphone certificates in this wallet"
	}
	return &Error{Op: op, Code: CodeJPKI, Detail: detail, Err: err}
}
