// Package browsertest starts Debian's headless Chromium for tests that
// drive the project's pages the way a person would (chromedp). Without
// chromium a test skips loudly, except under CI=true, where a missing
// browser is a failure.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// StepTimeout bounds one browser step.
const StepTimeout = 30 * time.Second

// ChromiumPath finds chromium ($CHROMIUM, /usr/bin/chromium, PATH).
func ChromiumPath(t testing.TB, what string) string {
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
	t.Skip("SKIPPED: chromium not found (apt-get install chromium): " + what + " was NOT tested in a browser")
	return ""
}

// Browser is a started headless Chromium.
type Browser struct {
	t   testing.TB
	ctx context.Context
	// Shots is where Shot writes screenshots: the test's temporary
	// directory, or $MDOC_BROWSER_SHOTS when set, to look at after a run.
	Shots string
}

// Start launches Chromium as root can run it on a closed network (no
// sandbox, no background networking), with a fresh profile. It is closed
// when the test ends.
func Start(t testing.TB, what string) *Browser {
	t.Helper()
	chromium := ChromiumPath(t, what)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(900, 1200),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelA)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	// The first Run starts the browser and must not carry a timeout (it
	// would stop the browser); later steps get one each.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b := &Browser{t: t, ctx: ctx, Shots: t.TempDir()}
	if d := os.Getenv("MDOC_BROWSER_SHOTS"); d != "" {
		b.Shots = d
	}
	return b
}

// Step returns a context for one browser step, bounded by StepTimeout.
func (b *Browser) Step() context.Context {
	c, cancel := context.WithTimeout(b.ctx, StepTimeout)
	b.t.Cleanup(cancel)
	return c
}

// Shot saves a full-page screenshot (PNG) under Shots.
func (b *Browser) Shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.Step(), chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.Shots, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}
