// Package notifytest provides in-process receivers for the issuer's
// notifications in tests: a minimal SMTP server that records each message
// with its envelope, and a webhook receiver that records each JSON body.
package notifytest

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/mynumber-mdoc/mnc/issuer/notify"
)

// Mail is one received message.
type Mail struct {
	From string
	To   []string
	Data string // headers and body as sent
}

// SMTPServer is a minimal SMTP server on loopback (no TLS, no auth).
type SMTPServer struct {
	Addr string
	ln   net.Listener
	mu   sync.Mutex
	msgs []Mail
}

// maxLine bounds a command or data line the test server reads.
const maxLine = 64 << 10

// NewSMTPServer starts a server closed at the end of the test.
func NewSMTPServer(t testing.TB) *SMTPServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &SMTPServer{ln: ln, Addr: ln.Addr().String()}
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

// Messages returns the messages received so far.
func (s *SMTPServer) Messages() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.msgs...)
}

func (s *SMTPServer) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, maxLine)
	w := func(l string) { c.Write([]byte(l + "\r\n")) }
	w("220 test ESMTP")
	var cur Mail
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
				cur.Data = data.String()
				s.mu.Lock()
				s.msgs = append(s.msgs, cur)
				s.mu.Unlock()
				cur, data = Mail{}, strings.Builder{}
				w("250 OK")
				continue
			}
			data.WriteString(line)
			continue
		}
		trimmed := strings.TrimSpace(line)
		switch cmd := strings.ToUpper(trimmed); {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			w("250 test")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			cur.From = strings.Trim(trimmed[len("MAIL FROM:"):], "<> ")
			w("250 OK")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			cur.To = append(cur.To, strings.Trim(trimmed[len("RCPT TO:"):], "<> "))
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

// Webhook records the JSON bodies posted to it.
type Webhook struct {
	URL  string
	mu   sync.Mutex
	msgs []notify.Message
}

// NewWebhook starts a receiver closed at the end of the test.
func NewWebhook(t testing.TB) *Webhook {
	t.Helper()
	h := &Webhook{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m notify.Message
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.msgs = append(h.msgs, m)
		h.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	h.URL = srv.URL
	return h
}

// Messages returns the messages received so far.
func (h *Webhook) Messages() []notify.Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]notify.Message(nil), h.msgs...)
}
