package e2e

// mdoc over NFC between the real wallet simulator (its NFCDevice answering
// APDUs) and the real verifier reader (reader.RunNFC), in process: the
// transport is a function call, so these tests pin the ISO/IEC 18013-5
// protocol (Type 4 Tag engagement, ENVELOPE chaining, GET RESPONSE) and
// the element rules independently of PC/SC. The same pair over pcscd and
// vpcd runs in nfc_pcsc_test.go.

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"

	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/blesim"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/reader"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
	"github.com/mynumber-mdoc/mnc/verifier/verifiertest"
	walletsim "github.com/mynumber-mdoc/mnc/wallet-sim"
	"github.com/mynumber-mdoc/mnc/wallet-sim/se"
)

// nfcWorld is an issuer, two readers (a clinic with the medical role, a
// shop without) and an android wallet holding both documents.
type nfcWorld struct {
	issuer       *verifiertest.Issuer
	clinic, shop *trust.ReaderCredentials
	wallet       *walletsim.Wallet
}

func newNFCWorld(t testing.TB) *nfcWorld {
	t.Helper()
	is, err := verifiertest.NewIssuer("nfc")
	if err != nil {
		t.Fatal(err)
	}
	clinicRd, err := verifiertest.NewReader(mdoc.ReaderRoles{MedicalInstitution: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	shopRd, err := verifiertest.NewReader(mdoc.ReaderRoles{}, "")
	if err != nil {
		t.Fatal(err)
	}
	w := &nfcWorld{issuer: is}
	if w.clinic, err = trust.NewReaderCredentials([]*x509.Certificate{clinicRd.Cert}, clinicRd.Key); err != nil {
		t.Fatal(err)
	}
	if w.shop, err = trust.NewReaderCredentials([]*x509.Certificate{shopRd.Cert}, shopRd.Key); err != nil {
		t.Fatal(err)
	}
	w.wallet, err = walletsim.Init(t.TempDir(), walletsim.Profile{Platform: walletsim.PlatformAndroid, Model: "TestPhone 1"}, "123456",
		walletsim.Options{Now: func() time.Time { return verifiertest.Now }, Authenticator: walletsim.StaticAuth{Biometric: se.BiometricMatch}, Radio: blesim.Radio{Dir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ca := range []*x509.Certificate{clinicRd.CA, shopRd.CA} {
		if err := w.wallet.TrustReaderRoots(ca); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.wallet.TrustIACA(is.IACA); err != nil {
		t.Fatal(err)
	}
	now := verifiertest.Now
	today := now.Year()
	// One device key for both documents, as the issuer binds them to the
	// enrolment's key (the insurance policy checks they match).
	k, err := w.wallet.NewDeviceKey(mdoc.DocTypeMNC)
	if err != nil {
		t.Fatal(err)
	}
	for docType, els := range map[string]map[string][]mdoc.Element{
		mdoc.DocTypeMNC: verifiertest.MNCElements(mdoc.FullDate{Year: 1990, Month: 4, Day: 1}, map[int]bool{18: true, 20: true}),
		mdoc.DocTypeHIC: verifiertest.HICElements(mdoc.FullDate{Year: 2020, Month: 4, Day: 1}, mdoc.FullDate{Year: today + 1, Month: 3, Day: 31}),
	} {
		doc, err := mdoc.Issue(mdoc.IssueOptions{
			DocType: docType, NameSpaces: els, DeviceKey: k.Public,
			Signed: now.Add(-time.Minute), ValidFrom: now.Add(-time.Minute), ValidUntil: now.Add(30 * 24 * time.Hour),
			Signer: is.DSKey, Chain: [][]byte{is.DS.Raw},
		})
		if err != nil {
			t.Fatal(err)
		}
		b, err := doc.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.wallet.AddCredential(k.ID, b, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// quiet discards the components' logs.
var quiet = slog.New(slog.DiscardHandler)

// direct is the in-process "air": every command APDU goes straight to the
// phone, counted.
type direct struct {
	d              *walletsim.NFCDevice
	exchanges      int
	bytesOut, back int
	// tamper, when set, may rewrite a response.
	tamper func(cmd, resp []byte) []byte
}

func (x *direct) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	x.exchanges++
	x.bytesOut += len(cmd)
	resp := x.d.Process(cmd)
	if x.tamper != nil {
		resp = x.tamper(cmd, resp)
	}
	x.back += len(resp)
	return resp, nil
}

var (
	nfcAgeItems       = []mdoc.ItemsRequest{verifier.Items(mdoc.DocTypeMNC, map[string][]string{mdoc.NameSpaceISO23220: {"age_over_20"}})}
	nfcInsuranceItems = []mdoc.ItemsRequest{
		verifier.Items(mdoc.DocTypeHIC, map[string][]string{mdoc.NameSpaceHIC: {"insurer_number", "insured_card_symbol", "insured_number", "insured_branch_number",
			"insured_relationship", "qualification_valid_from", "qualification_valid_until", "copayment_ratio"}}),
		verifier.Items(mdoc.DocTypeMNC, map[string][]string{mdoc.NameSpaceISO23220: {"family_name", "given_name", "birth_date"}}),
	}
)

func (w *nfcWorld) tap(t *testing.T, mac bool, creds *trust.ReaderCredentials, items []mdoc.ItemsRequest, lim reader.Limits, tamper func(cmd, resp []byte) []byte) (*reader.Outcome, *direct, *walletsim.SessionResult, error, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dev, err := w.wallet.StartNFC(ctx, walletsim.NFCOptions{Consent: walletsim.Rules{ApproveAll: true}, MAC: mac})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	air := &direct{d: dev, tamper: tamper}
	out, rerr := reader.RunNFC(ctx, air, items, reader.NFCConfig{
		Config: reader.Config{Credentials: creds, Logger: quiet, Verify: verifier.Options{Trust: trust.NewIACAsFromCertificates([]*x509.Certificate{w.issuer.IACA}), SkipStatus: true, CurrentTime: verifiertest.Now}},
		Limits: lim,
	})
	dev.Remove()
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	res, werr := dev.Wait(wctx)
	return out, air, res, rerr, werr
}

func TestNFCInsuranceAndAgeTaps(t *testing.T) {
	w := newNFCWorld(t)
	for _, tc := range []struct {
		name  string
		mac   bool
		creds *trust.ReaderCredentials
		items []mdoc.ItemsRequest
		lim   reader.Limits
		docs  int
		// maxExchanges after engagement (SELECT mdoc AID onwards)
	}{
		{"clinic insurance, deviceMac, extended", true, w.clinic, nfcInsuranceItems, reader.ExtendedLimits, 2},
		{"clinic insurance, deviceMac, short APDUs", true, w.clinic, nfcInsuranceItems, reader.ShortLimits, 2},
		{"shop age, deviceSignature, extended", false, w.shop, nfcAgeItems, reader.ExtendedLimits, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, air, res, err, werr := w.tap(t, tc.mac, tc.creds, tc.items, tc.lim, nil)
			if err != nil {
				t.Fatalf("reader: %v", err)
			}
			if werr != nil {
				t.Fatalf("wallet: %v", werr)
			}
			if !out.Result.Valid || len(out.Result.Documents) != tc.docs {
				t.Fatalf("verdict %v codes %v docs %d", out.Result.Valid, out.Result.Codes(), len(out.Result.Documents))
			}
			wantMethod := "signature"
			if tc.mac {
				wantMethod = "mac"
			}
			for _, d := range out.Result.Documents {
				if d.DeviceAuthMethod != wantMethod {
					t.Fatalf("%s: device auth %q, want %q", d.DocType, d.DeviceAuthMethod, wantMethod)
				}
			}
			if res.EndedBy != "reader_status_20" || len(res.Presentations) != 1 {
				t.Fatalf("wallet session ended by %q with %d presentations", res.EndedBy, len(res.Presentations))
			}
			// The transcript's handover is the NFC one: [HandoverSelect, null].
			var st []any
			if err := mdoc.Unmarshal(out.SessionTranscript.Raw, &st); err != nil || len(st) != 3 {
				t.Fatalf("transcript: %v", err)
			}
			ho, ok := st[2].([]any)
			if !ok || len(ho) != 2 || ho[1] != nil {
				t.Fatalf("handover %#v", st[2])
			}
			if tc.lim == reader.ShortLimits && air.exchanges < 20 {
				t.Fatalf("short APDUs: only %d exchanges, chaining not exercised", air.exchanges)
			}
			t.Logf("%s: %d exchanges, %d bytes out, %d bytes back", tc.name, air.exchanges, air.bytesOut, air.back)
		})
	}
}

func TestNFCShopGetsNoInsurance(t *testing.T) {
	w := newNFCWorld(t)
	out, _, res, err, _ := w.tap(t, false, w.shop, nfcInsuranceItems[:1], reader.ExtendedLimits, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.Result.Valid || !contains(out.Result.Codes(), string(mdoc.CodeElementNotReturned)) {
		t.Fatalf("shop reader: %v %v", out.Result.Valid, out.Result.Codes())
	}
	if len(res.Presentations) != 1 || len(res.Presentations[0].Documents) == 0 || res.Presentations[0].Documents[0].Withheld == nil {
		t.Fatalf("wallet history %+v", res.Presentations)
	}
}

func TestNFCWithoutReaderAuthRefused(t *testing.T) {
	w := newNFCWorld(t)
	out, _, res, err, werr := w.tap(t, false, nil, nfcInsuranceItems, reader.ExtendedLimits, nil)
	if err != nil || werr != nil {
		t.Fatalf("reader %v, wallet %v", err, werr)
	}
	// The wallet answers a DeviceResponse with status 10 and no documents
	// (ISO/IEC 18013-5:2021 §8.3.2.1.2.3), and releases nothing.
	if out.Result.Valid || len(out.Result.Documents) != 0 {
		t.Fatalf("an unauthenticated reader got documents: %v", out.Result.Codes())
	}
	h := res.Presentations[0]
	if h.Outcome != "refused" || h.Code != string(walletsim.CodeReaderAuthInvalid) {
		t.Fatalf("wallet history %+v", h)
	}
}

func TestNFCTamperedResponseFailsClosed(t *testing.T) {
	w := newNFCWorld(t)
	flip := func(cmd, resp []byte) []byte {
		// Corrupt the ciphertext in the first answer to the last ENVELOPE.
		if len(cmd) > 1 && cmd[1] == mdoc.InsEnvelope && cmd[0] == 0 && len(resp) > 40 {
			resp[len(resp)-10] ^= 0x01
		}
		return resp
	}
	_, _, _, err, _ := w.tap(t, false, w.shop, nfcAgeItems, reader.ExtendedLimits, flip)
	if err == nil {
		t.Fatal("tampered response accepted")
	}
	if c := mdoc.CodeOf(err); c != mdoc.CodeSessionEncryption && c != mdoc.CodeMalformed {
		t.Fatalf("tampered: %v", err)
	}
}

func TestNFCNotAnMdocDevice(t *testing.T) {
	refuse := transmitFunc(func(_ context.Context, cmd []byte) ([]byte, error) { return []byte{0x6A, 0x82}, nil })
	_, err := reader.RunNFC(context.Background(), refuse, nfcAgeItems, reader.NFCConfig{})
	if mdoc.CodeOf(err) != mdoc.CodeNotMdocDevice {
		t.Fatalf("got %v", err)
	}
	removed := transmitFunc(func(context.Context, []byte) ([]byte, error) { return nil, errors.New("card removed") })
	if _, err := reader.RunNFC(context.Background(), removed, nfcAgeItems, reader.NFCConfig{}); err == nil {
		t.Fatal("removed device gave a verdict")
	}
}

type transmitFunc func(context.Context, []byte) ([]byte, error)

func (f transmitFunc) Transmit(ctx context.Context, cmd []byte) ([]byte, error) { return f(ctx, cmd) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestNFCNegotiatedHandover: a phone that asks for negotiated handover
// (TNEP) gets the reader's Handover Request written into its tag and
// answers with its Handover Select; both are in the transcript, so the
// presentation verifies only if both sides saw the same bytes.
func TestNFCNegotiatedHandover(t *testing.T) {
	w := newNFCWorld(t)
	for _, lim := range []reader.Limits{reader.ExtendedLimits, reader.ShortLimits} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		dev, err := w.wallet.StartNFC(ctx, walletsim.NFCOptions{Consent: walletsim.Rules{ApproveAll: true}, Negotiated: true, MAC: true})
		if err != nil {
			t.Fatal(err)
		}
		air := &direct{d: dev}
		out, err := reader.RunNFC(ctx, air, nfcInsuranceItems, reader.NFCConfig{Limits: lim, Config: reader.Config{Credentials: w.clinic, Logger: quiet,
			Verify: verifier.Options{Trust: trust.NewIACAsFromCertificates([]*x509.Certificate{w.issuer.IACA}), SkipStatus: true, CurrentTime: verifiertest.Now}}})
		if err != nil || !out.Result.Valid {
			t.Fatalf("negotiated tap (%+v): %v %v", lim, err, out)
		}
		var st []any
		if err := mdoc.Unmarshal(out.SessionTranscript.Raw, &st); err != nil {
			t.Fatal(err)
		}
		ho := st[2].([]any)
		hr, ok := ho[1].([]byte)
		if !ok || len(hr) == 0 {
			t.Fatalf("handover %#v lacks the Handover Request", ho)
		}
		if _, err := mdoc.ParseHandoverRequest(hr); err != nil {
			t.Fatalf("transcript's handover request: %v", err)
		}
		if res, err := dev.Wait(ctx); err != nil || res.EndedBy != "reader_status_20" {
			t.Fatalf("phone: %+v %v", res, err)
		}
		dev.Close()
		cancel()
	}
	// A Handover Request before the service is selected is refused with a
	// protocol-error status (the phone stays where it was).
	dev, _ := w.wallet.StartNFC(context.Background(), walletsim.NFCOptions{Consent: walletsim.Rules{ApproveAll: true}, Negotiated: true})
	defer dev.Close()
	sel := &direct{d: dev}
	if _, err := reader.SelectApplication(context.Background(), sel, []byte(mdoc.NDEFApplicationAID)); err != nil {
		t.Fatal(err)
	}
	hr, _ := mdoc.NewHandoverRequest(1, mdoc.NFCCarrier(mdoc.NFCOptions{MaxCommandDataLength: 255, MaxResponseDataLength: 256}))
	dev.Process([]byte{0x00, 0xA4, 0x00, 0x0C, 0x02, 0xE1, 0x04})
	cmd := append([]byte{0x00, 0xD6, 0x00, 0x02, byte(len(hr))}, hr...)
	dev.Process(cmd)
	if r := dev.Process([]byte{0x00, 0xD6, 0x00, 0x00, 0x02, 0x00, byte(len(hr))}); r[0] != 0x90 {
		t.Fatalf("NLEN write: % X", r)
	}
	nd := dev.Process([]byte{0x00, 0xB0, 0x00, 0x00, 0x10})
	if tn, err := mdoc.ParseTNEP(nd[2 : 2+int(nd[1])]); err != nil || tn.Status == nil || *tn.Status != mdoc.TNEPStatusProtocolError {
		t.Fatalf("Hr before service select: % X %v", nd, err)
	}
}
