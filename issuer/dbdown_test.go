package issuer

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/faultproxy"
	"github.com/mynumber-mdoc/mnc/issuer/store"
	"github.com/mynumber-mdoc/mnc/issuer/store/postgres"
	"github.com/mynumber-mdoc/mnc/issuer/store/storetest"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

// TestDatabaseDownAndBack: while PostgreSQL is unreachable (the proxy in
// front of it closed, every connection dropped) the issuer answers the
// endpoints that need it with 503 temporarily_unavailable and Retry-After,
// not 500, and its store's Ping (readiness) fails; once the database is
// back, the same process serves again without a restart.
func TestDatabaseDownAndBack(t *testing.T) {
	var proxy *faultproxy.Proxy
	e := newEnv(t, envOptions{store: func(t testing.TB) store.Store {
		u, err := url.Parse(storetest.PostgresDSN(t))
		if err != nil {
			t.Fatal(err)
		}
		if proxy, err = faultproxy.Start(u.Host); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(proxy.Close)
		u.Host = proxy.Addr()
		s, err := postgres.Open(context.Background(), u.String())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}})
	ctx := context.Background()
	post := func(path, auth, body string) (*http.Response, oid4vci.ErrorResponse) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var er oid4vci.ErrorResponse
		json.NewDecoder(resp.Body).Decode(&er)
		return resp, er
	}
	if resp, er := post(oid4vci.PathNonce, "", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("nonce with the database up: %d %+v", resp.StatusCode, er)
	}

	proxy.Down()
	for _, c := range []struct{ name, path, auth, body string }{
		{"nonce", oid4vci.PathNonce, "", ""},
		{"credential", oid4vci.PathCredential, "some-access-token", `{"credential_configuration_id":"` + oid4vci.ConfigMNC + `"}`},
	} {
		resp, er := post(c.path, c.auth, c.body)
		if resp.StatusCode != http.StatusServiceUnavailable || er.Error != oid4vci.CodeTemporarilyUnavailable {
			t.Errorf("%s with the database down: %d %+v, want 503 %s", c.name, resp.StatusCode, er, oid4vci.CodeTemporarilyUnavailable)
		}
		if resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s with the database down: no Retry-After", c.name)
		}
	}
	// What a wallet sees through the client: the code, and when to retry.
	cl := &oid4vci.Client{BaseURL: e.srv.URL, HTTP: e.srv.Client()}
	_, err := cl.Nonce(ctx)
	var oe *oid4vci.Error
	if !errors.As(err, &oe) || oe.Code != oid4vci.CodeTemporarilyUnavailable || oe.Status != http.StatusServiceUnavailable || oe.RetryAfter != 5*time.Second {
		t.Errorf("client with the database down: %#v, want temporarily_unavailable, 503, retry after 5s", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = e.st.(interface{ Ping(context.Context) error }).Ping(pctx)
	cancel()
	if err == nil {
		t.Error("Ping (readiness) succeeded with the database down")
	}

	if err := proxy.Up(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, er := post(oid4vci.PathNonce, "", "")
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the issuer did not recover: %d %+v", resp.StatusCode, er)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
