package e2e

// The counter over the real PC/SC stack: pcscd with the vsmartcard vpcd
// driver, the phone (wallet NFCDevice) and the My Number Card (JPKI
// applet) each inserted as a virtual card through internal/vpcd, the
// counter reading through internal/pcsc. Skipped with a loud message
// where the stack is missing, failed when CI=true.

import (
	"bytes"
	"context"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/apdu"
	"github.com/mynumber-mdoc/mnc/internal/pcsc"
	"github.com/mynumber-mdoc/mnc/internal/pcsc/pcsctest"
	"github.com/mynumber-mdoc/mnc/jpki/cardsim"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/counter"
	"github.com/mynumber-mdoc/mnc/verifier/reader"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
	"github.com/mynumber-mdoc/mnc/verifier/verifiertest"
	walletsim "github.com/mynumber-mdoc/mnc/wallet-sim"
)

// cardOn waits for the inserted virtual card on slot's reader.
func cardOn(t *testing.T, slot pcsctest.Slot) *pcsc.Card {
	t.Helper()
	pc, err := pcsc.Open(context.Background(), pcsc.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pc.Wait(ctx, slot.Reader)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestPCSCPhoneInsuranceTap(t *testing.T) {
	slot := pcsctest.Require(t)
	w := newNFCWorld(t)
	ctx := context.Background()
	dev, err := w.wallet.StartNFC(ctx, walletsim.NFCOptions{Consent: walletsim.Rules{ApproveAll: true}, MAC: true})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	slot.Insert(t, dev)
	c := cardOn(t, slot)
	var trace bytes.Buffer
	tr := apdu.Trace(c, &trace)
	got, err := counter.Tap(ctx, tr, counter.Config{Check: counter.CheckInsurance, Now: func() time.Time { return verifiertest.Now }, Logger: quiet,
		Reader: reader.NFCConfig{Limits: readerLimits(c), Config: reader.Config{Credentials: w.clinic, Logger: quiet,
			Verify: verifier.Options{Trust: trust.NewIACAsFromCertificates([]*x509.Certificate{w.issuer.IACA}), SkipStatus: true, CurrentTime: verifiertest.Now, Logger: quiet}}}})
	if err != nil || !got.OK || got.Kind != counter.KindMdoc {
		t.Fatalf("tap over PC/SC: %+v %v\n%s", got, err, trace.String())
	}
	// The trace shows the standard AIDs and the ENVELOPE exchanges.
	for _, want := range []string{"> 00A4040007D2760000850101", "> 00A4040007A0000002480400", "> 00C3", "> 10C3"} {
		if want == "> 10C3" && readerLimits(c).MaxCommandData > 0x1000 {
			continue // one ENVELOPE carries the whole request with extended length
		}
		if !strings.Contains(trace.String(), want) {
			t.Errorf("trace lacks %q:\n%s", want, trace.String())
		}
	}
	res, err := dev.Wait(ctx)
	if err != nil || res.EndedBy != "reader_status_20" {
		t.Fatalf("phone: %+v %v", res, err)
	}
}

func readerLimits(c *pcsc.Card) reader.Limits {
	l := c.Limits()
	return reader.Limits{MaxCommandData: l.MaxCommandData, MaxResponseData: l.MaxResponseData}
}

func TestPCSCCardPINAndRemoval(t *testing.T) {
	slot := pcsctest.Require(t)
	ap, v := newCardApplet(t)
	sim, err := cardsim.NewCard(ap, quiet)
	if err != nil {
		t.Fatal(err)
	}
	conn := slot.Insert(t, sim)
	c := cardOn(t, slot)
	var trace bytes.Buffer
	ctx := context.Background()
	got, err := counter.Tap(ctx, apdu.Trace(c, &trace), counter.Config{JPKI: v, PIN: pinOf("0000"), Logger: quiet})
	if err != nil || got.Code != counter.CodeWrongPIN || got.JPKI.TriesLeft != 2 {
		t.Fatalf("wrong PIN over PC/SC: %+v %v", got, err)
	}
	if !strings.Contains(trace.String(), "> 0020008004********") {
		t.Fatalf("PIN not masked in the trace:\n%s", trace.String())
	}
	// Removed mid-session: a clean error, no verdict.
	conn.Close()
	if got, err := counter.Tap(ctx, c, counter.Config{JPKI: v, PIN: pinOf("1234"), Logger: quiet}); err == nil || counter.CodeOf(err) != counter.CodeRemoved {
		t.Fatalf("after removal: %+v %v", got, err)
	}
}
