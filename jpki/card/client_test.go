package card_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/applet"
	"github.com/mynumber-mdoc/mnc/jpki/card"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
)

var testNow = time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)

var (
	setupOnce sync.Once
	ca        *testca.CA
	creds     *testca.Credentials
	crlDir    string
	setupErr  error
)

func setup(t *testing.T) {
	setupOnce.Do(func() {
		pool, err := testca.NewKeyPool(4)
		if err != nil {
			setupErr = err
			return
		}
		ca, err = testca.New(testca.Options{Now: func() time.Time { return testNow }, GenerateKey: pool.Next})
		if err != nil {
			setupErr = err
			return
		}
		creds, setupErr = ca.IssueCard(testca.Person{Name: "佐藤\u3000花子", BirthDate: jpki.NewBirthDate(1985, time.May, 5), Sex: jpki.SexFemale, Address: "大阪府大阪市北区"}, testca.IssueOptions{})
	})
	if setupErr != nil {
		t.Fatal(setupErr)
	}
}

func newClient(t *testing.T, token jpki.Token) *card.Client {
	t.Helper()
	setup(t)
	a, err := applet.New(creds.AppletConfig(token, "PASS1234", "4321"))
	if err != nil {
		t.Fatal(err)
	}
	return card.New(card.InMemory(a))
}

func verifier(t *testing.T) *jpki.Verifier {
	dir := t.TempDir()
	if _, err := ca.PublishCRLs(dir, testNow, 0); err != nil {
		t.Fatal(err)
	}
	return &jpki.Verifier{Roots: ca.TrustRoots(), Mode: jpki.ModeTest, Revocation: &jpki.CRLChecker{Source: jpki.CRLDir(dir)}}
}

func TestAuthenticateAndVerify(t *testing.T) {
	for _, token := range []jpki.Token{jpki.TokenCard, jpki.TokenGPSE} {
		t.Run(string(token), func(t *testing.T) {
			c := newClient(t, token)
			ctx := context.Background()
			nonce, _ := jpki.NewNonce(nil)
			cert, sig, err := c.Authenticate(ctx, "4321", nonce)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(cert, creds.AuthCert.Raw) {
				t.Error("auth certificate differs")
			}
			res, err := verifier(t).VerifyAuth(ctx, nonce, cert, sig, jpki.VerifyOptions{CurrentTime: testNow.Add(time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			if res.ID != creds.AuthCert.Subject.CommonName {
				t.Errorf("id %q", res.ID)
			}
			got, err := c.ReadToken(ctx)
			if err != nil || got != token {
				t.Errorf("token %q, %v", got, err)
			}
		})
	}
}

func TestWrongPINAndLock(t *testing.T) {
	c := newClient(t, jpki.TokenCard)
	ctx := context.Background()
	if err := c.Select(ctx); err != nil {
		t.Fatal(err)
	}
	// A value that breaks the rule is refused locally and costs no try.
	err := c.VerifyAuthPIN(ctx, "12a4")
	if !errors.Is(err, card.ErrInvalidPIN) {
		t.Fatalf("err = %v, want invalid_pin", err)
	}
	if n, err := c.TriesLeft(ctx, card.KeyAuth); err != nil || n != 3 {
		t.Fatalf("tries %d, %v", n, err)
	}
	err = c.VerifyAuthPIN(ctx, "0000")
	if !errors.Is(err, card.ErrWrongPIN) {
		t.Fatalf("err = %v, want wrong_pin", err)
	}
	if n, ok := card.TriesLeft(err); !ok || n != 2 {
		t.Errorf("TriesLeft(err) = %d %v", n, ok)
	}
	if !strings.Contains(err.Error(), "2 tries left") || !strings.Contains(err.Error(), "63C2") {
		t.Errorf("message %q", err)
	}
	c.VerifyAuthPIN(ctx, "0001")
	err = c.VerifyAuthPIN(ctx, "0002")
	if !errors.Is(err, card.ErrLocked) {
		t.Fatalf("third wrong PIN: %v, want pin_locked", err)
	}
	err = c.VerifyAuthPIN(ctx, "4321")
	if !errors.Is(err, card.ErrLocked) {
		t.Fatalf("right PIN on a locked card: %v", err)
	}
	if n, err := c.TriesLeft(ctx, card.KeyAuth); err != nil || n != 0 {
		t.Errorf("tries %d, %v", n, err)
	}
	_, err = c.SignChallenge(ctx, []byte("0123456789abcdef"))
	if !errors.Is(err, card.ErrSecurityStatus) {
		t.Errorf("sign on a locked card: %v", err)
	}
}

func TestSignPasswordAndReads(t *testing.T) {
	c := newClient(t, jpki.TokenGPSE)
	ctx := context.Background()
	c.Select(ctx)
	if _, err := c.ReadSignCertificate(ctx); !errors.Is(err, card.ErrSecurityStatus) {
		t.Errorf("sign certificate without password: %v", err)
	}
	if _, err := c.ReadAuthCertificate(ctx); !errors.Is(err, card.ErrSecurityStatus) {
		t.Errorf("GP-SE auth certificate without PIN: %v", err)
	}
	ca1, err := c.ReadSignCACertificate(ctx)
	if err != nil || !bytes.Equal(ca1, creds.SignCACert.Raw) {
		t.Errorf("sign CA: %v", err)
	}
	ca2, err := c.ReadAuthCACertificate(ctx)
	if err != nil || !bytes.Equal(ca2, creds.AuthCACert.Raw) {
		t.Errorf("auth CA: %v", err)
	}
	err = c.VerifySignPassword(ctx, "WRONG99")
	if n, _ := card.TriesLeft(err); !errors.Is(err, card.ErrWrongPIN) || n != 4 {
		t.Errorf("wrong password: %v", err)
	}
	// Lower case is normalised, as JPKI client software does.
	if err := c.VerifySignPassword(ctx, "pass1234"); err != nil {
		t.Fatal(err)
	}
	cert, err := c.ReadSignCertificate(ctx)
	if err != nil || !bytes.Equal(cert, creds.SignCert.Raw) {
		t.Fatalf("sign certificate: %v", err)
	}
	// JWS signed on the card, key never leaving it.
	signer := c.Signer(ctx, card.KeySign, creds.SignCert.PublicKey.(*rsa.PublicKey))
	jws, err := jpki.SignJWS([]byte(`{"apply":"mdoc"}`), cert, signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := verifier(t).VerifyJWS(ctx, jws, jpki.VerifyOptions{CurrentTime: testNow.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Facts.FullName != "佐藤\u3000花子" {
		t.Errorf("facts %+v", res.Facts)
	}
	// Change the password and use the new one.
	if err := c.ChangePIN(ctx, card.KeySign, "NEWPASS1"); err != nil {
		t.Fatal(err)
	}
	c.Select(ctx)
	if err := c.VerifySignPassword(ctx, "PASS1234"); !errors.Is(err, card.ErrWrongPIN) {
		t.Errorf("old password: %v", err)
	}
	if err := c.VerifySignPassword(ctx, "NEWPASS1"); err != nil {
		t.Errorf("new password: %v", err)
	}
	if err := c.ChangePIN(ctx, card.KeyAuth, "1"); !errors.Is(err, card.ErrInvalidPIN) {
		t.Errorf("bad new PIN: %v", err)
	}
}

func TestTransportErrors(t *testing.T) {
	ctx := context.Background()
	notJPKI := card.New(card.TransportFunc(func(context.Context, []byte) ([]byte, error) { return []byte{0x6A, 0x82}, nil }))
	if err := notJPKI.Select(ctx); !errors.Is(err, card.ErrNotFound) {
		t.Errorf("not a JPKI card: %v", err)
	}
	broken := card.New(card.TransportFunc(func(context.Context, []byte) ([]byte, error) { return nil, errors.New("reader removed") }))
	if err := broken.Select(ctx); !errors.Is(err, card.ErrTransport) {
		t.Errorf("broken transport: %v", err)
	}
	garbled := card.New(card.TransportFunc(func(context.Context, []byte) ([]byte, error) { return []byte{0x90}, nil }))
	if err := garbled.Select(ctx); !errors.Is(err, card.ErrMalformed) {
		t.Errorf("garbled response: %v", err)
	}
	odd := card.New(card.TransportFunc(func(context.Context, []byte) ([]byte, error) { return []byte{0x6F, 0x00}, nil }))
	err := odd.Select(ctx)
	var ce *card.Error
	if !errors.As(err, &ce) || ce.Code != card.CodeCard || ce.SW != 0x6F00 {
		t.Errorf("other SW: %v", err)
	}
	c := newClient(t, jpki.TokenCard)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.Select(cctx); !errors.Is(err, card.ErrTransport) {
		t.Errorf("cancelled context: %v", err)
	}
	// A file that is not a certificate is refused without reading further.
	padded := card.New(card.TransportFunc(func(_ context.Context, cmd []byte) ([]byte, error) {
		if cmd[1] == 0xB0 {
			return []byte{0x04, 0x82, 0x10, 0x00, 0x90, 0x00}, nil
		}
		return []byte{0x90, 0x00}, nil
	}))
	if _, err := padded.ReadAuthCertificate(ctx); !errors.Is(err, card.ErrMalformed) {
		t.Errorf("non-certificate file: %v", err)
	}
}

// TestReadCertificateIgnoresPadding reads from an EF padded with zeros after
// the certificate, as real cards are.
func TestReadCertificateIgnoresPadding(t *testing.T) {
	setup(t)
	file := append(append([]byte(nil), creds.AuthCert.Raw...), make([]byte, 700)...)
	c := card.New(card.TransportFunc(func(_ context.Context, cmd []byte) ([]byte, error) {
		if cmd[1] != 0xB0 {
			return []byte{0x90, 0x00}, nil
		}
		off := int(cmd[2])<<8 | int(cmd[3])
		n := int(cmd[4])
		if n == 0 {
			n = 256
		}
		end := min(off+n, len(file))
		return append(append([]byte(nil), file[off:end]...), 0x90, 0x00), nil
	}))
	got, err := c.ReadAuthCertificate(context.Background())
	if err != nil || !bytes.Equal(got, creds.AuthCert.Raw) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
}
