package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"sync"

	"github.com/miekg/pkcs11"
)

// oidP256 is the DER of the named curve OID 1.2.840.10045.3.1.7, the
// CKA_EC_PARAMS of a P-256 key.
var oidP256 = []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}

// PKCS11Config selects a token.
type PKCS11Config struct {
	Module     string // path of the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so
	TokenLabel string
	PIN        string
}

// PKCS11Manager keeps keys in a PKCS#11 token: private keys are generated
// inside it (CKA_SENSITIVE, not extractable) and found by CKA_LABEL. One
// session is shared under a mutex, since PKCS#11 sessions are not safe for
// concurrent use.
type PKCS11Manager struct {
	ctx     *pkcs11.Ctx
	session pkcs11.SessionHandle
	mu      sync.Mutex
}

// OpenPKCS11 loads the module, finds the token by label and logs in.
func OpenPKCS11(cfg PKCS11Config) (*PKCS11Manager, error) {
	p := pkcs11.New(cfg.Module)
	if p == nil {
		return nil, fmt.Errorf("keys: cannot load PKCS#11 module %s", cfg.Module)
	}
	if err := p.Initialize(); err != nil {
		p.Destroy()
		return nil, fmt.Errorf("keys: initialise %s: %w", cfg.Module, err)
	}
	fail := func(err error) (*PKCS11Manager, error) {
		p.Finalize()
		p.Destroy()
		return nil, err
	}
	slots, err := p.GetSlotList(true)
	if err != nil {
		return fail(fmt.Errorf("keys: list slots: %w", err))
	}
	var slot uint
	found := false
	for _, s := range slots {
		ti, err := p.GetTokenInfo(s)
		if err == nil && ti.Label == cfg.TokenLabel {
			slot, found = s, true
			break
		}
	}
	if !found {
		return fail(fmt.Errorf("keys: no PKCS#11 token labelled %q in %s", cfg.TokenLabel, cfg.Module))
	}
	sh, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return fail(fmt.Errorf("keys: open session: %w", err))
	}
	if err := p.Login(sh, pkcs11.CKU_USER, cfg.PIN); err != nil {
		p.CloseSession(sh)
		return fail(fmt.Errorf("keys: log in to token %q: %w", cfg.TokenLabel, err))
	}
	return &PKCS11Manager{ctx: p, session: sh}, nil
}

func (m *PKCS11Manager) Kind() string { return KindPKCS11 }

func (m *PKCS11Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ctx.Logout(m.session)
	m.ctx.CloseSession(m.session)
	m.ctx.Finalize()
	m.ctx.Destroy()
	return nil
}

func (m *PKCS11Manager) find(class uint, label string) (pkcs11.ObjectHandle, bool, error) {
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}
	if err := m.ctx.FindObjectsInit(m.session, tmpl); err != nil {
		return 0, false, err
	}
	objs, _, err := m.ctx.FindObjects(m.session, 2)
	m.ctx.FindObjectsFinal(m.session)
	if err != nil {
		return 0, false, err
	}
	if len(objs) > 1 {
		return 0, false, fmt.Errorf("keys: %d objects labelled %q", len(objs), label)
	}
	if len(objs) == 0 {
		return 0, false, nil
	}
	return objs[0], true, nil
}

func (m *PKCS11Manager) Signer(ctx context.Context, name string, create bool) (crypto.Signer, error) {
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("keys: invalid key name %q", name)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	priv, ok, err := m.find(pkcs11.CKO_PRIVATE_KEY, name)
	if err != nil {
		return nil, fmt.Errorf("keys: find %s: %w", name, err)
	}
	if !ok {
		if !create {
			return nil, fmt.Errorf("%w: PKCS#11 label %s", ErrNotFound, name)
		}
		pubT := []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, oidP256),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, name),
		}
		privT := []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
			pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, name),
		}
		_, priv, err = m.ctx.GenerateKeyPair(m.session, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)}, pubT, privT)
		if err != nil {
			return nil, fmt.Errorf("keys: generate %s in token: %w", name, err)
		}
	}
	pubH, ok, err := m.find(pkcs11.CKO_PUBLIC_KEY, name)
	if err != nil || !ok {
		return nil, fmt.Errorf("keys: public key %s not in token: %v", name, err)
	}
	attrs, err := m.ctx.GetAttributeValue(m.session, pubH, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, nil)})
	if err != nil {
		return nil, fmt.Errorf("keys: read public key %s: %w", name, err)
	}
	var point []byte
	if _, err := asn1.Unmarshal(attrs[0].Value, &point); err != nil {
		point = attrs[0].Value // some modules omit the OCTET STRING wrapper
	}
	x, y := elliptic.Unmarshal(elliptic.P256(), point) //nolint:staticcheck // point validated by Unmarshal
	if x == nil {
		return nil, fmt.Errorf("keys: public key %s is not an uncompressed P-256 point", name)
	}
	return &pkcs11Signer{m: m, priv: priv, pub: &ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}}, nil
}

type pkcs11Signer struct {
	m    *PKCS11Manager
	priv pkcs11.ObjectHandle
	pub  *ecdsa.PublicKey
}

func (s *pkcs11Signer) Public() crypto.PublicKey { return s.pub }

// Sign signs a digest with CKM_ECDSA and returns the ASN.1 signature
// crypto.Signer callers expect (the token returns r‖s).
func (s *pkcs11Signer) Sign(_ io.Reader, digest []byte, _ crypto.SignerOpts) ([]byte, error) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if err := s.m.ctx.SignInit(s.m.session, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)}, s.priv); err != nil {
		return nil, fmt.Errorf("keys: PKCS#11 sign init: %w", err)
	}
	raw, err := s.m.ctx.Sign(s.m.session, digest)
	if err != nil {
		return nil, fmt.Errorf("keys: PKCS#11 sign: %w", err)
	}
	if len(raw) != 64 {
		return nil, fmt.Errorf("keys: PKCS#11 signature of %d bytes, want 64", len(raw))
	}
	return asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])})
}
