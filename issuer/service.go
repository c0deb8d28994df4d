package issuer

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/timex"
	"github.com/mynumber-mdoc/mnc/issuer/store"
	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

// Service implements the issuer: OpenID4VCI, card-derived enrolment and the
// credential lifecycle. HTTP handlers (Handler) only decode, call it and
// render.
type Service struct {
	cfg Config
	// The store, by role: each call site says which part of the state it
	// touches.
	offers       store.Offers
	devices      store.Devices
	creds        store.Credentials
	lists        store.Status
	restrictions store.Blocks
	insurance    store.InsuranceRegistry
	audit        store.Audit
	appAttest    store.AppAttestKeys
	status       *statusCache
	// blocks caches the block list; reloaded on change and every minute.
	blockMu     sync.Mutex
	blocks      []store.Block
	blocksAt    time.Time
	configsMeta map[string]oid4vci.CredentialConfiguration
	// attestChains caches verified key attestation chains: a wallet
	// provider's attestation certificate is the same for all its wallets.
	attestChains *oid4vci.ChainCache
}

// New returns a Service for cfg.
func New(cfg Config) (*Service, error) {
	cfg.defaults()
	// The ttl bounds how long verifiers cache a token, and a token is
	// re-signed at half of it: under a second would sign on every fetch.
	if ttl := cfg.StatusListTTL; ttl < time.Second || ttl > MaxStatusListTTL || ttl > cfg.StatusListValidity {
		return nil, fmt.Errorf("issuer: status list ttl %s: want 1s to %s, and not above the validity %s", ttl, MaxStatusListTTL, cfg.StatusListValidity)
	}
	if cfg.IssuerURL == "" || cfg.Store == nil || cfg.DocumentSigner == nil || cfg.StatusListSigner == nil || cfg.CA == nil || cfg.JPKI == nil {
		return nil, errors.New("issuer: config needs IssuerURL, Store, DocumentSigner, StatusListSigner, CA and JPKI")
	}
	cfg.IssuerURL = strings.TrimSuffix(cfg.IssuerURL, "/")
	if err := cfg.Platform.defaults(cfg.Production); err != nil {
		return nil, err
	}
	st := cfg.Store
	s := &Service{cfg: cfg, offers: st, devices: st, creds: st, lists: st, restrictions: st, insurance: st, audit: st, appAttest: st}
	s.status = newStatusCache()
	s.configsMeta = credentialConfigurations()
	s.attestChains = oid4vci.NewChainCache()
	return s, nil
}

// dsNotAfter is the end of the Document Signer certificate: no credential
// outlives the certificate that signed it.
func (s *Service) dsNotAfter() time.Time { return s.cfg.DocumentSigner.Chain()[0].NotAfter }

// rawChain returns the DER of each certificate, in order (x5chain).
func rawChain(chain []*x509.Certificate) [][]byte {
	out := make([][]byte, len(chain))
	for i, c := range chain {
		out[i] = c.Raw
	}
	return out
}

// Config returns the effective configuration.
func (s *Service) Config() Config { return s.cfg }

func (s *Service) now() time.Time { return s.cfg.Now() }

// docTypeOf maps credential configuration ids to docTypes.
var docTypeOf = map[string]string{oid4vci.ConfigMNC: mdoc.DocTypeMNC, oid4vci.ConfigHIC: mdoc.DocTypeHIC}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// ReasonDocumentSignerRevoked is the reason of the server_error answered
// while the current Document Signer is on the IACA CRL.
const ReasonDocumentSignerRevoked = "document_signer_revoked"

// TxCodeLength is the number of digits of a tx_code.
const TxCodeLength = 6

// maskEmail shows enough of an address for the holder to recognise it
// ("t***@example.jp") without echoing it whole.
func maskEmail(a string) string {
	local, domain, ok := strings.Cut(a, "@")
	if !ok || local == "" {
		return "your registered contact"
	}
	return local[:1] + "***@" + domain
}

func randomDigits(n int) string {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		d, _ := rand.Int(rand.Reader, big.NewInt(10))
		sb.WriteByte(byte('0' + d.Int64()))
	}
	return sb.String()
}

// hashSecret stores codes and tokens as digests, so a database leak does not
// hand out usable pre-authorized codes or access tokens.
func hashSecret(s string) string {
	if s == "" {
		return ""
	}
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// ---- nonce, token ----

// Nonce issues a fresh single-use c_nonce.
func (s *Service) Nonce(ctx context.Context) (string, error) {
	n := randomToken(24)
	if err := s.offers.PutNonce(ctx, n, s.now().Add(s.cfg.NonceTTL)); err != nil {
		return "", fmt.Errorf("issue nonce: %w", err)
	}
	return n, nil
}

func (s *Service) consumeNonce(ctx context.Context, nonce string) error {
	if nonce == "" {
		return errNonceMissing()
	}
	err := s.offers.ConsumeNonce(ctx, nonce, s.now())
	if errors.Is(err, store.ErrUsed) {
		return errNonceUnknown()
	}
	return err
}

func errNonceMissing() error {
	return oid4vci.NewError(oid4vci.CodeInvalidNonce, oid4vci.ReasonNonceMissing, "nonce is missing; get one from the nonce endpoint")
}

func errNonceUnknown() error {
	return oid4vci.NewError(oid4vci.CodeInvalidNonce, oid4vci.ReasonNonceUnknown, "nonce is unknown, already used or expired; get a fresh one from the nonce endpoint")
}

// Token redeems a pre-authorized code (OpenID4VCI 1.0 §6).
func (s *Service) Token(ctx context.Context, r *oid4vci.TokenRequest) (*oid4vci.TokenResponse, error) {
	tok := randomToken(32)
	now := s.now()
	g, err := s.offers.RedeemOffer(ctx, hashSecret(r.PreAuthorizedCode), hashSecret(r.TxCode), hashSecret(tok), now.Add(s.cfg.TokenTTL), now)
	switch {
	case errors.Is(err, store.ErrUsed):
		return nil, oid4vci.NewError(oid4vci.CodeInvalidGrant, "", "pre-authorized code is unknown, already used or expired")
	case errors.Is(err, store.ErrConflict):
		return nil, oid4vci.NewError(oid4vci.CodeInvalidGrant, "tx_code", "tx_code is wrong")
	case err != nil:
		return nil, fmt.Errorf("redeem offer: %w", err)
	}
	return &oid4vci.TokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int64(g.ExpiresAt.Sub(now) / time.Second)}, nil
}

// ---- credential ----

// Credential issues one credential for an access token (OpenID4VCI 1.0 §8):
// the proof must be by the enrolled device key, carry a fresh nonce and a
// key attestation covering that key; the device must be active and its card
// certificate unexpired and not revoked.
func (s *Service) Credential(ctx context.Context, accessToken string, r *oid4vci.CredentialRequest) (*oid4vci.CredentialResponse, error) {
	now := s.now()
	g, err := s.offers.Token(ctx, hashSecret(accessToken), now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oid4vci.NewError(oid4vci.CodeInvalidToken, "", "access token is unknown or expired")
	}
	if err != nil {
		return nil, fmt.Errorf("read access token: %w", err)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	docType, ok := docTypeOf[r.CredentialConfigurationID]
	if !ok {
		return nil, oid4vci.NewError(oid4vci.CodeUnknownCredentialConfig, "", "unknown credential_configuration_id %q", r.CredentialConfigurationID)
	}
	if !slices.Contains(g.Configs, r.CredentialConfigurationID) {
		return nil, oid4vci.NewError(oid4vci.CodeCredentialRequestDenied, "", "this access token does not cover %s", r.CredentialConfigurationID)
	}
	if len(r.Proofs.JWT) > s.cfg.BatchSize {
		return nil, oid4vci.NewError(oid4vci.CodeInvalidProof, oid4vci.ReasonTooLarge, "%d proofs; batch_size is %d", len(r.Proofs.JWT), s.cfg.BatchSize)
	}
	// The card certificate is read with the device (one statement): it is
	// judged below, once the proofs hold.
	dev, card, err := s.devices.DeviceCard(ctx, g.DeviceID)
	if err != nil {
		return nil, fmt.Errorf("read device %s: %w", g.DeviceID, err)
	}
	keys, nonce, err := s.checkProofs(ctx, r.Proofs.JWT, dev, now)
	if err != nil {
		return nil, err
	}
	// The nonce is consumed when the credentials are recorded, in the same
	// transaction (store.IssueBatch.Nonce): one write fewer per call.
	if nonce == "" {
		return nil, errNonceMissing()
	}
	if dev.State != store.DeviceActive {
		return nil, oid4vci.NewError(oid4vci.CodeDeviceInactive, dev.State, "device %s is %s", dev.ID, dev.State)
	}
	if card.Revoked {
		return nil, oid4vci.NewError(oid4vci.CodeCardRejected, string(jpki.CodeRevoked), "the card certificate this device was enrolled with is revoked")
	}
	if !now.Before(card.NotAfter) {
		return nil, oid4vci.NewError(oid4vci.CodeCardRejected, string(jpki.CodeExpired), "the card certificate expired at %s", card.NotAfter.Format(time.RFC3339))
	}
	cc, err := jpki.ParseCertificate(card.DER)
	if err != nil || cc.Facts == nil {
		return nil, fmt.Errorf("parse stored card certificate %s: %v", card.ID, err)
	}
	// Fail closed: never sign with a Document Signer the IACA's CRL lists
	// (restarting the issuer rotates it to a new key).
	if revoked, err := s.cfg.DocumentSigner.Revoked(); err != nil || revoked {
		return nil, &oid4vci.Error{Code: oid4vci.CodeServerError, Reason: ReasonDocumentSignerRevoked,
			Description: "the Document Signer certificate is revoked; issuance is stopped until the issuer restarts with a new one", Err: err}
	}
	validUntil := timex.Earliest(now.Add(s.cfg.CredentialValidity), card.NotAfter, s.dsNotAfter())
	var ns map[string][]mdoc.Element
	switch docType {
	case mdoc.DocTypeMNC:
		ns = MNCElements(cc.Facts, now, validUntil)
	case mdoc.DocTypeHIC:
		ins, err := s.insurance.Insurance(ctx, PersonKey(cc.Facts))
		if errors.Is(err, store.ErrNotFound) || (err == nil && !insuranceValidAt(ins, now)) {
			return nil, oid4vci.NewError(oid4vci.CodeCredentialRequestDenied, "no_insurance", "no valid health-insurance qualification on record")
		}
		if err != nil {
			return nil, fmt.Errorf("read insurance: %w", err)
		}
		if ns, err = HICElements(ins, validUntil); err != nil {
			return nil, fmt.Errorf("insurance elements: %w", err)
		}
	}
	encoded, credIDs, err := s.issueBatch(ctx, dev, docType, ns, keys, nonce, now, validUntil)
	if err != nil {
		return nil, err
	}
	resp := &oid4vci.CredentialResponse{
		// One notification_id per response (§8.3): the first credential's
		// id; Notify applies the event to the device's credentials of
		// that issuance.
		NotificationID: credIDs[0],
	}
	for _, b := range encoded {
		resp.Credentials = append(resp.Credentials, oid4vci.IssuedCredential{Credential: base64.RawURLEncoding.EncodeToString(b)})
	}
	return resp, nil
}

// Notify handles a notification (OpenID4VCI 1.0 §11): the wallet tells
// whether it stored, failed to store or deleted the credentials of an
// issuance. The access token must be the one of that issuance's device; the
// event goes to the audit log (and, for credential_deleted, tells support
// the holder removed them — it is not a revocation).
func (s *Service) Notify(ctx context.Context, accessToken string, n *oid4vci.NotificationRequest) error {
	now := s.now()
	g, err := s.offers.Token(ctx, hashSecret(accessToken), now)
	if errors.Is(err, store.ErrNotFound) {
		return oid4vci.NewError(oid4vci.CodeInvalidToken, "", "access token is unknown or expired")
	}
	if err != nil {
		return fmt.Errorf("read access token: %w", err)
	}
	if err := n.Validate(); err != nil {
		return err
	}
	// One lookup by id, not the device's whole credential history, which
	// grows with every refresh.
	c, err := s.creds.Credential(ctx, n.NotificationID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.DeviceID != g.DeviceID) {
		return oid4vci.NewError(oid4vci.CodeInvalidNotificationID, "", "notification_id is not one this access token's issuance returned")
	}
	if err != nil {
		return fmt.Errorf("read credential %s: %w", n.NotificationID, err)
	}
	dev, err := s.devices.Device(ctx, g.DeviceID)
	if err != nil {
		return fmt.Errorf("read device %s: %w", g.DeviceID, err)
	}
	detail := n.NotificationID
	if n.EventDescription != "" {
		detail += ": " + n.EventDescription
	}
	if err := s.audit.AddEvent(ctx, store.Event{Actor: "wallet", Action: "notification_" + n.Event, PersonID: dev.PersonID, DeviceID: dev.ID, Detail: detail}, now); err != nil {
		return fmt.Errorf("record notification: %w", err)
	}
	s.cfg.Logger.InfoContext(ctx, "wallet notification", "device", dev.ID, "event", n.Event, "notification_id", n.NotificationID)
	return nil
}

// checkProofs verifies the proofs of a credential request (OpenID4VCI 1.0
// §8.2.1, batch: one credential per proof, each proof by its own key): each
// is an ES256 proof JWT for this issuer carrying one and the same c_nonce,
// no key appears twice, and each carries a key attestation (verified, with
// the device policy) that attests its key. A proof key is acceptable when
// it is the device key bound at enrolment, or when its key attestation
// attests it together with that device key: the wallet provider vouches
// that the batch keys live in the same secure element as the enrolled key.
// It returns the keys in order and the nonce.
func (s *Service) checkProofs(ctx context.Context, proofs []string, dev *store.Device, now time.Time) ([]*ecdsa.PublicKey, string, error) {
	var nonce string
	seen := map[string]bool{}
	verified := map[string]*oid4vci.KeyAttestation{}
	keys := make([]*ecdsa.PublicKey, 0, len(proofs))
	for i, pj := range proofs {
		proof, err := oid4vci.VerifyProof(pj, oid4vci.VerifyProofOptions{Audience: s.cfg.IssuerURL, Now: now})
		if err != nil {
			return nil, "", err
		}
		if i == 0 {
			nonce = proof.Nonce
		} else if proof.Nonce != nonce {
			return nil, "", oid4vci.NewError(oid4vci.CodeInvalidNonce, oid4vci.ReasonNonceUnknown, "proof %d carries another c_nonce than proof 0; a batch shares one", i)
		}
		if seen[proof.Key.Thumbprint] {
			return nil, "", oid4vci.NewError(oid4vci.CodeInvalidProof, ReasonDuplicateKey, "proof %d repeats a key: each credential of a batch needs its own key", i)
		}
		seen[proof.Key.Thumbprint] = true
		if proof.KeyAttestation == "" {
			return nil, "", oid4vci.NewError(oid4vci.CodeInvalidProof, oid4vci.ReasonKeyNotAttested, "proof %d lacks key_attestation (key_attestations_required)", i)
		}
		ka, ok := verified[proof.KeyAttestation]
		if !ok {
			if ka, err = s.checkAttestation(ctx, proof.KeyAttestation, dev, now); err != nil {
				return nil, "", err
			}
			verified[proof.KeyAttestation] = ka
		}
		if !ka.Attests(proof.Key) {
			return nil, "", oid4vci.NewError(oid4vci.CodeInvalidProof, oid4vci.ReasonKeyNotAttested, "key_attestation of proof %d does not attest its key", i)
		}
		if proof.Key.Thumbprint != dev.KeyThumbprint && !ka.AttestsThumbprint(dev.KeyThumbprint) {
			return nil, "", oid4vci.NewError(oid4vci.CodeInvalidProof, oid4vci.ReasonKeyMismatch,
				"proof %d key is neither the device key bound at enrolment nor attested together with it", i)
		}
		pub, err := proof.Key.ECDSA()
		if err != nil {
			return nil, "", err
		}
		keys = append(keys, pub)
	}
	return keys, nonce, nil
}

// issueBatch signs and records one credential per device key of a
// request: each with its own MSO, salts (random per element, mdoc.Issue)
// and status-list entry. The store signs every credential outside its
// transactions and records them together once all are signed, so a batch
// is one reservation and one recording, and a failure returns none of
// them.
func (s *Service) issueBatch(ctx context.Context, dev *store.Device, docType string, ns map[string][]mdoc.Element, keys []*ecdsa.PublicKey, nonce string, now, validUntil time.Time) ([][]byte, []string, error) {
	encoded := make([][]byte, len(keys))
	creds, err := s.creds.IssueCredentials(ctx, store.IssueBatch{
		DeviceID: dev.ID, DocType: docType, Count: len(keys), ListSize: s.cfg.StatusListSize, ValidFrom: now, ValidUntil: validUntil, Now: now, Nonce: nonce,
		Event: store.Event{Actor: "wallet", Action: "credential_issued", PersonID: dev.PersonID, DeviceID: dev.ID, Detail: docType, Notify: true, Email: dev.ContactEmail},
		Sign: func(i int, ref store.StatusRef) error {
			is, err := mdoc.Issue(mdoc.IssueOptions{
				DocType: docType, NameSpaces: ns, DeviceKey: keys[i],
				Signed: now, ValidFrom: now, ValidUntil: validUntil,
				Status: &mdoc.StatusListRef{Idx: ref.Idx, URI: s.statusURI(ref.ListID)},
				Signer: s.cfg.DocumentSigner, Chain: rawChain(s.cfg.DocumentSigner.Chain()),
			})
			if err != nil {
				return fmt.Errorf("sign %s: %w", docType, err)
			}
			encoded[i], err = is.Encode()
			return err
		},
	})
	if errors.Is(err, store.ErrDeviceState) {
		return nil, nil, oid4vci.NewError(oid4vci.CodeDeviceInactive, "", "device %s is no longer active", dev.ID)
	}
	if errors.Is(err, store.ErrUsed) {
		return nil, nil, errNonceUnknown()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("issue %d × %s: %w", len(keys), docType, err)
	}
	ids := make([]string, len(creds))
	for i, c := range creds {
		ids[i] = c.ID
		s.cfg.Logger.InfoContext(ctx, "credential issued", "device", dev.ID, "doctype", docType, "list", c.ListID, "idx", c.Idx, "valid_until", validUntil)
	}
	return encoded, ids, nil
}

func (s *Service) statusURI(listID string) string {
	return s.cfg.IssuerURL + oid4vci.PathStatusList + listID
}

// ---- attestation and device policy ----

// deviceView is what enrolment concluded about the device.
type deviceView struct {
	model, osVersion, profile string
	evidence                  *PlatformEvidence
}

// verifyDevice verifies what an application says about the device: the
// platform's attestation of the device key (required in production), the
// wallet provider's key attestation checked against it, and the device
// policy on the facts the platform attests. Where the platform is silent
// (App Attest attests no model) the wallet provider's statement decides,
// and where that is silent too, the card-signed application's own claim.
func (s *Service) verifyDevice(ctx context.Context, app *oid4vci.CardApplication, now time.Time) (*oid4vci.KeyAttestation, deviceView, error) {
	var dv deviceView
	ka, err := oid4vci.VerifyKeyAttestation(app.KeyAttestation, oid4vci.VerifyKeyAttestationOptions{Roots: s.cfg.AttestationRoots, Now: now, Chains: s.attestChains})
	if err != nil {
		return nil, dv, err
	}
	c := ka.Claims
	dv = deviceView{model: cmp.Or(c.DeviceModel, app.DeviceModel), osVersion: cmp.Or(c.OSVersion, app.OSVersion), profile: c.WalletProfile}
	pa := app.PlatformAttestation
	if pa == nil {
		if s.cfg.Platform.Required {
			return nil, dv, oid4vci.NewError(oid4vci.CodeInvalidKeyAttestation, ReasonPlatformMissing, "this issuer requires the platform's attestation of the device key (platform_attestation)")
		}
		return ka, dv, s.devicePolicy(ctx, c, dv.model, dv.osVersion, "")
	}
	ev, err := s.cfg.Platform.Verifier.VerifyPlatform(ctx, pa, PlatformBinding{Nonce: app.Nonce, DeviceKey: app.DeviceKey, Now: now})
	if err != nil {
		return nil, dv, err
	}
	facts := &ev.Facts
	model, osVersion, profile, err := checkStatement(ka, facts, dv.model, dv.osVersion)
	if err != nil {
		return nil, dv, err
	}
	dv = deviceView{model: model, osVersion: osVersion, profile: profile, evidence: ev}
	s.cfg.Logger.InfoContext(ctx, "platform attestation verified", "format", facts.Format, "security_level", facts.SecurityLevel,
		"boot", facts.VerifiedBootState, "os", facts.OSVersion, "patch", facts.OSPatchLevel, "model", model, "environment", facts.Environment)
	return ka, dv, s.devicePolicy(ctx, c, model, osVersion, facts.OSVersion)
}

// checkAttestation verifies a key attestation at credential issuance (the
// proof's) and applies the device policy (blocks may have come since
// enrolment) to the enrolled device: its model as established at enrolment
// (a statement naming another is refused), its OS version as the statement
// now says (it may have been updated) or as enrolled. The platform
// attestation was checked at enrolment.
func (s *Service) checkAttestation(ctx context.Context, compact string, dev *store.Device, now time.Time) (*oid4vci.KeyAttestation, error) {
	ka, err := oid4vci.VerifyKeyAttestation(compact, oid4vci.VerifyKeyAttestationOptions{Roots: s.cfg.AttestationRoots, Now: now, Chains: s.attestChains})
	if err != nil {
		return nil, err
	}
	c := ka.Claims
	if c.DeviceModel != "" && c.DeviceModel != dev.Model {
		return nil, oid4vci.NewError(oid4vci.CodeDeviceNotAllowed, oid4vci.ReasonAttestationModel, "the key attestation names model %q; device %s was enrolled as %q", c.DeviceModel, dev.ID, dev.Model)
	}
	return ka, s.devicePolicy(ctx, c, dev.Model, cmp.Or(c.OSVersion, dev.OSVersion), "")
}

// devicePolicy: not rooted, model on the allow-list, neither model nor OS
// version (as stated, or as the platform attests it) blocked.
func (s *Service) devicePolicy(ctx context.Context, c oid4vci.KeyAttestationClaims, model, osVersion, platformOS string) error {
	if c.Rooted {
		return oid4vci.NewError(oid4vci.CodeDeviceNotAllowed, oid4vci.ReasonRooted, "the wallet provider attests that this device is rooted or runs a custom ROM")
	}
	if !slices.Contains(s.cfg.AllowedModels, model) {
		return oid4vci.NewError(oid4vci.CodeDeviceNotAllowed, oid4vci.ReasonModelNotAllowed, "device model %q is not on the list of verified models", model)
	}
	blocks, err := s.Blocks(ctx)
	if err != nil {
		return err
	}
	for _, b := range blocks {
		if b.Kind == store.BlockModel && b.Value == model {
			return oid4vci.NewError(oid4vci.CodeDeviceNotAllowed, oid4vci.ReasonModelBlocked, "device model %q is blocked: %s", model, b.Reason)
		}
		if b.Kind == store.BlockOS && (b.Value == osVersion || (platformOS != "" && b.Value == platformOS)) {
			return oid4vci.NewError(oid4vci.CodeDeviceNotAllowed, oid4vci.ReasonOSBlocked, "OS version %q is blocked: %s", osVersion, b.Reason)
		}
	}
	return nil
}

// Blocks returns the emergency restrictions (cached for a minute; changes
// through this service invalidate the cache at once).
func (s *Service) Blocks(ctx context.Context) ([]store.Block, error) {
	s.blockMu.Lock()
	defer s.blockMu.Unlock()
	if s.blocks != nil && s.now().Sub(s.blocksAt) < time.Minute {
		return s.blocks, nil
	}
	b, err := s.restrictions.Blocks(ctx)
	if err != nil {
		return nil, fmt.Errorf("read blocks: %w", err)
	}
	if b == nil {
		b = []store.Block{}
	}
	s.blocks, s.blocksAt = b, s.now()
	return b, nil
}

func (s *Service) invalidateBlocks() {
	s.blockMu.Lock()
	s.blocks = nil
	s.blockMu.Unlock()
}

// Attest is the development stand-in for Apple App Attest / Google Play
// Integrity: it signs a key attestation for the keys and device facts the
// wallet simulator reports. Refused in production mode, where the
// platforms' own attestation roots are configured instead.
func (s *Service) Attest(ctx context.Context, r *oid4vci.AttestRequest) (string, error) {
	if s.cfg.Production || s.cfg.KeyAttester == nil {
		return "", oid4vci.NewError(oid4vci.CodeForbidden, "production", "the development attestation service is disabled in production mode")
	}
	if err := r.Validate(); err != nil {
		return "", err
	}
	keys := make([]crypto.PublicKey, 0, len(r.Keys))
	for _, k := range r.Keys {
		keys = append(keys, k.Public)
	}
	storage := r.KeyStorage
	if storage == nil {
		storage = []string{oid4vci.KeyStorageHigh}
	}
	return oid4vci.SignKeyAttestation(s.cfg.KeyAttester, rawChain(s.cfg.KeyAttester.Chain()), oid4vci.KeyAttestationOptions{
		Keys: keys, KeyStorage: storage, UserAuthentication: r.UserAuthentication,
		DeviceModel: r.DeviceModel, OSVersion: r.OSVersion, Rooted: r.Rooted, WalletProfile: r.WalletProfile, DeviceID: r.DeviceID,
		IssuedAt: s.now(), Lifetime: time.Hour,
	})
}

// ---- card verification ----

// verifyCard checks a card-signed JWS with jpki (chain, CRL, signature) and
// its typ, and returns the result. Failures are card_rejected with the jpki
// code as reason (revoked, expired, untrusted, test_root_in_production,
// signature_invalid, crl_unavailable, …).
func (s *Service) verifyCard(ctx context.Context, compact, typ string) (*jpki.JWSResult, error) {
	if compact == "" {
		return nil, oid4vci.NewError(oid4vci.CodeInvalidRequest, oid4vci.ReasonMalformed, "card-signed JWS is missing")
	}
	res, err := s.cfg.JPKI.VerifyJWS(ctx, []byte(compact), jpki.VerifyOptions{CurrentTime: s.now(), Kind: jpki.KindSignature})
	if err != nil {
		code := jpki.CodeOf(err)
		if code == jpki.CodeMalformed {
			return nil, &oid4vci.Error{Code: oid4vci.CodeInvalidApplication, Reason: oid4vci.ReasonMalformed, Description: err.Error(), Err: err}
		}
		if code == "" {
			return nil, fmt.Errorf("verify card signature: %w", err)
		}
		return nil, &oid4vci.Error{Code: oid4vci.CodeCardRejected, Reason: string(code), Description: err.Error(), Err: err}
	}
	if got, _ := res.Protected.Type(); got != typ {
		return nil, oid4vci.NewError(oid4vci.CodeInvalidApplication, oid4vci.ReasonWrongType, "typ %q, want %q", got, typ)
	}
	if res.Certificate.Form != jpki.FormCard {
		return nil, oid4vci.NewError(oid4vci.CodeCardRejected, string(jpki.CodeProfile), "a %s signature certificate cannot sign this; use the My Number Card", res.Certificate.Form)
	}
	return res, nil
}

func cardRecord(c *x509.Certificate) store.CardCert {
	h := sha256.Sum256(c.Raw)
	return store.CardCert{ID: hex.EncodeToString(h[:]), Serial: c.SerialNumber.String(), Issuer: c.Issuer.String(), NotAfter: c.NotAfter, DER: c.Raw}
}

// ---- enrolment ----

// Enrol handles a card-signed application (see package documentation).
func (s *Service) Enrol(ctx context.Context, application string) (*oid4vci.EnrolResponse, error) {
	now := s.now()
	res, err := s.verifyCard(ctx, application, oid4vci.TypCardApplication)
	if err != nil {
		return nil, err
	}
	app, err := oid4vci.ParseCardApplication(res.Payload, oid4vci.CheckOptions{Audience: s.cfg.IssuerURL, Now: now})
	if err != nil {
		return nil, err
	}
	if s.cfg.RequireTxCode && app.ContactEmail == "" {
		return nil, oid4vci.NewError(oid4vci.CodeInvalidApplication, oid4vci.ReasonContactRequired,
			"this issuer sends a transaction code to the holder's e-mail; the application needs contact_email")
	}
	if err := s.consumeNonce(ctx, app.Nonce); err != nil {
		return nil, err
	}
	ka, dv, err := s.verifyDevice(ctx, app, now)
	if err != nil {
		return nil, err
	}
	for name, k := range map[string]*oid4vci.JWK{"device_key": app.DeviceKey, "jpki_sign_key": app.JPKISignKey, "jpki_auth_key": app.JPKIAuthKey} {
		if k != nil && !ka.Attests(k) {
			return nil, oid4vci.NewError(oid4vci.CodeInvalidKeyAttestation, oid4vci.ReasonKeyNotAttested, "%s is not among the attested keys", name)
		}
	}
	if dv.model != app.DeviceModel || (ka.Claims.OSVersion != "" && ka.Claims.OSVersion != app.OSVersion) {
		return nil, oid4vci.NewError(oid4vci.CodeDeviceNotAllowed, oid4vci.ReasonAttestationModel,
			"application says %s / %s but the attestations say %s / %s", app.DeviceModel, app.OSVersion, dv.model, ka.Claims.OSVersion)
	}
	cardCert := res.Certificate.X509
	facts := res.Facts
	personKey := PersonKey(facts)
	configs := []string{oid4vci.ConfigMNC}
	if ins, err := s.insurance.Insurance(ctx, personKey); err == nil && insuranceValidAt(ins, now) {
		configs = append(configs, oid4vci.ConfigHIC)
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("read insurance: %w", err)
	}

	resp := &oid4vci.EnrolResponse{DeviceID: "dev_" + randomToken(12)}
	dev := store.Device{
		ID: resp.DeviceID, DeviceKey: string(app.DeviceKey.Raw), KeyThumbprint: app.DeviceKey.Thumbprint,
		Model: app.DeviceModel, OSVersion: app.OSVersion, WalletProfile: dv.profile, PlatformDeviceID: ka.Claims.DeviceID,
		ContactEmail: app.ContactEmail, ValidUntil: cardCert.NotAfter, NotifyUse: app.NotifyUse,
	}
	if app.JPKISignKey != nil && s.cfg.PhoneCA != nil {
		signPub, _ := app.JPKISignKey.RSA()
		authPub, _ := app.JPKIAuthKey.RSA()
		sc, err := s.cfg.PhoneCA.IssueSmartphoneCertificate(cardCert, jpki.KindSignature, signPub)
		if err != nil {
			return nil, fmt.Errorf("issue phone signature certificate: %w", err)
		}
		ac, err := s.cfg.PhoneCA.IssueSmartphoneCertificate(cardCert, jpki.KindAuth, authPub)
		if err != nil {
			return nil, fmt.Errorf("issue phone auth certificate: %w", err)
		}
		dev.JPKISignSerial, dev.JPKIAuthSerial = sc.SerialNumber.String(), ac.SerialNumber.String()
		resp.JPKISignCertificate = oid4vci.EncodeCertificate(sc.Raw)
		resp.JPKIAuthCertificate = oid4vci.EncodeCertificate(ac.Raw)
		resp.JPKISignCACertificate = oid4vci.EncodeCertificate(s.cfg.PhoneCA.Root(jpki.KindSignature).Raw)
		resp.JPKIAuthCACertificate = oid4vci.EncodeCertificate(s.cfg.PhoneCA.Root(jpki.KindAuth).Raw)
	}
	switch {
	case app.JPKISignKey == nil:
		resp.JPKINotIssued = &oid4vci.Notice{Code: oid4vci.NoticeNoJPKIKeys, Description: "the application carried no JPKI phone keys"}
	case s.cfg.PhoneCA == nil:
		resp.JPKINotIssued = &oid4vci.Notice{Code: oid4vci.NoticePhoneCAUnavailable,
			Description: "this issuer has no smartphone JPKI CA (production mode: J-LIS issues phone JPKI certificates in its own service); the mdoc credentials are issued"}
	}
	code := randomToken(32)
	var txCode string
	grant := &oid4vci.PreAuthorizedCodeGrant{PreAuthorizedCode: code}
	detail := fmt.Sprintf("model=%s os=%s card_serial=%s", app.DeviceModel, app.OSVersion, cardCert.SerialNumber)
	if s.cfg.RequireTxCode {
		// The code travels only by the holder's e-mail (store queues it as
		// EventTxCode); the response, the audit log and the webhook never
		// carry it.
		txCode = randomDigits(TxCodeLength)
		grant.TxCode = &oid4vci.TxCode{InputMode: "numeric", Length: TxCodeLength, Description: "Enter the code sent to " + maskEmail(app.ContactEmail)}
		detail += " tx_code=sent_by_email"
	}
	r, err := s.devices.Enrol(ctx, store.EnrolParams{
		PersonKey: personKey, Card: cardRecord(cardCert), Device: dev, TxCode: txCode,
		OfferCodeHash: hashSecret(code), TxCodeHash: hashSecret(txCode), Configs: configs, OfferExpires: now.Add(s.cfg.OfferTTL), Now: now,
		Event: store.Event{Actor: "card", Action: "device_enrolled", Detail: detail, Notify: true, Email: app.ContactEmail},
	})
	if err != nil {
		return nil, fmt.Errorf("enrol: %w", err)
	}
	if err := s.recordAppAttestKey(ctx, dev.ID, dv.evidence, now); err != nil {
		return nil, fmt.Errorf("enrol: record app attest key: %w", err)
	}
	resp.ReplacedDeviceID = r.ReplacedDeviceID
	resp.ValidUntil = timex.Earliest(cardCert.NotAfter, s.dsNotAfter())
	resp.CredentialOffer = oid4vci.CredentialOffer{CredentialIssuer: s.cfg.IssuerURL, CredentialConfigurationIDs: configs,
		Grants: &oid4vci.Grants{PreAuthorizedCode: grant}}
	s.cfg.Logger.InfoContext(ctx, "device enrolled", "device", dev.ID, "person", r.PersonID, "model", dev.Model, "replaced", r.ReplacedDeviceID)
	return resp, nil
}

// ---- lifecycle ----

// RevokeWithCard revokes a person's devices with a card signature. No
// device policy applies: any phone, even a model that may not enrol, can
// revoke. DeviceID "" revokes all of the person's live devices.
func (s *Service) RevokeWithCard(ctx context.Context, revocation string) (*oid4vci.LifecycleResponse, error) {
	res, err := s.verifyCard(ctx, revocation, oid4vci.TypCardRevocation)
	if err != nil {
		return nil, err
	}
	r, err := oid4vci.ParseCardRevocation(res.Payload, oid4vci.CheckOptions{Audience: s.cfg.IssuerURL, Now: s.now()})
	if err != nil {
		return nil, err
	}
	if err := s.consumeNonce(ctx, r.Nonce); err != nil {
		return nil, err
	}
	p, err := s.devices.PersonByKey(ctx, PersonKey(res.Facts))
	if errors.Is(err, store.ErrNotFound) {
		return &oid4vci.LifecycleResponse{DeviceIDs: []string{}, State: oid4vci.StateRevoked}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find person: %w", err)
	}
	cp := store.ChangeParams{PersonID: p.ID}
	if r.DeviceID != "" {
		d, err := s.devices.Device(ctx, r.DeviceID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && d.PersonID != p.ID) {
			return nil, oid4vci.NewError(oid4vci.CodeDeviceUnknown, "", "no device %q for this card holder", r.DeviceID)
		}
		if err != nil {
			return nil, err
		}
		cp = store.ChangeParams{DeviceIDs: []string{d.ID}}
	}
	reason := "revoked with card"
	if r.Reason != "" {
		reason += ": " + r.Reason
	}
	cp.From, cp.To, cp.Reason, cp.QueueDelete, cp.Now = []string{store.DeviceActive, store.DeviceSuspended}, store.DeviceRevoked, reason, true, s.now()
	cp.Event = store.Event{Actor: "card", Action: "device_revoked", Detail: reason, Notify: true}
	return s.change(ctx, cp)
}

func (s *Service) change(ctx context.Context, cp store.ChangeParams) (*oid4vci.LifecycleResponse, error) {
	res, err := s.devices.ChangeDevices(ctx, cp)
	if err != nil {
		return nil, fmt.Errorf("change devices to %s: %w", cp.To, err)
	}
	ids := res.DeviceIDs
	if ids == nil {
		ids = []string{}
	}
	if len(ids) > 0 {
		s.cfg.Logger.InfoContext(ctx, "devices changed", "to", cp.To, "devices", ids, "credentials", res.CredentialsChanged, "reason", cp.Reason)
	}
	return &oid4vci.LifecycleResponse{DeviceIDs: ids, State: cp.To, Changed: len(ids) > 0, CredentialsChanged: res.CredentialsChanged}, nil
}

// DeviceRequest handles a device-key-signed lifecycle request; the result
// is *oid4vci.LifecycleResponse (revoke), *oid4vci.EnrolResponse (refresh)
// or *oid4vci.PollResponse (poll, ack).
func (s *Service) DeviceRequest(ctx context.Context, compact, appAttestAssertion string) (any, error) {
	now := s.now()
	kid, err := oid4vci.DeviceRequestKeyID(compact)
	if err != nil {
		return nil, err
	}
	dev, err := s.devices.Device(ctx, kid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oid4vci.NewError(oid4vci.CodeDeviceUnknown, "", "unknown device %q", kid)
	}
	if err != nil {
		return nil, fmt.Errorf("read device: %w", err)
	}
	key, err := oid4vci.ParseJWK([]byte(dev.DeviceKey))
	if err != nil {
		return nil, fmt.Errorf("stored device key of %s: %w", dev.ID, err)
	}
	r, err := oid4vci.VerifyDeviceRequest(compact, key, oid4vci.CheckOptions{Audience: s.cfg.IssuerURL, Now: now})
	if err != nil {
		return nil, err
	}
	if err := s.consumeNonce(ctx, r.Nonce); err != nil {
		return nil, err
	}
	if err := s.checkAssertion(ctx, dev.ID, compact, appAttestAssertion); err != nil {
		return nil, err
	}
	switch r.Action {
	case oid4vci.ActionRevoke:
		reason := "revoked from the device"
		if r.Reason != "" {
			reason += ": " + r.Reason
		}
		return s.change(ctx, store.ChangeParams{DeviceIDs: []string{dev.ID}, From: []string{store.DeviceActive, store.DeviceSuspended}, To: store.DeviceRevoked,
			Reason: reason, Now: now, Event: store.Event{Actor: "wallet", Action: "device_revoked", Detail: reason, Notify: true}})
	case oid4vci.ActionRefresh:
		return s.refresh(ctx, dev)
	case oid4vci.ActionUsed:
		return s.reportUse(ctx, dev, r, now)
	case oid4vci.ActionAck:
		if _, err := s.devices.AckCommand(ctx, dev.ID, r.CommandID, now); errors.Is(err, store.ErrNotFound) {
			return nil, oid4vci.NewError(oid4vci.CodeNotFound, "", "no command %q for this device", r.CommandID)
		} else if err != nil {
			return nil, err
		}
		fallthrough
	case oid4vci.ActionPoll:
		cmds, err := s.devices.PendingCommands(ctx, dev.ID)
		if err != nil {
			return nil, err
		}
		out := &oid4vci.PollResponse{DeviceID: dev.ID, State: dev.State, Commands: []oid4vci.RemoteCommand{}}
		for _, c := range cmds {
			out.Commands = append(out.Commands, oid4vci.RemoteCommand{CommandID: c.ID, Action: c.Action, Reason: c.Reason, CreatedAt: c.CreatedAt})
		}
		return out, nil
	}
	return nil, oid4vci.NewError(oid4vci.CodeInvalidDeviceRequest, oid4vci.ReasonMalformed, "unknown action %q", r.Action)
}

// reportUse records a presentation the wallet reports (ActionUsed): always
// audited, and notified to the holder when they opted in at enrolment.
// Reports from revoked devices are still recorded: a use after revocation
// is exactly what the holder and the operator want to know about.
func (s *Service) reportUse(ctx context.Context, dev *store.Device, r *oid4vci.DeviceRequest, now time.Time) (*oid4vci.UseResponse, error) {
	u := r.Use
	at := now
	if u.At != 0 {
		at = time.Unix(u.At, 0)
	}
	detail := fmt.Sprintf("doctype=%s verifier=%q channel=%s at=%s elements=%s", u.DocType, u.Verifier, u.Channel, at.UTC().Format(time.RFC3339), strings.Join(u.Elements, ","))
	ev := store.Event{Actor: "wallet", Action: EventCredentialUsed, PersonID: dev.PersonID, DeviceID: dev.ID, Detail: detail,
		Notify: dev.NotifyUse, Email: dev.ContactEmail}
	if err := s.audit.AddEvent(ctx, ev, now); err != nil {
		return nil, fmt.Errorf("record use of %s: %w", dev.ID, err)
	}
	s.cfg.Logger.InfoContext(ctx, "credential use reported", "device", dev.ID, "doctype", u.DocType, "verifier", u.Verifier, "notified", dev.NotifyUse)
	return &oid4vci.UseResponse{DeviceID: dev.ID, Notified: dev.NotifyUse}, nil
}

// EventCredentialUsed is the audit action and notification event of a
// reported use.
const EventCredentialUsed = "credential_used"

// refresh re-offers the device's credentials without a card signature, as
// long as the device is active and its card certificate still verifies
// (chain and CRL). A card found revoked triggers linked revocation at once.
func (s *Service) refresh(ctx context.Context, dev *store.Device) (*oid4vci.EnrolResponse, error) {
	now := s.now()
	if dev.State != store.DeviceActive {
		return nil, oid4vci.NewError(oid4vci.CodeDeviceInactive, dev.State, "device %s is %s", dev.ID, dev.State)
	}
	card, err := s.devices.CardCert(ctx, dev.CardCertID)
	if err != nil {
		return nil, fmt.Errorf("read card certificate: %w", err)
	}
	vr, err := s.cfg.JPKI.VerifyDER(ctx, card.DER, jpki.VerifyOptions{CurrentTime: now, Kind: jpki.KindSignature})
	if err != nil {
		if jpki.CodeOf(err) == jpki.CodeRevoked {
			if _, lerr := s.linkedRevoke(ctx, card, now); lerr != nil {
				s.cfg.Logger.ErrorContext(ctx, "linked revocation failed", "card", card.ID, "err", lerr)
			}
		}
		if c := jpki.CodeOf(err); c != "" {
			return nil, &oid4vci.Error{Code: oid4vci.CodeCardRejected, Reason: string(c), Description: "card certificate: " + err.Error(), Err: err}
		}
		return nil, fmt.Errorf("verify card certificate: %w", err)
	}
	configs := []string{oid4vci.ConfigMNC}
	if ins, err := s.insurance.Insurance(ctx, PersonKey(vr.Certificate.Facts)); err == nil && insuranceValidAt(ins, now) {
		configs = append(configs, oid4vci.ConfigHIC)
	}
	code := randomToken(32)
	if err := s.offers.CreateOffer(ctx, dev.ID, hashSecret(code), "", configs, now.Add(s.cfg.OfferTTL),
		store.Event{Actor: "wallet", Action: "refresh_offered", PersonID: dev.PersonID, DeviceID: dev.ID}); err != nil {
		return nil, fmt.Errorf("create refresh offer: %w", err)
	}
	return &oid4vci.EnrolResponse{DeviceID: dev.ID, ValidUntil: timex.Earliest(card.NotAfter, s.dsNotAfter()),
		CredentialOffer: oid4vci.CredentialOffer{CredentialIssuer: s.cfg.IssuerURL, CredentialConfigurationIDs: configs,
			Grants: &oid4vci.Grants{PreAuthorizedCode: &oid4vci.PreAuthorizedCodeGrant{PreAuthorizedCode: code}}}}, nil
}

func (s *Service) linkedRevoke(ctx context.Context, card *store.CardCert, now time.Time) (*oid4vci.LifecycleResponse, error) {
	if err := s.devices.MarkCardRevoked(ctx, card.ID, now); err != nil {
		return nil, err
	}
	return s.change(ctx, store.ChangeParams{CardCert: card.ID, From: []string{store.DeviceActive, store.DeviceSuspended}, To: store.DeviceRevoked,
		Reason: "card certificate revoked", QueueDelete: true, Now: now,
		Event: store.Event{Actor: "crl", Action: "linked_revocation", Detail: "card certificate serial " + card.Serial + " revoked", Notify: true}})
}

// PollCRLs checks every card certificate that has live devices against the
// JPKI revocation sources and revokes the devices of every certificate
// found revoked (linked revocation). It returns the number of devices
// revoked. Certificates whose CRL is unavailable are skipped and retried at
// the next poll (failing open here only delays a revocation; enrolment and
// refresh themselves fail closed).
func (s *Service) PollCRLs(ctx context.Context) (int, error) {
	cards, err := s.devices.LiveCardCerts(ctx)
	if err != nil {
		return 0, err
	}
	now := s.now()
	n := 0
	for i := range cards {
		c := &cards[i]
		_, err := s.cfg.JPKI.VerifyDER(ctx, c.DER, jpki.VerifyOptions{CurrentTime: now, Kind: jpki.KindSignature})
		switch jpki.CodeOf(err) {
		case "":
			if err != nil {
				return n, err
			}
		case jpki.CodeRevoked:
			r, err := s.linkedRevoke(ctx, c, now)
			if err != nil {
				return n, err
			}
			n += len(r.DeviceIDs)
		default:
			s.cfg.Logger.WarnContext(ctx, "CRL poll could not check a card certificate", "card", c.ID, "serial", c.Serial, "err", err)
		}
	}
	return n, nil
}
