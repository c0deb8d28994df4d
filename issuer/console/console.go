// Package console is the issuer's operator console: a small
// server-rendered page for the support line that takes "I lost my phone"
// calls. An operator signs in once with the admin token (exchanged for a
// session cookie), finds a person's devices and credentials by the
// person's pseudonymous id or a device id, suspends (一時利用停止), resumes
// or revokes (失効) them with a reason, and reads the audit log and the
// model/OS blocks. Pages are in Japanese or English by the browser's
// Accept-Language.
//
// Every state-changing request is a POST carrying the session's CSRF
// token; the session cookie is HttpOnly and SameSite=Strict, scoped to
// the console's path, and Secure when the request came over TLS.
package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer"
	"github.com/mynumber-mdoc/mnc/issuer/store"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

// Operations is what the console needs of the issuer: lookups and the
// support operator's lifecycle change. *issuer.Service implements it.
type Operations interface {
	Devices(ctx context.Context, personID string, limit int) ([]store.Device, error)
	Device(ctx context.Context, id string) (*store.Device, error)
	Credentials(ctx context.Context, deviceID string) ([]store.Credential, error)
	Audit(ctx context.Context, deviceID, personID string, limit int) ([]store.AuditEntry, error)
	Blocks(ctx context.Context) ([]store.Block, error)
	AdminChange(ctx context.Context, t issuer.AdminTarget, action, reason, operator string) (*oid4vci.LifecycleResponse, error)
}

// Limits of the console.
const (
	// SessionTTL is how long a sign-in lasts.
	SessionTTL = 8 * time.Hour
	// MaxSessions bounds the live sessions (old ones are dropped first).
	MaxSessions = 1000
	// maxForm bounds a form body.
	maxForm = 16 << 10
	// maxReason bounds a reason typed by the operator.
	maxReason = 500
	// auditRows is how many audit entries a page shows.
	auditRows  = 100
	cookieName = "mnc_console"
)

// Prefix is where the console is mounted on the issuer.
const Prefix = "/console/"

// Console serves the pages. Create it with New.
type Console struct {
	ops   Operations
	token []byte // SHA-256 of the admin token
	log   *slog.Logger
	now   func() time.Time

	mu       sync.Mutex
	sessions map[string]*session // by SHA-256 of the cookie value
}

type session struct {
	csrf    string
	expires time.Time
}

// New returns the console for ops, signed in with adminToken (empty
// disables it: New returns an error).
func New(ops Operations, adminToken string, log *slog.Logger) (*Console, error) {
	if adminToken == "" {
		return nil, errors.New("console: no admin token configured")
	}
	if log == nil {
		log = slog.Default()
	}
	h := sha256.Sum256([]byte(adminToken))
	return &Console{ops: ops, token: h[:], log: log, now: time.Now, sessions: map[string]*session{}}, nil
}

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"t":    translate,
	"date": func(t time.Time) string { return t.Local().Format("2006-01-02 15:04") },
	"day":  func(t time.Time) string { return t.Local().Format("2006-01-02") },
}).ParseFS(templateFS, "templates/*.html"))

func random() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func hashKey(v string) string {
	h := sha256.Sum256([]byte(v))
	return hex.EncodeToString(h[:])
}

// ServeHTTP implements http.Handler for paths under Prefix.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	path := strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(Prefix, "/"))
	lang := language(r)
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
	}
	switch {
	case path == "/login" && r.Method == http.MethodPost:
		c.login(w, r, lang)
		return
	case path == "/" || path == "":
	case path == "/action" || path == "/logout" || path == "/search" || path == "/audit":
	default:
		http.NotFound(w, r)
		return
	}
	s := c.session(r)
	if s == nil {
		c.render(w, http.StatusOK, "login.html", map[string]any{"Lang": lang})
		return
	}
	if r.Method == http.MethodPost && subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(s.csrf)) != 1 {
		http.Error(w, "invalid or missing CSRF token", http.StatusForbidden)
		return
	}
	switch {
	case path == "/logout" && r.Method == http.MethodPost:
		c.logout(w, r)
	case path == "/action" && r.Method == http.MethodPost:
		c.action(w, r)
	case path == "/search":
		notice := ""
		if done := r.FormValue("done"); done != "" {
			notice = translate(lang, done) + ": " + translate(lang, "done")
			if f := r.FormValue("failed"); f != "" {
				notice = translate(lang, done) + ": " + translate(lang, "failed") + " (" + f + ")"
			}
		}
		c.search(w, r, lang, s, notice)
	case path == "/audit":
		c.audit(w, r, lang, s)
	case path == "/" || path == "":
		c.home(w, r, lang, s)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (c *Console) render(w http.ResponseWriter, status int, page string, data map[string]any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, page, data); err != nil {
		c.log.Error("console: render", "page", page, "err", err)
	}
}

// session returns the caller's live session, or nil.
func (c *Console) session(r *http.Request) *session {
	ck, err := r.Cookie(cookieName)
	if err != nil || ck.Value == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	key := hashKey(ck.Value)
	s := c.sessions[key]
	if s == nil || c.now().After(s.expires) {
		delete(c.sessions, key)
		return nil
	}
	return s
}

func (c *Console) login(w http.ResponseWriter, r *http.Request, lang string) {
	h := sha256.Sum256([]byte(r.PostForm.Get("token")))
	if subtle.ConstantTimeCompare(h[:], c.token) != 1 {
		c.log.Warn("console: sign-in refused", "remote", r.RemoteAddr)
		c.render(w, http.StatusUnauthorized, "login.html", map[string]any{"Lang": lang, "Failed": true})
		return
	}
	value := random()
	now := c.now()
	c.mu.Lock()
	for k, s := range c.sessions {
		if now.After(s.expires) || len(c.sessions) >= MaxSessions {
			delete(c.sessions, k)
		}
	}
	c.sessions[hashKey(value)] = &session{csrf: random(), expires: now.Add(SessionTTL)}
	c.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: value, Path: Prefix, HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: int(SessionTTL / time.Second)})
	c.log.Info("console: operator signed in", "remote", r.RemoteAddr)
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(cookieName); err == nil {
		c.mu.Lock()
		delete(c.sessions, hashKey(ck.Value))
		c.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: Prefix, MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

func (c *Console) home(w http.ResponseWriter, r *http.Request, lang string, s *session) {
	blocks, err := c.ops.Blocks(r.Context())
	data := map[string]any{"Lang": lang, "CSRF": s.csrf, "Blocks": blocks}
	status := http.StatusOK
	if err != nil {
		status, data["Error"] = c.failure(lang, err)
	}
	c.render(w, status, "home.html", data)
}

// failure is the status and message the console shows for err. A
// database that cannot be reached (store.Unavailable) is 503 with a
// message the operator can act on, in their language, rather than the
// driver's text; anything else, and any refusal that names its own
// condition (*oid4vci.Error, even one wrapping a network error), is 500
// with the error's own text (a refused lifecycle change says why).
func (c *Console) failure(lang string, err error) (int, string) {
	var refusal *oid4vci.Error
	if !errors.As(err, &refusal) && store.Unavailable(err) {
		c.log.Warn("console: database unavailable", "err", err)
		return http.StatusServiceUnavailable, translate(lang, "db_unavailable")
	}
	return http.StatusInternalServerError, err.Error()
}

// deviceView is a device with its credentials.
type deviceView struct {
	store.Device
	Credentials []store.Credential
}

// search finds a person by pseudonymous id or by one of their device ids
// and shows every device with its credentials.
func (c *Console) search(w http.ResponseWriter, r *http.Request, lang string, s *session, notice string) {
	ctx := r.Context()
	q := strings.TrimSpace(r.FormValue("q"))
	data := map[string]any{"Lang": lang, "CSRF": s.csrf, "Query": q, "Notice": notice}
	if q == "" || len(q) > 200 {
		data["Error"] = translate(lang, "enter_query")
		c.render(w, http.StatusBadRequest, "person.html", data)
		return
	}
	person := q
	if d, err := c.ops.Device(ctx, q); err == nil {
		person = d.PersonID
	} else if !errors.Is(err, store.ErrNotFound) {
		status, msg := c.failure(lang, err)
		data["Error"] = msg
		c.render(w, status, "person.html", data)
		return
	}
	devs, err := c.ops.Devices(ctx, person, 50)
	if err != nil {
		status, msg := c.failure(lang, err)
		data["Error"] = msg
		c.render(w, status, "person.html", data)
		return
	}
	if len(devs) == 0 {
		data["Error"] = translate(lang, "not_found")
		c.render(w, http.StatusNotFound, "person.html", data)
		return
	}
	var views []deviceView
	for _, d := range devs {
		creds, err := c.ops.Credentials(ctx, d.ID)
		if err != nil {
			_, data["Error"] = c.failure(lang, err)
		}
		views = append(views, deviceView{Device: d, Credentials: creds})
	}
	data["Person"], data["Devices"] = person, views
	c.render(w, http.StatusOK, "person.html", data)
}

func (c *Console) audit(w http.ResponseWriter, r *http.Request, lang string, s *session) {
	person := strings.TrimSpace(r.FormValue("person"))
	device := strings.TrimSpace(r.FormValue("device"))
	entries, err := c.ops.Audit(r.Context(), device, person, auditRows)
	data := map[string]any{"Lang": lang, "CSRF": s.csrf, "Person": person, "Device": device, "Entries": entries}
	status := http.StatusOK
	if err != nil {
		status, data["Error"] = c.failure(lang, err)
	}
	c.render(w, status, "audit.html", data)
}

// action suspends, resumes or revokes a device or all of a person's
// devices, with the operator's reason, then shows the person again.
func (c *Console) action(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	act, reason := f.Get("action"), strings.TrimSpace(f.Get("reason"))
	switch act {
	case "suspend", "resume", "revoke":
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
		return
	}
	if reason == "" || len(reason) > maxReason {
		http.Error(w, "a reason of 1 to 500 characters is required", http.StatusBadRequest)
		return
	}
	t := issuer.AdminTarget{DeviceID: f.Get("device"), PersonID: f.Get("person")}
	if (t.DeviceID == "") == (t.PersonID == "") {
		http.Error(w, "name one device or one person", http.StatusBadRequest)
		return
	}
	res, err := c.ops.AdminChange(r.Context(), t, act, reason, "console")
	back := url.Values{"q": {f.Get("q")}, "done": {act}}
	if err != nil {
		c.log.Warn("console: action failed", "action", act, "err", err)
		_, msg := c.failure(language(r), err)
		back.Set("failed", msg)
	} else {
		c.log.Info("console: action", "action", act, "device", t.DeviceID, "person", t.PersonID, "changed", len(res.DeviceIDs))
	}
	http.Redirect(w, r, Prefix+"search?"+back.Encode(), http.StatusSeeOther)
}
