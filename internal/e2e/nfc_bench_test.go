package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/pcsc"
	"github.com/mynumber-mdoc/mnc/internal/pcsc/pcsctest"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/counter"
	"github.com/mynumber-mdoc/mnc/verifier/reader"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
	"github.com/mynumber-mdoc/mnc/verifier/verifiertest"
	walletsim "github.com/mynumber-mdoc/mnc/wallet-sim"
)

// BenchmarkNFCTap measures one tap end to end in process (wallet and
// reader code, no radio): APDU exchanges and bytes per tap, the
// exchanges after the engagement, and the tap time on a 424 kbit/s ISO/IEC
// 14443 link as modelled by reader.DefaultAirModel (air time from the
// bytes plus the device time measured here). p256_verify_us is the raw
// crypto of the same run, for ratios.
func BenchmarkNFCTap(b *testing.B) {
	for _, tc := range []struct {
		name string
		mac  bool
		lim  reader.Limits
		ins  bool
	}{
		{"age-signature-extended", false, reader.ExtendedLimits, false},
		{"insurance-mac-extended", true, reader.ExtendedLimits, true},
		{"insurance-mac-short", true, reader.ShortLimits, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			w := newNFCWorld(b)
			creds, items := w.shop, nfcAgeItems
			if tc.ins {
				creds, items = w.clinic, nfcInsuranceItems
			}
			var last *reader.Meter
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				dev, err := w.wallet.StartNFC(ctx, walletsim.NFCOptions{Consent: walletsim.Rules{ApproveAll: true}, MAC: tc.mac})
				if err != nil {
					b.Fatal(err)
				}
				m := &reader.Meter{T: &direct{d: dev}}
				out, err := reader.RunNFC(ctx, m, items, reader.NFCConfig{Limits: tc.lim, Config: reader.Config{Credentials: creds, Logger: quiet,
					Verify: verifier.Options{Trust: trust.NewIACAsFromCertificates([]*x509.Certificate{w.issuer.IACA}), SkipStatus: true, CurrentTime: verifiertest.Now, Logger: quiet}}})
				if err != nil || !out.Result.Valid {
					b.Fatalf("tap: %v", err)
				}
				dev.Close()
				last = m
			}
			b.StopTimer()
			reportTap(b, last)
		})
	}
	b.Run("jpki-login-card", func(b *testing.B) {
		tr, v := newCardTransport(b)
		var last *reader.Meter
		for i := 0; i < b.N; i++ {
			m := &reader.Meter{T: tr}
			got, err := counter.Tap(context.Background(), m, counter.Config{Mode: counter.KindJPKI, JPKI: v, PIN: pinOf("1234"), Logger: quiet})
			if err != nil || !got.OK {
				b.Fatalf("%+v %v", got, err)
			}
			last = m
		}
		b.StopTimer()
		reportTap(b, last)
	})
}

func reportTap(b *testing.B, m *reader.Meter) {
	n, out, back, _ := m.Totals()
	b.ReportMetric(float64(n), "apdus/tap")
	b.ReportMetric(float64(out+back), "bytes/tap")
	if after := m.Since([]byte(mdoc.MdocDataTransferAID)); after != nil {
		b.ReportMetric(float64(len(after)), "apdus_after_engagement")
	}
	b.ReportMetric(float64(reader.DefaultAirModel.Time(m.Exchanges))/float64(time.Millisecond), "model_424k_ms")
	b.ReportMetric(p256VerifyMicros(), "p256_verify_us")
}

func p256VerifyMicros() float64 {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	h := sha256.Sum256([]byte("x"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, h[:])
	const n = 200
	start := time.Now()
	for i := 0; i < n; i++ {
		ecdsa.VerifyASN1(&k.PublicKey, h[:], sig)
	}
	return float64(time.Since(start).Microseconds()) / n
}

// swapCard is one virtual card slot whose phone is replaced between taps,
// so that a benchmark taps many times through one PC/SC connection
// without waiting for pcscd's insertion polling.
type swapCard struct {
	cur atomic.Pointer[walletsim.NFCDevice]
}

func (s *swapCard) ATR() []byte               { return s.cur.Load().ATR() }
func (s *swapCard) Process(cmd []byte) []byte { return s.cur.Load().Process(cmd) }
func (s *swapCard) Reset()                    { s.cur.Load().Reset() }

// BenchmarkNFCTapPCSC is BenchmarkNFCTap's age and insurance taps over the
// real stack (pcscd, the vpcd driver, loopback TCP): the measured loopback
// time per tap, beside the same air-time model.
func BenchmarkNFCTapPCSC(b *testing.B) {
	slot := pcsctest.Require(b)
	w := newNFCWorld(b)
	ctx := context.Background()
	sc := &swapCard{}
	first, err := w.wallet.StartNFC(ctx, walletsim.NFCOptions{Consent: walletsim.Rules{ApproveAll: true}})
	if err != nil {
		b.Fatal(err)
	}
	sc.cur.Store(first)
	slot.Insert(b, sc)
	pc, err := pcsc.Open(ctx, pcsc.WithLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	defer pc.Close()
	c, err := pc.Wait(ctx, slot.Reader)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		name string
		mac  bool
		ins  bool
	}{{"age-signature", false, false}, {"insurance-mac", true, true}} {
		b.Run(tc.name, func(b *testing.B) {
			creds, items := w.shop, nfcAgeItems
			if tc.ins {
				creds, items = w.clinic, nfcInsuranceItems
			}
			var last *reader.Meter
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dev, err := w.wallet.StartNFC(ctx, walletsim.NFCOptions{Consent: walletsim.Rules{ApproveAll: true}, MAC: tc.mac})
				if err != nil {
					b.Fatal(err)
				}
				sc.cur.Store(dev)
				b.StartTimer()
				m := &reader.Meter{T: c}
				out, err := reader.RunNFC(ctx, m, items, reader.NFCConfig{Config: reader.Config{Credentials: creds, Logger: quiet,
					Verify: verifier.Options{Trust: trust.NewIACAsFromCertificates([]*x509.Certificate{w.issuer.IACA}), SkipStatus: true, CurrentTime: verifiertest.Now, Logger: quiet}}})
				if err != nil || !out.Result.Valid {
					b.Fatalf("tap: %v", err)
				}
				last = m
			}
			b.StopTimer()
			reportTap(b, last)
		})
	}
}
