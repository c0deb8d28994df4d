// Package notify delivers the issuer's notifications — issuance,
// revocation, suspension, device change and reported use — from the store's
// outbox to a webhook (JSON POST) and/or by e-mail (SMTP), with retries and
// exponential backoff. Events enter the outbox in the same transaction as
// the change they report, so a crash never loses one; delivery is at least
// once (receivers deduplicate by the id field).
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/smtp"
	"strings"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/store"
)

// Defaults.
const (
	DefaultMaxAttempts = 8
	DefaultBaseDelay   = 5 * time.Second
	DefaultMaxDelay    = time.Hour
	DefaultInterval    = 2 * time.Second
	DefaultBatch       = 50
)

// Webhook posts each event as JSON to URL.
type Webhook struct {
	URL    string
	Client *http.Client // nil: 10-second timeout client
}

// SMTP sends each event with a holder e-mail address as a short message.
type SMTP struct {
	Addr string // host:port
	From string
	// Auth is optional (PLAIN over TLS in production).
	Auth smtp.Auth
}

// Worker delivers the outbox. It takes only the Outbox role of the store:
// delivery reads pending rows and marks them, nothing else.
type Worker struct {
	Outbox      store.Outbox
	Webhook     *Webhook
	SMTP        *SMTP
	MaxAttempts int
	BaseDelay   time.Duration
	MaxDelay    time.Duration
	Interval    time.Duration
	Now         func() time.Time
	Logger      *slog.Logger
}

func (w *Worker) defaults() {
	if w.MaxAttempts == 0 {
		w.MaxAttempts = DefaultMaxAttempts
	}
	if w.BaseDelay == 0 {
		w.BaseDelay = DefaultBaseDelay
	}
	if w.MaxDelay == 0 {
		w.MaxDelay = DefaultMaxDelay
	}
	if w.Interval == 0 {
		w.Interval = DefaultInterval
	}
	if w.Now == nil {
		w.Now = time.Now
	}
	if w.Logger == nil {
		w.Logger = slog.Default()
	}
}

// Run delivers until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	w.defaults()
	t := time.NewTicker(w.Interval)
	defer t.Stop()
	for {
		if _, err := w.RunOnce(ctx); err != nil && ctx.Err() == nil {
			w.Logger.WarnContext(ctx, "notification delivery", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce delivers one batch of due notifications and returns how many were
// delivered.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	w.defaults()
	now := w.Now()
	ns, err := w.Outbox.PendingNotifications(ctx, now, DefaultBatch)
	if err != nil {
		return 0, err
	}
	delivered := 0
	for _, n := range ns {
		err := w.deliver(ctx, n)
		if err == nil {
			delivered++
			if err := w.Outbox.MarkNotification(ctx, n.ID, true, "", now); err != nil {
				return delivered, err
			}
			continue
		}
		attempts := n.Attempts + 1
		if attempts >= w.MaxAttempts {
			// Give up: mark delivered=false forever by pushing the next
			// attempt far out, keeping the last error for the admin.
			w.Logger.ErrorContext(ctx, "notification abandoned", "id", n.ID, "event", n.Event, "attempts", attempts, "err", err)
			if err := w.Outbox.MarkNotification(ctx, n.ID, false, "abandoned: "+err.Error(), now.Add(100*365*24*time.Hour)); err != nil {
				return delivered, err
			}
			continue
		}
		delay := min(w.BaseDelay<<(attempts-1), w.MaxDelay)
		w.Logger.WarnContext(ctx, "notification failed; will retry", "id", n.ID, "event", n.Event, "attempt", attempts, "retry_in", delay, "err", err)
		if err := w.Outbox.MarkNotification(ctx, n.ID, false, err.Error(), now.Add(delay)); err != nil {
			return delivered, err
		}
	}
	return delivered, nil
}

// Message is the webhook body.
type Message struct {
	ID       int64           `json:"id"`
	Event    string          `json:"event"`
	PersonID string          `json:"person_id,omitempty"`
	DeviceID string          `json:"device_id,omitempty"`
	Data     json.RawMessage `json:"data"`
	Created  time.Time       `json:"created_at"`
}

func (w *Worker) deliver(ctx context.Context, n store.Notification) error {
	var errs []error
	if n.Event == store.EventTxCode && (w.SMTP == nil || w.SMTP.Addr == "" || n.Email == "") {
		// The code may reach the holder's own address only; without one
		// it cannot be delivered at all (never fall back to the webhook).
		return errors.New("tx_code needs SMTP and the holder's e-mail")
	}
	if w.Webhook != nil && w.Webhook.URL != "" && n.Event != store.EventTxCode {
		// The operator webhook never sees a tx_code: it is the holder's
		// second channel (OpenID4VCI 1.0 §4.1.1), not the operator's.
		if err := w.Webhook.send(ctx, n); err != nil {
			errs = append(errs, fmt.Errorf("webhook: %w", err))
		}
	}
	if w.SMTP != nil && w.SMTP.Addr != "" && n.Email != "" {
		if err := w.SMTP.send(ctx, n); err != nil {
			errs = append(errs, fmt.Errorf("smtp: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (h *Webhook) send(ctx context.Context, n store.Notification) error {
	body, _ := json.Marshal(Message{ID: n.ID, Event: n.Event, PersonID: n.PersonID, DeviceID: n.DeviceID, Data: json.RawMessage(n.Payload), Created: n.CreatedAt})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	c := h.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

var subjects = map[string]string{
	"credential_issued": "Your My Number credential was issued to your phone",
	"device_enrolled":   "A phone was registered for your My Number credential",
	"device_replaced":   "Your previous phone's My Number credential was revoked (device change)",
	"device_revoked":    "Your phone's My Number credential was revoked",
	"device_suspended":  "Your phone's My Number credential was suspended",
	"device_resumed":    "Your phone's My Number credential is usable again",
	"linked_revocation": "Your My Number credential was revoked because the card certificate was revoked",
	"credential_used":   "Your My Number credential was used",
	store.EventTxCode:   "Your code to receive the My Number credential",
}

func (s *SMTP) send(ctx context.Context, n store.Notification) error {
	if strings.ContainsAny(n.Email, "\r\n") || strings.ContainsAny(s.From, "\r\n") {
		return errors.New("invalid address")
	}
	subj := subjects[n.Event]
	if subj == "" {
		subj = "My Number credential notification: " + n.Event
	}
	var data map[string]any
	json.Unmarshal([]byte(n.Payload), &data)
	body := fmt.Sprintf("Event: %s\r\nDevice: %s\r\nDetail: %v\r\nAt: %v\r\n", n.Event, n.DeviceID, data["detail"], data["at"])
	if n.Event == store.EventTxCode {
		code, _ := data["tx_code"].(string)
		if code == "" {
			return errors.New("tx_code notification without a code (already erased?)")
		}
		body = fmt.Sprintf("Enter this code in your wallet to receive your credential: %s\r\nDevice: %s\r\nValid until: %v\r\n"+
			"If you did not ask for a My Number credential on a phone, do not enter it and contact support.\r\n", code, n.DeviceID, data["expires_at"])
	}
	msg := "From: " + s.From + "\r\nTo: " + n.Email + "\r\nSubject: " + subj + "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n" + body
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(s.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if s.Auth != nil {
		if err := c.Auth(s.Auth); err != nil {
			return err
		}
	}
	if err := c.Mail(s.From); err != nil {
		return err
	}
	if err := c.Rcpt(n.Email); err != nil {
		return err
	}
	wc, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := wc.Write([]byte(msg)); err != nil {
		return err
	}
	if err := wc.Close(); err != nil {
		return err
	}
	return c.Quit()
}
