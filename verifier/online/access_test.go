package online_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/verifier/online"
)

// TestTransactionAccess: the outcome goes to the creator (secret as Bearer
// or cookie) or to the browser the wallet returned to (response_code), once;
// the transaction id from the QR code grants nothing.
func TestTransactionAccess(t *testing.T) {
	e := newEnv(t)
	c := e.create(online.ProtocolOpenID4VP, online.Purpose{Kind: online.PurposeAge, AgeOver: 20})
	if c.Secret == "" || strings.Contains(c.Invocation, c.Secret) {
		t.Fatalf("secret %q must exist and not be in the invocation", c.Secret)
	}
	form, ru := e.oid4vpWallet(c.Invocation, "")
	// The request object the wallet saw does not carry the secret either.
	if strings.Contains(string(e.get(e.ts.URL+"/oid4vp/request/"+c.ID)), c.Secret) {
		t.Fatal("secret in the request object")
	}
	_, m := post(t, ru, formType, form)
	redirect, _ := m["redirect_uri"].(string)
	_, frag, _ := strings.Cut(redirect, "#response_code=")
	if frag == "" {
		t.Fatalf("redirect_uri without response_code: %v", m)
	}
	cases := []struct {
		name, id, auth, query string
		code                  int
	}{
		{"no credential", c.ID, "", "", http.StatusForbidden},
		{"wrong secret", c.ID, "Bearer " + strings.Repeat("A", len(c.Secret)), "", http.StatusForbidden},
		{"the id as secret", c.ID, "Bearer " + c.ID, "", http.StatusForbidden},
		{"wrong response_code", c.ID, "", "?response_code=" + strings.Repeat("B", len(frag)), http.StatusForbidden},
		{"guessed id", "AAAAAAAAAAAAAAAAAAAAAA", "Bearer " + c.Secret, "", http.StatusNotFound},
		{"another transaction's secret", c.ID, "Bearer " + e.secrets[e.create(online.ProtocolOpenID4VP, online.Purpose{Kind: online.PurposeAge, AgeOver: 18}).ID], "", http.StatusForbidden},
	}
	for _, k := range cases {
		if code, b := e.read(k.id, k.auth, k.query); code != k.code || bytes.Contains(b, []byte("decision")) {
			t.Errorf("%s: %d %s, want %d without outcome", k.name, code, b, k.code)
		}
	}
	// The response_code reads it once; then it is erased for everyone.
	code, b := e.read(c.ID, "", "?response_code="+url.QueryEscape(frag))
	if code != http.StatusOK || !bytes.Contains(b, []byte(`"allowed":true`)) {
		t.Fatalf("response_code read: %d %s", code, b)
	}
	for _, auth := range []string{"Bearer " + c.Secret, ""} {
		if code, b := e.read(c.ID, auth, "?response_code="+url.QueryEscape(frag)); code != http.StatusConflict || bytes.Contains(b, []byte("decision")) {
			t.Fatalf("second read: %d %s", code, b)
		}
	}

	// A browser that created the transaction holds the secret as a cookie.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err := browser.Post(e.ts.URL+"/api/transactions", "application/json", strings.NewReader(`{"protocol":"openid4vp","purpose":"age","ageOver":20}`))
	if err != nil {
		t.Fatal(err)
	}
	var c2 online.Created
	json.NewDecoder(resp.Body).Decode(&c2)
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/api/transactions/"+c2.ID {
			t.Fatalf("cookie %+v", ck)
		}
	}
	resp, err = browser.Get(c2.StatusURI)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"state":"pending"`)) {
		t.Fatalf("browser read: %d %s", resp.StatusCode, b)
	}
	// Another browser (no cookie) gets nothing.
	if resp, _ := http.Get(c2.StatusURI); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("other browser: %d", resp.StatusCode)
	}
}

// TestUnreadOutcomeErased: an outcome nobody collects is gone once the
// transaction's deadline and the linger time have passed.
func TestUnreadOutcomeErased(t *testing.T) {
	e := newEnv(t)
	c := e.create(online.ProtocolOpenID4VP, online.Purpose{Kind: online.PurposeAge, AgeOver: 20})
	form, ru := e.oid4vpWallet(c.Invocation, "")
	if code, m := post(t, ru, formType, form); code != http.StatusOK {
		t.Fatalf("post: %d %v", code, m)
	}
	e.clock.Add(int64(online.DefaultTTL + online.DefaultLinger + time.Second))
	if code, b := e.read(c.ID, "Bearer "+c.Secret, ""); code != http.StatusNotFound {
		t.Fatalf("after expiry: %d %s", code, b)
	}
}

// listen serves h with limits on a real listener (httptest's server has
// no timeouts).
func listen(t *testing.T, h http.Handler, l online.ServerLimits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := online.NewHTTPServer(h, l, nil)
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return ln.Addr().String()
}

// TestSlowBodiesAreCut: clients that send headers and then hold the body
// back lose their connections at the read timeout instead of holding a
// descriptor each for as long as they like.
func TestSlowBodiesAreCut(t *testing.T) {
	e := newEnv(t)
	addr := listen(t, e.srv.Handler(), online.ServerLimits{ReadTimeout: 300 * time.Millisecond, ReadHeaderTimeout: 300 * time.Millisecond})
	const n = 100
	var wg sync.WaitGroup
	closed := make(chan time.Duration, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /oid4vp/response/x HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: 100000\r\n\r\nresponse=ey", addr, formType)
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			io.Copy(io.Discard, conn) // returns when the server closes
			closed <- time.Since(start)
		}()
	}
	wg.Wait()
	close(closed)
	for d := range closed {
		if d > 3*time.Second {
			t.Fatalf("a slow-body connection was held for %v", d)
		}
	}
	// A slow header is cut as well.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\n")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	t0 := time.Now()
	io.Copy(io.Discard, conn)
	if time.Since(t0) > 3*time.Second {
		t.Fatal("slow header not cut")
	}
}

func TestOversizedRequests(t *testing.T) {
	e := newEnv(t)
	addr := listen(t, e.srv.Handler(), online.ServerLimits{})
	base := "http://" + addr
	c := e.create(online.ProtocolOpenID4VP, online.Purpose{Kind: online.PurposeAge, AgeOver: 20})
	// Bodies over the limits: 413 limit_exceeded, transaction untouched.
	for _, k := range []struct {
		url, ctype string
		n          int
	}{
		{base + "/api/transactions", "application/json", online.MaxCreateBody + 1},
		{base + "/oid4vp/response/" + c.ID, formType, online.MaxBody + 1},
	} {
		code, m := post(t, k.url, k.ctype, bytes.Repeat([]byte("a"), k.n))
		if code != http.StatusRequestEntityTooLarge || m["code"] != "limit_exceeded" {
			t.Errorf("%s: %d %v", k.url, code, m)
		}
	}
	if st := e.statusOf(c.ID); st.State != online.StatePending {
		t.Fatalf("state %s", st.State)
	}
	// Headers over MaxHeaderBytes: 431 before any handler runs.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("h", 2*online.MaxHeaderBytes))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("big header: %d", resp.StatusCode)
	}
}
