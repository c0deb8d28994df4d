package se

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/fsx"
)

// File names inside an element directory.
const (
	DeviceKeyFile = "device.key"   // 32 random bytes: stands in for the hardware-bound key
	StateFile     = "state.sealed" // AES-256-GCM sealed JSON state
	// DeviceKeyNextFile is the device key a wipe in progress will rotate
	// to (PrepareWipe); CommitWipe renames it over DeviceKeyFile.
	DeviceKeyNextFile = DeviceKeyFile + ".next"
)

// Defaults and bounds.
const (
	// DefaultMaxPINTries is how many wrong PINs in a row lock the element.
	DefaultMaxPINTries = 5
	// DefaultMaxBiometricFailures is how many failed matches in a row lock
	// biometrics out (iOS and Android BiometricPrompt both use 5).
	DefaultMaxBiometricFailures = 5
	// DefaultGrantTTL is how long a user authentication authorises key
	// use, like Android's setUserAuthenticationParameters timeout.
	DefaultGrantTTL = 60 * time.Second
	// MaxKeys bounds the keys one element holds (a device key per
	// credential, with a few credentials per wallet).
	MaxKeys      = 64
	stateVersion = 1
	purposeState = "element-state"
)

// Method is a user-verification method.
type Method int

const (
	MethodPIN Method = iota + 1
	MethodBiometric
)

func (m Method) String() string {
	switch m {
	case MethodPIN:
		return "pin"
	case MethodBiometric:
		return "biometric"
	}
	return fmt.Sprintf("method(%d)", int(m))
}

// Biometric is the outcome of the simulated biometric sensor. There is no
// sensor: the user (or a test) states the outcome explicitly.
type Biometric int

const (
	BiometricNone    Biometric = iota // no biometric attempt
	BiometricMatch                    // the sensor matched the enrolled user
	BiometricNoMatch                  // the sensor saw someone else
)

// ParseBiometric parses "match" / "no-match" (also "nomatch", "no_match").
func ParseBiometric(s string) (Biometric, error) {
	switch s {
	case "match":
		return BiometricMatch, nil
	case "no-match", "nomatch", "no_match":
		return BiometricNoMatch, nil
	}
	return BiometricNone, fmt.Errorf("se: biometric outcome %q: want match or no-match", s)
}

// Auth is one user-verification attempt: a PIN or a biometric outcome.
type Auth struct {
	PIN       string
	Biometric Biometric
}

// Policy says which user-verification methods the element accepts.
type Policy struct {
	AllowPIN       bool `json:"allow_pin"`
	AllowBiometric bool `json:"allow_biometric"`
}

// Profile policies, as in the smartphone JPKI service (Digital Agency,
// スマホ用電子証明書搭載サービス): Apple wallets use Face ID / Touch ID only,
// with no PIN fallback for the credential; Android accepts the PIN or
// BiometricPrompt.
var (
	PolicyApple   = Policy{AllowBiometric: true}
	PolicyAndroid = Policy{AllowPIN: true, AllowBiometric: true}
)

// Access is the access control of one key.
type Access struct {
	// UserAuth requires a Grant from Authenticate for every use.
	UserAuth bool `json:"user_auth"`
}

// KeyID names a key inside the element. It is an opaque handle, not key
// material.
type KeyID string

// KeyInfo is the public description of a key.
type KeyInfo struct {
	ID       KeyID
	Label    string
	Public   *ecdsa.PublicKey
	UserAuth bool
	Created  time.Time
}

// Options configure a new element.
type Options struct {
	Policy Policy
	// PIN is the device PIN (4–16 digits); required when Policy.AllowPIN,
	// refused otherwise.
	PIN string
	// MaxPINTries zero means DefaultMaxPINTries.
	MaxPINTries int
	// MaxBiometricFailures zero means DefaultMaxBiometricFailures.
	MaxBiometricFailures int
	OpenOptions
}

// OpenOptions configure an opened element. Zero values: Now nil means
// time.Now; GrantTTL zero means DefaultGrantTTL; GenerateRSA nil means a
// fresh RSA-2048 key from crypto/rand.
type OpenOptions struct {
	Now      func() time.Time
	GrantTTL time.Duration
	// GenerateRSA makes the JPKI key pairs inside the element. It is a
	// hook for tests, which pass a pool of pre-generated keys because
	// RSA-2048 generation is slow; the key never leaves the element.
	GenerateRSA func() (*rsa.PrivateKey, error)
}

// state is the sealed content of the element.
type state struct {
	Version        int                  `json:"version"`
	Policy         Policy               `json:"policy"`
	PINSalt        []byte               `json:"pin_salt,omitempty"`
	PINHash        []byte               `json:"pin_hash,omitempty"`
	PINTries       int                  `json:"pin_tries_left"`
	PINMaxTries    int                  `json:"pin_max_tries"`
	BioFailures    int                  `json:"biometric_failures"`
	BioMaxFailures int                  `json:"biometric_max_failures"`
	Keys           map[KeyID]*keyRecord `json:"keys"`
	JPKI           *jpkiRecord          `json:"jpki,omitempty"`
}

type keyRecord struct {
	Label   string    `json:"label"`
	PKCS8   []byte    `json:"pkcs8"`
	Access  Access    `json:"access"`
	Created time.Time `json:"created"`
}

// Element is an opened secure element. It is safe for concurrent use
// within one process; two processes must not open the same directory at
// once (a phone has one secure element and one OS).
type Element struct {
	mu     sync.Mutex
	dir    string
	opts   OpenOptions
	sealer *sealer
	dkey   []byte
	st     state
	keys   map[KeyID]*ecdsa.PrivateKey
	// next is the device key PrepareWipe staged, nil when no wipe is in
	// progress.
	next []byte
	// crashAt is a test seam: consulted between the writes of a wipe, an
	// error stops it there as a crash would (every write is an atomic file
	// replacement, so the files left equal a real crash's). nil outside
	// tests.
	crashAt func(step string) error
}

// Create makes a new element in dir (created 0700 if needed).
func Create(dir string, o Options) (*Element, error) {
	const op = "create"
	if _, err := os.Stat(filepath.Join(dir, StateFile)); err == nil {
		return nil, newErr(op, CodeExists, "%s already holds a secure element", dir)
	}
	if !o.Policy.AllowPIN && !o.Policy.AllowBiometric {
		return nil, newErr(op, CodeInvalidPolicy, "a policy must allow the PIN or biometrics")
	}
	st := state{Version: stateVersion, Policy: o.Policy, Keys: map[KeyID]*keyRecord{}}
	st.PINMaxTries = o.MaxPINTries
	if st.PINMaxTries <= 0 {
		st.PINMaxTries = DefaultMaxPINTries
	}
	st.PINTries = st.PINMaxTries
	st.BioMaxFailures = o.MaxBiometricFailures
	if st.BioMaxFailures <= 0 {
		st.BioMaxFailures = DefaultMaxBiometricFailures
	}
	switch {
	case o.Policy.AllowPIN:
		if err := ValidatePIN(o.PIN); err != nil {
			return nil, &Error{Op: op, Code: CodeInvalidPolicy, Err: err}
		}
		st.PINSalt = make([]byte, 16)
		rand.Read(st.PINSalt)
		st.PINHash = pinHash(st.PINSalt, o.PIN)
	case o.PIN != "":
		return nil, newErr(op, CodeInvalidPolicy, "this policy has no PIN (biometric only)")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("se: create %s: %w", dir, err)
	}
	dkey := make([]byte, deviceKeySize)
	rand.Read(dkey)
	if err := fsx.WriteFile(filepath.Join(dir, DeviceKeyFile), dkey, 0o600); err != nil {
		return nil, fmt.Errorf("se: write device key: %w", err)
	}
	e := &Element{dir: dir, opts: o.OpenOptions, st: st, keys: map[KeyID]*ecdsa.PrivateKey{}}
	if err := e.setDeviceKey(dkey); err != nil {
		return nil, err
	}
	if err := e.save(); err != nil {
		return nil, err
	}
	return e, nil
}

// ValidatePIN checks the device PIN rule: 4 to 16 ASCII digits.
func ValidatePIN(pin string) error {
	if len(pin) < 4 || len(pin) > 16 {
		return errors.New("the PIN must have 4 to 16 digits")
	}
	for _, c := range pin {
		if c < '0' || c > '9' {
			return errors.New("the PIN must be digits only")
		}
	}
	return nil
}

func pinHash(salt []byte, pin string) []byte {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(pin))
	return h.Sum(nil)
}

// Exists reports whether dir holds an element.
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, StateFile))
	return err == nil
}

// Open opens the element in dir, unsealing its state with the device key.
//
// It also finishes or forgets a wipe a crash interrupted (see PrepareWipe
// and CommitWipe). The staged key file DeviceKeyNextFile is present from
// PrepareWipe until CommitWipe renames it over DeviceKeyFile, and the state
// file is the commit point: CommitWipe replaces it atomically, sealed under
// the staged key, before the rename. So with a staged key on disk:
//
//   - the state unseals under the current key: the wipe was not committed
//     (keys and JPKI are all there). The staged key is removed and the
//     element opens as it was; the caller redoes the wipe from its own
//     record of it, with a new staged key.
//   - it unseals only under the staged key: the wipe was committed and
//     the crash came before the rename, which is done now.
//   - neither: the usual CodeSealedState.
func Open(dir string, o OpenOptions) (*Element, error) {
	const op = "open"
	dkey, err := readDeviceKey(filepath.Join(dir, DeviceKeyFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, newErr(op, CodeNotInitialised, "no secure element in %s", dir)
	}
	if err != nil {
		return nil, err
	}
	sealed, err := fsx.ReadFile(filepath.Join(dir, StateFile), MaxSealedSize)
	if errors.Is(err, os.ErrNotExist) {
		return nil, newErr(op, CodeNotInitialised, "no secure element state in %s", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("se: read state: %w", err)
	}
	nextPath := filepath.Join(dir, DeviceKeyNextFile)
	next, nerr := readDeviceKey(nextPath)
	if nerr != nil && !errors.Is(nerr, os.ErrNotExist) {
		return nil, nerr
	}
	e := &Element{dir: dir, opts: o, keys: map[KeyID]*ecdsa.PrivateKey{}}
	if err := e.setDeviceKey(dkey); err != nil {
		return nil, err
	}
	uerr := e.unseal(sealed)
	switch {
	case uerr == nil && next != nil:
		// Not committed. Removing the staged key is tidiness, not safety:
		// nothing is sealed under it but staged copies the caller throws
		// away, and the next PrepareWipe replaces it. So a failure is not
		// worth refusing to open over.
		if err := os.Remove(nextPath); err == nil {
			fsx.SyncDir(dir)
		}
	case uerr != nil && next != nil:
		e2 := &Element{dir: dir, opts: o, keys: map[KeyID]*ecdsa.PrivateKey{}}
		if err := e2.setDeviceKey(next); err != nil {
			return nil, err
		}
		if e2.unseal(sealed) != nil {
			return nil, uerr
		}
		// Committed: the old key opens nothing of value any more.
		if err := fsx.Rename(nextPath, filepath.Join(dir, DeviceKeyFile)); err != nil {
			return nil, fmt.Errorf("se: finish interrupted wipe: %w", err)
		}
		return e2, nil
	}
	if uerr != nil {
		return nil, uerr
	}
	return e, nil
}

// readDeviceKey reads a device key file, checking its size.
func readDeviceKey(path string) ([]byte, error) {
	k, err := fsx.ReadFile(path, deviceKeySize)
	if errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("se: read device key: %w", err)
	}
	if len(k) != deviceKeySize {
		return nil, newErr("open", CodeSealedState, "device key file %s has %d bytes, want %d", filepath.Base(path), len(k), deviceKeySize)
	}
	return k, nil
}

func (e *Element) setDeviceKey(dkey []byte) error {
	k, err := deriveKey(dkey, purposeState)
	if err != nil {
		return err
	}
	s, err := newSealer(k)
	if err != nil {
		return err
	}
	e.dkey, e.sealer = dkey, s
	return nil
}

func (e *Element) unseal(sealed []byte) error {
	const op = "open"
	pt, err := e.sealer.open(purposeState, sealed)
	if err != nil {
		return &Error{Op: op, Code: CodeSealedState, Err: err}
	}
	var st state
	if err := json.Unmarshal(pt, &st); err != nil {
		return &Error{Op: op, Code: CodeSealedState, Detail: "state does not decode", Err: err}
	}
	if st.Version != stateVersion || st.PINMaxTries < 1 || st.PINTries < 0 || st.PINTries > st.PINMaxTries ||
		st.BioMaxFailures < 1 || st.BioFailures < 0 || len(st.Keys) > MaxKeys {
		return newErr(op, CodeSealedState, "state fails its invariants")
	}
	if st.Keys == nil {
		st.Keys = map[KeyID]*keyRecord{}
	}
	for id, r := range st.Keys {
		k, err := x509.ParsePKCS8PrivateKey(r.PKCS8)
		if err != nil {
			return &Error{Op: op, Code: CodeSealedState, Detail: "key " + string(id), Err: err}
		}
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return newErr(op, CodeSealedState, "key %s is %T", id, k)
		}
		e.keys[id] = ek
	}
	e.st = st
	return nil
}

// save seals the state and writes it atomically. Callers hold e.mu.
func (e *Element) save() error {
	b, err := json.Marshal(&e.st)
	if err != nil {
		return fmt.Errorf("se: encode state: %w", err)
	}
	sealed, err := e.sealer.seal(purposeState, b)
	if err != nil {
		return fmt.Errorf("se: seal state: %w", err)
	}
	if err := fsx.WriteFile(filepath.Join(e.dir, StateFile), sealed, 0o600); err != nil {
		return fmt.Errorf("se: save state: %w", err)
	}
	return nil
}

func (e *Element) now() time.Time {
	if e.opts.Now != nil {
		return e.opts.Now()
	}
	return time.Now()
}

// Dir returns the element's directory.
func (e *Element) Dir() string { return e.dir }

// Policy returns the element's user-verification policy.
func (e *Element) Policy() Policy {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.st.Policy
}

// Status is the public state of user verification.
type Status struct {
	Policy               Policy
	PINTriesLeft         int
	PINMaxTries          int
	PINLocked            bool
	BiometricFailures    int
	BiometricMaxFailures int
	BiometricLocked      bool
	Keys                 int
	JPKI                 bool
}

// Status returns the retry counters and what the element holds.
func (e *Element) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Status{
		Policy:               e.st.Policy,
		PINTriesLeft:         e.st.PINTries,
		PINMaxTries:          e.st.PINMaxTries,
		PINLocked:            e.st.Policy.AllowPIN && e.st.PINTries == 0,
		BiometricFailures:    e.st.BioFailures,
		BiometricMaxFailures: e.st.BioMaxFailures,
		BiometricLocked:      e.st.BioFailures >= e.st.BioMaxFailures,
		Keys:                 len(e.st.Keys),
		JPKI:                 e.st.JPKI != nil && len(e.st.JPKI.Applet) > 0,
	}
}

// Grant is proof of a recent user verification. Only Authenticate makes
// one (its fields are unexported, so a zero Grant authorises nothing);
// it expires after the element's GrantTTL.
type Grant struct {
	e       *Element
	method  Method
	expires time.Time
}

// Method returns how the user was verified.
func (g *Grant) Method() Method { return g.method }

// Expires returns when the grant stops authorising key use.
func (g *Grant) Expires() time.Time { return g.expires }

// Authenticate verifies the user by PIN or biometric outcome under the
// element's policy. Every failure is counted before the result is known
// (the counter is decremented and persisted first, then restored on
// success), so cutting the power mid-check never buys an extra try — the
// way smart cards do it. A wrong PIN returns CodeWrongPIN with the tries
// left; the last one CodePINLocked. A locked PIN locks every user-bound key,
// biometrics included (fail closed).
func (e *Element) Authenticate(a Auth) (*Grant, error) {
	const op = "authenticate"
	e.mu.Lock()
	defer e.mu.Unlock()
	st := &e.st
	switch {
	case a.PIN != "" && a.Biometric != BiometricNone:
		return nil, newErr(op, CodeMethodNotAllowed, "give a PIN or a biometric outcome, not both")
	case a.PIN == "" && a.Biometric == BiometricNone:
		return nil, newErr(op, CodeAuthRequired, "no PIN and no biometric outcome given")
	}
	if st.Policy.AllowPIN && st.PINTries == 0 {
		return nil, newErr(op, CodePINLocked, "too many wrong PINs; the wallet must be reset")
	}
	if a.PIN != "" {
		if !st.Policy.AllowPIN {
			return nil, newErr(op, CodeMethodNotAllowed, "this device uses biometrics only; there is no PIN fallback")
		}
		st.PINTries--
		if err := e.save(); err != nil {
			return nil, err
		}
		if subtle.ConstantTimeCompare(pinHash(st.PINSalt, a.PIN), st.PINHash) != 1 {
			if st.PINTries == 0 {
				return nil, newErr(op, CodePINLocked, "that was the last try")
			}
			return nil, &Error{Op: op, Code: CodeWrongPIN, TriesLeft: st.PINTries}
		}
		// A correct PIN also clears a biometric lockout, as phones do.
		st.PINTries, st.BioFailures = st.PINMaxTries, 0
		if err := e.save(); err != nil {
			return nil, err
		}
		return e.grant(MethodPIN), nil
	}
	if !st.Policy.AllowBiometric {
		return nil, newErr(op, CodeMethodNotAllowed, "biometrics are not enabled on this device")
	}
	if st.BioFailures >= st.BioMaxFailures {
		detail := "too many failed matches"
		if st.Policy.AllowPIN {
			detail += "; enter the PIN instead"
		} else {
			detail += "; there is no PIN fallback, the wallet must be reset"
		}
		return nil, newErr(op, CodeBiometricLocked, "%s", detail)
	}
	switch a.Biometric {
	case BiometricMatch:
		if st.BioFailures != 0 {
			st.BioFailures = 0
			if err := e.save(); err != nil {
				return nil, err
			}
		}
		return e.grant(MethodBiometric), nil
	case BiometricNoMatch:
		st.BioFailures++
		if err := e.save(); err != nil {
			return nil, err
		}
		if st.BioFailures >= st.BioMaxFailures {
			return nil, newErr(op, CodeBiometricLocked, "that was the last try")
		}
		return nil, &Error{Op: op, Code: CodeBiometricNoMatch, TriesLeft: st.BioMaxFailures - st.BioFailures}
	}
	return nil, newErr(op, CodeMethodNotAllowed, "unknown biometric outcome %d", a.Biometric)
}

func (e *Element) grant(m Method) *Grant {
	ttl := e.opts.GrantTTL
	if ttl <= 0 {
		ttl = DefaultGrantTTL
	}
	return &Grant{e: e, method: m, expires: e.now().Add(ttl)}
}

// checkGrant is called with e.mu held.
func (e *Element) checkGrant(op string, rec *keyRecord, g *Grant) error {
	if !rec.Access.UserAuth {
		return nil
	}
	if g == nil || g.e != e {
		return newErr(op, CodeAuthRequired, "key %q needs user verification", rec.Label)
	}
	if !e.now().Before(g.expires) {
		return newErr(op, CodeAuthRequired, "user verification expired; verify again")
	}
	if (g.method == MethodPIN && !e.st.Policy.AllowPIN) || (g.method == MethodBiometric && !e.st.Policy.AllowBiometric) {
		return newErr(op, CodeMethodNotAllowed, "grant by %s", g.method)
	}
	if e.st.Policy.AllowPIN && e.st.PINTries == 0 {
		return newErr(op, CodePINLocked, "user keys are locked")
	}
	return nil
}

// GenerateKey makes a P-256 key pair inside the element and returns its
// public description. The private key never leaves.
func (e *Element) GenerateKey(label string, a Access) (KeyInfo, error) {
	const op = "generate key"
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.st.Keys) >= MaxKeys {
		return KeyInfo{}, newErr(op, CodeInvalidPolicy, "element holds %d keys already", MaxKeys)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("se: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("se: generate key: %w", err)
	}
	idb := make([]byte, 8)
	rand.Read(idb)
	id := KeyID(hex.EncodeToString(idb))
	rec := &keyRecord{Label: label, PKCS8: der, Access: a, Created: e.now().UTC()}
	e.st.Keys[id] = rec
	e.keys[id] = k
	if err := e.save(); err != nil {
		delete(e.st.Keys, id)
		delete(e.keys, id)
		return KeyInfo{}, err
	}
	return info(id, rec, k), nil
}

func info(id KeyID, r *keyRecord, k *ecdsa.PrivateKey) KeyInfo {
	pub := k.PublicKey
	return KeyInfo{ID: id, Label: r.Label, Public: &pub, UserAuth: r.Access.UserAuth, Created: r.Created}
}

// Key returns the public description of key id.
func (e *Element) Key(id KeyID) (KeyInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.st.Keys[id]
	if !ok {
		return KeyInfo{}, newErr("key", CodeKeyNotFound, "%q", id)
	}
	return info(id, r, e.keys[id]), nil
}

// Keys lists the keys, oldest first.
func (e *Element) Keys() []KeyInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]KeyInfo, 0, len(e.st.Keys))
	for id, r := range e.st.Keys {
		out = append(out, info(id, r, e.keys[id]))
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// DeleteKey destroys key id.
func (e *Element) DeleteKey(id KeyID) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.st.Keys[id]; !ok {
		return newErr("delete key", CodeKeyNotFound, "%q", id)
	}
	delete(e.st.Keys, id)
	delete(e.keys, id)
	return e.save()
}

// Signer returns a crypto.Signer for key id. The handle holds no key
// material: every Sign looks the key up inside the element and checks the
// grant again, so a wiped key or an expired grant stops it.
func (e *Element) Signer(id KeyID, g *Grant) (crypto.Signer, error) {
	h, err := e.handle("signer", id, g)
	if err != nil {
		return nil, err
	}
	return &signer{h}, nil
}

// KeyExchanger returns an ecdh.KeyExchanger for key id (for deviceMac),
// with the same checks as Signer.
func (e *Element) KeyExchanger(id KeyID, g *Grant) (ecdh.KeyExchanger, error) {
	h, err := e.handle("key exchanger", id, g)
	if err != nil {
		return nil, err
	}
	return &exchanger{h}, nil
}

type handle struct {
	e   *Element
	id  KeyID
	g   *Grant
	pub *ecdsa.PublicKey
}

func (e *Element) handle(op string, id KeyID, g *Grant) (handle, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.st.Keys[id]
	if !ok {
		return handle{}, newErr(op, CodeKeyNotFound, "%q", id)
	}
	if err := e.checkGrant(op, r, g); err != nil {
		return handle{}, err
	}
	pub := e.keys[id].PublicKey
	return handle{e: e, id: id, g: g, pub: &pub}, nil
}

// use runs f with the private key, after checking the key still exists
// and the grant still holds.
func (h handle) use(op string, f func(*ecdsa.PrivateKey) error) error {
	h.e.mu.Lock()
	defer h.e.mu.Unlock()
	r, ok := h.e.st.Keys[h.id]
	if !ok {
		return newErr(op, CodeKeyNotFound, "%q", h.id)
	}
	if err := h.e.checkGrant(op, r, h.g); err != nil {
		return err
	}
	return f(h.e.keys[h.id])
}

type signer struct{ h handle }

func (s *signer) Public() crypto.PublicKey { return s.h.pub }

func (s *signer) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) (sig []byte, err error) {
	if opts == nil {
		// go-cose passes nil opts to opaque signers; ECDSA signs the
		// digest whatever hash made it, so infer the hash from its length.
		switch len(digest) {
		case crypto.SHA256.Size():
			opts = crypto.SHA256
		case crypto.SHA384.Size():
			opts = crypto.SHA384
		case crypto.SHA512.Size():
			opts = crypto.SHA512
		default:
			return nil, fmt.Errorf("se: sign: digest of %d bytes", len(digest))
		}
	}
	err = s.h.use("sign", func(k *ecdsa.PrivateKey) error {
		sig, err = k.Sign(r, digest, opts)
		return err
	})
	return sig, err
}

type exchanger struct{ h handle }

func (x *exchanger) PublicKey() *ecdh.PublicKey {
	p, _ := x.h.pub.ECDH()
	return p
}

func (x *exchanger) Curve() ecdh.Curve { return ecdh.P256() }

func (x *exchanger) ECDH(peer *ecdh.PublicKey) (secret []byte, err error) {
	err = x.h.use("ecdh", func(k *ecdsa.PrivateKey) error {
		ek, err := k.ECDH()
		if err != nil {
			return err
		}
		secret, err = ek.ECDH(peer)
		return err
	})
	return secret, err
}

// NewEphemeralKey makes a P-256 key for one session (EDeviceKey). It lives
// only in memory, needs no user verification and is never persisted; it is
// gone when the returned handle is garbage.
func (e *Element) NewEphemeralKey() (ecdh.KeyExchanger, error) {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("se: ephemeral key: %w", err)
	}
	return &ephemeral{k: k}, nil
}

// ephemeral wraps the key so that callers get only the KeyExchanger
// methods, not *ecdh.PrivateKey (whose Bytes would export it).
type ephemeral struct{ k *ecdh.PrivateKey }

func (x *ephemeral) PublicKey() *ecdh.PublicKey                { return x.k.PublicKey() }
func (x *ephemeral) Curve() ecdh.Curve                         { return x.k.Curve() }
func (x *ephemeral) ECDH(peer *ecdh.PublicKey) ([]byte, error) { return x.k.ECDH(peer) }

// SealData encrypts data for storage outside the element (the wallet's
// credentials and history) under a key derived from the device key for
// purpose. Wipe makes everything sealed before unreadable.
func (e *Element) SealData(purpose string, data []byte) ([]byte, error) {
	s, err := e.dataSealer(purpose)
	if err != nil {
		return nil, err
	}
	return s.seal(purpose, data)
}

// OpenData decrypts what SealData sealed for purpose; a wrong device key or
// a modified blob gives CodeSealedState.
func (e *Element) OpenData(purpose string, sealed []byte) ([]byte, error) {
	s, err := e.dataSealer(purpose)
	if err != nil {
		return nil, err
	}
	pt, err := s.open(purpose, sealed)
	if err != nil {
		return nil, &Error{Op: "open data", Code: CodeSealedState, Err: err}
	}
	return pt, nil
}

func (e *Element) dataSealer(purpose string) (*sealer, error) {
	e.mu.Lock()
	dkey := e.dkey
	e.mu.Unlock()
	return dataSealer(dkey, purpose)
}

// dataSealer is the sealer for SealData's purpose under device key dkey.
func dataSealer(dkey []byte, purpose string) (*sealer, error) {
	if purpose == purposeState {
		return nil, errors.New("se: reserved purpose")
	}
	k, err := deriveKey(dkey, "data "+purpose)
	if err != nil {
		return nil, err
	}
	return newSealer(k)
}

// Wipe crypto-erases the element, as a remote delete does: every key and
// the JPKI applet are destroyed, a new device key replaces the old one and
// the remaining state (policy, PIN and counters: the phone's screen lock is
// not the credential's) is sealed under it. Data sealed before with
// SealData can no longer be opened. It is PrepareWipe then CommitWipe, for
// callers with nothing of their own to reseal.
func (e *Element) Wipe() error {
	if err := e.PrepareWipe(); err != nil {
		return err
	}
	return e.CommitWipe()
}

// PrepareWipe starts a wipe: it makes the device key the wipe will rotate
// to and writes it to DeviceKeyNextFile, atomically. Nothing else changes,
// so a crash from here until CommitWipe leaves the element as it was
// (Open removes the staged key). Between the two, SealDataStaged seals the
// caller's data under the new key, so that it can write its files for
// after the wipe before the old key is destroyed. Calling it again
// replaces the staged key.
func (e *Element) PrepareWipe() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	next := make([]byte, deviceKeySize)
	rand.Read(next)
	if err := fsx.WriteFile(filepath.Join(e.dir, DeviceKeyNextFile), next, 0o600); err != nil {
		return fmt.Errorf("se: prepare wipe: %w", err)
	}
	e.next = next
	return nil
}

// SealDataStaged is SealData under the device key PrepareWipe staged: what
// it seals opens with OpenData once CommitWipe has rotated the key, and
// never before.
func (e *Element) SealDataStaged(purpose string, data []byte) ([]byte, error) {
	e.mu.Lock()
	next := e.next
	e.mu.Unlock()
	if next == nil {
		return nil, errors.New("se: seal for after the wipe: no wipe prepared")
	}
	s, err := dataSealer(next, purpose)
	if err != nil {
		return nil, err
	}
	return s.seal(purpose, data)
}

// CommitWipe finishes the wipe PrepareWipe started: the keys and the JPKI
// applet are dropped from the state, which is sealed under the staged key
// and written (the commit point: from then on only the staged key opens the
// state, and Open finishes the rest), then the staged key file is renamed
// over the device key and the directory synced. The old key is gone after
// the rename; a copy of the old state or of data sealed under it stays
// unreadable whatever happens next.
func (e *Element) CommitWipe() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.next == nil {
		return errors.New("se: commit wipe: no wipe prepared")
	}
	st := e.st
	st.Keys = map[KeyID]*keyRecord{}
	st.JPKI = nil
	k, err := deriveKey(e.next, purposeState)
	if err != nil {
		return err
	}
	s, err := newSealer(k)
	if err != nil {
		return err
	}
	b, err := json.Marshal(&st)
	if err != nil {
		return fmt.Errorf("se: commit wipe: encode state: %w", err)
	}
	sealed, err := s.seal(purposeState, b)
	if err != nil {
		return fmt.Errorf("se: commit wipe: seal state: %w", err)
	}
	if err := fsx.WriteFile(filepath.Join(e.dir, StateFile), sealed, 0o600); err != nil {
		return fmt.Errorf("se: commit wipe: %w", err)
	}
	// Committed: the state on disk opens under the staged key only, so the
	// element in memory follows it whether the rename below works or not
	// (if it does not, Open renames).
	e.st = st
	clear(e.keys)
	e.dkey, e.sealer, e.next = e.next, s, nil
	if e.crashAt != nil {
		if err := e.crashAt("state sealed"); err != nil {
			return err
		}
	}
	if err := fsx.Rename(filepath.Join(e.dir, DeviceKeyNextFile), filepath.Join(e.dir, DeviceKeyFile)); err != nil {
		return fmt.Errorf("se: commit wipe: %w", err)
	}
	return nil
}
