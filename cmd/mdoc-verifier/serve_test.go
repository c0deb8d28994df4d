package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/cli"
	"github.com/mynumber-mdoc/mnc/internal/syncbuf"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
	vt "github.com/mynumber-mdoc/mnc/verifier/verifiertest"
)

func TestBuildServer(t *testing.T) {
	dir := t.TempDir()
	is, _ := vt.NewIssuer("srv")
	rd, _ := vt.NewReader(mdoc.ReaderRoles{}, "")
	w := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
		return p
	}
	keyDER, _ := x509.MarshalECPrivateKey(rd.Key)
	iaca, cert, key := w("iaca.pem", "CERTIFICATE", is.IACA.Raw), w("reader.pem", "CERTIFICATE", rd.Cert.Raw), w("reader.key", "EC PRIVATE KEY", keyDER)
	tf := trustFlags{trust: listFlag{iaca}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	creds, err := readerCredentials(&serveOptions{readerCert: cert, readerKey: key}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	srv, ln, _, err := buildServer(&tf, "127.0.0.1:0", "", creds, "x509_hash", 0, nil, "", false, log, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	resp, err := http.Post(ts.URL+"/api/transactions", "application/json", strings.NewReader(`{"protocol":"openid4vp","purpose":"age","ageOver":20}`))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %v %v", err, resp.Status)
	}
	// Misconfigurations are usage errors.
	if _, err := readerCredentials(&serveOptions{readerCert: cert, readerKey: iaca}, io.Discard); cli.ExitCode(err) != exitUsage {
		t.Errorf("mismatched reader key: %v", err)
	}
	for _, prefix := range []string{"redirect_uri", "x509_san_dns"} {
		if _, ln, _, err := buildServer(&tf, "127.0.0.1:0", "", creds, prefix, 0, nil, "", false, log, nil, nil); cli.ExitCode(err) != exitUsage {
			if ln != nil {
				ln.Close()
			}
			t.Errorf("%s: %v", prefix, err)
		}
	}
	if _, _, _, err := buildServer(&tf, "127.0.0.1:0", "", creds, "x509_hash", 0, []string{iaca}, "", false, log, nil, nil); err == nil {
		t.Error("JPKI roots without CRL dir accepted")
	}
}

// TestServeWithoutReaderFlags: serve needs only --trust. It makes a
// development reader certificate in its data directory on the first run,
// says where, and reuses it on the next.
func TestServeWithoutReaderFlags(t *testing.T) {
	is, _ := vt.NewIssuer("srv")
	iaca := filepath.Join(t.TempDir(), "iaca.pem")
	os.WriteFile(iaca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: is.IACA.Raw}), 0o644)
	data := filepath.Join(t.TempDir(), "verifier")
	for i, want := range []string{"created the development reader certificate", "using the development reader certificate"} {
		ctx, cancel := context.WithCancel(context.Background())
		var out, errb syncbuf.Buffer
		done := make(chan int, 1)
		go func() {
			// The second run uses --addr, the flag's earlier name, as an
			// old script would: it still works, with a warning.
			listen := []string{"--listen", "--addr"}[i]
			done <- run(ctx, []string{"serve", "--trust", iaca, "--data-dir", data, listen, "127.0.0.1:0"}, strings.NewReader(""), &out, &errb)
		}()
		if err := out.Await("serving on http://", done, 10*time.Second); err != nil {
			t.Fatalf("run %d: serve: %v\n%s %s", i, err, out.String(), errb.String())
		}
		cancel()
		if code := <-done; code != exitValid {
			t.Fatalf("run %d: exit %d after shutdown: %s", i, code, errb.String())
		}
		if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), filepath.Join(data, trust.DevReaderCAFile)) {
			t.Fatalf("run %d: output %q lacks %q and the CA path", i, out.String(), want)
		}
		if warned := strings.Contains(errb.String(), "use --listen"); warned != (i == 1) {
			t.Fatalf("run %d: deprecation warning %v: %s", i, warned, errb.String())
		}
	}
}

// TestServeDevelopmentDefaults: with no trust and no reader flags, serve
// starts beside the development issuer: it trusts the IACA in the issuer's
// data directory (waiting for it to appear) and says where everything is.
func TestServeDevelopmentDefaults(t *testing.T) {
	is, _ := vt.NewIssuer("dev")
	issuerDir := filepath.Join(t.TempDir(), "issuer")
	data := filepath.Join(t.TempDir(), "verifier")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--issuer-data-dir", issuerDir, "--data-dir", data, "--listen", "127.0.0.1:0"}, strings.NewReader(""), &out, &errb)
	}()
	// The issuer comes up a moment later.
	time.Sleep(300 * time.Millisecond)
	os.MkdirAll(filepath.Join(issuerDir, "pki"), 0o755)
	os.WriteFile(filepath.Join(issuerDir, "pki", "iaca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: is.IACA.Raw}), 0o644)
	if err := out.Await("serving on http://", done, 15*time.Second); err != nil {
		t.Fatalf("serve: %v\n%s %s", err, out.String(), errb.String())
	}
	cancel()
	if code := <-done; code != exitValid {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"waiting for the development issuer's IACA", "development defaults", filepath.Join(issuerDir, "pki", "iaca.pem"), filepath.Join(data, trust.DevReaderCAFile)} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestServeOperationalEndpoints: serve answers /healthz, /readyz and
// /metrics beside the API, counts requests by route pattern, and refuses
// an unknown --log-format as a usage error.
func TestServeOperationalEndpoints(t *testing.T) {
	testServeOperational(t, nil, `mnc_http_requests_total{method="POST",route="/api/transactions",server="verifier",status="201"} 1`)
}

// TestServeOnPostgres: with --postgres the transactions go to the shared
// store, whose readiness and pool show in /readyz and /metrics.
func TestServeOnPostgres(t *testing.T) {
	dsn := os.Getenv("MDOC_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("MDOC_TEST_POSTGRES_DSN not set")
	}
	testServeOperational(t, []string{"--postgres", dsn}, `mnc_db_pool_max_conns{server="verifier"} 16`)
}

func testServeOperational(t *testing.T, extra []string, wantMetric string) {
	is, _ := vt.NewIssuer("ops")
	iaca := filepath.Join(t.TempDir(), "iaca.pem")
	os.WriteFile(iaca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: is.IACA.Raw}), 0o644)
	data := filepath.Join(t.TempDir(), "verifier")
	if code := run(context.Background(), []string{"serve", "--trust", iaca, "--data-dir", data, "--listen", "127.0.0.1:0", "--log-format", "xml"}, strings.NewReader(""), io.Discard, io.Discard); code != exitUsage {
		t.Fatalf("--log-format xml: exit %d, want %d", code, exitUsage)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--trust", iaca, "--data-dir", data, "--listen", "127.0.0.1:0", "--log-format", "json"}, extra...), strings.NewReader(""), &out, &errb)
	}()
	if err := out.Await("serving on ", done, 10*time.Second); err != nil {
		t.Fatalf("serve: %v\n%s %s", err, out.String(), errb.String())
	}
	_, rest, _ := strings.Cut(out.String(), "serving on ")
	base, _, _ := strings.Cut(rest, " ")
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(base + p)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %v %v", p, err, resp)
		}
		resp.Body.Close()
	}
	resp, err := http.Post(base+"/api/transactions", "application/json", strings.NewReader(`{"protocol":"openid4vp","purpose":"age","ageOver":20}`))
	if err != nil || resp.StatusCode != http.StatusCreated || resp.Header.Get("X-Request-ID") == "" {
		t.Fatalf("create: %v %v", err, resp)
	}
	resp.Body.Close()
	resp, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{wantMetric, "process_cpu_seconds_total"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	cancel()
	if code := <-done; code != exitValid {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}
