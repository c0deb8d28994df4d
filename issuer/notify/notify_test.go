package notify

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/store"
	"github.com/mynumber-mdoc/mnc/issuer/store/sqlite"
)

// smtpServer is a minimal in-process SMTP server that records messages.
type smtpServer struct {
	ln   net.Listener
	mu   sync.Mutex
	msgs []string
}

func newSMTPServer(t *testing.T) *smtpServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	w := func(l string) { c.Write([]byte(l + "\r\n")) }
	w("220 test ESMTP")
	var data strings.Builder
	inData := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if inData {
			if line == ".\r\n" {
				inData = false
				s.mu.Lock()
				s.msgs = append(s.msgs, data.String())
				s.mu.Unlock()
				w("250 OK")
				continue
			}
			data.WriteString(line)
			continue
		}
		switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			w("250 test")
		case strings.HasPrefix(cmd, "MAIL"), strings.HasPrefix(cmd, "RCPT"):
			w("250 OK")
		case cmd == "DATA":
			inData = true
			w("354 go ahead")
		case cmd == "QUIT":
			w("221 bye")
			return
		default:
			w("250 OK")
		}
	}
}

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
	var got []Message
	var mu sync.Mutex
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // first attempt fails
			return
		}
		var m Message
		json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
	}))
	defer hook.Close()
	mail := newSMTPServer(t)
	clock := now
	w := &Worker{Store: st, Webhook: &Webhook{URL: hook.URL}, SMTP: &SMTP{Addr: mail.ln.Addr().String(), From: "issuer@example.jp"}, Now: func() time.Time { return clock }}
	n, err := w.RunOnce(ctx)
	if err != nil || n != 0 {
		t.Fatalf("first run delivered %d: %v", n, err)
	}
	if n, _ := w.RunOnce(ctx); n != 0 {
		t.Fatal("retried before the backoff")
	}
	clock = clock.Add(DefaultBaseDelay)
	if n, err := w.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("retry delivered %d: %v", n, err)
	}
	if len(got) != 1 || got[0].Event != "device_suspended" || got[0].DeviceID != "d1" {
		t.Fatalf("webhook got %+v", got)
	}
	mail.mu.Lock()
	defer mail.mu.Unlock()
	if len(mail.msgs) < 1 || !strings.Contains(mail.msgs[len(mail.msgs)-1], "suspended") {
		t.Fatalf("mail %q", mail.msgs)
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
	w := &Worker{Store: st, Webhook: &Webhook{URL: hook.URL}, MaxAttempts: 3, Now: func() time.Time { return clock }}
	for i := 0; i < 5; i++ {
		w.RunOnce(ctx)
		clock = clock.Add(DefaultMaxDelay)
	}
	ns, _ := st.PendingNotifications(ctx, clock, 10)
	if len(ns) != 0 {
		t.Fatalf("abandoned notification still pending: %+v", ns)
	}
}
