package se

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func newAndroid(t *testing.T) *Element {
	t.Helper()
	e, err := Create(t.TempDir(), Options{Policy: PolicyAndroid, PIN: "123456"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func newApple(t *testing.T) *Element {
	t.Helper()
	e, err := Create(t.TempDir(), Options{Policy: PolicyApple})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestCreateValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		code Code
	}{
		{"no method", Options{}, CodeInvalidPolicy},
		{"android without PIN", Options{Policy: PolicyAndroid}, CodeInvalidPolicy},
		{"android short PIN", Options{Policy: PolicyAndroid, PIN: "12"}, CodeInvalidPolicy},
		{"android letters", Options{Policy: PolicyAndroid, PIN: "12ab"}, CodeInvalidPolicy},
		{"apple with PIN", Options{Policy: PolicyApple, PIN: "1234"}, CodeInvalidPolicy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Create(t.TempDir(), tc.o)
			if CodeOf(err) != tc.code {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
		})
	}
	dir := t.TempDir()
	if _, err := Create(dir, Options{Policy: PolicyApple}); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(dir, Options{Policy: PolicyApple}); CodeOf(err) != CodeExists {
		t.Fatalf("second Create: %v", err)
	}
	if _, err := Open(t.TempDir(), OpenOptions{}); CodeOf(err) != CodeNotInitialised {
		t.Fatalf("Open empty: %v", err)
	}
}

func TestPINLockoutPersists(t *testing.T) {
	e := newAndroid(t)
	for want := DefaultMaxPINTries - 1; want > 0; want-- {
		_, err := e.Authenticate(Auth{PIN: "000000"})
		var se *Error
		if !errors.As(err, &se) || se.Code != CodeWrongPIN || se.TriesLeft != want {
			t.Fatalf("wrong PIN: %v, want %d tries left", err, want)
		}
		// Counters survive a restart: reopen every time.
		if e, err = Open(e.Dir(), OpenOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Authenticate(Auth{PIN: "000000"}); !errors.Is(err, ErrPINLocked) {
		t.Fatalf("last wrong PIN: %v", err)
	}
	// Locked: the right PIN and biometrics are refused too.
	for _, a := range []Auth{{PIN: "123456"}, {Biometric: BiometricMatch}} {
		if _, err := e.Authenticate(a); !errors.Is(err, ErrPINLocked) {
			t.Fatalf("after lockout %+v: %v", a, err)
		}
	}
	if !e.Status().PINLocked {
		t.Fatal("status does not show the lock")
	}
}

func TestCorrectPINResetsCounter(t *testing.T) {
	e := newAndroid(t)
	e.Authenticate(Auth{PIN: "999999"})
	e.Authenticate(Auth{PIN: "999999"})
	if _, err := e.Authenticate(Auth{PIN: "123456"}); err != nil {
		t.Fatal(err)
	}
	if s := e.Status(); s.PINTriesLeft != DefaultMaxPINTries {
		t.Fatalf("tries left %d", s.PINTriesLeft)
	}
}

func TestBiometricPolicy(t *testing.T) {
	apple := newApple(t)
	if _, err := apple.Authenticate(Auth{PIN: "1234"}); !errors.Is(err, ErrMethodNotAllowed) {
		t.Fatalf("apple PIN: %v", err)
	}
	for i := 1; i < DefaultMaxBiometricFailures; i++ {
		if _, err := apple.Authenticate(Auth{Biometric: BiometricNoMatch}); !errors.Is(err, ErrBiometricNoMatch) {
			t.Fatalf("no match %d: %v", i, err)
		}
	}
	if _, err := apple.Authenticate(Auth{Biometric: BiometricNoMatch}); !errors.Is(err, ErrBiometricLocked) {
		t.Fatalf("last no match: %v", err)
	}
	// Apple: no fallback, even a match is refused now.
	if _, err := apple.Authenticate(Auth{Biometric: BiometricMatch}); !errors.Is(err, ErrBiometricLocked) {
		t.Fatalf("apple match after lockout: %v", err)
	}

	android := newAndroid(t)
	for i := 0; i < DefaultMaxBiometricFailures; i++ {
		android.Authenticate(Auth{Biometric: BiometricNoMatch})
	}
	if _, err := android.Authenticate(Auth{Biometric: BiometricMatch}); !errors.Is(err, ErrBiometricLocked) {
		t.Fatalf("android match after lockout: %v", err)
	}
	// Android: the PIN is the fallback and clears the biometric lockout.
	if _, err := android.Authenticate(Auth{PIN: "123456"}); err != nil {
		t.Fatal(err)
	}
	if g, err := android.Authenticate(Auth{Biometric: BiometricMatch}); err != nil || g.Method() != MethodBiometric {
		t.Fatalf("android match after PIN: %v", err)
	}
}

func TestGrantRequiredAndExpires(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e, err := Create(t.TempDir(), Options{Policy: PolicyAndroid, PIN: "1234", OpenOptions: OpenOptions{Now: func() time.Time { return now }, GrantTTL: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	k, err := e.GenerateKey("device", Access{UserAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Signer(k.ID, nil); !errors.Is(err, ErrAuthRequired) {
		t.Fatalf("no grant: %v", err)
	}
	if _, err := e.Signer(k.ID, &Grant{}); !errors.Is(err, ErrAuthRequired) {
		t.Fatalf("forged zero grant: %v", err)
	}
	other := newAndroid(t)
	og, _ := other.Authenticate(Auth{PIN: "123456"})
	if _, err := e.Signer(k.ID, og); !errors.Is(err, ErrAuthRequired) {
		t.Fatalf("other element's grant: %v", err)
	}
	g, err := e.Authenticate(Auth{PIN: "1234"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.Signer(k.ID, g)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("msg"))
	sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(k.Public, d[:], sig) {
		t.Fatal("signature does not verify under the public key")
	}
	now = now.Add(2 * time.Minute)
	if _, err := s.Sign(rand.Reader, d[:], crypto.SHA256); !errors.Is(err, ErrAuthRequired) {
		t.Fatalf("expired grant: %v", err)
	}
	// A key without UserAuth works without a grant.
	k2, _ := e.GenerateKey("open", Access{})
	x, err := e.KeyExchanger(k2.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	s1, err := x.ECDH(peer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := peer.ECDH(x.PublicKey())
	if !bytes.Equal(s1, s2) {
		t.Fatal("ECDH secrets differ")
	}
}

func TestSealedStateUnreadableElsewhere(t *testing.T) {
	e := newAndroid(t)
	k, err := e.GenerateKey("device", Access{UserAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := os.ReadFile(filepath.Join(e.Dir(), StateFile))
	if err != nil {
		t.Fatal(err)
	}
	// The private scalar is nowhere in the file, nor its PKCS#8 form.
	g, _ := e.Authenticate(Auth{PIN: "123456"})
	s, _ := e.Signer(k.ID, g)
	priv := e.keys[k.ID] // white-box: the test looks inside on purpose
	if bytes.Contains(sealed, priv.D.Bytes()) || bytes.Contains(sealed, []byte("pkcs8")) {
		t.Fatal("sealed state contains key material or plaintext")
	}
	_ = s

	// Another device (another device key) cannot open it.
	other := newAndroid(t)
	if err := os.WriteFile(filepath.Join(other.Dir(), StateFile), sealed, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(other.Dir(), OpenOptions{}); !errors.Is(err, ErrSealedState) {
		t.Fatalf("foreign device key: %v", err)
	}
	// Any modified byte is detected.
	for _, i := range []int{0, len(sealMagic) + 3, len(sealed) / 2, len(sealed) - 1} {
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x40
		os.WriteFile(filepath.Join(e.Dir(), StateFile), bad, 0o600)
		if _, err := Open(e.Dir(), OpenOptions{}); !errors.Is(err, ErrSealedState) {
			t.Fatalf("tampered byte %d: %v", i, err)
		}
	}
	os.WriteFile(filepath.Join(e.Dir(), StateFile), sealed[:10], 0o600)
	if _, err := Open(e.Dir(), OpenOptions{}); !errors.Is(err, ErrSealedState) {
		t.Fatalf("truncated: %v", err)
	}
	os.WriteFile(filepath.Join(e.Dir(), StateFile), sealed, 0o600)
	e2, err := Open(e.Dir(), OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e2.Key(k.ID); err != nil {
		t.Fatal(err)
	}
}

func TestSealDataPurposeBound(t *testing.T) {
	e := newApple(t)
	b, err := e.SealData("wallet", []byte("secret mdoc"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("secret")) {
		t.Fatal("plaintext visible")
	}
	if pt, err := e.OpenData("wallet", b); err != nil || string(pt) != "secret mdoc" {
		t.Fatalf("OpenData: %q %v", pt, err)
	}
	if _, err := e.OpenData("history", b); !errors.Is(err, ErrSealedState) {
		t.Fatalf("other purpose: %v", err)
	}
	if _, err := e.SealData(purposeState, nil); err == nil {
		t.Fatal("reserved purpose accepted")
	}
}

func TestWipeDestroysKeysAndData(t *testing.T) {
	e := newAndroid(t)
	k, _ := e.GenerateKey("device", Access{})
	s, _ := e.Signer(k.ID, nil)
	blob, _ := e.SealData("wallet", []byte("mdocs"))
	oldState, _ := os.ReadFile(filepath.Join(e.Dir(), StateFile))
	if err := e.Wipe(); err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256(nil)
	if _, err := s.Sign(rand.Reader, d[:], crypto.SHA256); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("sign after wipe: %v", err)
	}
	if _, err := e.OpenData("wallet", blob); !errors.Is(err, ErrSealedState) {
		t.Fatalf("old data after wipe: %v", err)
	}
	e2, err := Open(e.Dir(), OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(e2.Keys()) != 0 || e2.Status().JPKI {
		t.Fatal("keys survive the wipe")
	}
	// The PIN survives: it is the phone's screen lock, not the credential's.
	if _, err := e2.Authenticate(Auth{PIN: "123456"}); err != nil {
		t.Fatalf("PIN after wipe: %v", err)
	}
	// Restoring a backup of the old state does not bring keys back.
	os.WriteFile(filepath.Join(e.Dir(), StateFile), oldState, 0o600)
	if _, err := Open(e.Dir(), OpenOptions{}); !errors.Is(err, ErrSealedState) {
		t.Fatalf("restored backup: %v", err)
	}
}

var privateTypes = []reflect.Type{
	reflect.TypeFor[*ecdsa.PrivateKey](), reflect.TypeFor[ecdsa.PrivateKey](),
	reflect.TypeFor[*rsa.PrivateKey](), reflect.TypeFor[rsa.PrivateKey](),
	reflect.TypeFor[*ecdh.PrivateKey](), reflect.TypeFor[ed25519.PrivateKey](),
}

// exposes reports whether values of type t can hand out private key
// material through exported fields.
func exposes(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false
	}
	seen[t] = true
	for _, p := range privateTypes {
		if t == p {
			return true
		}
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Chan:
		return exposes(t.Elem(), seen)
	case reflect.Map:
		return exposes(t.Key(), seen) || exposes(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && exposes(f.Type, seen) {
				return true
			}
		}
	case reflect.Func:
		for i := range t.NumOut() {
			if exposes(t.Out(i), seen) {
				return true
			}
		}
	}
	return false
}

func TestNoAPIReturnsPrivateKeys(t *testing.T) {
	for _, v := range []any{&Element{}, &Grant{}, &JPKIApplet{}, KeyInfo{}, Status{}, &Error{}, JPKICertificates{}} {
		typ := reflect.TypeOf(v)
		if exposes(typ, map[reflect.Type]bool{}) {
			t.Errorf("%v exposes private key material in an exported field", typ)
		}
		for i := range typ.NumMethod() {
			m := typ.Method(i)
			if exposes(m.Type, map[reflect.Type]bool{}) {
				t.Errorf("%v.%s returns private key material", typ, m.Name)
			}
		}
	}
	// The handles' dynamic types are opaque wrappers, not the key types
	// (whose methods — Bytes, D — would export the key).
	e := newAndroid(t)
	k, _ := e.GenerateKey("k", Access{})
	s, _ := e.Signer(k.ID, nil)
	x, _ := e.KeyExchanger(k.ID, nil)
	eph, _ := e.NewEphemeralKey()
	for _, h := range []any{s, x, eph} {
		typ := reflect.TypeOf(h)
		for _, p := range privateTypes {
			if typ == p {
				t.Fatalf("handle is a %v", typ)
			}
		}
		if exposes(typ, map[reflect.Type]bool{}) {
			t.Fatalf("handle %v exposes key material", typ)
		}
		for i := range typ.NumMethod() {
			switch n := typ.Method(i).Name; n {
			case "Public", "PublicKey", "Sign", "ECDH", "Curve":
			default:
				t.Fatalf("handle %v has method %s", typ, n)
			}
		}
	}
}

// FuzzOpenSealed feeds arbitrary bytes as the sealed state file: Open must
// reject them with CodeSealedState and never panic.
func FuzzOpenSealed(f *testing.F) {
	dir := f.TempDir()
	e, err := Create(dir, Options{Policy: PolicyApple})
	if err != nil {
		f.Fatal(err)
	}
	good, _ := os.ReadFile(filepath.Join(dir, StateFile))
	f.Add(good)
	f.Add([]byte(sealMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if bytes.Equal(b, good) {
			return
		}
		e2 := &Element{dir: dir, keys: map[KeyID]*ecdsa.PrivateKey{}}
		e2.setDeviceKey(e.dkey)
		if err := e2.unseal(b); !errors.Is(err, ErrSealedState) {
			t.Fatalf("unseal(%x) = %v", b, err)
		}
	})
}
