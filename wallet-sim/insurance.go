package walletsim

import (
	"context"
	"crypto/rsa"
	"crypto/x509"

	"github.com/mynumber-mdoc/mnc/jpki/card"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

// InsuranceOptions configure RegisterInsurance.
type InsuranceOptions struct {
	IssuerURL string
	// Card is the My Number Card (a simulated card file through
	// OpenCardFile, or a reader's card handle).
	Card         card.Transport
	CardPassword string // signature password
	CardPIN      string // auth PIN
}

// RegisterInsurance is the holder's マイナ保険証 registration, as a phone
// app does it by reading the card: the card's auth key signs a fresh
// issuer nonce after its PIN, and its signature key signs the
// registration carrying that proof, so the issuer links the card's
// user-authentication certificate to the person of its signature
// certificate. Clinic readers that authenticate the card later get the
// linked qualification by online confirmation. The wallet's own state is
// not involved: any phone can do it with the card.
func (w *Wallet) RegisterInsurance(ctx context.Context, o InsuranceOptions) (*oid4vci.InsuranceRegistrationResponse, error) {
	const op = "register insurance"
	cl := w.client(o.IssuerURL)
	nonce, err := cl.Nonce(ctx)
	if err != nil {
		return nil, issuerErr(op, err)
	}
	cc := card.New(o.Card)
	authCert, authSig, err := cc.Authenticate(ctx, o.CardPIN, []byte(nonce))
	if err != nil {
		return nil, &Error{Op: op, Code: CodeCard, Detail: "card auth PIN", Err: err}
	}
	if err := cc.VerifySignPassword(ctx, o.CardPassword); err != nil {
		return nil, &Error{Op: op, Code: CodeCard, Detail: "card signature password", Err: err}
	}
	signCert, err := cc.ReadSignCertificate(ctx)
	if err != nil {
		return nil, &Error{Op: op, Code: CodeCard, Err: err}
	}
	sc, err := x509.ParseCertificate(signCert)
	if err != nil {
		return nil, &Error{Op: op, Code: CodeCard, Detail: "signature certificate", Err: err}
	}
	pub, ok := sc.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, newErr(op, CodeCard, "the card's signature certificate has no RSA key")
	}
	reg := &oid4vci.InsuranceRegistration{Audience: oid4vci.Audience{o.IssuerURL}, Nonce: nonce, IssuedAt: w.now().Unix(),
		AuthProof: oid4vci.NewAuthProof(authCert, authSig)}
	compact, err := oid4vci.SignInsuranceRegistration(reg, signCert, cc.Signer(ctx, card.KeySign, pub))
	if err != nil {
		return nil, &Error{Op: op, Code: CodeCard, Err: err}
	}
	r, err := cl.RegisterInsurance(ctx, compact)
	if err != nil {
		return nil, issuerErr(op, err)
	}
	w.record(HistoryEntry{Time: w.now().UTC(), Kind: "insurance", Outcome: "registered", Detail: "the card's auth certificate is linked for health-insurance use"})
	return r, nil
}
