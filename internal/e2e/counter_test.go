package e2e

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/applet"
	"github.com/mynumber-mdoc/mnc/jpki/card"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/counter"
	"github.com/mynumber-mdoc/mnc/verifier/reader"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
	"github.com/mynumber-mdoc/mnc/verifier/verifiertest"
	walletsim "github.com/mynumber-mdoc/mnc/wallet-sim"
)

// newCardTransport is a simulated My Number Card (the JPKI applet with its
// real PIN counters) reached in process, and a verifier trusting its CA.
func newCardTransport(t testing.TB) (reader.Transmitter, *jpki.Verifier) {
	t.Helper()
	ap, v := newCardApplet(t)
	return card.InMemory(ap), v
}

// newCardApplet is the card's applet itself, for serving it through vpcd.
func newCardApplet(t testing.TB) (*applet.Card, *jpki.Verifier) {
	t.Helper()
	ca, err := testca.New(testca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := ca.IssueCard(testca.Person{Name: "山田　花子", BirthDate: jpki.NewBirthDate(1990, time.July, 15), Sex: jpki.SexFemale, Address: "東京都千代田区千代田1-1"}, testca.IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ap, err := applet.New(creds.AppletConfig(jpki.TokenCard, "PASS1234", "1234"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := ca.PublishCRLs(dir, time.Now(), 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	return ap, &jpki.Verifier{Roots: ca.TrustRoots(), Mode: jpki.ModeTest, Revocation: &jpki.CRLChecker{Source: jpki.CRLDir(dir)}}
}

func pinOf(pin string) counter.PINSource {
	return func(context.Context, int) (string, error) { return pin, nil }
}

func TestCounterCardTap(t *testing.T) {
	ctx := context.Background()
	tr, v := newCardTransport(t)
	cfg := counter.Config{Check: counter.CheckInsurance, JPKI: v, PIN: pinOf("1234")}
	got, err := counter.Tap(ctx, tr, cfg)
	if err != nil || !got.OK || got.Kind != counter.KindJPKI || got.JPKI.Token != string(jpki.TokenCard) {
		t.Fatalf("card tap: %+v %v", got, err)
	}
	if got.Result.Documents[0].Elements["jp.jpki"]["form"] != "card" {
		t.Fatalf("elements %v", got.Result.Documents[0].Elements)
	}
	// Wrong PINs count down exactly, then the card is blocked and refused
	// without a PIN being sent.
	cfg.PIN = pinOf("9999")
	for want := 2; want >= 0; want-- {
		got, err := counter.Tap(ctx, tr, cfg)
		code := counter.CodeWrongPIN
		if want == 0 {
			code = counter.CodePINLocked
		}
		if err != nil || got.OK || got.Code != code || got.JPKI.TriesLeft != want {
			t.Fatalf("wrong PIN (%d left): %+v %v", want, got, err)
		}
	}
	asked := false
	cfg.PIN = func(context.Context, int) (string, error) { asked = true; return "1234", nil }
	got, err = counter.Tap(ctx, tr, cfg)
	if err != nil || got.OK || got.Code != counter.CodePINLocked || asked {
		t.Fatalf("blocked card: %+v %v (PIN asked: %v)", got, err, asked)
	}
}

func TestCounterPhoneTaps(t *testing.T) {
	w := newNFCWorld(t)
	ctx := context.Background()
	for _, tc := range []struct {
		check string
		creds *trust.ReaderCredentials
		mac   bool
	}{{counter.CheckInsurance, w.clinic, true}, {counter.CheckAge, w.shop, false}} {
		dev, err := w.wallet.StartNFC(ctx, walletsim.NFCOptions{Consent: walletsim.Rules{ApproveAll: true}, MAC: tc.mac})
		if err != nil {
			t.Fatal(err)
		}
		cfg := counter.Config{Check: tc.check, Now: func() time.Time { return verifiertest.Now }, Reader: reader.NFCConfig{Config: reader.Config{
			Credentials: tc.creds, Verify: verifier.Options{Trust: trust.NewIACAsFromCertificates([]*x509.Certificate{w.issuer.IACA}), SkipStatus: true, CurrentTime: verifiertest.Now},
		}}}
		got, err := counter.Tap(ctx, &direct{d: dev}, cfg)
		if err != nil || !got.OK || got.Kind != counter.KindMdoc {
			t.Fatalf("%s: %+v %v", tc.check, got, err)
		}
		dev.Close()
	}
}

func TestCounterUnknownDevice(t *testing.T) {
	refuse := transmitFunc(func(context.Context, []byte) ([]byte, error) { return []byte{0x6A, 0x82}, nil })
	got, err := counter.Tap(context.Background(), refuse, counter.Config{})
	if err != nil || got.OK || got.Code != counter.CodeNotSupported {
		t.Fatalf("%+v %v", got, err)
	}
	gone := transmitFunc(func(context.Context, []byte) ([]byte, error) { return nil, card.ErrTransport })
	if _, err := counter.Tap(context.Background(), gone, counter.Config{}); counter.CodeOf(err) != counter.CodeRemoved {
		t.Fatalf("removed: %v", err)
	}
	_ = rand.Reader
}
