package notify_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/notify"
	"github.com/mynumber-mdoc/mnc/issuer/notify/notifytest"
	"github.com/mynumber-mdoc/mnc/issuer/store"
	"github.com/mynumber-mdoc/mnc/issuer/store/sqlite"
)

func TestWebhookAndSMTPWithRetries(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	st.AddEvent(ctx, store.Event{Actor: "admin", Action: "device_suspended", DeviceID: "d1", Detail: "lost", Notify: true, Email: "taro@example.jp"}, now)
	st.AddEvent(ctx, store.Event{Actor: "admin", Action: "not_notified", DeviceID: "d1"}, now)

	var calls atomic.Int32
	var got []notify.Message
	var mu sync.Mutex
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // first attempt fails
			return
		}
		var m notify.Message
		json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
	}))
	defer hook.Close()
	mail := notifytest.NewSMTPServer(t)
	clock := now
	w := &notify.Worker{Outbox: st, Webhook: &notify.Webhook{URL: hook.URL}, SMTP: &notify.SMTP{Addr: mail.Addr, From: "issuer@example.jp"}, Now: func() time.Time { return clock }}
	n, err := w.RunOnce(ctx)
	if err != nil || n != 0 {
		t.Fatalf("first run delivered %d: %v", n, err)
	}
	if n, _ := w.RunOnce(ctx); n != 0 {
		t.Fatal("retried before the backoff")
	}
	clock = clock.Add(notify.DefaultBaseDelay)
	if n, err := w.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("retry delivered %d: %v", n, err)
	}
	if len(got) != 1 || got[0].Event != "device_suspended" || got[0].DeviceID != "d1" {
		t.Fatalf("webhook got %+v", got)
	}
	msgs := mail.Messages()
	if len(msgs) < 1 || !strings.Contains(msgs[len(msgs)-1].Data, "suspended") {
		t.Fatalf("mail %+v", msgs)
	}
	if n, _ := w.RunOnce(ctx); n != 0 {
		t.Fatal("delivered twice")
	}
}

func TestGivesUp(t *testing.T) {
	ctx := context.Background()
	st, _ := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	defer st.Close()
	now := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	st.AddEvent(ctx, store.Event{Action: "device_revoked", Notify: true}, now)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer hook.Close()
	clock := now
	w := &notify.Worker{Outbox: st, Webhook: &notify.Webhook{URL: hook.URL}, MaxAttempts: 3, Now: func() time.Time { return clock }}
	for i := 0; i < 5; i++ {
		w.RunOnce(ctx)
		clock = clock.Add(notify.DefaultMaxDelay)
	}
	ns, _ := st.PendingNotifications(ctx, clock, 10)
	if len(ns) != 0 {
		t.Fatalf("abandoned notification still pending: %+v", ns)
	}
}
