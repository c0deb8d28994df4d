package online_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vp"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/online"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
	testpki "github.com/mynumber-mdoc/mnc/verifier/verifiertest"
)

type env struct {
	t      testing.TB
	srv    *online.Server
	ts     *httptest.Server
	clock  atomic.Int64
	is     *testpki.Issuer
	reader *testpki.Reader
	dev    *ecdsa.PrivateKey
	mnc    *mdoc.IssuerSigned
	hic    *mdoc.IssuerSigned
	// secrets are the read secrets of the transactions this test created.
	secrets map[string]string
}

func newEnv(t testing.TB) *env { return newEnvLogging(t, nil) }

// newEnvLogging is newEnv with the server's logger (nil: slog.Default()).
func newEnvLogging(t testing.TB, log *slog.Logger) *env { return newEnvWith(t, log, nil) }

// newEnvWith is newEnvLogging with replicas: with stores, one server per
// store, all with the same base URL behind e.ts, which hands requests to
// them in turn as a round-robin load balancer would. e.srv is the first.
func newEnvWith(t testing.TB, log *slog.Logger, stores []online.Store) *env {
	t.Helper()
	e := &env{t: t, secrets: map[string]string{}}
	e.clock.Store(testpki.Now.UnixNano())
	var err error
	if e.is, err = testpki.NewIssuer("online"); err != nil {
		t.Fatal(err)
	}
	if e.reader, err = testpki.NewReader(mdoc.ReaderRoles{MedicalInstitution: true}, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	e.dev = testpki.DeviceKey()
	if e.mnc, err = e.is.Issue(mdoc.DocTypeMNC, testpki.MNCElements(mdoc.FullDate{Year: 1990, Month: 4, Day: 1}, map[int]bool{18: true, 20: true}), e.dev, nil, nil); err != nil {
		t.Fatal(err)
	}
	if e.hic, err = e.is.Issue(mdoc.DocTypeHIC, testpki.HICElements(mdoc.FullDate{Year: 2024, Month: 4, Day: 1}, mdoc.FullDate{Year: 2027, Month: 3, Day: 31}), e.dev, nil, nil); err != nil {
		t.Fatal(err)
	}
	creds, err := trust.NewReaderCredentials([]*x509Cert{e.reader.Cert}, e.reader.Key)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler
	e.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(e.ts.Close)
	newServer := func(st online.Store) *online.Server {
		srv, err := online.New(online.Config{
			BaseURL: e.ts.URL, Credentials: creds, Store: st,
			Verify: verifier.Options{Trust: trust.NewIACAsFromCertificates([]*x509Cert{e.is.IACA})},
			Now:    func() time.Time { return time.Unix(0, e.clock.Load()) },
			Logger: log,
		})
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	if len(stores) == 0 {
		e.srv = newServer(nil)
		h = e.srv.Handler()
		return e
	}
	var replicas []http.Handler
	for _, st := range stores {
		srv := newServer(st)
		if e.srv == nil {
			e.srv = srv
		}
		replicas = append(replicas, srv.Handler())
	}
	var turn atomic.Uint64
	h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		replicas[turn.Add(1)%uint64(len(replicas))].ServeHTTP(w, r)
	})
	return e
}

func (e *env) create(protocol string, p online.Purpose) *online.Created {
	e.t.Helper()
	b, _ := json.Marshal(online.CreateRequest{Protocol: protocol, Purpose: p})
	resp, err := http.Post(e.ts.URL+"/api/transactions", "application/json", bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var c online.Created
	if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&c) != nil {
		e.t.Fatalf("create: %d", resp.StatusCode)
	}
	e.secrets[c.ID] = c.Secret
	return &c
}

func (e *env) get(u string) []byte {
	e.t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		e.t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return b
}

// statusOf reads a transaction as its creator (with its secret).
func (e *env) statusOf(id string) *online.Status {
	e.t.Helper()
	code, b := e.read(id, "Bearer "+e.secrets[id], "")
	if code != http.StatusOK {
		e.t.Fatalf("status of %s: %d %s", id, code, b)
	}
	var st online.Status
	if err := json.Unmarshal(b, &st); err != nil {
		e.t.Fatal(err)
	}
	return &st
}

// read GETs a transaction's status with an Authorization header and a
// query, both optional.
func (e *env) read(id, authorization, query string) (int, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/api/transactions/"+id+query, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func post(t *testing.T, u, ctype string, body []byte) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(u, ctype, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// oid4vpWallet plays the wallet: fetch and verify the request object,
// present the requested elements under the OpenID4VPHandover transcript
// (with nonce overridden when set), encrypt, and return the form body.
func (e *env) oid4vpWallet(invocation, nonce string) (form []byte, responseURI string) {
	e.t.Helper()
	ar, err := oid4vp.ParseAuthorizationRequest(invocation)
	if err != nil {
		e.t.Fatal(err)
	}
	jwt := e.get(ar.RequestURI)
	vr, err := oid4vp.VerifyRequestObject(jwt, oid4vp.RequestObjectOptions{
		Trust: mdoc.NewTrustStore(mdoc.PurposeReaderAuth, false, e.reader.CA), CurrentTime: testpki.Now, ClientID: ar.ClientID})
	if err != nil {
		e.t.Fatalf("wallet: request object: %v", err)
	}
	ro := vr.Object
	if nonce == "" {
		nonce = ro.Nonce
	}
	st, err := oid4vp.SessionTranscript(ro.ClientID, nonce, vr.Thumbprint, ro.ResponseURI)
	if err != nil {
		e.t.Fatal(err)
	}
	resp := &oid4vp.AuthorizationResponse{State: ro.State}
	for _, q := range ro.DCQLQuery.Credentials {
		is := e.mnc
		if q.Meta.DoctypeValue == mdoc.DocTypeHIC {
			is = e.hic
		}
		dr, err := testpki.Present(st.Raw, testpki.Presented{IssuerSigned: is, Selection: q.Elements(), DeviceKey: e.dev})
		if err != nil {
			e.t.Fatal(err)
		}
		resp.AddPresentation(q.ID, dr)
	}
	jwe, err := oid4vp.EncryptResponse(resp, vr.EncryptionKey, vr.Enc)
	if err != nil {
		e.t.Fatal(err)
	}
	return []byte(url.Values{oid4vp.ResponseFormField: {string(jwe)}}.Encode()), ro.ResponseURI
}

const formType = "application/x-www-form-urlencoded"

func TestOpenID4VPAgeRoundTrip(t *testing.T) {
	e := newEnv(t)
	c := e.create(online.ProtocolOpenID4VP, online.Purpose{Kind: online.PurposeAge, AgeOver: 20})
	form, ru := e.oid4vpWallet(c.Invocation, "")

	// Tampered: refused, transaction stays open.
	tampered := bytes.Replace(form, []byte("."), []byte(".A"), 1)
	if code, m := post(t, ru, formType, tampered); code != http.StatusBadRequest {
		t.Fatalf("tampered: %d %v", code, m)
	}
	if st := e.statusOf(c.ID); st.State != online.StatePending {
		t.Fatalf("tampered response closed the transaction: %s", st.State)
	}

	code, m := post(t, ru, formType, form)
	if ruri, _ := m["redirect_uri"].(string); code != http.StatusOK || !strings.HasPrefix(ruri, e.ts.URL+"/tx/"+c.ID+"#response_code=") {
		t.Fatalf("post: %d %v", code, m)
	}
	st := e.statusOf(c.ID)
	if st.State != online.StateDone || !st.Valid || st.Decision == nil || !st.Decision.Allowed || st.Decision.Rule != "age_over_20" {
		t.Fatalf("status %+v decision %+v", st, st.Decision)
	}
	if st.Result != nil {
		t.Fatal("age check kept the presentation; only the answer may be kept")
	}
	// Replayed: refused.
	if code, m := post(t, ru, formType, form); code != http.StatusConflict || m["code"] != "transaction_consumed" {
		t.Fatalf("replay: %d %v", code, m)
	}
	// The request object is no longer served.
	resp, _ := http.Get(e.ts.URL + "/oid4vp/request/" + c.ID)
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("request after answer: %d", resp.StatusCode)
	}
}

func TestOpenID4VPRefusals(t *testing.T) {
	e := newEnv(t)
	// Wrong nonce: the device signed another transcript.
	c := e.create(online.ProtocolOpenID4VP, online.Purpose{Kind: online.PurposeAge, AgeOver: 20})
	form, ru := e.oid4vpWallet(c.Invocation, "attacker-chosen-nonce")
	if code, _ := post(t, ru, formType, form); code != http.StatusOK {
		t.Fatalf("post: %d", code)
	}
	st := e.statusOf(c.ID)
	if st.Valid || st.Decision.Allowed || !slices.Contains(st.Codes, "device_auth_invalid") {
		t.Fatalf("wrong nonce accepted: %+v", st)
	}

	// A response for another transaction (its key) does not decrypt here.
	c1 := e.create(online.ProtocolOpenID4VP, online.Purpose{Kind: online.PurposeAge, AgeOver: 20})
	c2 := e.create(online.ProtocolOpenID4VP, online.Purpose{Kind: online.PurposeAge, AgeOver: 20})
	form1, _ := e.oid4vpWallet(c1.Invocation, "")
	_, ru2 := e.oid4vpWallet(c2.Invocation, "")
	if code, m := post(t, ru2, formType, form1); code != http.StatusBadRequest || m["code"] != "session_encryption" {
		t.Fatalf("cross-transaction: %d %v", code, m)
	}

	// Expired.
	c3 := e.create(online.ProtocolOpenID4VP, online.Purpose{Kind: online.PurposeAge, AgeOver: 20})
	form3, ru3 := e.oid4vpWallet(c3.Invocation, "")
	e.clock.Add(int64(online.DefaultTTL + time.Second))
	if code, m := post(t, ru3, formType, form3); code != http.StatusGone {
		t.Fatalf("expired: %d %v", code, m)
	}
	if st := e.statusOf(c3.ID); st.State != online.StateExpired {
		t.Fatalf("state %s", st.State)
	}

	// Unknown transaction, bad create.
	if code, _ := post(t, e.ts.URL+"/oid4vp/response/nope", formType, form3); code != http.StatusNotFound {
		t.Fatalf("unknown: %d", code)
	}
	if code, m := post(t, e.ts.URL+"/api/transactions", "application/json", []byte(`{"protocol":"openid4vp","purpose":"age","ageOver":0}`)); code != http.StatusBadRequest || m["code"] != "invalid_request" {
		t.Fatalf("bad create: %d %v", code, m)
	}
}

func TestOpenID4VPInsurance(t *testing.T) {
	e := newEnv(t)
	c := e.create(online.ProtocolOpenID4VP, online.Purpose{Kind: online.PurposeInsurance})
	form, ru := e.oid4vpWallet(c.Invocation, "")
	if code, m := post(t, ru, formType, form); code != http.StatusOK {
		t.Fatalf("post: %d %v", code, m)
	}
	st := e.statusOf(c.ID)
	if !st.Valid || st.Decision == nil || !st.Decision.Allowed || st.Result == nil || len(st.Result.Documents) != 2 {
		t.Fatalf("insurance: %+v %+v", st, st.Decision)
	}
	if st.Result.Document(mdoc.DocTypeHIC).Elements[mdoc.NameSpaceHIC]["insurer_number"] != "06139999" {
		t.Fatalf("elements %v", st.Result.Document(mdoc.DocTypeHIC).Elements)
	}
}

// annexCWallet plays an Annex C wallet for origin: fetch the request, check
// ReaderAuth over the Annex C transcript, present, seal.
func (e *env) annexCWallet(invocation, origin string) (body []byte, reqURL string) {
	e.t.Helper()
	reqURL, realOrigin, err := oid4vp.ParseAnnexCInvocation(invocation)
	if err != nil {
		e.t.Fatal(err)
	}
	if origin == "" {
		origin = realOrigin
	}
	_, dr, ei, err := oid4vp.ParseAnnexCRequest(e.get(reqURL))
	if err != nil {
		e.t.Fatal(err)
	}
	st, err := mdoc.AnnexCSessionTranscript(ei.Base64(), origin)
	if err != nil {
		e.t.Fatal(err)
	}
	var docs []testpki.Presented
	for _, d := range dr.DocRequests {
		if _, err := d.VerifyReaderAuth(mdoc.NewTrustStore(mdoc.PurposeReaderAuth, false, e.reader.CA), st.Raw, testpki.Now); err != nil && origin == realOrigin {
			e.t.Fatalf("wallet: ReaderAuth: %v", err)
		}
		is := e.mnc
		if d.ItemsRequest.DocType == mdoc.DocTypeHIC {
			is = e.hic
		}
		docs = append(docs, testpki.Presented{IssuerSigned: is, Selection: d.ItemsRequest.Elements(), DeviceKey: e.dev})
	}
	resp, err := testpki.Present(st.Raw, docs...)
	if err != nil {
		e.t.Fatal(err)
	}
	pub, _ := ei.PublicKey()
	sealed, err := mdoc.SealAnnexC(pub, st, resp)
	if err != nil {
		e.t.Fatal(err)
	}
	body, _ = json.Marshal(oid4vp.NewAnnexCResponse(sealed))
	return body, reqURL
}

func TestAnnexCRoundTrip(t *testing.T) {
	e := newEnv(t)
	c := e.create(online.ProtocolAnnexC, online.Purpose{Kind: online.PurposeInsurance})
	if !strings.HasPrefix(c.Invocation, "org-iso-mdoc://") {
		t.Fatalf("invocation %s", c.Invocation)
	}
	// Wrong origin: the response does not open here.
	bad, u := e.annexCWallet(c.Invocation, "https://evil.example")
	if code, m := post(t, u, "application/json", bad); code != http.StatusBadRequest || m["code"] != "session_encryption" {
		t.Fatalf("wrong origin: %d %v", code, m)
	}
	body, u := e.annexCWallet(c.Invocation, "")
	// Tampered ciphertext.
	var env oid4vp.AnnexCResponse
	json.Unmarshal(body, &env)
	tb := []byte(env.Response)
	tb[len(tb)/2] ^= 'A' ^ 'B'
	tbody, _ := json.Marshal(oid4vp.AnnexCResponse{Response: string(tb)})
	if code, _ := post(t, u, "application/json", tbody); code != http.StatusBadRequest {
		t.Fatalf("tampered: %d", code)
	}
	if code, m := post(t, u, "application/json", body); code != http.StatusOK {
		t.Fatalf("post: %d %v", code, m)
	}
	st := e.statusOf(c.ID)
	if !st.Valid || !st.Decision.Allowed {
		t.Fatalf("annex C: %+v %+v", st, st.Decision)
	}
	if code, m := post(t, u, "application/json", body); code != http.StatusConflict {
		t.Fatalf("replay: %d %v", code, m)
	}
}

func TestPagesAndQR(t *testing.T) {
	e := newEnv(t)
	if !bytes.Contains(e.get(e.ts.URL+"/"), []byte("<form")) {
		t.Fatal("index page")
	}
	for _, proto := range []string{online.ProtocolOpenID4VP, online.ProtocolAnnexC} {
		c := e.create(proto, online.Purpose{Kind: online.PurposeAge, AgeOver: 18})
		page := string(e.get(c.Page))
		// The wallet link is the invocation itself (html/template turns
		// unknown schemes into #ZgotmplZ unless told otherwise).
		want := `id="wallet" class="wallet" href="` + html.EscapeString(c.Invocation) + `"`
		if !strings.Contains(page, want) || strings.Contains(page, "ZgotmplZ") {
			t.Fatalf("%s: wallet link missing; want %s in\n%s", proto, want, page)
		}
		if !strings.Contains(page, "/tx/"+c.ID+"/qr.svg") || strings.Contains(page, c.Secret) {
			t.Fatalf("%s: tx page: %s", proto, page)
		}
		svg := e.get(c.Page + "/qr.svg")
		if !bytes.HasPrefix(svg, []byte("<svg")) {
			t.Fatal("qr")
		}
	}
	// The language follows the browser.
	c := e.create(online.ProtocolOpenID4VP, online.Purpose{Kind: online.PurposeAge, AgeOver: 20})
	for accept, want := range map[string]string{"": "確認", "en-US,en;q=0.9": "Present with your wallet", "ja,en;q=0.5": "ウォレットで提示", "fr, en;q=0.3": "Present with your wallet", "en;q=0.2, ja;q=0.8": "ウォレットで提示"} {
		req, _ := http.NewRequest(http.MethodGet, c.Page, nil)
		if accept != "" {
			req.Header.Set("Accept-Language", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), want) {
			t.Errorf("Accept-Language %q: page lacks %q", accept, want)
		}
	}
	_ = context.Background()
}
