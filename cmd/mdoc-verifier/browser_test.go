package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/online"
	walletsim "github.com/mynumber-mdoc/mnc/wallet-sim"
)

// chromiumPath finds Debian's chromium. Without it the browser test skips
// loudly, except under CI=true, where a missing browser is a failure.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found and CI=true: install Debian's chromium (see .ci/run)")
	}
	t.Skip("SKIPPED: chromium not found (apt-get install chromium): the counter page was NOT tested in a browser")
	return ""
}

// TestBrowserCounterPage drives the verifier's page in headless Chromium as
// a clerk would: open it, start an age check, let the wallet simulator
// answer through the page's own wallet link, and see a large OK. Screenshots
// go to the test's temporary directory.
func TestBrowserCounterPage(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	chromium := chromiumPath(t)
	e := newE2E(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	srv, err := online.New(online.Config{BaseURL: base, Credentials: e.creds, Now: e.clock, Verify: verifier.Options{Trust: e.iacas}})
	if err != nil {
		t.Fatal(err)
	}
	hs := online.NewHTTPServer(srv.Handler(), online.ServerLimits{}, nil)
	go hs.Serve(ln)
	defer hs.Close()

	// Screenshots (PNG: quality 100) stay in the test's temporary directory, or in
	// $MDOC_BROWSER_SHOTS when set, to look at after the run.
	shots := t.TempDir()
	if d := os.Getenv("MDOC_BROWSER_SHOTS"); d != "" {
		shots = d
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(900, 1200),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// The first Run starts the browser and must not carry a timeout (it
	// would stop the browser); later steps get one each.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	step := func() context.Context {
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		t.Cleanup(cancel)
		return c
	}
	shot := func(name string) {
		png, err := chromedp.Run(step(), chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	if _, err := chromedp.Call(step(), network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	// The third run is the same-device flow without the creating browser's
	// cookie: the wallet sends the browser to its redirect_uri, whose
	// response_code alone lets the page read the verdict.
	for _, lang := range []struct {
		accept, start, ok string
		viaRedirect       bool
	}{{"ja", "開始", "確認できました", false}, {"en-US,en", "Start", "Verified", false}, {"ja", "開始", "確認できました", true}} {
		_, err := chromedp.Call(step(), network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": lang.accept}})
		must("headers", err)
		must("open page", chromedp.Do(step(), chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("start")),
			chromedp.SetValue(chromedp.ID("purpose"), "age"), chromedp.SetValue(chromedp.ID("protocol"), "openid4vp")))
		startText, err := chromedp.Run(step(), chromedp.Text(chromedp.ID("start")))
		must("start text", err)
		must("start check", chromedp.Do(step(), chromedp.Click(chromedp.ID("start")), chromedp.WaitVisible(chromedp.ID("wallet"))))
		href, err := chromedp.Run(step(), chromedp.AttributeValue(chromedp.ID("wallet"), "href"))
		must("wallet link", err)
		qrWidth, err := chromedp.Run(step(), chromedp.Poll[int](`document.getElementById('qr').complete && document.getElementById('qr').naturalWidth`))
		must("QR image", err)
		shot(fmt.Sprintf("1-request-%s-redirect-%v.png", lang.accept, lang.viaRedirect))
		if startText != lang.start || !strings.HasPrefix(href.Value, "openid4vp://") || qrWidth == 0 {
			t.Fatalf("%s: start %q, wallet link %q, QR width %d", lang.accept, startText, href.Value, qrWidth)
		}
		if lang.viaRedirect {
			// The browser the wallet returns to is not the one that
			// created the check: no cookie, and the page is gone.
			_, err := chromedp.Call(step(), network.ClearBrowserCookies, cdp.Empty{})
			must("clear cookies", err)
			must("leave the page", chromedp.Do(step(), chromedp.Navigate("about:blank")))
		}
		// The wallet opens the link the page offers.
		wr, err := e.w.PresentOnline(step(), href.Value, walletsim.OnlineOptions{Consent: walletsim.Rules{ApproveAll: true}})
		if err != nil {
			t.Fatalf("%s: wallet: %v", lang.accept, err)
		}
		if lang.viaRedirect {
			if !strings.Contains(wr.RedirectURI, "#response_code=") {
				t.Fatalf("redirect_uri %q", wr.RedirectURI)
			}
			// The wallet app opens its redirect_uri in the browser.
			must("follow redirect_uri", chromedp.Do(step(), chromedp.Navigate(wr.RedirectURI)))
		}
		must("verdict", chromedp.Do(step(), chromedp.WaitVisible(chromedp.ID("verdict"))))
		verdict, err := chromedp.Run(step(), chromedp.Text(chromedp.ID("verdict")))
		must("verdict text", err)
		class, err := chromedp.Run(step(), chromedp.AttributeValue(chromedp.ID("verdict"), "class"))
		must("verdict class", err)
		sub, err := chromedp.Run(step(), chromedp.Text(chromedp.ID("sub")))
		must("verdict line", err)
		shot(fmt.Sprintf("2-verdict-%s-redirect-%v.png", lang.accept, lang.viaRedirect))
		if verdict != "OK" || !strings.Contains(class.Value, "ok") || sub != lang.ok {
			t.Fatalf("%s: verdict %q class %q sub %q", lang.accept, verdict, class.Value, sub)
		}
	}
	t.Logf("screenshots in %s", shots)
}
