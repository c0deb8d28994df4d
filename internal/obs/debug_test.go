package obs

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestServeDebug(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, tc := range []struct {
		addr    string
		remote  bool
		wantErr string
	}{
		{addr: "0.0.0.0:0", wantErr: "not loopback"},
		{addr: ":0", wantErr: "not loopback"},
		{addr: "example.com:6060", wantErr: "not loopback"},
		{addr: "127.0.0.1", wantErr: "missing port"},
	} {
		if _, err := ServeDebug(ctx, tc.addr, tc.remote, log); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("ServeDebug(%q) = %v, want error containing %q", tc.addr, err, tc.wantErr)
		}
	}
	addr, err := ServeDebug(ctx, "127.0.0.1:0", false, log)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("profile index: %s", resp.Status)
	}
	cancel()
	// After ctx ends the listener is closed.
	for i := 0; i < 100; i++ {
		if _, err = http.Get("http://" + addr + "/debug/pprof/cmdline"); err != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("debug listener still serving after its context ended")
}
