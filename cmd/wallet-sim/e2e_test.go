package main

// The issue's "done when", run for real: two wallets (apple and android
// profiles) are created, enrolled against the real issuer and present by QR
// and online, every wallet step through the wallet-sim command line
// (cli.Run, which is all main does). The other roles run in-process exactly
// as their binaries wire them:
//
//   - issuer: issuer/app.Open + App.Serve, which is `mdoc-issuer serve` on
//     its embedded defaults (SQLite, file keys, development PKI, JPKI test
//     CA, attestation CA), on a free loopback port;
//   - card: jpki/testca IssueCard + applet.Create, which is
//     `jpki-sim person` against the issuer's JPKI test CA directory;
//   - reader certificates: Service.IssueReaderCertificate, which is
//     `mdoc-issuer reader-cert`;
//   - proximity reader: verifier/reader.Run, which is `mdoc-verifier reader`;
//   - online verifier: verifier/online served over HTTP, the transaction
//     created through its POST /api/transactions API.
//
// Only cmd/ may import several roles, so the test lives here.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/pcsc"
	"github.com/mynumber-mdoc/mnc/internal/pcsc/pcsctest"
	"github.com/mynumber-mdoc/mnc/issuer"
	"github.com/mynumber-mdoc/mnc/issuer/app"
	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/applet"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/blesim"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/counter"
	"github.com/mynumber-mdoc/mnc/verifier/online"
	"github.com/mynumber-mdoc/mnc/verifier/reader"
	"github.com/mynumber-mdoc/mnc/verifier/status"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
	"github.com/mynumber-mdoc/mnc/wallet-sim/cli"
)

const (
	e2eCardPassword = "CARDPW123"
	e2eCardPIN      = "1234"
	e2eAndroidPIN   = "135790"
)

type e2eWorld struct {
	t         *testing.T
	dir       string
	issuerURL string
	app       *app.App
	radio     blesim.Radio
	iacas     *trust.IACAs
	status    *status.Client
	shop      *trust.ReaderCredentials
	onlineURL string
	card      string
}

// wallet runs one wallet-sim command line and returns its exit code and
// output.
func (e *e2eWorld) wallet(ctx context.Context, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := cli.Run(ctx, args, cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
	return code, out.String(), errb.String()
}

func (e *e2eWorld) mustWallet(args ...string) string {
	e.t.Helper()
	code, out, errs := e.wallet(context.Background(), args...)
	if code != 0 {
		e.t.Fatalf("wallet-sim %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func newE2EWorld(t *testing.T) *e2eWorld {
	t.Helper()
	e := &e2eWorld{t: t, dir: t.TempDir()}
	e.radio = blesim.Radio{Dir: filepath.Join(e.dir, "radio")}
	if err := os.MkdirAll(e.radio.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())

	// mdoc-issuer serve --data-dir DIR --listen 127.0.0.1:PORT
	addr := freeLoopbackAddr(t)
	a, err := app.Open(ctx, app.Options{DataDir: filepath.Join(e.dir, "issuer"), Listen: addr, Logger: quiet})
	if err != nil {
		cancel()
		t.Fatalf("open issuer: %v", err)
	}
	e.app = a
	ready := make(chan string, 1)
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, func(addr string) { ready <- addr }) }()
	select {
	case got := <-ready:
		e.issuerURL = "http://" + got
	case err := <-served:
		cancel()
		a.Close()
		t.Fatalf("issuer serve: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("issuer did not start")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-served:
		case <-time.After(10 * time.Second):
		}
		a.Close()
	})
	if a.TestCA == nil {
		t.Fatal("issuer has no development JPKI test CA")
	}

	// jpki-sim person --dir <issuer's test CA> --out card.json …
	ca, err := testca.Open(a.TestCA.Dir(), testca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bd, err := jpki.NewBirthDate(1990, time.April, 1), error(nil)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := ca.IssueCard(testca.Person{Name: "番号\u3000花子", BirthDate: bd, Sex: jpki.SexFemale, Address: "東京都千代田区霞が関2-1-2"}, testca.IssueOptions{Validity: 5 * 365 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	e.card = filepath.Join(e.dir, "card.json")
	if _, err := applet.Create(e.card, creds.AppletConfig(jpki.TokenCard, e2eCardPassword, e2eCardPIN)); err != nil {
		t.Fatal(err)
	}

	// mdoc-issuer reader-cert --pubkey shop.pem --cn "E2E Shop"
	e.iacas = trust.NewIACAsFromCertificates([]*x509.Certificate{a.PKI.IACA})
	// Both verifiers fetch the issuer's Token Status Lists, as
	// mdoc-verifier does without --no-status.
	e.status = status.New(e.iacas.StatusListTrust())
	e.shop = e.readerCredentials("E2E Shop", false)
	web := e.readerCredentials("E2E Web Verifier", false)

	// The online verifier (mdoc-verifier serve), trusting the issuer's IACA
	// and fetching its status lists.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.onlineURL = "http://" + ln.Addr().String()
	srv, err := online.New(online.Config{BaseURL: e.onlineURL, Credentials: web, Logger: quiet, Verify: verifier.Options{Trust: e.iacas, Status: e.status, Logger: quiet}})
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return e
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// readerCredentials is a reader key with a certificate from the issuer's
// reader CA (mdoc-issuer reader-cert), with the medical-institution role
// when medical.
func (e *e2eWorld) readerCredentials(cn string, medical bool) *trust.ReaderCredentials {
	e.t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := e.app.Service.IssueReaderCertificate(context.Background(), issuer.ReaderCertificateRequest{
		PublicKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), CommonName: cn, Medical: medical}, "e2e-test")
	if err != nil {
		e.t.Fatalf("reader certificate: %v", err)
	}
	certs, err := trust.ParseCertificates(p)
	if err != nil {
		e.t.Fatal(err)
	}
	rc, err := trust.NewReaderCredentials(certs, k)
	if err != nil {
		e.t.Fatal(err)
	}
	return rc
}

// presentQR runs `wallet-sim present --qr` and answers it with the
// proximity reader; it returns the reader's outcome and the wallet's output.
func (e *e2eWorld) presentQR(home string, uv []string, items map[string][]string) (*reader.Outcome, string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	engFile := filepath.Join(e.dir, "engagement-"+filepath.Base(home))
	os.Remove(engFile)
	type result struct {
		code      int
		out, errs string
	}
	done := make(chan result, 1)
	args := append([]string{"present", "--home", home, "--qr", "--approve-all", "--blesim-dir", e.radio.Dir, "--engagement-out", engFile, "--timeout", "50s"}, uv...)
	go func() {
		code, out, errs := e.wallet(ctx, args...)
		done <- result{code, out, errs}
	}()
	var qr string
	for qr == "" {
		select {
		case r := <-done:
			e.t.Fatalf("wallet-sim present --qr ended before a reader came: exit %d\n%s\n%s", r.code, r.out, r.errs)
		case <-time.After(20 * time.Millisecond):
		}
		b, err := os.ReadFile(engFile)
		if err == nil && bytes.HasSuffix(b, []byte("\n")) {
			qr = strings.TrimSpace(string(b))
		}
	}
	if !strings.HasPrefix(qr, "mdoc:") {
		e.t.Fatalf("engagement %q is not an mdoc: URI", qr)
	}
	out, err := reader.Run(ctx, qr, []mdoc.ItemsRequest{verifier.Items(mdoc.DocTypeMNC, items)},
		reader.Config{Radio: e.radio, Credentials: e.shop, Verify: verifier.Options{Trust: e.iacas, Status: e.status}})
	if err != nil {
		r := <-done
		e.t.Fatalf("reader: %v\nwallet exit %d\n%s\n%s", err, r.code, r.out, r.errs)
	}
	r := <-done
	if r.code != 0 {
		e.t.Fatalf("wallet-sim present --qr: exit %d\n%s\n%s", r.code, r.out, r.errs)
	}
	return out, r.out
}

// presentOnline creates a transaction through the verifier's HTTP API, runs
// `wallet-sim present --request` with its invocation and returns the
// verdict from the status API.
func (e *e2eWorld) presentOnline(home string, uv []string, protocol string, ageOver int) (*online.Status, string) {
	e.t.Helper()
	body, _ := json.Marshal(online.CreateRequest{Protocol: protocol, Purpose: online.Purpose{Kind: online.PurposeAge, AgeOver: ageOver}})
	resp, err := http.Post(e.onlineURL+"/api/transactions", "application/json", bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	var c online.Created
	err = json.NewDecoder(resp.Body).Decode(&c)
	resp.Body.Close()
	if err != nil || resp.StatusCode/100 != 2 || c.Invocation == "" {
		e.t.Fatalf("create transaction: %d %v %+v", resp.StatusCode, err, c)
	}
	out := e.mustWallet(append([]string{"present", "--home", home, "--request", c.Invocation, "--approve-all"}, uv...)...)
	req, _ := http.NewRequest(http.MethodGet, e.onlineURL+"/api/transactions/"+c.ID, nil)
	req.Header.Set("Authorization", "Bearer "+c.Secret) // only the creator reads the outcome
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st online.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		e.t.Fatal(err)
	}
	return &st, out
}

func TestE2ETwoWalletsAgainstRealIssuerAndVerifier(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end with the real issuer (RSA key generation)")
	}
	e := newE2EWorld(t)
	android := filepath.Join(e.dir, "android")
	apple := filepath.Join(e.dir, "apple")
	pinUV := []string{"--pin", e2eAndroidPIN}
	bioUV := []string{"--biometric", "match"}

	e.mustWallet("init", "--home", android, "--profile", "android", "--model", "Pixel 9", "--pin", e2eAndroidPIN)
	e.mustWallet("init", "--home", apple, "--profile", "apple", "--model", "iPhone16,1")
	for _, h := range []string{android, apple} {
		e.mustWallet("trust", "--home", h, "--reader-roots", e.app.PKI.ReaderCAPath, "--iaca", e.app.PKI.IACAPath)
	}

	// An unverified model may not enrol: the issuer's refusal is a clear code.
	nokia := filepath.Join(e.dir, "nokia")
	e.mustWallet("init", "--home", nokia, "--profile", "android", "--model", "Nokia 3310", "--pin", e2eAndroidPIN)
	code, out, _ := e.wallet(context.Background(), "enroll", "--json", "--home", nokia, "--card", e.card, "--issuer", e.issuerURL, "--card-password", e2eCardPassword, "--pin", e2eAndroidPIN)
	if code != 1 || !strings.Contains(out, `"code":"device_not_allowed"`) {
		t.Fatalf("unverified model enrol: exit %d %s", code, out)
	}

	// Android enrols first.
	out = e.mustWallet(append([]string{"enroll", "--home", android, "--card", e.card, "--issuer", e.issuerURL, "--card-password", e2eCardPassword,
		"--jpki-password", "PHONEPW1", "--jpki-pin", "4321"}, pinUV...)...)
	if !strings.Contains(out, "enrolled as device") || !strings.Contains(out, mdoc.DocTypeMNC) || !strings.Contains(out, "JPKI smartphone certificates installed") {
		t.Fatalf("android enrol output: %s", out)
	}
	androidDevice := deviceID(t, out)
	// The state is known right after enrolment, without a sync.
	if out := e.mustWallet("list", "--home", android); !strings.Contains(out, "VALID") || strings.Contains(out, "UNKNOWN") {
		t.Fatalf("list right after enrolment: %s", out)
	}

	wantAge := map[string][]string{mdoc.NameSpaceISO23220: {"age_over_20", "family_name"}}
	t.Run("android/qr", func(t *testing.T) {
		o, wout := e.presentQR(android, pinUV, wantAge)
		checkProximity(t, o, wout)
	})
	for _, proto := range []string{online.ProtocolOpenID4VP, online.ProtocolAnnexC} {
		t.Run("android/online/"+proto, func(t *testing.T) {
			st, wout := e.presentOnline(android, pinUV, proto, 20)
			checkOnline(t, st, wout)
		})
	}

	// Device change: the apple wallet enrols with the same card; the issuer
	// revokes the android phone and queues its remote delete.
	out = e.mustWallet(append([]string{"enroll", "--home", apple, "--card", e.card, "--issuer", e.issuerURL, "--card-password", e2eCardPassword}, bioUV...)...)
	if !strings.Contains(out, "previous phone "+androidDevice+" was revoked") {
		t.Fatalf("apple enrol did not report the device change of %s: %s", androidDevice, out)
	}
	// Without a terminal and without --pin, sync fails naming the flag
	// (exit 2) and uses up no try of the secure element: the wallet once
	// took end-of-input for failed biometric matches.
	if code, _, errs := e.wallet(context.Background(), "sync", "--home", android); code != 2 || !strings.Contains(errs, "pass --pin PIN or --biometric") {
		t.Fatalf("sync without user verification: exit %d %s", code, errs)
	}
	if out := e.mustWallet("show", "--home", android); !strings.Contains(out, "PIN: 5 of 5 tries left") || !strings.Contains(out, "biometric: 0 failed") {
		t.Fatalf("tries used by a sync without user verification: %s", out)
	}
	out = e.mustWallet(append([]string{"sync", "--home", android}, pinUV...)...)
	if !strings.Contains(out, "remote delete received") {
		t.Fatalf("android sync: %s", out)
	}
	if out := e.mustWallet("list", "--home", android); !strings.Contains(out, "no credentials") || !strings.Contains(out, "deleted") {
		t.Fatalf("android list after remote delete: %s", out)
	}
	if code, out, _ := e.wallet(context.Background(), append([]string{"present", "--json", "--home", android, "--qr", "--approve-all", "--blesim-dir", e.radio.Dir}, pinUV...)...); code != 1 || !strings.Contains(out, `"code":"remote_deleted"`) || strings.Contains(out, "engagement") {
		t.Fatalf("android present after remote delete: exit %d %s", code, out)
	}

	t.Run("apple/qr", func(t *testing.T) {
		o, wout := e.presentQR(apple, bioUV, wantAge)
		checkProximity(t, o, wout)
	})
	for _, proto := range []string{online.ProtocolOpenID4VP, online.ProtocolAnnexC} {
		t.Run("apple/online/"+proto, func(t *testing.T) {
			st, wout := e.presentOnline(apple, bioUV, proto, 20)
			checkOnline(t, st, wout)
		})
	}
	// Apple has no PIN fallback: a PIN is refused with its code.
	if code, out, _ := e.wallet(context.Background(), "sync", "--json", "--home", apple, "--pin", "1111"); code != 1 || !strings.Contains(out, `"code":"auth_method_not_allowed"`) {
		t.Fatalf("apple with a PIN: exit %d %s", code, out)
	}
	if out := e.mustWallet(append([]string{"sync", "--home", apple}, bioUV...)...); !strings.Contains(out, "VALID") {
		t.Fatalf("apple sync: %s", out)
	}
	if out := e.mustWallet("history", "--home", apple); strings.Count(out, "released") < 3 {
		t.Fatalf("apple history lacks the three presentations: %s", out)
	}
}

var errNoDevice = errors.New("no device id in output")

func deviceID(t *testing.T, out string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, "enrolled as device "); ok {
			return strings.TrimSpace(rest)
		}
	}
	t.Fatalf("%v: %s", errNoDevice, out)
	return ""
}

func checkProximity(t *testing.T, o *reader.Outcome, walletOut string) {
	t.Helper()
	if !o.Result.Valid || len(o.Result.Documents) != 1 {
		t.Fatalf("reader verdict: valid=%v codes=%v\nwallet: %s", o.Result.Valid, o.Result.Codes(), walletOut)
	}
	d := o.Result.Documents[0]
	if d.Elements[mdoc.NameSpaceISO23220]["age_over_20"] != true || d.Elements[mdoc.NameSpaceISO23220]["family_name"] != "番号" {
		t.Fatalf("elements: %v", d.Elements)
	}
	if d.DeviceAuthMethod != "signature" {
		t.Fatalf("device auth %q", d.DeviceAuthMethod)
	}
	if !strings.Contains(walletOut, "released") || !strings.Contains(walletOut, "session ended") {
		t.Fatalf("wallet output: %s", walletOut)
	}
}

func checkOnline(t *testing.T, st *online.Status, walletOut string) {
	t.Helper()
	if st.State != online.StateDone || !st.Valid || st.Decision == nil || !st.Decision.Allowed {
		t.Fatalf("verifier verdict: state %s valid %v codes %v decision %+v\nwallet: %s", st.State, st.Valid, st.Codes, st.Decision, walletOut)
	}
}

// TestE2ENFCPresentOverPCSC: `wallet-sim present --nfc` puts the enrolled
// phone on the vpcd reader of the real PC/SC stack; a shop counter checks
// the age by mdoc, then a clinic counter reads the phone's JPKI applet
// (`--jpki`) and asks the real issuer for the qualification linked to the
// phone's auth certificate.
func TestE2ENFCPresentOverPCSC(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end with the real issuer (RSA key generation)")
	}
	slot := pcsctest.Require(t)
	e := newE2EWorld(t)
	ctx := context.Background()
	if _, err := e.app.Service.ImportInsurance(ctx, strings.NewReader(strings.Join(issuer.InsuranceCSVHeader, ",")+"\n"+
		"番号\u3000花子,1990-04-01,2,東京都千代田区霞が関2-1-2,06139999,千代,12345,01,1,2020-04-01,,30\n"), "e2e-test"); err != nil {
		t.Fatal(err)
	}
	android := filepath.Join(e.dir, "android")
	pinUV := []string{"--pin", e2eAndroidPIN}
	e.mustWallet("init", "--home", android, "--profile", "android", "--model", "Pixel 9", "--pin", e2eAndroidPIN)
	e.mustWallet("trust", "--home", android, "--reader-roots", e.app.PKI.ReaderCAPath, "--iaca", e.app.PKI.IACAPath)
	e.mustWallet(append([]string{"enroll", "--home", android, "--card", e.card, "--issuer", e.issuerURL, "--card-password", e2eCardPassword,
		"--jpki-password", "PHONEPW1", "--jpki-pin", "4321"}, pinUV...)...)

	quiet := slog.New(slog.DiscardHandler)
	// One PC/SC context for both taps, as a reader application keeps.
	pc, err := pcsc.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	tap := func(args []string, cfg counter.Config) (*counter.Verdict, int, string) {
		t.Helper()
		type result struct {
			code      int
			out, errs string
		}
		done := make(chan result, 1)
		go func() {
			code, out, errs := e.wallet(ctx, append([]string{"present", "--home", android, "--nfc", "--approve-all", "--vpcd", slot.Addr}, append(args, pinUV...)...)...)
			done <- result{code, out, errs}
		}()
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		c, err := pc.Wait(wctx, slot.Reader)
		if err != nil {
			r := <-done
			t.Fatalf("no phone on the reader: %v\nwallet exit %d\n%s\n%s", err, r.code, r.out, r.errs)
		}
		defer c.Close()
		v, err := counter.Tap(wctx, c, cfg)
		if err != nil {
			cancel()
			r := <-done
			t.Fatalf("tap: %v\nwallet exit %d\n%s\n%s", err, r.code, r.out, r.errs)
		}
		r := <-done
		// The phone has left: wait until pcscd has seen it go, so the
		// next tap is a new card and not this one.
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		defer rcancel()
		if err := c.WaitRemoved(rctx); err != nil {
			t.Fatalf("phone never left the reader: %v", err)
		}
		// pcscd polls the vpcd driver every 400 ms; a phone put back
		// within the same poll is not seen as a new card (margin for a
		// loaded machine).
		time.Sleep(1500 * time.Millisecond)
		return v, r.code, r.out + r.errs
	}

	age := counter.Config{Check: counter.CheckAge, AgeOver: 20, Logger: quiet, Reader: reader.NFCConfig{Config: reader.Config{Credentials: e.shop, Logger: quiet,
		Verify: verifier.Options{Trust: e.iacas, Status: e.status, Logger: quiet}}}}
	v, code, out := tap([]string{"--timeout", "30s"}, age)
	if !v.OK || v.Kind != counter.KindMdoc || code != 0 || !strings.Contains(out, "session ended (reader_status_20)") || !strings.Contains(out, "[nfc]") {
		t.Fatalf("age tap: %+v; wallet exit %d\n%s", v, code, out)
	}

	clinic := e.readerCredentials("E2E Clinic", true)
	jp := counter.Config{Mode: counter.KindJPKI, Logger: quiet,
		JPKI:      &jpki.Verifier{Roots: e.app.TestCA.TrustRoots(), Mode: jpki.ModeTest, Revocation: &jpki.CRLChecker{Source: jpki.CRLDir(e.app.TestCA.CRLDir())}},
		PIN:       func(context.Context, int) (string, error) { return "4321", nil },
		Qualifier: &counter.Qualifier{Client: &oid4vci.Client{BaseURL: e.issuerURL}, IssuerURL: e.issuerURL, Chain: clinic.Chain, Key: clinic.Key}}
	v, code, out = tap([]string{"--jpki", "--timeout", "8s"}, jp)
	if !v.OK || v.JPKI.Token != string(jpki.TokenGPSE) || v.Qualification == nil || v.Qualification.Qualification.InsurerNumber != "06139999" || code != 0 {
		t.Fatalf("phone JPKI tap: %+v %+v; wallet exit %d\n%s", v, v.Qualification, code, out)
	}
}

// TestE2ERegisterInsurance: the holder registers her card for insurance
// use against the real issuer; a wrong PIN is refused with the card's
// code and counts down on the card.
func TestE2ERegisterInsurance(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end with the real issuer (RSA key generation)")
	}
	e := newE2EWorld(t)
	home := filepath.Join(e.dir, "phone")
	e.mustWallet("init", "--home", home, "--profile", "android", "--model", "Pixel 9", "--pin", e2eAndroidPIN)
	code, out, _ := e.wallet(context.Background(), "register-insurance", "--json", "--home", home, "--card", e.card, "--issuer", e.issuerURL,
		"--card-password", e2eCardPassword, "--card-pin", "0000")
	if code != 1 || !strings.Contains(out, `"code":"card_error"`) {
		t.Fatalf("wrong PIN: exit %d %s", code, out)
	}
	out = e.mustWallet("register-insurance", "--home", home, "--card", e.card, "--issuer", e.issuerURL, "--card-password", e2eCardPassword, "--card-pin", e2eCardPIN)
	if !strings.Contains(out, "registered for health-insurance use") {
		t.Fatalf("register: %s", out)
	}
	if code, _, _ := e.wallet(context.Background(), "register-insurance", "--home", home, "--card", e.card); code != 2 {
		t.Fatalf("missing flags: exit %d", code)
	}
}
