package console

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer"
	"github.com/mynumber-mdoc/mnc/issuer/store"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

// fakeOps is an issuer with one person and two devices.
type fakeOps struct {
	devices []store.Device
	changes []string
	down    error // when set, every call fails with it (the database is unreachable)
	refuse  error // when set, AdminChange fails with it
}

func (f *fakeOps) Devices(_ context.Context, personID string, _ int) ([]store.Device, error) {
	if f.down != nil {
		return nil, f.down
	}
	var out []store.Device
	for _, d := range f.devices {
		if d.PersonID == personID {
			out = append(out, d)
		}
	}
	return out, nil
}

func (f *fakeOps) Device(_ context.Context, id string) (*store.Device, error) {
	if f.down != nil {
		return nil, f.down
	}
	for _, d := range f.devices {
		if d.ID == id {
			return &d, nil
		}
	}
	return nil, store.ErrNotFound
}

func (f *fakeOps) Credentials(_ context.Context, deviceID string) ([]store.Credential, error) {
	return []store.Credential{{ID: "cred-" + deviceID, DeviceID: deviceID, DocType: "org.iso.23220.1.jp.mnc", State: "valid", ValidUntil: time.Now().Add(time.Hour)}}, nil
}

func (f *fakeOps) Audit(_ context.Context, deviceID, personID string, _ int) ([]store.AuditEntry, error) {
	if f.down != nil {
		return nil, f.down
	}
	return []store.AuditEntry{{At: time.Now(), Actor: "admin", Action: "suspend", PersonID: personID, DeviceID: deviceID, Detail: "lost"}}, nil
}

func (f *fakeOps) Blocks(context.Context) ([]store.Block, error) {
	if f.down != nil {
		return nil, f.down
	}
	return []store.Block{{Kind: "model", Value: "Pixel 8", Reason: "CVE-2026-0042", CreatedAt: time.Now()}}, nil
}

func (f *fakeOps) AdminChange(_ context.Context, t issuer.AdminTarget, action, reason, operator string) (*oid4vci.LifecycleResponse, error) {
	if f.down != nil {
		return nil, f.down
	}
	if f.refuse != nil {
		return nil, f.refuse
	}
	f.changes = append(f.changes, action+" "+t.DeviceID+t.PersonID+" "+reason+" by "+operator)
	return &oid4vci.LifecycleResponse{DeviceIDs: []string{t.DeviceID}, Changed: true}, nil
}

func setup(t *testing.T) (*fakeOps, *httptest.Server, *http.Client) {
	t.Helper()
	ops := &fakeOps{devices: []store.Device{
		{ID: "dev_a", PersonID: "per_1", Model: "Pixel 9", OSVersion: "16", State: store.DeviceActive, CreatedAt: time.Now()},
		{ID: "dev_b", PersonID: "per_1", Model: "iPhone16,1", OSVersion: "18.2", State: "revoked", CreatedAt: time.Now()},
	}}
	c, err := New(ops, "secret-token", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(Prefix, c)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar}
	return ops, srv, cl
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	i := strings.Index(page, `name="csrf" value="`)
	if i < 0 {
		t.Fatalf("no CSRF token in page:\n%s", page)
	}
	rest := page[i+len(`name="csrf" value="`):]
	return rest[:strings.IndexByte(rest, '"')]
}

func TestSignInAndCSRF(t *testing.T) {
	ops, srv, cl := setup(t)
	if _, err := New(ops, "", nil); err == nil {
		t.Fatal("a console without an admin token")
	}
	// Not signed in: the sign-in page, even for search.
	r, _ := cl.Get(srv.URL + "/console/search?q=dev_a")
	if p := body(t, r); !strings.Contains(p, `name="token"`) || strings.Contains(p, "dev_a") {
		t.Fatalf("unauthenticated search:\n%s", p)
	}
	r, _ = cl.PostForm(srv.URL+"/console/login", url.Values{"token": {"wrong"}})
	if r.StatusCode != http.StatusUnauthorized || len(cl.Jar.Cookies(r.Request.URL)) != 0 {
		t.Fatalf("wrong token: %d, cookies %v", r.StatusCode, cl.Jar.Cookies(r.Request.URL))
	}
	body(t, r)
	r, _ = cl.PostForm(srv.URL+"/console/login", url.Values{"token": {"secret-token"}})
	home := body(t, r)
	if r.StatusCode != http.StatusOK || !strings.Contains(home, "Pixel 8") {
		t.Fatalf("after sign-in: %d\n%s", r.StatusCode, home)
	}
	set := r.Request.Response.Header.Get("Set-Cookie")
	for _, want := range []string{"HttpOnly", "SameSite=Strict", "Path=/console/"} {
		if !strings.Contains(set, want) {
			t.Errorf("session cookie %q lacks %s", set, want)
		}
	}
	csrf := csrfOf(t, home)
	// An action without, or with a wrong, CSRF token is refused.
	for _, tok := range []string{"", "nope"} {
		r, _ = cl.PostForm(srv.URL+"/console/action", url.Values{"csrf": {tok}, "device": {"dev_a"}, "action": {"suspend"}, "reason": {"lost"}})
		if r.StatusCode != http.StatusForbidden {
			t.Fatalf("CSRF %q: %d", tok, r.StatusCode)
		}
		body(t, r)
	}
	if len(ops.changes) != 0 {
		t.Fatalf("changes without CSRF: %v", ops.changes)
	}
	// With it: the change happens with the operator's reason, and the
	// person page comes back with a notice.
	r, _ = cl.PostForm(srv.URL+"/console/action", url.Values{"csrf": {csrf}, "device": {"dev_a"}, "action": {"suspend"}, "reason": {"紛失の届出"}, "q": {"dev_a"}})
	p := body(t, r)
	if len(ops.changes) != 1 || ops.changes[0] != "suspend dev_a 紛失の届出 by console" || !strings.Contains(p, `id="notice"`) {
		t.Fatalf("changes %v\n%s", ops.changes, p)
	}
	for _, bad := range []url.Values{
		{"csrf": {csrf}, "device": {"dev_a"}, "action": {"delete"}, "reason": {"x"}},
		{"csrf": {csrf}, "device": {"dev_a"}, "action": {"revoke"}, "reason": {""}},
		{"csrf": {csrf}, "device": {"dev_a"}, "person": {"per_1"}, "action": {"revoke"}, "reason": {"x"}},
	} {
		r, _ = cl.PostForm(srv.URL+"/console/action", bad)
		if r.StatusCode != http.StatusBadRequest {
			t.Errorf("%v: %d", bad, r.StatusCode)
		}
		body(t, r)
	}
	// Sign out ends the session.
	r, _ = cl.PostForm(srv.URL+"/console/logout", url.Values{"csrf": {csrf}})
	if p := body(t, r); !strings.Contains(p, `name="token"`) {
		t.Fatalf("after sign-out:\n%s", p)
	}
}

func TestSearchAuditAndLanguage(t *testing.T) {
	_, srv, cl := setup(t)
	r, _ := cl.PostForm(srv.URL+"/console/login", url.Values{"token": {"secret-token"}})
	body(t, r)
	// By device id: the person with both devices and their credentials.
	r, _ = cl.Get(srv.URL + "/console/search?q=dev_b")
	p := body(t, r)
	for _, want := range []string{"per_1", "dev_a", "dev_b", "cred-dev_a", "Pixel 9", "一時利用停止", "失効"} {
		if !strings.Contains(p, want) {
			t.Errorf("person page lacks %q", want)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/console/search?q=per_1", nil)
	req.Header.Set("Accept-Language", "en-US,en;q=0.9")
	r, _ = cl.Do(req)
	if p := body(t, r); !strings.Contains(p, "Suspend") || !strings.Contains(p, "Operator console") {
		t.Errorf("English page:\n%s", p)
	}
	r, _ = cl.Get(srv.URL + "/console/search?q=nobody")
	if r.StatusCode != http.StatusNotFound {
		t.Errorf("unknown person: %d", r.StatusCode)
	}
	body(t, r)
	r, _ = cl.Get(srv.URL + "/console/audit?person=per_1")
	if p := body(t, r); !strings.Contains(p, "lost") {
		t.Errorf("audit:\n%s", p)
	}
	r, _ = cl.Get(srv.URL + "/console/elsewhere")
	if r.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path: %d", r.StatusCode)
	}
}

// TestDatabaseDown: with the database unreachable every page answers 503
// with a message the operator can act on, in their language, and never
// the driver's text (which names hosts); once it is back the pages work.
func TestDatabaseDown(t *testing.T) {
	ops, srv, cl := setup(t)
	r, _ := cl.PostForm(srv.URL+"/console/login", url.Values{"token": {"secret-token"}})
	csrf := csrfOf(t, body(t, r))
	ops.down = fmt.Errorf("failed to connect to host=db.internal user=mnc: %w",
		&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})
	const ja, en = "データベースに接続できません", "The database cannot be reached"
	for _, c := range []struct{ path, lang, want string }{
		{"/console/", "ja", ja},
		{"/console/search?q=dev_a", "ja", ja},
		{"/console/search?q=per_1", "en", en},
		{"/console/audit?person=per_1", "en", en},
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+c.path, nil)
		req.Header.Set("Accept-Language", c.lang)
		r, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		p := body(t, r)
		if r.StatusCode != http.StatusServiceUnavailable || !strings.Contains(p, c.want) || strings.Contains(p, "db.internal") {
			t.Errorf("%s (%s) with the database down: %d\n%s", c.path, c.lang, r.StatusCode, p)
		}
	}
	// A lifecycle change that fails for the database says so on the page
	// it returns to.
	r, err := cl.PostForm(srv.URL+"/console/action", url.Values{"csrf": {csrf}, "action": {"suspend"}, "device": {"dev_a"}, "reason": {"紛失の届出"}, "q": {"dev_a"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := body(t, r); !strings.Contains(p, ja) || strings.Contains(p, "db.internal") {
		t.Errorf("failed action:\n%s", p)
	}

	ops.down = nil
	r, _ = cl.Get(srv.URL + "/console/search?q=dev_a")
	if p := body(t, r); r.StatusCode != http.StatusOK || !strings.Contains(p, "dev_b") {
		t.Errorf("after the database is back: %d\n%s", r.StatusCode, p)
	}
}

// A refusal that names its own condition is shown as it is, even when it
// wraps a network error: it is not the database being down.
func TestRefusalIsNotAnOutage(t *testing.T) {
	ops, srv, cl := setup(t)
	r, _ := cl.PostForm(srv.URL+"/console/login", url.Values{"token": {"secret-token"}})
	csrf := csrfOf(t, body(t, r))
	ops.refuse = &oid4vci.Error{Code: oid4vci.CodeDeviceInactive, Description: "remote delete could not be queued",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	r, err := cl.PostForm(srv.URL+"/console/action", url.Values{"csrf": {csrf}, "action": {"revoke"}, "device": {"dev_a"}, "reason": {"紛失の届出"}, "q": {"dev_a"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := body(t, r); !strings.Contains(p, "remote delete could not be queued") || strings.Contains(p, "データベースに接続できません") {
		t.Errorf("refused action:\n%s", p)
	}
}
