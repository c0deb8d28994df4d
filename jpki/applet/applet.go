package applet

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/mynumber-mdoc/mnc/internal/apdu"
	"github.com/mynumber-mdoc/mnc/internal/fsx"
	"github.com/mynumber-mdoc/mnc/jpki"
)

// tokenInfo returns the content of EF 0006.
func tokenInfo(t jpki.Token) []byte {
	return []byte(string(t) + strings.Repeat(" ", jpki.TokenInfoLen-len(t)))
}

// maxReferenceData bounds VERIFY and CHANGE REFERENCE DATA data.
const maxReferenceData = 16

// Config is what a new card is made of. Keys go in and never come out.
type Config struct {
	Token jpki.Token
	// SignKey and AuthKey are the RSA private keys.
	SignKey *rsa.PrivateKey
	AuthKey *rsa.PrivateKey
	// SignCert, SignCACert, AuthCert and AuthCACert are DER certificates.
	SignCert   []byte
	SignCACert []byte
	AuthCert   []byte
	AuthCACert []byte
	// SignPassword and AuthPIN are the initial reference data.
	SignPassword string
	AuthPIN      string
}

// stateVersion is the format version of the state file.
const stateVersion = 1

// state is the persistent content of the chip. JSON encodes []byte as
// base64.
type state struct {
	Format     string     `json:"format"`
	Version    int        `json:"version"`
	Token      jpki.Token `json:"token"`
	SignCert   []byte     `json:"sign_cert"`
	SignCACert []byte     `json:"sign_ca_cert"`
	AuthCert   []byte     `json:"auth_cert"`
	AuthCACert []byte     `json:"auth_ca_cert"`
	SignKey    []byte     `json:"sign_key_pkcs8"`
	AuthKey    []byte     `json:"auth_key_pkcs8"`
	SignPIN    refState   `json:"sign_password"`
	AuthPIN    refState   `json:"auth_pin"`
}

const stateFormat = "mnc-jpki-applet"

// refState is a reference datum: a salted hash (the chip never needs the
// clear value back) and its retry counter.
type refState struct {
	Salt     []byte `json:"salt"`
	Hash     []byte `json:"sha256"`
	Tries    int    `json:"tries_left"`
	MaxTries int    `json:"max_tries"`
}

func newRef(value string, maxTries int) (refState, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return refState{}, err
	}
	return refState{Salt: salt, Hash: refHash(salt, []byte(value)), Tries: maxTries, MaxTries: maxTries}, nil
}

func refHash(salt, value []byte) []byte {
	h := sha256.New()
	h.Write(salt)
	h.Write(value)
	return h.Sum(nil)
}

func (r *refState) matches(value []byte) bool {
	return subtle.ConstantTimeCompare(refHash(r.Salt, value), r.Hash) == 1
}

// Card is an emulated JPKI-AP. It is safe for concurrent use; commands are
// processed one at a time, as on a chip.
type Card struct {
	mu      sync.Mutex
	path    string
	persist Persister
	st      state
	signKey *rsa.PrivateKey
	authKey *rsa.PrivateKey

	// Session state, lost on Reset or re-selection of the application.
	selected     bool
	currentEF    uint16
	authVerified bool
	signVerified bool
}

// New returns an in-memory card (nothing persisted) made from cfg.
func New(cfg Config) (*Card, error) {
	if cfg.Token != jpki.TokenCard && cfg.Token != jpki.TokenGPSE && cfg.Token != jpki.TokenIOS {
		return nil, fmt.Errorf("applet: unknown token %q", cfg.Token)
	}
	if cfg.SignKey == nil || cfg.AuthKey == nil {
		return nil, errors.New("applet: both private keys are required")
	}
	for name, der := range map[string][]byte{"signature": cfg.SignCert, "signature CA": cfg.SignCACert, "auth": cfg.AuthCert, "auth CA": cfg.AuthCACert} {
		if _, err := x509.ParseCertificate(der); err != nil {
			return nil, fmt.Errorf("applet: %s certificate: %w", name, err)
		}
	}
	if err := matchKey(cfg.SignCert, cfg.SignKey); err != nil {
		return nil, fmt.Errorf("applet: signature key: %w", err)
	}
	if err := matchKey(cfg.AuthCert, cfg.AuthKey); err != nil {
		return nil, fmt.Errorf("applet: auth key: %w", err)
	}
	if err := jpki.ValidateAuthPIN(cfg.AuthPIN); err != nil {
		return nil, err
	}
	if err := jpki.ValidateSignPassword(cfg.SignPassword); err != nil {
		return nil, err
	}
	signKey, err := x509.MarshalPKCS8PrivateKey(cfg.SignKey)
	if err != nil {
		return nil, fmt.Errorf("applet: signature key: %w", err)
	}
	authKey, err := x509.MarshalPKCS8PrivateKey(cfg.AuthKey)
	if err != nil {
		return nil, fmt.Errorf("applet: auth key: %w", err)
	}
	st := state{
		Format: stateFormat, Version: stateVersion, Token: cfg.Token,
		SignCert: cfg.SignCert, SignCACert: cfg.SignCACert, AuthCert: cfg.AuthCert, AuthCACert: cfg.AuthCACert,
		SignKey: signKey, AuthKey: authKey,
	}
	if st.SignPIN, err = newRef(cfg.SignPassword, jpki.SignPasswordTries); err != nil {
		return nil, err
	}
	if st.AuthPIN, err = newRef(cfg.AuthPIN, jpki.AuthPINTries); err != nil {
		return nil, err
	}
	return &Card{st: st, signKey: cfg.SignKey, authKey: cfg.AuthKey}, nil
}

func matchKey(certDER []byte, key *rsa.PrivateKey) error {
	c, err := x509.ParseCertificate(certDER)
	if err != nil {
		return err
	}
	pub, ok := c.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return errors.New("does not match the certificate")
	}
	return nil
}

// Create makes a card from cfg, writes it to path and binds it there, so
// that later changes persist.
func Create(path string, cfg Config) (*Card, error) {
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	c.path = path
	if err := c.save(); err != nil {
		return nil, err
	}
	return c, nil
}

// maxStateFile bounds the state file read by Open.
const maxStateFile = 1 << 20

// Open loads a card from its state file and binds it there.
func Open(path string) (*Card, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("applet: open card: %w", err)
	}
	if fi.Size() > maxStateFile {
		return nil, fmt.Errorf("applet: card file %s is over %d bytes", path, maxStateFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("applet: open card: %w", err)
	}
	c, err := decodeState(b)
	if err != nil {
		return nil, fmt.Errorf("applet: card file %s: %w", path, err)
	}
	c.path = path
	return c, nil
}

// Persister stores the applet's whole state — private keys and retry
// counters included — after every change, as the chip's non-volatile
// memory would. A secure element hosting the applet seals it.
type Persister func(state []byte) error

// NewPersisted makes a card from cfg whose state goes to persist (first
// right away, then after every change) instead of a file.
func NewPersisted(cfg Config, persist Persister) (*Card, error) {
	if persist == nil {
		return nil, errors.New("applet: nil persister")
	}
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	c.persist = persist
	if err := c.save(); err != nil {
		return nil, err
	}
	return c, nil
}

// Load restores a card from state written by a Persister, binding it to
// persist for later changes.
func Load(state []byte, persist Persister) (*Card, error) {
	if len(state) > maxStateFile {
		return nil, fmt.Errorf("applet: state of %d bytes is over %d", len(state), maxStateFile)
	}
	if persist == nil {
		return nil, errors.New("applet: nil persister")
	}
	c, err := decodeState(state)
	if err != nil {
		return nil, fmt.Errorf("applet: state: %w", err)
	}
	c.persist = persist
	return c, nil
}

// decodeState checks and loads a serialized state.
func decodeState(b []byte) (*Card, error) {
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	if st.Format != stateFormat || st.Version != stateVersion {
		return nil, fmt.Errorf("format %q version %d, want %q version %d", st.Format, st.Version, stateFormat, stateVersion)
	}
	c := &Card{st: st}
	var err error
	if c.signKey, err = parseRSAKey(st.SignKey); err != nil {
		return nil, fmt.Errorf("signature key: %w", err)
	}
	if c.authKey, err = parseRSAKey(st.AuthKey); err != nil {
		return nil, fmt.Errorf("auth key: %w", err)
	}
	if err := matchKey(st.SignCert, c.signKey); err != nil {
		return nil, fmt.Errorf("signature key: %w", err)
	}
	if err := matchKey(st.AuthCert, c.authKey); err != nil {
		return nil, fmt.Errorf("auth key: %w", err)
	}
	for _, r := range []refState{st.SignPIN, st.AuthPIN} {
		if r.MaxTries < 1 || r.MaxTries > 15 || r.Tries < 0 || r.Tries > r.MaxTries || len(r.Hash) != sha256.Size {
			return nil, errors.New("bad reference data record")
		}
	}
	return c, nil
}

func parseRSAKey(der []byte) (*rsa.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, want RSA", k)
	}
	return rk, nil
}

// Path returns the state file the card persists to ("" for in-memory).
func (c *Card) Path() string { return c.path }

// Reset ends the session as a power cycle does: no application selected,
// no verification held.
func (c *Card) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resetSession()
}

func (c *Card) resetSession() {
	c.selected, c.currentEF, c.authVerified, c.signVerified = false, 0, false, false
}

// Info is the public part of the card, for tools such as `jpki-sim show`.
type Info struct {
	Token            jpki.Token
	SignCert         []byte
	SignCACert       []byte
	AuthCert         []byte
	AuthCACert       []byte
	AuthPINTriesLeft int
	SignPWTriesLeft  int
	AuthPINMaxTries  int
	SignPWMaxTries   int
	// Path is the state file ("" for an in-memory card).
	Path          string
	SignKeyPublic crypto.PublicKey
	AuthKeyPublic crypto.PublicKey
}

// Info returns the card's public data, bypassing the access conditions of
// the APDU interface: it is the view of the chip's owner, not of a reader.
func (c *Card) Info() Info {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Info{
		Token:            c.st.Token,
		SignCert:         bytes.Clone(c.st.SignCert),
		SignCACert:       bytes.Clone(c.st.SignCACert),
		AuthCert:         bytes.Clone(c.st.AuthCert),
		AuthCACert:       bytes.Clone(c.st.AuthCACert),
		AuthPINTriesLeft: c.st.AuthPIN.Tries,
		SignPWTriesLeft:  c.st.SignPIN.Tries,
		AuthPINMaxTries:  c.st.AuthPIN.MaxTries,
		SignPWMaxTries:   c.st.SignPIN.MaxTries,
		Path:             c.path,
		SignKeyPublic:    c.signKey.Public(),
		AuthKeyPublic:    c.authKey.Public(),
	}
}

// save writes the state atomically: a temporary file in the same
// directory, synced, then renamed over the old one, so that a crash never
// leaves a half-written chip or a lost counter decrement.
func (c *Card) save() error {
	if c.path == "" && c.persist == nil {
		return nil
	}
	b, err := json.MarshalIndent(&c.st, "", "  ")
	if err != nil {
		return fmt.Errorf("applet: encode state: %w", err)
	}
	if c.persist != nil {
		if err := c.persist(b); err != nil {
			return fmt.Errorf("applet: save state: %w", err)
		}
		return nil
	}
	if err := fsx.WriteFile(c.path, b, 0o600); err != nil {
		return fmt.Errorf("applet: save state: %w", err)
	}
	return nil
}

// Transmit processes one command APDU and returns the response APDU. A
// malformed APDU gets 6700; the error result is reserved for failures of
// the transport itself and is always nil here.
func (c *Card) Transmit(command []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cmd, err := apdu.ParseCommand(command)
	if err != nil {
		return sw(apdu.SWWrongLength), nil
	}
	data, status := c.process(cmd)
	return (&apdu.Response{Data: data, SW: status}).Bytes(), nil
}

func sw(s uint16) []byte { return []byte{byte(s >> 8), byte(s)} }

func (c *Card) process(cmd *apdu.Command) ([]byte, uint16) {
	switch cmd.CLA {
	case 0x00:
		switch cmd.INS {
		case 0xA4:
			return nil, c.selectFile(cmd)
		case 0xB0:
			return c.readBinary(cmd)
		case 0x20:
			return nil, c.verify(cmd)
		case 0x24:
			return nil, c.changeReference(cmd)
		}
		return nil, apdu.SWINSNotSupported
	case 0x80:
		if cmd.INS == 0x2A {
			return c.sign(cmd)
		}
		return nil, apdu.SWINSNotSupported
	}
	return nil, apdu.SWCLANotSupported
}

func (c *Card) selectFile(cmd *apdu.Command) uint16 {
	if cmd.P2 != 0x0C && cmd.P2 != 0x00 {
		return apdu.SWIncorrectP1P2
	}
	switch cmd.P1 {
	case 0x04:
		if !bytes.Equal(cmd.Data, jpki.AID) {
			return apdu.SWFileNotFound
		}
		c.resetSession()
		c.selected = true
		return apdu.SWOK
	case 0x02:
		if !c.selected {
			return apdu.SWFileNotFound
		}
		if len(cmd.Data) != 2 {
			return apdu.SWWrongLength
		}
		ef := uint16(cmd.Data[0])<<8 | uint16(cmd.Data[1])
		switch ef {
		case jpki.EFSignCert, jpki.EFSignCACert, jpki.EFTokenInfo, jpki.EFAuthCert, jpki.EFAuthCACert, jpki.EFAuthKey, jpki.EFAuthPIN, jpki.EFSignKey, jpki.EFSignPIN:
			c.currentEF = ef
			return apdu.SWOK
		}
		return apdu.SWFileNotFound
	}
	return apdu.SWIncorrectP1P2
}

func (c *Card) readBinary(cmd *apdu.Command) ([]byte, uint16) {
	if !c.selected || c.currentEF == 0 {
		return nil, apdu.SWConditionsNotSatisfied
	}
	if cmd.P1&0x80 != 0 {
		return nil, apdu.SWFunctionNotSupported // short EF addressing
	}
	if len(cmd.Data) != 0 || cmd.Ne == 0 {
		return nil, apdu.SWWrongLength
	}
	var content []byte
	switch c.currentEF {
	case jpki.EFSignCert:
		if !c.signVerified {
			return nil, apdu.SWSecurityNotSatisfied
		}
		content = c.st.SignCert
	case jpki.EFSignCACert:
		content = c.st.SignCACert
	case jpki.EFAuthCert:
		if c.st.Token.Phone() && !c.authVerified {
			return nil, apdu.SWSecurityNotSatisfied
		}
		content = c.st.AuthCert
	case jpki.EFAuthCACert:
		content = c.st.AuthCACert
	case jpki.EFTokenInfo:
		content = tokenInfo(c.st.Token)
	default:
		return nil, apdu.SWCommandNotAllowed // key and PIN files are never readable
	}
	off := int(cmd.P1)<<8 | int(cmd.P2)
	if off >= len(content) {
		return nil, apdu.SWWrongOffset
	}
	end := off + cmd.Ne
	if end > len(content) {
		return bytes.Clone(content[off:]), apdu.SWEndOfFile
	}
	return bytes.Clone(content[off:end]), apdu.SWOK
}

// ref returns the reference datum of the selected PIN EF.
func (c *Card) ref() (*refState, *bool) {
	switch c.currentEF {
	case jpki.EFAuthPIN:
		return &c.st.AuthPIN, &c.authVerified
	case jpki.EFSignPIN:
		return &c.st.SignPIN, &c.signVerified
	}
	return nil, nil
}

// usableRef returns the selected PIN/password EF's reference data when a
// command may use it: the application is selected, the EF holds reference
// data, and it is not blocked. Otherwise it returns the status word.
func (c *Card) usableRef() (*refState, *bool, uint16) {
	if !c.selected {
		return nil, nil, apdu.SWConditionsNotSatisfied
	}
	r, verified := c.ref()
	if r == nil {
		return nil, nil, apdu.SWReferenceNotFound
	}
	if r.Tries == 0 {
		return nil, nil, apdu.SWAuthMethodBlocked
	}
	return r, verified, apdu.SWOK
}

func (c *Card) verify(cmd *apdu.Command) uint16 {
	if cmd.P1 != 0x00 || cmd.P2 != 0x80 {
		return apdu.SWIncorrectP1P2
	}
	r, verified, sw := c.usableRef()
	if sw != apdu.SWOK {
		return sw
	}
	if len(cmd.Data) == 0 {
		return apdu.SWRetriesBase | uint16(r.Tries)
	}
	if len(cmd.Data) > maxReferenceData {
		return apdu.SWWrongLength
	}
	if r.matches(cmd.Data) {
		changed := r.Tries != r.MaxTries
		r.Tries = r.MaxTries
		*verified = true
		if changed {
			if err := c.save(); err != nil {
				return apdu.SWMemoryFailure
			}
		}
		return apdu.SWOK
	}
	r.Tries--
	*verified = false
	if err := c.save(); err != nil {
		return apdu.SWMemoryFailure
	}
	return apdu.SWRetriesBase | uint16(r.Tries)
}

func (c *Card) changeReference(cmd *apdu.Command) uint16 {
	if cmd.P1 != 0x01 || cmd.P2 != 0x80 {
		// P1 00 (old ‖ new) is ambiguous for variable-length passwords;
		// JPKI clients verify first and send the new value with P1 01.
		return apdu.SWIncorrectP1P2
	}
	r, verified, sw := c.usableRef()
	if sw != apdu.SWOK {
		return sw
	}
	if !*verified {
		return apdu.SWSecurityNotSatisfied
	}
	if len(cmd.Data) == 0 || len(cmd.Data) > maxReferenceData {
		return apdu.SWWrongLength
	}
	var rule func(string) error = jpki.ValidateSignPassword
	if c.currentEF == jpki.EFAuthPIN {
		rule = jpki.ValidateAuthPIN
	}
	if rule(string(cmd.Data)) != nil {
		return apdu.SWIncorrectData
	}
	nr, err := newRef(string(cmd.Data), r.MaxTries)
	if err != nil {
		return apdu.SWMemoryFailure
	}
	old := *r
	*r = nr
	if err := c.save(); err != nil {
		*r = old
		return apdu.SWMemoryFailure
	}
	return apdu.SWOK
}

func (c *Card) sign(cmd *apdu.Command) ([]byte, uint16) {
	if cmd.P1 != 0x00 || cmd.P2 != 0x80 {
		return nil, apdu.SWIncorrectP1P2
	}
	if !c.selected {
		return nil, apdu.SWConditionsNotSatisfied
	}
	var key *rsa.PrivateKey
	switch c.currentEF {
	case jpki.EFAuthKey:
		if !c.authVerified {
			return nil, apdu.SWSecurityNotSatisfied
		}
		key = c.authKey
	case jpki.EFSignKey:
		if !c.signVerified {
			return nil, apdu.SWSecurityNotSatisfied
		}
		key = c.signKey
	default:
		return nil, apdu.SWConditionsNotSatisfied
	}
	k := key.Size()
	if len(cmd.Data) == 0 || len(cmd.Data) > k-11 || cmd.Ne < k {
		return nil, apdu.SWWrongLength
	}
	// Hash 0: the card pads and signs the DigestInfo as given, the raw
	// PKCS#1 v1.5 type 1 operation.
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.Hash(0), cmd.Data)
	if err != nil {
		return nil, apdu.SWIncorrectData
	}
	return sig, apdu.SWOK
}
