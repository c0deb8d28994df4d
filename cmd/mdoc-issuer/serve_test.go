package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/cli"
)

// lockedBuffer is safe to read while serve writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

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
	var out, errb lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--log-format", "json", "-v"}, strings.NewReader(""), &out, &errb)
	}()
	base := ""
	deadline := time.Now().Add(30 * time.Second)
	for base == "" {
		if _, rest, ok := strings.Cut(out.String(), "listening on "); ok {
			base, _, _ = strings.Cut(rest, " ")
			break
		}
		select {
		case code := <-done:
			t.Fatalf("serve ended with %d: %s", code, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start: %s %s", out.String(), errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
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
