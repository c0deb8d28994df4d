package walletsim

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/applet"
	"github.com/mynumber-mdoc/mnc/jpki/card"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
	"github.com/mynumber-mdoc/mnc/wallet-sim/se"
)

// EnrolOptions describe an enrolment.
type EnrolOptions struct {
	// IssuerURL is the credential issuer identifier (mdoc-issuer serve).
	IssuerURL string
	// Card is the card reader transport: jpki/card over the simulated card
	// (OpenCardFile) or any APDU transport.
	Card card.Transport
	// CardPassword is the card's signature password (6–16 of A–Z, 0–9).
	CardPassword string
	// JPKIPassword and JPKIPIN are the new phone certificates' signature
	// password and auth PIN, separate from the card's (as the smartphone
	// JPKI service requires). Empty:
	// no JPKI phone certificates are requested.
	JPKIPassword string
	JPKIPIN      string
	// TxCode answers a tx_code the issuer demands (sent out of band).
	TxCode string
	// ContactEmail optionally asks the issuer for use notifications.
	ContactEmail string
	// Progress, when set, receives a line per step.
	Progress func(string)
}

// EnrolResult reports an enrolment.
type EnrolResult struct {
	DeviceID         string
	ReplacedDeviceID string
	Credentials      []Credential
	JPKI             bool
}

// OpenCardFile opens a simulated My Number Card written by jpki-sim and
// returns the reader-side transport to it.
func OpenCardFile(path string) (card.Transport, error) {
	c, err := applet.Open(path)
	if err != nil {
		return nil, &Error{Op: "open card", Code: CodeCard, Err: err}
	}
	return card.InMemory(c), nil
}

func (w *Wallet) client(issuerURL string) *oid4vci.Client {
	retries := w.opts.IssuerRetries
	switch {
	case retries == 0:
		retries = DefaultIssuerRetries
	case retries < 0:
		retries = 0
	}
	return &oid4vci.Client{BaseURL: issuerURL, HTTP: w.httpClient(), Retries: retries}
}

// issuerErr maps an issuer refusal to a wallet error with a clear code.
func issuerErr(op string, err error) error {
	var oe *oid4vci.Error
	if errors.As(err, &oe) {
		code := CodeIssuer
		if oe.Code == oid4vci.CodeDeviceNotAllowed {
			code = CodeDeviceNotAllowed
		}
		detail := oe.Code
		if oe.Reason != "" {
			detail += "/" + oe.Reason
		}
		if oe.Description != "" {
			detail += ": " + oe.Description
		}
		return &Error{Op: op, Code: code, Detail: detail, Err: err}
	}
	return &Error{Op: op, Code: CodeIssuer, Err: err}
}

// Enrol runs the whole enrolment: read the card's signature certificate
// (after its password), generate the mdoc device key and the JPKI phone
// keys in the secure element, obtain a key attestation from the platform
// attestation service (the issuer's development endpoint), sign the card
// application with the card, send it, then redeem the credential offer by
// OpenID4VCI (token, nonce, credential with a proof by the device key) and
// store the mdocs and the JPKI phone certificates.
func (w *Wallet) Enrol(ctx context.Context, o EnrolOptions) (*EnrolResult, error) {
	const op = "enrol"
	progress := o.Progress
	if progress == nil {
		progress = func(string) {}
	}
	w.mu.Lock()
	already := w.d.DeviceID != "" && len(w.d.Credentials) > 0
	prof := w.d.Profile
	w.mu.Unlock()
	if already {
		return nil, newErr(op, CodeIssuer, "this wallet is already enrolled; revoke first to enrol again")
	}
	wantJPKI := o.JPKIPassword != "" || o.JPKIPIN != ""
	if wantJPKI {
		if err := jpki.ValidateSignPassword(o.JPKIPassword); err != nil {
			return nil, &Error{Op: op, Code: CodeJPKI, Detail: "phone signature password", Err: err}
		}
		if err := jpki.ValidateAuthPIN(o.JPKIPIN); err != nil {
			return nil, &Error{Op: op, Code: CodeJPKI, Detail: "phone auth PIN", Err: err}
		}
	}
	cl := w.client(o.IssuerURL)

	progress("reading the My Number Card")
	cc := card.New(o.Card)
	if err := cc.Select(ctx); err != nil {
		return nil, &Error{Op: op, Code: CodeCard, Err: err}
	}
	if err := cc.VerifySignPassword(ctx, o.CardPassword); err != nil {
		return nil, &Error{Op: op, Code: CodeCard, Detail: "card signature password", Err: err}
	}
	signDER, err := cc.ReadSignCertificate(ctx)
	if err != nil {
		return nil, &Error{Op: op, Code: CodeCard, Err: err}
	}
	signCert, err := x509.ParseCertificate(signDER)
	if err != nil {
		return nil, &Error{Op: op, Code: CodeCard, Err: err}
	}
	cardPub, ok := signCert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, newErr(op, CodeCard, "card signature key is %T, want RSA", signCert.PublicKey)
	}

	progress("generating keys in the secure element")
	dk, err := w.NewDeviceKey("mdoc device key")
	if err != nil {
		return nil, err
	}
	cleanup := func() { w.el.DeleteKey(dk.ID) }
	devJWK, err := oid4vci.NewJWK(dk.Public)
	if err != nil {
		cleanup()
		return nil, err
	}
	keys := []*oid4vci.JWK{devJWK}
	var jSignJWK, jAuthJWK *oid4vci.JWK
	if wantJPKI {
		sp, ap, err := w.el.GenerateJPKIKeys()
		if err != nil {
			cleanup()
			return nil, err
		}
		if jSignJWK, err = oid4vci.NewJWK(sp); err == nil {
			jAuthJWK, err = oid4vci.NewJWK(ap)
		}
		if err != nil {
			cleanup()
			return nil, err
		}
		keys = append(keys, jSignJWK, jAuthJWK)
	}

	progress("obtaining the device attestation")
	att, err := cl.Attest(ctx, &oid4vci.AttestRequest{
		Keys: keys, DeviceModel: prof.Model, OSVersion: prof.OSVersion, Rooted: prof.Rooted, WalletProfile: string(prof.Platform),
		KeyStorage: []string{oid4vci.KeyStorageHigh}, UserAuthentication: []string{oid4vci.UserAuthenticationHigh},
	})
	if err != nil {
		cleanup()
		return nil, issuerErr(op+": attestation", err)
	}
	nonce, err := cl.Nonce(ctx)
	if err != nil {
		cleanup()
		return nil, issuerErr(op+": nonce", err)
	}
	progress("obtaining the platform's attestation of the device key")
	pa, err := w.platformAttestation(prof, nonce, dk, devJWK)
	if err != nil {
		cleanup()
		return nil, err
	}
	app := &oid4vci.CardApplication{
		Audience: oid4vci.Audience{o.IssuerURL}, Nonce: nonce, IssuedAt: w.now().Unix(),
		DeviceKey: devJWK, KeyAttestation: att, PlatformAttestation: pa, DeviceModel: prof.Model, OSVersion: prof.OSVersion,
		JPKISignKey: jSignJWK, JPKIAuthKey: jAuthJWK, ContactEmail: o.ContactEmail,
		// The holder's choice (SetUseReports), never a default.
		NotifyUse: w.anyUseReports(),
	}
	progress("signing the application with the card")
	appJWS, err := oid4vci.SignCardApplication(app, signDER, cc.Signer(ctx, card.KeySign, cardPub))
	if err != nil {
		cleanup()
		return nil, &Error{Op: op, Code: CodeCard, Detail: "sign application", Err: err}
	}
	progress("sending the application")
	er, err := cl.Enrol(ctx, appJWS)
	if err != nil {
		cleanup()
		return nil, issuerErr(op, err)
	}

	progress("verify to bind the credentials to this phone")
	grant, err := w.userVerify(ctx, "add your My Number Card to the wallet")
	if err != nil {
		cleanup()
		return nil, err
	}
	creds, err := w.redeemOffer(ctx, cl, o.IssuerURL, &er.CredentialOffer, o.TxCode, dk, grant, att, progress)
	if err != nil {
		cleanup()
		return nil, err
	}

	res := &EnrolResult{DeviceID: er.DeviceID, ReplacedDeviceID: er.ReplacedDeviceID, Credentials: creds}
	var jinfo *JPKIInfo
	if wantJPKI && er.JPKISignCertificate != "" {
		progress("installing the JPKI smartphone certificates")
		certs, err := decodeJPKICerts(er)
		if err != nil {
			return nil, &Error{Op: op, Code: CodeIssuer, Detail: "JPKI certificates", Err: err}
		}
		if err := w.el.ProvisionJPKI(prof.JPKIToken(), certs, o.JPKIPassword, o.JPKIPIN); err != nil {
			return nil, &Error{Op: op, Code: CodeJPKI, Err: err}
		}
		sc, _ := x509.ParseCertificate(certs.SignCert)
		jinfo = &JPKIInfo{SignCert: certs.SignCert, AuthCert: certs.AuthCert, NotAfter: sc.NotAfter, Installed: w.now().UTC()}
		res.JPKI = true
	}
	w.mu.Lock()
	w.d.DeviceID, w.d.IssuerURL, w.d.DeviceKeyID = er.DeviceID, o.IssuerURL, dk.ID
	w.d.AppAttestKeyID, w.d.AppAttestCounter, w.pendingAppAttest = w.pendingAppAttest, 0, ""
	w.d.RemoteDeletedAt, w.d.RemoteDeleteWhy = time.Time{}, ""
	if jinfo != nil {
		w.d.JPKI = jinfo
	}
	detail := fmt.Sprintf("device %s, %d credential(s)", er.DeviceID, len(creds))
	if er.ReplacedDeviceID != "" {
		detail += fmt.Sprintf("; replaced device %s (its credentials are revoked and it will delete them)", er.ReplacedDeviceID)
	}
	err = w.save()
	if err == nil {
		if herr := w.appendHistory(HistoryEntry{Time: w.now().UTC(), Kind: "enrolment", Reader: o.IssuerURL, Outcome: "enrolled", Detail: detail}); herr != nil {
			w.log.ErrorContext(ctx, "history not saved", "err", herr)
		}
	}
	w.mu.Unlock()
	if err != nil {
		return nil, err
	}
	// AddCredential leaves a credential that names a status list in state
	// unknown: the MSO cannot say whether its entry is set. Read the lists
	// now, as sync does, so that the wallet shows the real state right
	// after enrolment. A list that cannot be fetched leaves the state
	// unknown (never read as valid) and does not undo the enrolment.
	sr := &SyncResult{States: map[string]string{}}
	w.checkStatuses(ctx, cl, "", sr)
	for i := range res.Credentials {
		if st, ok := sr.States[res.Credentials[i].ID]; ok {
			res.Credentials[i].State = st
		}
	}
	return res, nil
}

func decodeJPKICerts(er *oid4vci.EnrolResponse) (se.JPKICertificates, error) {
	var c se.JPKICertificates
	var err error
	for _, f := range []struct {
		dst *[]byte
		src string
	}{{&c.SignCert, er.JPKISignCertificate}, {&c.AuthCert, er.JPKIAuthCertificate}, {&c.SignCACert, er.JPKISignCACertificate}, {&c.AuthCACert, er.JPKIAuthCACertificate}} {
		if *f.dst, err = oid4vci.DecodeCertificate(f.src); err != nil {
			return c, err
		}
	}
	return c, nil
}

// redeemOffer runs the OpenID4VCI pre-authorized code flow for every
// credential configuration of the offer and stores the credentials, all
// bound to device key dk.
func (w *Wallet) redeemOffer(ctx context.Context, cl *oid4vci.Client, issuerURL string, offer *oid4vci.CredentialOffer, txCode string, dk se.KeyInfo, grant *se.Grant, att string, progress func(string)) ([]Credential, error) {
	const op = "credential"
	code, err := offer.OfferCode()
	if err != nil {
		return nil, issuerErr(op, err)
	}
	tok, err := cl.Token(ctx, code, txCode)
	if err != nil {
		return nil, issuerErr(op+": token", err)
	}
	keys, att, err := w.credentialKeys(ctx, cl, w.batchSize(ctx, cl), dk, grant, att)
	if err != nil {
		return nil, err
	}
	var out []Credential
	for _, id := range offer.CredentialConfigurationIDs {
		progress(fmt.Sprintf("requesting credential %s (%d)", id, len(keys)))
		got, err := w.requestCredentials(ctx, cl, issuerURL, tok.AccessToken, id, keys, att)
		if err != nil {
			if len(keys) > 1 {
				for _, k := range keys {
					if !w.keyHeld(k.keyID) {
						w.el.DeleteKey(k.keyID)
					}
				}
			}
			return nil, err
		}
		out = append(out, got...)
	}
	if len(out) == 0 {
		return nil, newErr(op, CodeIssuer, "the issuer returned no credential")
	}
	return out, nil
}

// batchSize is the wallet's batch size capped by the issuer's
// batch_credential_issuance (1 when the issuer advertises none).
func (w *Wallet) batchSize(ctx context.Context, cl *oid4vci.Client) int {
	n := w.opts.BatchSize
	if n == 0 {
		n = DefaultBatchSize
	}
	if n <= 1 {
		return 1
	}
	m, err := cl.Metadata(ctx)
	if err != nil || m.BatchCredentialIssuance == nil || m.BatchCredentialIssuance.BatchSize < 1 {
		return 1
	}
	return min(n, m.BatchCredentialIssuance.BatchSize)
}

// boundKey is a key credentials are bound to, with its signer.
type boundKey struct {
	keyID  se.KeyID
	signer crypto.Signer
}

// credentialKeys returns the keys to bind credentials to and the key
// attestation covering them. Without a batch (n ≤ 1) it is the enrolled
// device key dk with the enrolment's attestation att. A batch is n new keys
// generated in the secure element, attested together with dk (the
// wallet-provider contract: the batch keys live beside the enrolled key).
// Credential i of every document is bound to key i, so the documents shown
// together in one presentation share a key (verifiers may require that),
// while different presentations show different keys, MSOs and status
// entries.
func (w *Wallet) credentialKeys(ctx context.Context, cl *oid4vci.Client, n int, dk se.KeyInfo, grant *se.Grant, att string) ([]boundKey, string, error) {
	const op = "credential"
	if n <= 1 {
		s, err := w.el.Signer(dk.ID, grant)
		if err != nil {
			return nil, "", &Error{Op: op, Code: CodeUserVerification, Err: err}
		}
		return []boundKey{{dk.ID, s}}, att, nil
	}
	var keys []boundKey
	fail := func(err error) ([]boundKey, string, error) {
		for _, k := range keys {
			w.el.DeleteKey(k.keyID)
		}
		return nil, "", err
	}
	jwks := []*oid4vci.JWK{}
	j, err := oid4vci.NewJWK(dk.Public)
	if err != nil {
		return nil, "", err
	}
	jwks = append(jwks, j)
	for i := 0; i < n; i++ {
		k, err := w.el.GenerateKey("mdoc batch key", se.Access{UserAuth: true})
		if err != nil {
			return fail(err)
		}
		keys = append(keys, boundKey{keyID: k.ID})
		if keys[i].signer, err = w.el.Signer(k.ID, grant); err != nil {
			return fail(&Error{Op: op, Code: CodeUserVerification, Err: err})
		}
		j, err := oid4vci.NewJWK(k.Public)
		if err != nil {
			return fail(err)
		}
		jwks = append(jwks, j)
	}
	w.mu.Lock()
	prof := w.d.Profile
	w.mu.Unlock()
	batchAtt, err := cl.Attest(ctx, &oid4vci.AttestRequest{Keys: jwks, DeviceModel: prof.Model, OSVersion: prof.OSVersion, Rooted: prof.Rooted,
		WalletProfile: string(prof.Platform), KeyStorage: []string{oid4vci.KeyStorageHigh}, UserAuthentication: []string{oid4vci.UserAuthenticationHigh}})
	if err != nil {
		return fail(issuerErr(op+": batch key attestation", err))
	}
	return keys, batchAtt, nil
}

func (w *Wallet) keyHeld(k se.KeyID) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.keyInUse(k)
}

// requestCredentials asks for one credential of configuration id per key
// (a batch when there are several: one proof per key, OpenID4VCI 1.0 §8.2)
// and stores them.
func (w *Wallet) requestCredentials(ctx context.Context, cl *oid4vci.Client, issuerURL, accessToken, id string, keys []boundKey, att string) ([]Credential, error) {
	const op = "credential"
	nonce, err := cl.Nonce(ctx)
	if err != nil {
		return nil, issuerErr(op+": nonce", err)
	}
	var proofs []string
	for _, k := range keys {
		p, err := oid4vci.SignProof(k.signer, oid4vci.ProofOptions{Audience: issuerURL, Nonce: nonce, KeyAttestation: att})
		if err != nil {
			return nil, &Error{Op: op, Code: CodeUserVerification, Detail: "sign proof", Err: err}
		}
		proofs = append(proofs, p)
	}
	cr, err := cl.Credential(ctx, accessToken, &oid4vci.CredentialRequest{CredentialConfigurationID: id, Proofs: &oid4vci.Proofs{JWT: proofs}})
	if err != nil {
		return nil, issuerErr(op+" "+id, err)
	}
	if len(cr.Credentials) != len(keys) {
		return nil, newErr(op, CodeIssuer, "the issuer returned %d credentials for %d proofs", len(cr.Credentials), len(keys))
	}
	var out []Credential
	for i, ic := range cr.Credentials {
		b, err := base64.RawURLEncoding.DecodeString(ic.Credential)
		if err != nil || len(b) > mdoc.MaxMessageSize {
			return nil, newErr(op, CodeCredentialInvalid, "credential %s is not base64url IssuerSigned", id)
		}
		// AddCredential checks that the MSO binds the key of proof i.
		c, err := w.AddCredential(keys[i].keyID, b, id, issuerURL)
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	if cr.NotificationID != "" {
		// OpenID4VCI 1.0 §11: tell the issuer the credentials are stored.
		// Best effort: the credentials are valid whether or not it hears.
		if err := cl.Notify(ctx, accessToken, &oid4vci.NotificationRequest{NotificationID: cr.NotificationID, Event: oid4vci.EventCredentialAccepted}); err != nil {
			w.log.WarnContext(ctx, "notification to the issuer failed", "err", err)
		}
	}
	return out, nil
}
