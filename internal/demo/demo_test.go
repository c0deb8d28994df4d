package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mynumber-mdoc/mnc/verifier"
)

// TestRun plays the whole story, as `go run ./cmd/mdoc-demo` does, and
// checks every verdict and every artefact; then it has mdoc-verifier verify
// (the CLI binary, built here) agree with every expected.json.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	arts := t.TempDir()
	rep, err := Run(context.Background(), Options{Out: &out, ArtifactsDir: arts})
	transcript := out.String()
	if err != nil || !rep.OK() {
		t.Fatalf("Run: %v\n%s", err, transcript)
	}
	if len(rep.Steps) != 10 {
		t.Fatalf("%d steps", len(rep.Steps))
	}
	for _, s := range rep.Steps {
		if !s.OK() || len(s.Checks) == 0 {
			t.Errorf("step %d: %+v", s.N, s)
		}
		if !strings.Contains(transcript, "→ step "+itoa(s.N)+": as expected") {
			t.Errorf("transcript lacks the verdict of step %d", s.N)
		}
	}
	if strings.Contains(transcript, "✘") || !strings.Contains(transcript, "Verdict: ✔ all 10 steps") {
		t.Errorf("transcript:\n%s", transcript)
	}
	// The verdicts the issue names, found by what they check.
	for _, w := range []struct {
		step     int
		what     string
		expected string
	}{
		{3, "elements disclosed", "age_over_20=true"},
		{4, "OpenID4VP 1.0 (DCQL, direct_post.jwt): verifier verdict", "valid, over 20"},
		{4, "ISO/IEC 18013-7 Annex C (HPKE): verifier verdict", "valid, over 20"},
		{5, "policy: insurance qualification", "qualified (ok)"},
		{5, "verifier verdict (JPKI auth: signature, chain, CRL)", "valid"},
		{5, "elements disclosed", "nothing"},
		{6, "login verdict (signature, chain, CRL)", "valid"},
		{7, "verifier verdict on the replayed response", "invalid: revoked"},
		{8, "verifier verdict", "invalid: suspended"},
		{9, "verifier verdict", "invalid: revoked"},
		{10, "enrolment on Pixel 8", "refused: device_not_allowed"},
	} {
		s := rep.Step(w.step)
		i := slices.IndexFunc(s.Checks, func(c Check) bool { return c.What == w.what && c.Expected == w.expected })
		if i < 0 || !s.Checks[i].OK || s.Checks[i].Got != w.expected {
			t.Errorf("step %d: no passing check %q = %q in %+v", w.step, w.what, w.expected, s.Checks)
		}
	}
	if rep.WorkDir != "" {
		t.Errorf("work directory kept without Keep: %s", rep.WorkDir)
	}

	want := map[string]string{
		"03-shop-age-qr":              "",
		"04-webshop-age-openid4vp":    "",
		"04-webshop-age-annexc":       "",
		"05-clinic-insurance-qr-mac":  "",
		"05-shop-insurance-refused":   "element_not_returned",
		"07-replay-old-phone":         "revoked",
		"07-shop-age-qr-apple":        "",
		"07-webshop-age-annexc-apple": "",
		"08-shop-age-suspended":       "suspended",
		"08-shop-age-resumed":         "",
		"09-shop-age-card-revoked":    "revoked",
	}
	got := map[string]*Expected{}
	for _, dir := range rep.Artifacts {
		b, err := os.ReadFile(filepath.Join(dir, FileExpected))
		if err != nil {
			t.Fatal(err)
		}
		e, err := ParseExpected(b)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		got[filepath.Base(dir)] = e
		for _, f := range []string{FileDeviceResponse, FileSessionTranscript, FileIACA} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("%s: %v", dir, err)
			}
		}
		_, err = os.Stat(filepath.Join(dir, FileReaderKey))
		if (e.DeviceAuth == "mac") != (err == nil) {
			t.Errorf("%s: device auth %q, reader key file: %v", dir, e.DeviceAuth, err)
		}
	}
	for name, code := range want {
		e := got[name]
		if e == nil {
			t.Errorf("artefact %s missing (have %v)", name, keys(got))
			continue
		}
		if e.Valid != (code == "") || (code != "" && *e.Code != code) {
			t.Errorf("%s: expected.json says valid=%v code=%v, want code %q", name, e.Valid, e.Code, code)
		}
		if name != "05-shop-insurance-refused" && (e.Status != StatusFromList || e.StatusList != FileStatusList) {
			t.Errorf("%s: status %q list %q", name, e.Status, e.StatusList)
		}
	}
	var index []IndexEntry
	if b, err := os.ReadFile(filepath.Join(arts, FileIndex)); err != nil || json.Unmarshal(b, &index) != nil || len(index) != len(rep.Artifacts) {
		t.Errorf("index.json: %v, %d entries", err, len(index))
	}
	if len(got) != len(want) {
		t.Errorf("artefacts %v, want %d", keys(got), len(want))
	}
	if got["05-clinic-insurance-qr-mac"] != nil && got["05-clinic-insurance-qr-mac"].DeviceAuth != "mac" {
		t.Error("the clinic presentation should use deviceMac")
	}

	t.Run("mdoc-verifier agrees with expected.json", func(t *testing.T) {
		bin := buildVerifier(t)
		for _, dir := range rep.Artifacts {
			e := got[filepath.Base(dir)]
			res, code := runVerifier(t, bin, dir, e.Args)
			if res.Valid != e.Valid || (code == 0) != e.Valid {
				t.Errorf("%s: mdoc-verifier valid=%v exit %d, expected.json valid=%v", dir, res.Valid, code, e.Valid)
			}
			if e.Code != nil && !slices.Contains(res.Codes(), *e.Code) {
				t.Errorf("%s: mdoc-verifier codes %v lack %q", dir, res.Codes(), *e.Code)
			}
		}
		// The check can fail: a flipped bit in a valid response, or the
		// revoked response checked without its status list, is not valid.
		src := got["03-shop-age-qr"]
		if src == nil {
			t.Fatal("no 03 artefact")
		}
		tampered := t.TempDir()
		for _, f := range []string{FileDeviceResponse, FileSessionTranscript, FileIACA, FileStatusList, FileDeviceRequest} {
			b, err := os.ReadFile(filepath.Join(arts, "03-shop-age-qr", f))
			if err != nil {
				t.Fatal(err)
			}
			if f == FileDeviceResponse {
				b[len(b)-5] ^= 1
			}
			os.WriteFile(filepath.Join(tampered, f), b, 0o644)
		}
		if res, code := runVerifier(t, bin, tampered, src.Args); res.Valid || code != 1 {
			t.Errorf("tampered response: valid=%v exit %d", res.Valid, code)
		}
		rev := got["07-replay-old-phone"]
		noStatus := slices.DeleteFunc(slices.Clone(rev.Args), func(a string) bool { return a == "--status-list" || strings.HasSuffix(a, ".cwt") })
		res, _ := runVerifier(t, bin, filepath.Join(arts, "07-replay-old-phone"), append(noStatus[:len(noStatus)-1:len(noStatus)-1], "--no-status", noStatus[len(noStatus)-1]))
		if !res.Valid {
			t.Errorf("without status the replayed response should only fail on status, got %v", res.Codes())
		}
	})
}

func keys[V any](m map[string]V) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// buildVerifier builds cmd/mdoc-verifier into a temporary directory.
func buildVerifier(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds cmd/mdoc-verifier")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build mdoc-verifier")
	}
	bin := filepath.Join(t.TempDir(), "mdoc-verifier")
	cmd := exec.Command(gobin, "build", "-o", bin, "github.com/mynumber-mdoc/mnc/cmd/mdoc-verifier")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build mdoc-verifier: %v\n%s", err, b)
	}
	return bin
}

// runVerifier runs the recorded command in dir and decodes its JSON.
func runVerifier(t *testing.T, bin, dir string, args []string) (*verifier.Result, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code == 2 {
		t.Fatalf("%s: usage error: %s", dir, stderr.String())
	}
	var res verifier.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("%s: %v: %s %s", dir, err, stdout.String(), stderr.String())
	}
	return &res, code
}
