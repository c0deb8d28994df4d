package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/cli"
	"github.com/mynumber-mdoc/mnc/internal/syncbuf"
)

// TestServeOperationalEndpoints: serve on its defaults answers /healthz,
// /readyz (store and keys) and /metrics, with the request, event, outbox
// and database-pool metrics, and logs JSON with request ids when asked.
func TestServeOperationalEndpoints(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "issuer")
	if code, _, _ := runCLI(t, "serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--log-format", "yaml"); code != cli.ExitUsage {
		t.Fatalf("--log-format yaml: exit %d, want %d", code, cli.ExitUsage)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--log-format", "json", "-v"}, strings.NewReader(""), &out, &errb)
	}()
	if err := out.Await("listening on ", done, 30*time.Second); err != nil {
		t.Fatalf("serve: %v\n%s %s", err, out.String(), errb.String())
	}
	_, rest, _ := strings.Cut(out.String(), "listening on ")
	base, _, _ := strings.Cut(rest, " ")
	get := func(p string, hdr ...string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, base+p, nil)
		if len(hdr) == 2 {
			req.Header.Set(hdr[0], hdr[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/readyz"); code != http.StatusOK || !strings.Contains(body, "ready") {
		t.Fatalf("readyz: %d %s", code, body)
	}
	if code, _ := get("/.well-known/openid-credential-issuer", "X-Request-ID", "probe-7"); code != http.StatusOK {
		t.Fatalf("metadata: %d", code)
	}
	_, metrics := get("/metrics")
	for _, want := range []string{
		`mnc_http_requests_total{method="GET",route="/.well-known/openid-credential-issuer",server="issuer",status="200"} 1`,
		`mnc_outbox_depth{server="issuer"} 0`,
		`go_sql_open_connections{db_name="issuer",server="issuer"}`,
		`process_cpu_seconds_total`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	cancel()
	if code := <-done; code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	found := false
	for _, line := range strings.Split(errb.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["request_id"] == "probe-7" && rec["route"] == "/.well-known/openid-credential-issuer" {
			found = true
		}
	}
	if !found {
		t.Errorf("no JSON access line with the request id:\n%s", errb.String())
	}
}
