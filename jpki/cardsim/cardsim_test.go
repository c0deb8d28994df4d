package cardsim_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/apdu"
	"github.com/mynumber-mdoc/mnc/internal/pcsc"
	"github.com/mynumber-mdoc/mnc/internal/pcsc/pcsctest"
	"github.com/mynumber-mdoc/mnc/internal/vpcd"
	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/applet"
	"github.com/mynumber-mdoc/mnc/jpki/card"
	"github.com/mynumber-mdoc/mnc/jpki/cardsim"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
)

const (
	pin      = "1234"
	password = "ABC123"
)

var (
	credsOnce sync.Once
	creds     *testca.Credentials
	credsErr  error
)

// testCreds issues one person's card credentials for the package.
func testCreds(t testing.TB) *testca.Credentials {
	credsOnce.Do(func() {
		creds, credsErr = testca.IssueOne(testca.Person{Name: "山田\u3000花子", BirthDate: jpki.NewBirthDate(1985, time.May, 5), Sex: jpki.SexFemale, Address: "大阪府"})
	})
	if credsErr != nil {
		t.Fatal(credsErr)
	}
	return creds
}

// cardFile writes a fresh simulated My Number Card.
func cardFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "card.json")
	if _, err := applet.Create(path, testCreds(t).AppletConfig(jpki.TokenCard, password, pin)); err != nil {
		t.Fatal(err)
	}
	return path
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// serve runs cardsim.Serve on the slot until the test ends.
func serve(t *testing.T, slot pcsctest.Slot, path string, log *slog.Logger) {
	t.Helper()
	slot.WaitEmpty(t) // pcscd has seen any earlier card go
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cardsim.Serve(ctx, path, cardsim.Options{Addr: slot.Addr, Logger: log}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	slot.WaitCard(t)
}

// reader connects to the slot's card through pcscd.
func reader(t *testing.T, slot pcsctest.Slot, opts ...pcsc.Option) *pcsc.Card {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pc, err := pcsc.Open(ctx, append([]pcsc.Option{pcsc.WithLogger(quiet())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	c, err := pc.Wait(ctx, slot.Reader)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func triesOnDisk(t *testing.T, path string) int {
	t.Helper()
	a, err := applet.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return a.Info().AuthPINTriesLeft
}

// TestReadCardOverPCSC reads the simulated card with the JPKI client
// through pcscd and the vpcd driver: token, all four certificates, and a
// signature that verifies with the auth certificate's key. The trace of
// the session never holds the PIN or password.
func TestReadCardOverPCSC(t *testing.T) {
	slot := pcsctest.Require(t)
	path := cardFile(t)
	var logBuf bytes.Buffer
	serve(t, slot, path, slog.New(slog.NewTextHandler(&logBuf, nil)))
	var trace bytes.Buffer
	c := card.New(apdu.Trace(reader(t, slot), &trace))
	ctx := context.Background()
	cr := testCreds(t)

	if err := c.Select(ctx); err != nil {
		t.Fatal(err)
	}
	if tok, err := c.ReadToken(ctx); err != nil || tok != jpki.TokenCard {
		t.Fatalf("token %q %v", tok, err)
	}
	for name, tc := range map[string]struct {
		read func(context.Context) ([]byte, error)
		want []byte
	}{
		"auth":    {c.ReadAuthCertificate, cr.AuthCert.Raw},
		"auth CA": {c.ReadAuthCACertificate, cr.AuthCACert.Raw},
		"sign CA": {c.ReadSignCACertificate, cr.SignCACert.Raw},
	} {
		got, err := tc.read(ctx)
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Fatalf("%s certificate: %d bytes, %v", name, len(got), err)
		}
	}
	if _, err := c.ReadSignCertificate(ctx); !errors.Is(err, card.ErrSecurityStatus) {
		t.Fatalf("signature certificate without the password: %v", err)
	}
	if err := c.VerifySignPassword(ctx, strings.ToLower(password)); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ReadSignCertificate(ctx); err != nil || !bytes.Equal(got, cr.SignCert.Raw) {
		t.Fatalf("signature certificate: %d bytes, %v", len(got), err)
	}
	nonce := []byte("challenge from the verifier")
	before, start := strings.Count(trace.String(), "\n> "), time.Now()
	certDER, sig, err := c.Authenticate(ctx, pin, nonce)
	t.Logf("user authentication over pcscd+vpcd: %d APDUs in %v", strings.Count(trace.String(), "\n> ")-before, time.Since(start).Round(time.Microsecond))
	if err != nil || !bytes.Equal(certDER, cr.AuthCert.Raw) {
		t.Fatalf("Authenticate: %v", err)
	}
	digest := sha256.Sum256(nonce)
	if err := rsa.VerifyPKCS1v15(cr.AuthCert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig); err != nil {
		t.Fatalf("card signature does not verify: %v", err)
	}
	for _, secret := range []string{"31323334", "414243313233"} { // "1234", "ABC123"
		if strings.Contains(trace.String(), secret) {
			t.Fatalf("trace holds a secret:\n%s", trace.String())
		}
	}
	if !strings.Contains(trace.String(), "> 0020008004********\n< 9000\n") {
		t.Fatalf("trace lacks the masked VERIFY:\n%s", trace.String())
	}
	if !strings.Contains(logBuf.String(), "PIN verified") || strings.Contains(logBuf.String(), pin) {
		t.Fatalf("card log:\n%s", logBuf.String())
	}
}

// TestWrongPINAndBlocked spends the auth PIN's three tries through the
// reader: each wrong VERIFY reports the tries left (63Cx) and is written
// back to the card file before the answer; the blocked PIN answers 6983
// even to the right value, and the client error says blocked.
func TestWrongPINAndBlocked(t *testing.T) {
	slot := pcsctest.Require(t)
	path := cardFile(t)
	serve(t, slot, path, quiet())
	c := card.New(reader(t, slot))
	ctx := context.Background()
	if err := c.Select(ctx); err != nil {
		t.Fatal(err)
	}
	for want := jpki.AuthPINTries - 1; want > 0; want-- {
		err := c.VerifyAuthPIN(ctx, "9999")
		if n, ok := card.TriesLeft(err); !errors.Is(err, card.ErrWrongPIN) || !ok || n != want {
			t.Fatalf("wrong PIN: %v (tries %d %v), want %d left", err, n, ok, want)
		}
		if got := triesOnDisk(t, path); got != want {
			t.Fatalf("card file says %d tries left, want %d", got, want)
		}
		if n, err := c.TriesLeft(ctx, card.KeyAuth); err != nil || n != want {
			t.Fatalf("TriesLeft = %d %v", n, err)
		}
	}
	err := c.VerifyAuthPIN(ctx, "9999") // last try: 63C0
	if !errors.Is(err, card.ErrLocked) {
		t.Fatalf("last wrong PIN: %v", err)
	}
	err = c.VerifyAuthPIN(ctx, pin)
	var ce *card.Error
	if !errors.As(err, &ce) || ce.Code != card.CodeLocked || ce.SW != apdu.SWAuthMethodBlocked || !strings.Contains(err.Error(), "blocked") {
		t.Fatalf("right PIN on a blocked card: %v", err)
	}
	if got := triesOnDisk(t, path); got != 0 {
		t.Fatalf("card file says %d tries left after blocking", got)
	}
}

// remover removes the card (closes its vpcd connection) when the card is
// asked for the nth READ BINARY, before answering it.
type remover struct {
	vpcd.Card
	n     int32
	reads atomic.Int32
	conn  atomic.Pointer[vpcd.Conn]
}

func (r *remover) Process(cmd []byte) []byte {
	if len(cmd) >= 2 && cmd[1] == 0xB0 && r.reads.Add(1) == r.n {
		if c := r.conn.Load(); c != nil {
			c.Close()
		}
	}
	return r.Card.Process(cmd)
}

// TestCardRemovedMidSession pulls the card in the middle of reading a
// certificate: the client gets ErrCardRemoved (as a transport error) and
// no partial certificate.
func TestCardRemovedMidSession(t *testing.T) {
	slot := pcsctest.Require(t)
	a, err := applet.Open(cardFile(t))
	if err != nil {
		t.Fatal(err)
	}
	vc, err := cardsim.NewCard(a, quiet())
	if err != nil {
		t.Fatal(err)
	}
	rm := &remover{Card: vc, n: 3} // header read, first chunk, then gone
	rm.conn.Store(slot.Insert(t, rm))
	c := card.New(reader(t, slot))
	ctx := context.Background()
	if err := c.Select(ctx); err != nil {
		t.Fatal(err)
	}
	der, err := c.ReadAuthCertificate(ctx)
	if der != nil {
		t.Fatalf("partial certificate of %d bytes returned", len(der))
	}
	if !errors.Is(err, pcsc.ErrCardRemoved) || !errors.Is(err, card.ErrTransport) {
		t.Fatalf("err = %v, want card removed", err)
	}
	if got := rm.reads.Load(); got != 3 {
		t.Fatalf("%d READ BINARY reached the card", got)
	}
	// The session stays over.
	if _, err := c.ReadToken(ctx); !errors.Is(err, pcsc.ErrCardRemoved) {
		t.Fatalf("after removal: %v", err)
	}
}

// TestShortLengthReader runs a whole user authentication through a reader
// limited to short APDUs: the JPKI client never needs extended length.
func TestShortLengthReader(t *testing.T) {
	slot := pcsctest.Require(t)
	serve(t, slot, cardFile(t), quiet())
	r := reader(t, slot, pcsc.WithLimits(pcsc.Short))
	if !r.Limits().Short() {
		t.Fatalf("limits %+v", r.Limits())
	}
	if _, _, err := card.New(r).Authenticate(context.Background(), pin, []byte("nonce")); err != nil {
		t.Fatal(err)
	}
}

// TestServeNoDriver names the missing driver.
func TestServeNoDriver(t *testing.T) {
	err := cardsim.Serve(context.Background(), cardFile(t), cardsim.Options{Addr: "127.0.0.1:1", Logger: quiet()})
	if !errors.Is(err, vpcd.ErrNoDriver) || !strings.Contains(err.Error(), "vsmartcard-vpcd") {
		t.Fatalf("err = %v", err)
	}
	if err := cardsim.Serve(context.Background(), filepath.Join(t.TempDir(), "none.json"), cardsim.Options{Logger: quiet()}); err == nil {
		t.Fatal("missing card file served")
	}
}
