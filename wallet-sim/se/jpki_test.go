package se

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/card"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
)

var (
	poolOnce sync.Once
	pool     *testca.KeyPool
	poolErr  error
)

func testPool(t *testing.T) *testca.KeyPool {
	t.Helper()
	poolOnce.Do(func() { pool, poolErr = testca.NewKeyPool(4) })
	if poolErr != nil {
		t.Fatal(poolErr)
	}
	return pool
}

// provisioned returns an element with an installed JPKI applet whose
// certificates were issued by a test CA from a card's signature certificate.
func provisioned(t *testing.T) (*Element, *testca.CA) {
	t.Helper()
	p := testPool(t)
	ca, err := testca.New(testca.Options{GenerateKey: p.Next})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := ca.IssueCard(testca.Person{Name: "山田\u3000花子", BirthDate: jpki.NewBirthDate(1990, time.April, 1), Sex: jpki.SexFemale, Address: "東京都千代田区"}, testca.IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := Create(t.TempDir(), Options{Policy: PolicyAndroid, PIN: "123456", OpenOptions: OpenOptions{GenerateRSA: p.Next}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.OpenJPKI(); !errors.Is(err, ErrJPKINotProvisioned) {
		t.Fatalf("OpenJPKI before provisioning: %v", err)
	}
	signPub, authPub, err := e.GenerateJPKIKeys()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ca.IssueSmartphoneCertificate(creds.SignCert, jpki.KindSignature, signPub, testca.IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ac, err := ca.IssueSmartphoneCertificate(creds.SignCert, jpki.KindAuth, authPub, testca.IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	certs := JPKICertificates{SignCert: sc.Raw, SignCACert: ca.Root(jpki.KindSignature).Raw, AuthCert: ac.Raw, AuthCACert: ca.Root(jpki.KindAuth).Raw}
	if err := e.ProvisionJPKI(jpki.TokenGPSE, certs, "PHONEPW1", "4321"); err != nil {
		t.Fatal(err)
	}
	return e, ca
}

func TestJPKIAppletInElement(t *testing.T) {
	e, ca := provisioned(t)
	ctx := context.Background()
	a, err := e.OpenJPKI()
	if err != nil {
		t.Fatal(err)
	}
	c := card.New(a)
	if err := c.Select(ctx); err != nil {
		t.Fatal(err)
	}
	if tok, err := c.ReadToken(ctx); err != nil || tok != jpki.TokenGPSE {
		t.Fatalf("token %q %v", tok, err)
	}
	nonce := []byte("0123456789abcdef-server-nonce")
	certDER, sig, err := c.Authenticate(ctx, "4321", nonce)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256(nonce)
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, d[:], sig); err != nil {
		t.Fatalf("auth signature: %v", err)
	}
	if err := cert.CheckSignatureFrom(ca.Root(jpki.KindAuth)); err != nil {
		t.Fatalf("auth cert not from the CA: %v", err)
	}
	// Two wrong PINs, then reopen the element: the counter persisted sealed.
	c.Select(ctx)
	c.VerifyAuthPIN(ctx, "0000")
	if err := c.VerifyAuthPIN(ctx, "0000"); !errors.Is(err, card.ErrWrongPIN) {
		t.Fatalf("wrong PIN: %v", err)
	}
	a.Close()
	e2, err := Open(e.Dir(), OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a2, err := e2.OpenJPKI()
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	if i := a2.Info(); i.AuthPINTriesLeft != 1 || i.Path != "" {
		t.Fatalf("tries left after reopen: %d (path %q)", i.AuthPINTriesLeft, i.Path)
	}
	c2 := card.New(a2)
	c2.Select(ctx)
	if err := c2.VerifyAuthPIN(ctx, "0000"); !errors.Is(err, card.ErrLocked) {
		t.Fatalf("third wrong PIN: %v", err)
	}
	if err := c2.VerifyAuthPIN(ctx, "4321"); !errors.Is(err, card.ErrLocked) {
		t.Fatalf("right PIN after lockout: %v", err)
	}
	// The sealed file never holds the applet's JSON in clear.
	b, _ := os.ReadFile(filepath.Join(e.Dir(), StateFile))
	for _, s := range []string{"auth_key_pkcs8", "JPKIAPGPSETOKEN", "BEGIN"} {
		if bytes.Contains(b, []byte(s)) {
			t.Fatalf("sealed state shows %q", s)
		}
	}
	// Wipe removes the applet.
	if err := e2.Wipe(); err != nil {
		t.Fatal(err)
	}
	if _, err := e2.OpenJPKI(); !errors.Is(err, ErrJPKINotProvisioned) {
		t.Fatalf("after wipe: %v", err)
	}
}

func TestProvisionNeedsPendingKeys(t *testing.T) {
	e := newAndroid(t)
	if err := e.ProvisionJPKI(jpki.TokenGPSE, JPKICertificates{}, "PHONEPW1", "4321"); !errors.Is(err, ErrJPKINotProvisioned) {
		t.Fatalf("provision without keys: %v", err)
	}
}

// TestJPKIAppletStateNeverOnDiskUnsealed provisions the applet and drives it
// through counter changes with TMPDIR pointing at an empty directory, and
// checks that the only files ever written are the element's own (sealed
// state and device key), that /dev/shm gains nothing, and that nothing
// written holds the applet's state in clear.
func TestJPKIAppletStateNeverOnDiskUnsealed(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	shmBefore := dirNames("/dev/shm")
	e, _ := provisioned(t) // its element directory is made under tmp
	ctx := context.Background()
	a, err := e.OpenJPKI()
	if err != nil {
		t.Fatal(err)
	}
	c := card.New(a)
	if err := c.Select(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyAuthPIN(ctx, "0000"); !errors.Is(err, card.ErrWrongPIN) {
		t.Fatalf("wrong PIN: %v", err)
	}
	if _, _, err := c.Authenticate(ctx, "4321", []byte("0123456789abcdef-nonce")); err != nil {
		t.Fatal(err)
	}
	a.Close()
	markers := [][]byte{[]byte("auth_key_pkcs8"), []byte("JPKIAPGPSETOKEN"), []byte("sign_key"), []byte("PRIVATE KEY")}
	var files []string
	err = filepath.WalkDir(tmp, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(e.Dir(), path)
		if rel != StateFile && rel != DeviceKeyFile {
			files = append(files, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range markers {
			if bytes.Contains(b, m) {
				t.Errorf("%s holds %q in clear", path, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 0 {
		t.Fatalf("files besides the sealed state: %v", files)
	}
	for n := range dirNames("/dev/shm") {
		if !shmBefore[n] && strings.HasPrefix(n, "mnc-") {
			t.Fatalf("/dev/shm gained %s", n)
		}
	}
	// The counter change reached the sealed state.
	e2, err := Open(e.Dir(), OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a2, err := e2.OpenJPKI()
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	if got := a2.Info().AuthPINTriesLeft; got != 3 {
		t.Fatalf("tries left after a wrong then a right PIN: %d, want 3 (reset by success)", got)
	}
}

func dirNames(dir string) map[string]bool {
	m := map[string]bool{}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		m[e.Name()] = true
	}
	return m
}
