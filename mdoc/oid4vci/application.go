package oid4vci

import (
	"crypto"
	"encoding/base64"
	"net/mail"
	"strings"
	"time"
)

// CardApplication is the enrolment request signed by the My Number Card's
// signature key (JWS RS256, header typ mnc-card-application+jwt, x5c = [card
// signature certificate]). The card's signature binds the device key
// generated in the phone's secure element, its attestation, a fresh c_nonce
// and the device model to the person the certificate names.
type CardApplication struct {
	Audience Audience `json:"aud"`
	Nonce    string   `json:"nonce"`
	IssuedAt int64    `json:"iat"`
	// DeviceKey is the mdoc device key (EC P-256) bound into every MSO.
	DeviceKey *JWK `json:"device_key"`
	// KeyAttestation attests DeviceKey and the JPKI phone keys: the wallet
	// provider's statement (OpenID4VCI 1.0 Appendix D.1).
	KeyAttestation string `json:"key_attestation"`
	// PlatformAttestation is the platform's own attestation of DeviceKey
	// (Android Key Attestation or App Attest), against which the issuer
	// checks the wallet provider's statement. Required in production.
	PlatformAttestation *PlatformAttestation `json:"platform_attestation,omitempty"`
	DeviceModel         string               `json:"device_model"`
	OSVersion           string               `json:"os_version"`
	// JPKISignKey and JPKIAuthKey are the phone's JPKI signature and
	// user-authentication key pairs (RSA), generated in the secure element;
	// the issuer (standing in for J-LIS) returns certificates for them.
	// Optional: without them no JPKI phone certificates are issued.
	JPKISignKey *JWK `json:"jpki_sign_key,omitempty"`
	JPKIAuthKey *JWK `json:"jpki_auth_key,omitempty"`
	// ContactEmail optionally asks for notifications (issuance, use,
	// revocation) by e-mail.
	ContactEmail string `json:"contact_email,omitempty"`
	// NotifyUse opts in to a notification at every reported use of the
	// credentials: the holder can be told of every use.
	NotifyUse bool `json:"notify_use,omitempty"`
}

// SignCardApplication signs app with the card: certDER is the card's
// signature certificate, signer its key (a jpki/card Signer, so the key never
// leaves the chip). The result verifies with jpki's VerifyJWS.
func SignCardApplication(app *CardApplication, certDER []byte, signer crypto.Signer) (string, error) {
	if app.IssuedAt == 0 {
		app.IssuedAt = time.Now().Unix()
	}
	return signWithX5C(signer, TypCardApplication, app, certDER)
}

func signWithX5C(signer crypto.Signer, typ string, claims any, certDER []byte) (string, error) {
	return signJWS(signer, typ, claims, map[string]any{"x5c": []string{base64.StdEncoding.EncodeToString(certDER)}})
}

// CheckOptions tune the claim checks of card applications, card revocations
// and device requests. Zero values as in VerifyProofOptions.
type CheckOptions struct {
	Audience  string
	Now       time.Time
	MaxAge    time.Duration
	ClockSkew time.Duration
}

// ParseCardApplication decodes and checks the payload of a card application
// whose signature and certificate the caller has verified (jpki VerifyJWS):
// aud, iat, a nonce (its freshness is the caller's to check), a P-256
// device key, a key attestation, and RSA JPKI keys when present.
func ParseCardApplication(payload []byte, o CheckOptions) (*CardApplication, error) {
	const code = CodeInvalidApplication
	if len(payload) > MaxJWTLen {
		return nil, NewError(code, ReasonTooLarge, "application is %d bytes", len(payload))
	}
	var a CardApplication
	if err := decodeJSON(payload, &a); err != nil {
		return nil, wrapErr(code, ReasonCode(err), err, "decode application")
	}
	if err := checkCommon(a.Audience, a.Nonce, a.IssuedAt, o, code); err != nil {
		return nil, err
	}
	if a.DeviceKey == nil {
		return nil, NewError(code, ReasonMissingKey, "device_key is missing")
	}
	if _, err := a.DeviceKey.ECDSA(); err != nil {
		return nil, wrapErr(code, ReasonWrongKeyType, err, "device_key")
	}
	if a.KeyAttestation == "" {
		return nil, NewError(CodeInvalidKeyAttestation, ReasonMissingKey, "key_attestation is missing")
	}
	for name, k := range map[string]*JWK{"jpki_sign_key": a.JPKISignKey, "jpki_auth_key": a.JPKIAuthKey} {
		if k == nil {
			continue
		}
		if _, err := k.RSA(); err != nil {
			return nil, wrapErr(code, ReasonWrongKeyType, err, "%s", name)
		}
	}
	if a.PlatformAttestation != nil {
		if err := a.PlatformAttestation.Validate(); err != nil {
			return nil, err
		}
	}
	if (a.JPKISignKey == nil) != (a.JPKIAuthKey == nil) {
		return nil, NewError(code, ReasonMissingKey, "jpki_sign_key and jpki_auth_key come together")
	}
	for _, s := range []string{a.DeviceModel, a.OSVersion, a.ContactEmail} {
		if len(s) > MaxClaimLen*2 {
			return nil, NewError(code, ReasonTooLarge, "a claim is over %d bytes", MaxClaimLen*2)
		}
	}
	if a.DeviceModel == "" || a.OSVersion == "" {
		return nil, NewError(code, ReasonMalformed, "device_model and os_version are required")
	}
	if a.ContactEmail != "" {
		// A bare address only: it becomes an SMTP recipient and a header.
		if m, err := mail.ParseAddress(a.ContactEmail); err != nil || m.Address != a.ContactEmail || m.Name != "" {
			return nil, NewError(code, ReasonContactInvalid, "contact_email %q is not a plain e-mail address", a.ContactEmail)
		}
	}
	return &a, nil
}

func checkCommon(aud Audience, nonce string, iat int64, o CheckOptions, code string) error {
	if o.Audience == "" || !aud.Contains(o.Audience) {
		return NewError(code, ReasonWrongAudience, "aud %v does not name this issuer %q", []string(aud), o.Audience)
	}
	if nonce == "" {
		return NewError(CodeInvalidNonce, ReasonNonceMissing, "nonce is missing")
	}
	if len(nonce) > MaxCodeLen {
		return NewError(CodeInvalidNonce, ReasonTooLarge, "nonce over %d bytes", MaxCodeLen)
	}
	return checkIAT(iat, orNow(o.Now), orDefault(o.MaxAge, DefaultMaxAge), orDefault(o.ClockSkew, DefaultClockSkew), code)
}

// EnrolRequest is the body of POST /mnc/enrol.
type EnrolRequest struct {
	Application string `json:"application"`
}

// EnrolResponse answers an enrolment: a credential offer (pre-authorized
// code; tx_code when the issuer requires one, sent to the holder by another
// channel), the device id that lifecycle requests name, and the smartphone
// JPKI certificates (base64 DER) when JPKI keys were sent.
type EnrolResponse struct {
	DeviceID        string          `json:"device_id"`
	CredentialOffer CredentialOffer `json:"credential_offer"`
	// ReplacedDeviceID is the previous device whose credentials this
	// enrolment revoked (機種変更), "" when there was none.
	ReplacedDeviceID string `json:"replaced_device_id,omitempty"`
	// JPKI phone certificates and their roots, standard base64 DER.
	JPKISignCertificate   string `json:"jpki_sign_certificate,omitempty"`
	JPKIAuthCertificate   string `json:"jpki_auth_certificate,omitempty"`
	JPKISignCACertificate string `json:"jpki_sign_ca_certificate,omitempty"`
	JPKIAuthCACertificate string `json:"jpki_auth_ca_certificate,omitempty"`
	// JPKINotIssued says why no JPKI phone certificates came back
	// although the application carried phone keys (or none were asked
	// for); nil when they were issued.
	JPKINotIssued *Notice   `json:"jpki_not_issued,omitempty"`
	ValidUntil    time.Time `json:"valid_until"`
}

// Notice is a non-fatal condition of a successful response, with a stable
// code like Error's.
type Notice struct {
	Code        string `json:"code"`
	Description string `json:"description"`
}

// Codes of EnrolResponse.JPKINotIssued.
const (
	// NoticePhoneCAUnavailable: this issuer has no smartphone JPKI CA
	// (production mode: J-LIS issues phone certificates in its own
	// service); the mdoc credentials are issued regardless.
	NoticePhoneCAUnavailable = "phone_ca_unavailable"
	// NoticeNoJPKIKeys: the application carried no JPKI phone keys.
	NoticeNoJPKIKeys = "jpki_keys_not_sent"
)

// CardRevocation is a revocation signed with the card (JWS RS256, typ
// mnc-card-revocation+jwt, x5c = [card signature certificate]). It works
// from any device, including a model not allowed to enrol: the card alone
// proves the person. DeviceID "" revokes every device of the person.
type CardRevocation struct {
	Audience Audience `json:"aud"`
	Nonce    string   `json:"nonce"`
	IssuedAt int64    `json:"iat"`
	DeviceID string   `json:"device_id,omitempty"`
	Reason   string   `json:"reason,omitempty"`
}

// SignCardRevocation signs r with the card.
func SignCardRevocation(r *CardRevocation, certDER []byte, signer crypto.Signer) (string, error) {
	if r.IssuedAt == 0 {
		r.IssuedAt = time.Now().Unix()
	}
	return signWithX5C(signer, TypCardRevocation, r, certDER)
}

// ParseCardRevocation decodes and checks the payload of a verified card
// revocation.
func ParseCardRevocation(payload []byte, o CheckOptions) (*CardRevocation, error) {
	const code = CodeInvalidRequest
	if len(payload) > MaxJWTLen {
		return nil, NewError(code, ReasonTooLarge, "revocation is %d bytes", len(payload))
	}
	var r CardRevocation
	if err := decodeJSON(payload, &r); err != nil {
		return nil, wrapErr(code, ReasonMalformed, err, "decode card revocation")
	}
	if len(r.DeviceID) > MaxClaimLen || len(r.Reason) > MaxClaimLen {
		return nil, NewError(code, ReasonTooLarge, "device_id or reason over %d bytes", MaxClaimLen)
	}
	if err := checkCommon(r.Audience, r.Nonce, r.IssuedAt, o, code); err != nil {
		return nil, err
	}
	return &r, nil
}

// CardRevocationRequest is the body of POST /mnc/revoke-with-card.
type CardRevocationRequest struct {
	Revocation string `json:"revocation"`
}

// Device request actions.
const (
	// ActionRevoke revokes the device's credentials (失効) from the device.
	ActionRevoke = "revoke"
	// ActionRefresh asks for fresh credentials before validUntil without a
	// new card signature, while the card certificate is valid. The answer
	// is an EnrolResponse with a new offer for the same device key.
	ActionRefresh = "refresh"
	// ActionPoll asks for pending remote commands (remote delete).
	ActionPoll = "poll"
	// ActionAck acknowledges a remote command (CommandID) as done.
	ActionAck = "ack"
	// ActionUsed reports that the wallet presented a credential (Use says
	// to whom and what). The issuer audits it and notifies the holder when
	// they opted in (CardApplication.NotifyUse). The answer is a
	// UseResponse.
	ActionUsed = "used"
)

// UseReport describes one presentation, as the wallet saw it.
type UseReport struct {
	// DocType is the presented document type.
	DocType string `json:"doctype"`
	// Verifier names the relying party: the reader certificate's subject
	// common name (proximity) or the OpenID4VP client_id (online).
	Verifier string `json:"verifier,omitempty"`
	// Elements lists the released data elements as "namespace/identifier".
	Elements []string `json:"elements,omitempty"`
	// Channel is how it was presented: "nfc", "ble", "qr", "openid4vp",
	// "dcapi".
	Channel string `json:"channel,omitempty"`
	// At is when the presentation happened (Unix seconds); 0 means iat.
	At int64 `json:"at,omitempty"`
}

// MaxUseElements bounds UseReport.Elements.
const MaxUseElements = 64

// Validate checks a use report's bounds (also used for verifier reports).
func (u *UseReport) Validate() error {
	const code = CodeInvalidDeviceRequest
	if u == nil || u.DocType == "" {
		return NewError(code, ReasonMalformed, "used needs use.doctype")
	}
	if len(u.Elements) > MaxUseElements {
		return NewError(code, ReasonTooLarge, "%d elements, over %d", len(u.Elements), MaxUseElements)
	}
	for _, s := range append([]string{u.DocType, u.Verifier, u.Channel}, u.Elements...) {
		if len(s) > MaxClaimLen || strings.ContainsAny(s, "\r\n") {
			return NewError(code, ReasonMalformed, "use field over %d bytes or with a line break", MaxClaimLen)
		}
	}
	return nil
}

// UseResponse answers ActionUsed.
type UseResponse struct {
	DeviceID string `json:"device_id"`
	// Notified says whether a credential_used notification was queued
	// (the holder opted in).
	Notified bool `json:"notified"`
}

// DeviceRequest is a lifecycle request signed by the mdoc device key (JWS
// ES256, typ mnc-device-request+jwt, kid = device id).
type DeviceRequest struct {
	Audience  Audience `json:"aud"`
	Nonce     string   `json:"nonce"`
	IssuedAt  int64    `json:"iat"`
	DeviceID  string   `json:"device_id"`
	Action    string   `json:"action"`
	CommandID string   `json:"command_id,omitempty"`
	Reason    string   `json:"reason,omitempty"`
	// Use is the report of ActionUsed.
	Use *UseReport `json:"use,omitempty"`
}

// SignDeviceRequest signs r with the device key.
func SignDeviceRequest(key crypto.Signer, r *DeviceRequest) (string, error) {
	if r.IssuedAt == 0 {
		r.IssuedAt = time.Now().Unix()
	}
	return signJWS(key, TypDeviceRequest, r, map[string]any{"kid": r.DeviceID})
}

// DeviceRequestKeyID returns the kid (device id) of a device request without
// verifying it, so the issuer can look up the device key.
func DeviceRequestKeyID(compact string) (string, error) {
	p, err := parseJWS(compact, TypDeviceRequest, CodeInvalidDeviceRequest)
	if err != nil {
		return "", err
	}
	kid, ok := p.hdr.KeyID()
	if !ok || kid == "" || len(kid) > MaxClaimLen {
		return "", NewError(CodeInvalidDeviceRequest, ReasonMalformed, "device request needs a kid naming the device")
	}
	return kid, nil
}

// VerifyDeviceRequest verifies a device request with the device key on
// record and checks its claims: kid and device_id agree, aud, iat, nonce
// present (freshness is the caller's), a known action.
func VerifyDeviceRequest(compact string, deviceKey *JWK, o CheckOptions) (*DeviceRequest, error) {
	const code = CodeInvalidDeviceRequest
	p, err := parseJWS(compact, TypDeviceRequest, code)
	if err != nil {
		return nil, err
	}
	if err := p.verify(deviceKey.Public, code); err != nil {
		return nil, err
	}
	var r DeviceRequest
	if err := decodeJSON(p.payload, &r); err != nil {
		return nil, wrapErr(code, ReasonMalformed, err, "decode device request")
	}
	if kid, _ := p.hdr.KeyID(); kid != r.DeviceID {
		return nil, NewError(code, ReasonKeyMismatch, "kid %q differs from device_id %q", kid, r.DeviceID)
	}
	switch r.Action {
	case ActionRevoke, ActionRefresh, ActionPoll:
	case ActionAck:
		if r.CommandID == "" {
			return nil, NewError(code, ReasonMalformed, "ack needs command_id")
		}
	case ActionUsed:
		if err := r.Use.Validate(); err != nil {
			return nil, err
		}
	default:
		return nil, NewError(code, ReasonMalformed, "unknown action %q", r.Action)
	}
	if len(r.CommandID) > MaxClaimLen || len(r.Reason) > MaxClaimLen {
		return nil, NewError(code, ReasonTooLarge, "command_id or reason over %d bytes", MaxClaimLen)
	}
	if err := checkCommon(r.Audience, r.Nonce, r.IssuedAt, o, code); err != nil {
		return nil, err
	}
	return &r, nil
}

// DeviceRequestBody is the body of POST /mnc/device.
type DeviceRequestBody struct {
	Request string `json:"request"`
	// AppAttestAssertion is, for a device enrolled with apple-appattest, an
	// App Attest assertion (base64url CBOR) with clientDataHash =
	// SHA-256(Request): DCAppAttestService.generateAssertion, its counter
	// above the last one the issuer saw.
	AppAttestAssertion string `json:"app_attest_assertion,omitempty"`
}

// LifecycleResponse answers revoke requests (device or card) and admin
// lifecycle calls. Repeating a call is harmless: Changed is false when
// nothing was left to change.
type LifecycleResponse struct {
	DeviceIDs          []string `json:"device_ids"`
	State              string   `json:"state"`
	Changed            bool     `json:"changed"`
	CredentialsChanged int      `json:"credentials_changed"`
}

// RemoteCommand is a command the issuer queued for a device; "delete" means
// the wallet must delete the credentials (削除) because they were revoked
// elsewhere (device change, card revocation, support).
type RemoteCommand struct {
	CommandID string    `json:"command_id"`
	Action    string    `json:"action"`
	Reason    string    `json:"reason,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// PollResponse answers ActionPoll.
type PollResponse struct {
	DeviceID string          `json:"device_id"`
	State    string          `json:"state"`
	Commands []RemoteCommand `json:"commands"`
}

// Device and credential states on the wire.
const (
	StateActive    = "active"
	StateSuspended = "suspended"
	StateRevoked   = "revoked"
)

// RemoteActionDelete is the only remote command.
const RemoteActionDelete = "delete"

// EncodeCertificate is standard base64 of DER, the encoding of certificates
// in EnrolResponse.
func EncodeCertificate(der []byte) string { return base64.StdEncoding.EncodeToString(der) }

// DecodeCertificate reverses EncodeCertificate.
func DecodeCertificate(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
