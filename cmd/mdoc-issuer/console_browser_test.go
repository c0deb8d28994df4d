package main

// The operator console in headless Chromium against the real issuer
// (`mdoc-issuer serve`, run as main runs it), with a phone enrolled by the
// wallet simulator: a support operator signs in with the admin token,
// finds the person by the lost phone's device id, suspends it with a
// reason, sees the new state and the audit entry. Only cmd/ may bring
// issuer and wallet together, so the test lives here.

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/mynumber-mdoc/mnc/internal/browsertest"
	"github.com/mynumber-mdoc/mnc/internal/syncbuf"
	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/applet"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
	walletsim "github.com/mynumber-mdoc/mnc/wallet-sim"
	"github.com/mynumber-mdoc/mnc/wallet-sim/se"
)

func TestBrowserOperatorConsole(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test with the real issuer")
	}
	br := browsertest.Start(t, "the operator console")
	dir := t.TempDir()
	data := filepath.Join(dir, "issuer")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--data-dir", data, "--listen", addr}, strings.NewReader(""), &out, &errb)
	}()
	if err := out.Await("operator console:", done, 60*time.Second); err != nil {
		t.Fatalf("serve: %v\n%s %s", err, out.String(), errb.String())
	}
	base := "http://" + addr
	token, err := os.ReadFile(filepath.Join(data, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}

	// A card from the issuer's own JPKI test CA, and a phone enrolled with it.
	ca, err := testca.Open(filepath.Join(data, "jpki-testca"), testca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := ca.IssueCard(testca.Person{Name: "佐藤　花子", BirthDate: jpki.NewBirthDate(1990, time.July, 15), Sex: jpki.SexFemale, Address: "東京都千代田区霞が関1-2-3"}, testca.IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(); err != nil {
		t.Fatal(err)
	}
	cardFile := filepath.Join(dir, "card.json")
	if _, err := applet.Create(cardFile, creds.AppletConfig(jpki.TokenCard, "CARD2026", "1234")); err != nil {
		t.Fatal(err)
	}
	w, err := walletsim.Init(filepath.Join(dir, "phone"), walletsim.Profile{Platform: walletsim.PlatformAndroid, Model: "Pixel 9"}, "135790",
		walletsim.Options{Authenticator: walletsim.StaticAuth{Biometric: se.BiometricMatch}})
	if err != nil {
		t.Fatal(err)
	}
	iacaPEM, _ := os.ReadFile(filepath.Join(data, "pki", "iaca.pem"))
	blk, _ := pem.Decode(iacaPEM)
	iaca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.TrustIACA(iaca); err != nil {
		t.Fatal(err)
	}
	tr, err := walletsim.OpenCardFile(cardFile)
	if err != nil {
		t.Fatal(err)
	}
	er, err := w.Enrol(ctx, walletsim.EnrolOptions{IssuerURL: base, Card: tr, CardPassword: "CARD2026"})
	if err != nil {
		t.Fatalf("enrol: %v", err)
	}
	dev := er.DeviceID

	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			br.Shot("failure.png")
			t.Fatalf("%s: %v (screenshots in %s)", what, err, br.Shots)
		}
	}
	_, err = chromedp.Call(br.Step(), network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": "ja"}})
	must("headers", err)
	must("sign in", chromedp.Do(br.Step(), chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), strings.TrimSpace(string(token))), chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("q"))))
	br.Shot("1-signed-in.png")
	must("search", chromedp.Do(br.Step(), chromedp.SendKeys(chromedp.ID("q"), dev), chromedp.Click(chromedp.ID("search")),
		chromedp.WaitVisible(chromedp.ID("state-"+dev))))
	state, err := chromedp.Run(br.Step(), chromedp.Text(chromedp.ID("state-"+dev)))
	must("state", err)
	if state != "有効" {
		t.Fatalf("state before: %q", state)
	}
	br.Shot("2-person.png")
	must("suspend", chromedp.Do(br.Step(), chromedp.SendKeys(chromedp.ID("reason-"+dev), "紛失の届出(電話)"), chromedp.Click(chromedp.ID("suspend-"+dev)),
		chromedp.WaitVisible(chromedp.ID("notice"))))
	state, err = chromedp.Run(br.Step(), chromedp.Text(chromedp.ID("state-"+dev)))
	must("state after", err)
	br.Shot("3-suspended.png")
	if state != "一時利用停止中" {
		t.Fatalf("state after suspend: %q", state)
	}
	must("audit", chromedp.Do(br.Step(), chromedp.Click(chromedp.ID("audit-link")), chromedp.WaitVisible(chromedp.ID("audit"))))
	audit, err := chromedp.Run(br.Step(), chromedp.Text(chromedp.ID("audit")))
	must("audit text", err)
	br.Shot("4-audit.png")
	if !strings.Contains(audit, "console") || !strings.Contains(audit, "suspend") {
		t.Fatalf("audit:\n%s", audit)
	}
	// The wallet sees the suspension at its next sync.
	if st, err := w.Sync(ctx); err != nil || !strings.Contains(strings.Join(values(st.States), " "), "suspended") {
		t.Fatalf("wallet after suspension: %+v %v", st, err)
	}
	t.Logf("screenshots in %s", br.Shots)
}

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
