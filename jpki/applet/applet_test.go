package applet_test

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/apdu"
	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/applet"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
)

var (
	credsOnce sync.Once
	creds     *testca.Credentials
	credsErr  error
)

// testCreds issues one person's credentials for the whole package.
func testCreds(t testing.TB) *testca.Credentials {
	credsOnce.Do(func() {
		creds, credsErr = testca.IssueOne(testca.Person{Name: "山田\u3000太郎", BirthDate: jpki.NewBirthDate(1990, time.April, 1), Sex: jpki.SexMale, Address: "東京都"})
	})
	if credsErr != nil {
		t.Fatal(credsErr)
	}
	return creds
}

const (
	pin      = "1234"
	password = "ABC123"
)

func newCard(t testing.TB, token jpki.Token, path string) *applet.Card {
	t.Helper()
	cfg := testCreds(t).AppletConfig(token, password, pin)
	var c *applet.Card
	var err error
	if path == "" {
		c, err = applet.New(cfg)
	} else {
		c, err = applet.Create(path, cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// tx sends an APDU and returns data and SW.
func tx(t testing.TB, c *applet.Card, cmd []byte) ([]byte, uint16) {
	t.Helper()
	resp, err := c.Transmit(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp) < 2 {
		t.Fatalf("response % X too short", resp)
	}
	n := len(resp) - 2
	return resp[:n], uint16(resp[n])<<8 | uint16(resp[n+1])
}

func expectSW(t testing.TB, c *applet.Card, cmd []byte, want uint16) []byte {
	t.Helper()
	data, sw := tx(t, c, cmd)
	if sw != want {
		t.Fatalf("% X: SW %04X, want %04X", cmd, sw, want)
	}
	return data
}

var (
	selectAID   = h("00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01")
	selAuthPIN  = h("00 A4 02 0C 02 00 18")
	selSignPIN  = h("00 A4 02 0C 02 00 1B")
	selAuthKey  = h("00 A4 02 0C 02 00 17")
	selSignKey  = h("00 A4 02 0C 02 00 1A")
	selSignCert = h("00 A4 02 0C 02 00 01")
	selAuthCert = h("00 A4 02 0C 02 00 0A")
	selToken    = h("00 A4 02 0C 02 00 06")
	verifyEmpty = h("00 20 00 80")
)

func verifyAPDU(v string) []byte {
	return append([]byte{0x00, 0x20, 0x00, 0x80, byte(len(v))}, v...)
}

func signAPDU(data []byte) []byte {
	return append(append([]byte{0x80, 0x2A, 0x00, 0x80, byte(len(data))}, data...), 0x00)
}

func readAll(t testing.TB, c *applet.Card) []byte {
	t.Helper()
	var out []byte
	for {
		off := len(out)
		data, sw := tx(t, c, []byte{0x00, 0xB0, byte(off >> 8), byte(off), 0x00})
		out = append(out, data...)
		switch sw {
		case 0x9000:
			continue
		case 0x6282:
			return out
		default:
			t.Fatalf("READ BINARY at %d: SW %04X", off, sw)
		}
	}
}

func TestAuthPINLockout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "card.json")
	c := newCard(t, jpki.TokenCard, path)
	expectSW(t, c, selectAID, 0x9000)
	expectSW(t, c, selAuthPIN, 0x9000)
	expectSW(t, c, verifyEmpty, 0x63C3)
	expectSW(t, c, verifyAPDU("0000"), 0x63C2)
	expectSW(t, c, verifyEmpty, 0x63C2)
	// A correct PIN resets the counter.
	expectSW(t, c, verifyAPDU(pin), 0x9000)
	expectSW(t, c, verifyEmpty, 0x63C3)
	expectSW(t, c, verifyAPDU("1111"), 0x63C2)
	expectSW(t, c, verifyAPDU("2222"), 0x63C1)

	// The counter survives a restart: the state file is the chip.
	c2, err := applet.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	expectSW(t, c2, selectAID, 0x9000)
	expectSW(t, c2, selAuthPIN, 0x9000)
	expectSW(t, c2, verifyEmpty, 0x63C1)
	expectSW(t, c2, verifyAPDU("abcd"), 0x63C0) // any bytes count as a try
	expectSW(t, c2, verifyAPDU(pin), 0x6983)    // locked: even the right PIN fails
	expectSW(t, c2, verifyEmpty, 0x6983)
	expectSW(t, c2, selAuthKey, 0x9000)
	expectSW(t, c2, signAPDU(jpki.DigestInfoSHA256([]byte("x"))), 0x6982)

	c3, err := applet.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if info := c3.Info(); info.AuthPINTriesLeft != 0 || info.SignPWTriesLeft != jpki.SignPasswordTries {
		t.Errorf("persisted tries %d/%d", info.AuthPINTriesLeft, info.SignPWTriesLeft)
	}
	// Atomic writes leave no temporary files and keep the chip private.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the state file", len(entries))
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestSignPasswordLockout(t *testing.T) {
	c := newCard(t, jpki.TokenCard, "")
	expectSW(t, c, selectAID, 0x9000)
	expectSW(t, c, selSignPIN, 0x9000)
	expectSW(t, c, verifyEmpty, 0x63C5)
	for want := uint16(4); ; want-- {
		expectSW(t, c, verifyAPDU("WRONG1"), 0x63C0|want)
		if want == 0 {
			break
		}
	}
	expectSW(t, c, verifyAPDU(password), 0x6983)
	expectSW(t, c, selSignCert, 0x9000)
	expectSW(t, c, h("00 B0 00 00 04"), 0x6982)
	// The auth PIN is independent.
	expectSW(t, c, selAuthPIN, 0x9000)
	expectSW(t, c, verifyEmpty, 0x63C3)
}

func TestReadAccessConditions(t *testing.T) {
	cr := testCreds(t)
	for _, token := range []jpki.Token{jpki.TokenCard, jpki.TokenGPSE, jpki.TokenIOS} {
		t.Run(string(token), func(t *testing.T) {
			c := newCard(t, token, "")
			expectSW(t, c, selectAID, 0x9000)
			expectSW(t, c, selToken, 0x9000)
			label := expectSW(t, c, h("00 B0 00 00 14"), 0x9000)
			if string(bytes.TrimRight(label, " ")) != string(token) || len(label) != jpki.TokenInfoLen {
				t.Errorf("token info %q", label)
			}
			// The signature certificate needs the password everywhere.
			expectSW(t, c, selSignCert, 0x9000)
			expectSW(t, c, h("00 B0 00 00 04"), 0x6982)
			// The auth certificate needs the PIN on phone tokens only.
			expectSW(t, c, selAuthCert, 0x9000)
			if token.Phone() {
				expectSW(t, c, h("00 B0 00 00 04"), 0x6982)
				expectSW(t, c, selAuthPIN, 0x9000)
				expectSW(t, c, verifyAPDU(pin), 0x9000)
				expectSW(t, c, selAuthCert, 0x9000)
			}
			if got := readAll(t, c); !bytes.Equal(got, cr.AuthCert.Raw) {
				t.Error("auth certificate differs")
			}
			expectSW(t, c, selSignPIN, 0x9000)
			expectSW(t, c, verifyAPDU(password), 0x9000)
			expectSW(t, c, selSignCert, 0x9000)
			if got := readAll(t, c); !bytes.Equal(got, cr.SignCert.Raw) {
				t.Error("signature certificate differs")
			}
			// Selecting the application again drops the verification.
			expectSW(t, c, selectAID, 0x9000)
			expectSW(t, c, selSignCert, 0x9000)
			expectSW(t, c, h("00 B0 00 00 04"), 0x6982)
		})
	}
}

func TestSign(t *testing.T) {
	cr := testCreds(t)
	c := newCard(t, jpki.TokenCard, "")
	di := jpki.DigestInfoSHA256([]byte("nonce"))
	expectSW(t, c, selectAID, 0x9000)
	expectSW(t, c, selAuthKey, 0x9000)
	expectSW(t, c, signAPDU(di), 0x6982)
	expectSW(t, c, selAuthPIN, 0x9000)
	expectSW(t, c, verifyAPDU(pin), 0x9000)
	expectSW(t, c, selAuthKey, 0x9000)
	sig := expectSW(t, c, signAPDU(di), 0x9000)
	pub := cr.AuthCert.PublicKey.(*rsa.PublicKey)
	if err := rsa.VerifyPKCS1v15(pub, crypto.Hash(0), di, sig); err != nil {
		t.Errorf("auth signature: %v", err)
	}
	// The auth PIN does not unlock the signature key.
	expectSW(t, c, selSignKey, 0x9000)
	expectSW(t, c, signAPDU(di), 0x6982)
	expectSW(t, c, selSignPIN, 0x9000)
	expectSW(t, c, verifyAPDU(password), 0x9000)
	expectSW(t, c, selSignKey, 0x9000)
	sig = expectSW(t, c, signAPDU(di), 0x9000)
	if err := rsa.VerifyPKCS1v15(cr.SignCert.PublicKey.(*rsa.PublicKey), crypto.Hash(0), di, sig); err != nil {
		t.Errorf("signature key: %v", err)
	}
	// SIGN with a certificate EF selected, without Le, or oversized.
	expectSW(t, c, selSignCert, 0x9000)
	expectSW(t, c, signAPDU(di), 0x6985)
	expectSW(t, c, selSignKey, 0x9000)
	expectSW(t, c, append([]byte{0x80, 0x2A, 0x00, 0x80, byte(len(di))}, di...), 0x6700)
	big := make([]byte, 250)
	expectSW(t, c, signAPDU(big), 0x6700)
}

func TestChangeReferenceData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "card.json")
	c := newCard(t, jpki.TokenGPSE, path)
	change := func(v string) []byte { return append([]byte{0x00, 0x24, 0x01, 0x80, byte(len(v))}, v...) }
	expectSW(t, c, selectAID, 0x9000)
	expectSW(t, c, selAuthPIN, 0x9000)
	expectSW(t, c, change("9876"), 0x6982) // not verified yet
	expectSW(t, c, verifyAPDU(pin), 0x9000)
	expectSW(t, c, change("98765"), 0x6A80)
	expectSW(t, c, change("98a6"), 0x6A80)
	expectSW(t, c, h("00 24 00 80 04 39 38 37 36"), 0x6A86) // P1 00 unsupported
	expectSW(t, c, change("9876"), 0x9000)
	expectSW(t, c, selSignPIN, 0x9000)
	expectSW(t, c, verifyAPDU(password), 0x9000)
	for _, bad := range []string{"ABC12", "abcdef", "ABC-123"} {
		expectSW(t, c, change(bad), 0x6A80)
	}
	expectSW(t, c, change("ABCDEFGHIJKLMNOPQ"), 0x6700) // 17 bytes: over the reference data length
	expectSW(t, c, change("NEWPASS2025"), 0x9000)

	c2, err := applet.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	expectSW(t, c2, selectAID, 0x9000)
	expectSW(t, c2, selAuthPIN, 0x9000)
	expectSW(t, c2, verifyAPDU(pin), 0x63C2)
	expectSW(t, c2, verifyAPDU("9876"), 0x9000)
	expectSW(t, c2, selSignPIN, 0x9000)
	expectSW(t, c2, verifyAPDU(password), 0x63C4)
	expectSW(t, c2, verifyAPDU("NEWPASS2025"), 0x9000)
}

func TestProtocolErrors(t *testing.T) {
	c := newCard(t, jpki.TokenCard, "")
	expectSW(t, c, selAuthPIN, 0x6A82) // no application selected
	expectSW(t, c, h("00 A4 04 0C 03 A0 00 00"), 0x6A82)
	expectSW(t, c, selectAID, 0x9000)
	tests := []struct {
		name string
		cmd  string
		sw   uint16
	}{
		{"unknown EF", "00 A4 02 0C 02 00 99", 0x6A82},
		{"EF id length", "00 A4 02 0C 01 00", 0x6700},
		{"SELECT P1", "00 A4 08 0C 02 00 01", 0x6A86},
		{"unknown INS", "00 CA 00 00 00", 0x6D00},
		{"unknown CLA", "90 A4 04 0C 00", 0x6E00},
		{"malformed", "00 A4 04 0C 05 01", 0x6700},
		{"VERIFY P2", "00 20 00 81", 0x6A86},
		{"VERIFY without PIN EF", "00 20 00 80", 0x6A88},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { expectSW(t, c, h(tt.cmd), tt.sw) })
	}
	// Keys and PINs are never readable.
	for _, ef := range []string{"00 17", "00 18", "00 1A", "00 1B"} {
		expectSW(t, c, h("00 A4 02 0C 02 "+ef), 0x9000)
		expectSW(t, c, h("00 B0 00 00 00"), 0x6986)
	}
	expectSW(t, c, selToken, 0x9000)
	expectSW(t, c, h("00 B0 00 40 01"), 0x6B00)
	expectSW(t, c, h("00 B0 00 00"), 0x6700) // no Le
}

func TestPrivateKeysNeverExported(t *testing.T) {
	keyType := reflect.TypeOf(&rsa.PrivateKey{})
	for _, typ := range []reflect.Type{reflect.TypeOf(applet.Info{})} {
		for i := range typ.NumField() {
			if typ.Field(i).Type == keyType || typ.Field(i).Type == reflect.TypeOf(crypto.PrivateKey(nil)) {
				t.Errorf("%s.%s exposes a private key", typ.Name(), typ.Field(i).Name)
			}
		}
	}
	card := reflect.TypeOf(&applet.Card{})
	for i := range card.NumMethod() {
		m := card.Method(i)
		for j := range m.Type.NumOut() {
			if m.Type.Out(j) == keyType || m.Type.Out(j).Implements(reflect.TypeOf((*crypto.Signer)(nil)).Elem()) {
				t.Errorf("Card.%s returns key material", m.Name)
			}
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	cr := testCreds(t)
	base := cr.AppletConfig(jpki.TokenCard, password, pin)
	for name, mutate := range map[string]func(*applet.Config){
		"short PIN":          func(c *applet.Config) { c.AuthPIN = "123" },
		"lowercase password": func(c *applet.Config) { c.SignPassword = "abc123" },
		"swapped keys":       func(c *applet.Config) { c.SignKey, c.AuthKey = c.AuthKey, c.SignKey },
		"unknown token":      func(c *applet.Config) { c.Token = "X" },
		"bad certificate":    func(c *applet.Config) { c.AuthCert = []byte{0x30} },
	} {
		cfg := base
		mutate(&cfg)
		if _, err := applet.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := x509.ParseCertificate(base.SignCert); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"format":"other"}`), 0o600)
	if _, err := applet.Open(bad); err == nil {
		t.Error("foreign state file opened")
	}
}

func FuzzTransmit(f *testing.F) {
	for _, s := range [][]byte{selectAID, selAuthPIN, verifyAPDU(pin), selAuthKey, signAPDU([]byte{1, 2, 3}), h("00 B0 00 00 00"), h("00 24 01 80 04 31 31 31 31")} {
		f.Add(s)
	}
	c := newCard(f, jpki.TokenGPSE, "")
	f.Fuzz(func(t *testing.T, b []byte) {
		// Every session starts selected and unverified.
		c.Reset()
		c.Transmit(selectAID)
		resp, err := c.Transmit(b)
		if err != nil || len(resp) < 2 {
			t.Fatalf("response % X, %v", resp, err)
		}
		// Without VERIFY no command may return a signature or a certificate.
		if len(resp) > 2+jpki.TokenInfoLen {
			t.Fatalf("% X returned %d bytes unverified", b, len(resp)-2)
		}
	})
}

// TestPersister: a host (a secure element) that keeps the applet's state
// itself sees every counter change, and a card loaded from that state goes
// on where it stopped.
func TestPersister(t *testing.T) {
	var stored []byte
	saves := 0
	persist := func(b []byte) error { stored = append([]byte(nil), b...); saves++; return nil }
	c, err := applet.NewPersisted(testCreds(t).AppletConfig(jpki.TokenGPSE, password, pin), persist)
	if err != nil {
		t.Fatal(err)
	}
	if saves != 1 || len(stored) == 0 {
		t.Fatalf("initial state not persisted (%d saves)", saves)
	}
	expectSW(t, c, selectAID, 0x9000)
	expectSW(t, c, selAuthPIN, 0x9000)
	expectSW(t, c, verifyAPDU("0000"), 0x63C2)
	if saves != 2 {
		t.Fatalf("wrong PIN not persisted (%d saves)", saves)
	}
	c2, err := applet.Load(stored, persist)
	if err != nil {
		t.Fatal(err)
	}
	if got := c2.Info().AuthPINTriesLeft; got != 2 {
		t.Errorf("loaded card has %d tries left, want 2", got)
	}
	if _, err := applet.Load([]byte("{}"), persist); err == nil {
		t.Error("garbage state loaded")
	}
	if _, err := applet.Load(stored, nil); err == nil {
		t.Error("nil persister accepted")
	}
	failing := func([]byte) error { return os.ErrPermission }
	if _, err := applet.NewPersisted(testCreds(t).AppletConfig(jpki.TokenGPSE, password, pin), failing); err == nil {
		t.Error("failing persister not reported")
	}
}

// TestUnderRouter hosts the applet in an apdu.Router next to another
// application, as a phone does: selection through the router reaches the
// applet unchanged, and selecting the other application ends the
// applet's session (its verification is lost).
func TestUnderRouter(t *testing.T) {
	c := newCard(t, jpki.TokenGPSE, "")
	other := &stubApp{aid: h("A0000002480400")}
	r, err := apdu.NewRouter(other, c)
	if err != nil {
		t.Fatal(err)
	}
	run := func(cmd []byte, want uint16) []byte {
		t.Helper()
		resp := r.Process(cmd)
		if got := uint16(resp[len(resp)-2])<<8 | uint16(resp[len(resp)-1]); got != want {
			t.Fatalf("% X: SW %04X, want %04X", cmd, got, want)
		}
		return resp[:len(resp)-2]
	}
	run(selectAID, 0x9000)
	run(selToken, 0x9000)
	if tok := run(h("00 B0 00 00 0F"), 0x9000); string(tok) != string(jpki.TokenGPSE) {
		t.Fatalf("token %q", tok)
	}
	run(selAuthPIN, 0x9000)
	run(verifyAPDU(pin), 0x9000)
	run(selAuthCert, 0x9000)
	run(h("00 B0 00 00 04"), 0x9000)
	// Another application, then back: the PIN must be verified again.
	run(h("00 A4 04 00 07 A0000002480400"), 0x9000)
	run(selectAID, 0x9000)
	run(selAuthCert, 0x9000)
	run(h("00 B0 00 00 04"), 0x6982)
	// A power cycle of the virtual card does the same.
	run(selAuthPIN, 0x9000)
	run(verifyAPDU(pin), 0x9000)
	r.Reset()
	run(selAuthCert, 0x6985) // nothing selected after reset
	run(selectAID, 0x9000)
	run(selAuthCert, 0x9000)
	run(h("00 B0 00 00 04"), 0x6982)
}

type stubApp struct{ aid []byte }

func (s *stubApp) AID() []byte             { return s.aid }
func (s *stubApp) Process(_ []byte) []byte { return []byte{0x90, 0x00} }
func (s *stubApp) Deselect()               {}
