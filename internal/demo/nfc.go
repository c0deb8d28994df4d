package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/apdu"
	"github.com/mynumber-mdoc/mnc/internal/pcsc"
	"github.com/mynumber-mdoc/mnc/internal/vpcd"
	"github.com/mynumber-mdoc/mnc/jpki/applet"
	"github.com/mynumber-mdoc/mnc/jpki/cardsim"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/counter"
	"github.com/mynumber-mdoc/mnc/verifier/reader"
	walletsim "github.com/mynumber-mdoc/mnc/wallet-sim"
)

// nfcStory is the counter story over PC/SC (mdoc-demo --nfc): the same
// world (steps 1 and 2), then taps on a reader driven through pcscd, the
// phone and the card each inserted as a virtual card by the vpcd driver.
var nfcStory = []storyStep{
	story[0],
	story[1],
	{"The holder registers her card for health-insurance use (マイナ保険証): the card proves both of its keys", (*env).nfcRegister},
	{"Clinic: the phone taps the reader — NFC engagement and data retrieval over PC/SC, insurance and identity, deviceMac", (*env).nfcClinicPhone},
	{"Clinic: the My Number Card taps with its PIN — user authentication, chain + CRL, online qualification confirmation", (*env).nfcClinicCard},
	{"Clinic: the phone's JPKI applet answers the same reader (the Android smartphone JPKI path)", (*env).nfcClinicPhoneJPKI},
	{"Wrong PINs show the tries left; the blocked card is then refused", (*env).nfcBlocked},
	{"Shop: the phone taps for age_over_20 — negotiated handover, deviceSignature, nothing else released", (*env).nfcShop},
}

// tapPause separates two taps on the virtual reader (one and a half of
// pcscd's polls of the vpcd driver).
const tapPause = 600 * time.Millisecond

// NFC artefact files beside the presentation's.
const (
	FileAPDUTrace   = "apdu-trace.txt"
	FileTapExpected = "expected-tap.json"
)

// TapExpected is expected-tap.json: the counter's verdict for a tap that
// is not an mdoc presentation (a JPKI tap), recorded with its APDU trace.
type TapExpected struct {
	Step        int    `json:"step"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Kind        string `json:"kind"`
	OK          bool   `json:"ok"`
	Code        string `json:"code"`
	TriesLeft   int    `json:"triesLeft"`
}

// nfcRig is the PC/SC side of the demo: one vpcd slot and its reader.
type nfcRig struct {
	pc     *pcsc.Context
	reader string
	addr   string
}

// openNFC connects to pcscd and finds the vpcd reader, or says clearly
// what is missing.
func (e *env) openNFC(ctx context.Context) error {
	if e.nfc != nil {
		return nil
	}
	pc, err := pcsc.Open(ctx, pcsc.WithLogger(e.log))
	if err != nil {
		return fmt.Errorf("%w\n  mdoc-demo --nfc needs pcscd with the vsmartcard vpcd driver: apt-get install -y pcscd vsmartcard-vpcd, then start pcscd as root (pcscd, or pcscd --foreground to watch it)", err)
	}
	rd := e.o.NFCReader
	readers, err := pc.Readers(ctx)
	if err != nil {
		pc.Close()
		return err
	}
	if rd == "" {
		for _, r := range readers {
			if strings.HasPrefix(r, "Virtual PCD") {
				rd = r
				break
			}
		}
	}
	if rd == "" {
		pc.Close()
		return fmt.Errorf("pcscd lists no vpcd reader (readers %q): install vsmartcard-vpcd and restart pcscd", readers)
	}
	addr := e.o.VPCDAddr
	if addr == "" {
		addr = vpcd.DefaultAddr
	}
	e.nfc = &nfcRig{pc: pc, reader: rd, addr: addr}
	e.n.info("NFC reader %q through pcscd; taps arrive as virtual cards at the vpcd driver %s", rd, addr)
	return nil
}

// tap inserts dev into the reader, runs the counter on it with an APDU
// trace, and removes it again.
func (e *env) nfcTap(ctx context.Context, dev vpcd.Card, cfg counter.Config) (*counter.Verdict, string, error) {
	if err := e.openNFC(ctx); err != nil {
		return nil, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, sessionTimeout)
	defer cancel()
	conn, err := vpcd.Dial(ctx, e.nfc.addr, vpcd.WithLogger(e.log))
	if err != nil {
		return nil, "", err
	}
	served := make(chan error, 1)
	go func() { served <- conn.Serve(ctx, dev) }()
	defer func() {
		conn.Close()
		<-served
	}()
	c, err := e.nfc.pc.Wait(ctx, e.nfc.reader)
	if err != nil {
		return nil, "", err
	}
	defer func() {
		conn.Close()
		// Wait until pcscd has seen the removal, so the next tap is not
		// mistaken for this one.
		wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = c.WaitRemoved(wctx)
		wcancel()
		c.Close()
		// pcscd polls the vpcd driver every 400 ms: a card put back
		// within the same poll as the removal is not seen as new.
		time.Sleep(tapPause)
	}()
	var trace bytes.Buffer
	cfg.Logger = e.log
	if cfg.Reader.Limits == (reader.Limits{}) {
		l := c.Limits()
		cfg.Reader.Limits = reader.Limits{MaxCommandData: l.MaxCommandData, MaxResponseData: l.MaxResponseData}
	}
	m := &reader.Meter{T: apdu.Trace(c, &trace)}
	v, err := counter.Tap(ctx, m, cfg)
	n, out, back, _ := m.Totals()
	e.n.info("tap: %d APDUs, %d bytes to the device, %d back; modelled at 424 kbit/s: %.0f ms", n, out, back,
		float64(reader.DefaultAirModel.Time(m.Exchanges))/float64(time.Millisecond))
	return v, trace.String(), err
}

// mdocCounter is the counter configuration for an mdoc check.
func (e *env) mdocCounter(check string) counter.Config {
	creds := e.shop
	if check == counter.CheckInsurance {
		creds = e.clinic
	}
	return counter.Config{Check: check, Mode: counter.KindMdoc, Reader: reader.NFCConfig{Config: reader.Config{Credentials: creds, Logger: e.log,
		Verify: verifier.Options{Trust: e.iacas, Status: e.status, Logger: e.log}}}}
}

// jpkiCounter is the clinic counter for JPKI taps: PIN source, chain and
// CRL, and the online qualification confirmation with the clinic's reader
// certificate.
func (e *env) jpkiCounter(pin string) counter.Config {
	chain := e.clinic.Chain
	return counter.Config{Mode: counter.KindJPKI, JPKI: e.jpki,
		PIN:       func(context.Context, int) (string, error) { return pin, nil },
		Qualifier: &counter.Qualifier{Client: &oid4vci.Client{BaseURL: e.issuerURL}, IssuerURL: e.issuerURL, Chain: chain, Key: e.clinic.Key}}
}

// step: the holder registers her card for insurance use, with her phone
// reading the card.
func (e *env) nfcRegister(ctx context.Context, s *Step) error {
	tr, err := walletsim.OpenCardFile(e.st.cardFile)
	if err != nil {
		return err
	}
	r, err := e.st.android.RegisterInsurance(ctx, walletsim.InsuranceOptions{IssuerURL: e.issuerURL, Card: tr, CardPassword: cardPassword, CardPIN: cardPIN})
	if err != nil {
		e.record("insurance registration", "linked, qualified", "refused: "+mdocCode(err))
		return err
	}
	e.record("insurance registration", "linked, qualified", fmt.Sprintf("%s, %s", map[bool]string{true: "linked", false: "not linked"}[r.Linked], map[bool]string{true: "qualified", false: "not qualified"}[r.Qualified]))
	return nil
}

// step: the phone taps at the clinic.
func (e *env) nfcClinicPhone(ctx context.Context, s *Step) error {
	return e.phoneTap(ctx, counter.CheckInsurance, true, false, "clinic-insurance-nfc-mac",
		"android phone taps a medical-institution reader over PC/SC: insurance and identity documents (NFC engagement and data retrieval, deviceMac)")
}

// step: the shop.
func (e *env) nfcShop(ctx context.Context, s *Step) error {
	return e.phoneTap(ctx, counter.CheckAge, false, true, "shop-age-nfc",
		"android phone taps a shop reader over PC/SC: age_over_20 (NFC negotiated handover and data retrieval, deviceSignature)")
}

func (e *env) phoneTap(ctx context.Context, check string, mac, negotiated bool, slug, description string) error {
	dev, err := e.st.android.StartNFC(ctx, walletsim.NFCOptions{Consent: approveAll, MAC: mac, Negotiated: negotiated})
	if err != nil {
		return err
	}
	defer dev.Close()
	e.status.reset()
	v, trace, err := e.nfcTap(ctx, dev, e.mdocCounter(check))
	if err != nil {
		e.record("tap", "a verdict", "failed: "+err.Error())
		return err
	}
	want := "ok"
	e.record(fmt.Sprintf("counter verdict (%s)", check), want, v.Code)
	if v.Result != nil {
		e.record("verifier verdict", "valid", verdict(v.Result.Valid, v.Result.Codes(), ""))
		e.n.info("disclosed: %s", list(disclosed(v.Result)))
	}
	if res, err := dev.Wait(ctx); err == nil {
		e.record("phone session ended by", "reader_status_20", res.EndedBy)
	} else {
		e.record("phone session", "completed", "failed: "+walletsim.CodeOf(err))
	}
	if v.Outcome == nil {
		return errors.New("no mdoc outcome")
	}
	out := v.Outcome
	p := &Presentation{DeviceResponse: out.DeviceResponse, Transcript: out.SessionTranscript, EReaderKey: out.EReaderKey,
		DeviceRequest: out.DeviceRequestBytes, Request: verifier.RequestFromDeviceRequest(out.DeviceRequest),
		Result: out.Result, StatusLists: e.status.take(), MAC: mac}
	if err := e.artifact(slug, description, "nfc", p, true, ""); err != nil {
		return err
	}
	return e.writeTrace(trace)
}

// writeTrace adds the APDU trace to the last artefact directory.
func (e *env) writeTrace(trace string) error {
	if e.o.ArtifactsDir == "" || len(e.artifacts) == 0 {
		return nil
	}
	return os.WriteFile(filepath.Join(e.artifacts[len(e.artifacts)-1], FileAPDUTrace), []byte(trace), 0o644)
}

// cardTap taps the holder's My Number Card with pin: the JPKI applet from
// her card file as a virtual card (cardsim), its PIN counters persisted
// there.
func (e *env) cardTap(ctx context.Context, pin string) (*counter.Verdict, string, error) {
	a, err := applet.Open(e.st.cardFile)
	if err != nil {
		return nil, "", fmt.Errorf("open the card file: %w", err)
	}
	c, err := cardsim.NewCard(a, e.log)
	if err != nil {
		return nil, "", err
	}
	return e.nfcTap(ctx, c, e.jpkiCounter(pin))
}

// step: the card at the clinic.
func (e *env) nfcClinicCard(ctx context.Context, s *Step) error {
	v, trace, err := e.cardTap(ctx, cardPIN)
	if err != nil {
		e.record("card tap", "a verdict", "failed: "+err.Error())
		return err
	}
	e.record("JPKI user authentication (chain + CRL)", "valid", verdict(v.Result != nil && v.Result.Valid, codes(v.Result), ""))
	e.record("online qualification confirmation", "qualified (insurer "+insurerNumber+")", qualified(v))
	return e.tapArtifact("clinic-card-jpki", "the My Number Card taps a clinic reader: PIN, user authentication, chain + CRL, online qualification", v, trace)
}

// step: the phone's JPKI applet at the clinic.
func (e *env) nfcClinicPhoneJPKI(ctx context.Context, s *Step) error {
	dev, err := e.st.android.StartNFC(ctx, walletsim.NFCOptions{Consent: approveAll, JPKI: true})
	if err != nil {
		return err
	}
	defer dev.Close()
	v, trace, err := e.nfcTap(ctx, dev, e.jpkiCounter(phonePIN))
	if err != nil {
		e.record("phone JPKI tap", "a verdict", "failed: "+err.Error())
		return err
	}
	e.record("token", "JPKIAPGPSETOKEN", v.JPKI.Token)
	e.record("JPKI user authentication with the phone certificate", "valid", verdict(v.Result != nil && v.Result.Valid, codes(v.Result), ""))
	e.record("online qualification confirmation", "qualified (insurer "+insurerNumber+")", qualified(v))
	return e.tapArtifact("clinic-phone-jpki", "the android phone's JPKI applet taps a clinic reader: PIN, user authentication, online qualification", v, trace)
}

// step: wrong PINs, then the blocked card.
func (e *env) nfcBlocked(ctx context.Context, s *Step) error {
	for _, want := range []int{2, 1, 0} {
		v, trace, err := e.cardTap(ctx, "0000")
		if err != nil {
			return err
		}
		code := counter.CodeWrongPIN
		if want == 0 {
			code = counter.CodePINLocked
		}
		e.record("wrong PIN: refused, tries left", fmt.Sprintf("%s, %d", code, want), fmt.Sprintf("%s, %d", v.Code, v.JPKI.TriesLeft))
		if want == 1 {
			if err := e.tapArtifact("wrong-pin", "a wrong PIN: the card answers 63C1, one try left", v, trace); err != nil {
				return err
			}
		}
	}
	v, trace, err := e.cardTap(ctx, cardPIN)
	if err != nil {
		return err
	}
	e.record("the right PIN on the blocked card", "refused: "+counter.CodePINLocked, map[bool]string{true: "accepted", false: "refused: " + v.Code}[v.OK])
	return e.tapArtifact("blocked-card", "the blocked card (6983) is refused without sending the PIN", v, trace)
}

func codes(r *verifier.Result) []string {
	if r == nil {
		return nil
	}
	return r.Codes()
}

func qualified(v *counter.Verdict) string {
	if v.Qualification == nil {
		return "no answer: " + v.Code
	}
	if !v.Qualification.Qualified || v.Qualification.Qualification == nil {
		return "not qualified: " + v.Qualification.Code
	}
	return "qualified (insurer " + v.Qualification.Qualification.InsurerNumber + ")"
}

// tapArtifact writes a JPKI tap: its APDU trace (PINs masked) and the
// counter's verdict.
func (e *env) tapArtifact(slug, description string, v *counter.Verdict, trace string) error {
	if e.o.ArtifactsDir == "" {
		return nil
	}
	dir := filepath.Join(e.o.ArtifactsDir, e.artifactName(e.cur.N, slug))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	x := TapExpected{Step: e.cur.N, Name: filepath.Base(dir), Description: description, Kind: v.Kind, OK: v.OK, Code: v.Code}
	if v.JPKI != nil {
		x.TriesLeft = v.JPKI.TriesLeft
	}
	b, err := json.MarshalIndent(x, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, FileTapExpected), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, FileAPDUTrace), []byte(trace), 0o644); err != nil {
		return err
	}
	e.taps = append(e.taps, dir)
	e.n.info("artefacts: %s", dir)
	return nil
}
