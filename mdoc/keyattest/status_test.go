package keyattest_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc/keyattest"
)

func TestStatusSource(t *testing.T) {
	// Google's published sample format (android-key-attestation's status.json).
	body := `{"entries":{"6681152659205225093":{"status":"REVOKED","reason":"KEY_COMPROMISE"},"0cc66e9a93713b6e643b26c15879786f7":{"status":"SUSPENDED","reason":"KEY_COMPROMISE"}}}`
	var hits atomic.Int32
	fail := atomic.Bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if fail.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(body))
	}))
	defer srv.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	src := &keyattest.StatusSource{Location: srv.URL, Client: srv.Client(), TTL: time.Hour, MaxStale: 24 * time.Hour, Now: func() time.Time { return now }}
	l, err := src.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Entries["cc66e9a93713b6e643b26c15879786f7"]; !ok {
		t.Error("leading zero not normalised")
	}
	src.List(t.Context())
	if hits.Load() != 1 {
		t.Errorf("cached list refetched: %d hits", hits.Load())
	}
	// After the TTL a failed refresh falls back to the cached list…
	fail.Store(true)
	now = now.Add(2 * time.Hour)
	if _, err := src.List(t.Context()); err != nil {
		t.Fatalf("stale fallback: %v", err)
	}
	// …until MaxStale, then verification fails closed.
	now = now.Add(48 * time.Hour)
	_, err = src.List(t.Context())
	wantCode(t, err, keyattest.CodeStatusUnavailable)

	// File source; malformed and oversized lists refused.
	dir := t.TempDir()
	f := filepath.Join(dir, "status.json")
	os.WriteFile(f, []byte(body), 0o600)
	if _, err := (&keyattest.StatusSource{Location: f}).List(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, err = keyattest.ParseStatusList([]byte(`{"entries": 5}`))
	wantCode(t, err, keyattest.CodeMalformed)
	_, err = keyattest.ParseStatusList([]byte(`{}`))
	wantCode(t, err, keyattest.CodeMalformed)
	_, err = keyattest.ParseStatusList(make([]byte, keyattest.MaxStatusListBytes+1))
	wantCode(t, err, keyattest.CodeTooLarge)
	_, err = (&keyattest.StatusSource{Location: filepath.Join(dir, "missing.json")}).List(t.Context())
	wantCode(t, err, keyattest.CodeStatusUnavailable)
}
