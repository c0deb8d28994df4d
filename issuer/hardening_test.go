package issuer

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/mynumber-mdoc/mnc/jpki/testca"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

// TestRateLimit: the nonce and token endpoints share a per-client bucket;
// past it they answer 429 rate_limited with Retry-After, while other
// endpoints stay open.
func TestRateLimit(t *testing.T) {
	const limit = 3
	e := newEnv(t, envOptions{rateLimit: limit})
	post := func(path, ctype, body string) (*http.Response, []byte) {
		resp, err := e.srv.Client().Post(e.srv.URL+path, ctype, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	for i := range limit {
		if resp, b := post(oid4vci.PathNonce, "application/json", ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("nonce %d: %d %s", i, resp.StatusCode, b)
		}
	}
	for _, path := range []string{oid4vci.PathNonce, oid4vci.PathToken} {
		form := url.Values{"grant_type": {oid4vci.GrantPreAuthorizedCode}, "pre-authorized_code": {"x"}}.Encode()
		resp, b := post(path, "application/x-www-form-urlencoded", form)
		var body struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		json.Unmarshal(b, &body)
		if resp.StatusCode != http.StatusTooManyRequests || body.Error != oid4vci.CodeRateLimited || body.Description == "" || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("%s over the limit: %d %s Retry-After %q", path, resp.StatusCode, b, resp.Header.Get("Retry-After"))
		}
	}
	// Not limited: metadata.
	if _, err := e.client.Metadata(context.Background()); err != nil {
		t.Fatalf("metadata while limited: %v", err)
	}
}

// TestOSVersionBlock: blocking an OS version refuses enrolment on it with
// its reason, and with SuspendOnBlock (the --suspend-on-block default)
// suspends the credentials of devices on that OS, not on others; lifting
// the block resumes exactly those.
func TestOSVersionBlock(t *testing.T) {
	e := newEnv(t, envOptions{suspendOnBlock: true})
	ctx := context.Background()
	onOld := e.newWallet(e.newCard(taro, testca.IssueOptions{}), "iPhone16,1")
	onOld.os = "17.1"
	docsOld, err := onOld.fetch(onOld.enrol().CredentialOffer, "")
	if err != nil {
		t.Fatal(err)
	}
	hanako := testca.Person{Name: "佐藤　花子", BirthDate: taro.BirthDate, Sex: 2, Address: taro.Address}
	onNew := e.newWallet(e.newCard(hanako, testca.IssueOptions{}), "iPhone16,1")
	docsNew, err := onNew.fetch(onNew.enrol().CredentialOffer, "")
	if err != nil {
		t.Fatal(err)
	}
	// No suspend_existing in the request: the configured default applies.
	if resp := adminPost(t, e, "/admin/blocks", `{"kind":"os","value":"17.1","reason":"CVE-2026-0002 secure element bypass"}`); resp.StatusCode != 200 {
		t.Fatalf("block %d", resp.StatusCode)
	}
	if st := e.status(docsOld[oid4vci.ConfigMNC]); st != mdoc.StatusSuspended {
		t.Fatalf("credential on the blocked OS: status %d, want suspended", st)
	}
	if st := e.status(docsNew[oid4vci.ConfigMNC]); st != mdoc.StatusValid {
		t.Fatalf("credential on another OS: status %d, want valid", st)
	}
	again := e.newWallet(e.newCard(taro, testca.IssueOptions{}), "Pixel 9")
	again.os = "17.1"
	_, err = again.tryEnrol(nil)
	wantCode(t, err, oid4vci.CodeDeviceNotAllowed, oid4vci.ReasonOSBlocked)
	if !strings.Contains(err.Error(), "CVE-2026-0002") {
		t.Fatalf("refusal does not give the block's reason: %v", err)
	}
	d, _ := e.st.Device(ctx, onOld.deviceID)
	if d.State != "suspended" {
		t.Fatalf("device state %s", d.State)
	}
	req, _ := http.NewRequest(http.MethodDelete, e.srv.URL+"/admin/blocks/os/17.1", nil)
	req.Header.Set("Authorization", "Bearer admin-secret")
	if resp, err := e.srv.Client().Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("unblock %v %v", resp, err)
	}
	if st := e.status(docsOld[oid4vci.ConfigMNC]); st != mdoc.StatusValid {
		t.Fatalf("after unblock: status %d, want valid", st)
	}
}

// TestStatusListJWT: the JWT form verifies with jwx against the status-list
// signer certificate in x5c (chained to the IACA), carries sub = its URI,
// iat/exp/ttl, and its LSB-first 2-bit list decodes to the same statuses
// as the CWT form.
func TestStatusListJWT(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	var docs []*mdoc.IssuerSigned
	var wallets []*wallet
	for i, p := range []testca.Person{taro, {Name: "佐藤　花子", BirthDate: taro.BirthDate, Sex: 2, Address: taro.Address}, {Name: "鈴木　一郎", BirthDate: taro.BirthDate, Sex: 1, Address: taro.Address}} {
		w := e.newWallet(e.newCard(p, testca.IssueOptions{}), []string{"iPhone16,1", "Pixel 9", "Pixel 8"}[i])
		d, err := w.fetch(w.enrol().CredentialOffer, "")
		if err != nil {
			t.Fatal(err)
		}
		docs, wallets = append(docs, d[oid4vci.ConfigMNC]), append(wallets, w)
	}
	// One revoked, one suspended, one valid.
	if _, err := wallets[0].revokeWithCard(""); err != nil {
		t.Fatal(err)
	}
	if resp := adminPost(t, e, "/admin/devices/"+wallets[1].deviceID+"/suspend", `{"reason":"lost"}`); resp.StatusCode != 200 {
		t.Fatalf("suspend %d", resp.StatusCode)
	}
	want := []uint8{mdoc.StatusInvalid, mdoc.StatusSuspended, mdoc.StatusValid}
	uri := docs[0].IssuerAuth.MSO.Status.StatusList.URI
	b, err := e.client.StatusList(ctx, uri, MediaTypeStatusListJWT)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := jws.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	if typ, _ := h.Type(); typ != "statuslist+jwt" {
		t.Fatalf("typ %q", typ)
	}
	chain, ok := h.X509CertChain()
	if !ok || chain.Len() != 1 {
		t.Fatal("no x5c")
	}
	der0, _ := chain.Get(0)
	der, err := base64.StdEncoding.DecodeString(string(der0))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := x509.ParseCertificate(der)
	if err != nil || !signer.Equal(e.pki.StatusList) {
		t.Fatalf("x5c is not the status-list signer: %v", err)
	}
	if _, err := mdoc.NewTrustStore(mdoc.PurposeStatusList, true, e.pki.IACA).VerifyChain([][]byte{der}, e.clock()); err != nil {
		t.Fatalf("x5c does not chain to the IACA: %v", err)
	}
	payload, err := jws.Verify(b, jws.WithKey(jwa.ES256(), signer.PublicKey))
	if err != nil {
		t.Fatalf("JWT signature: %v", err)
	}
	if _, err := jws.Verify(append(bytes.Clone(b[:len(b)-4]), "AAAA"...), jws.WithKey(jwa.ES256(), signer.PublicKey)); err == nil {
		t.Fatal("tampered JWT verified")
	}
	var c struct {
		Sub        string `json:"sub"`
		Iat        int64  `json:"iat"`
		Exp        int64  `json:"exp"`
		TTL        int64  `json:"ttl"`
		StatusList struct {
			Bits int    `json:"bits"`
			Lst  string `json:"lst"`
		} `json:"status_list"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	now := e.clock().Unix()
	if c.Sub != uri || c.Iat > now || c.Exp <= now || c.TTL != int64(DefaultStatusListTTL/time.Second) || c.StatusList.Bits != 2 {
		t.Fatalf("claims %+v (uri %s now %d)", c, uri, now)
	}
	z, err := base64.RawURLEncoding.DecodeString(c.StatusList.Lst)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	for i, is := range docs {
		ref := is.IssuerAuth.MSO.Status.StatusList
		if ref.URI != uri {
			t.Fatalf("credentials on different lists: %s %s", ref.URI, uri)
		}
		// draft-ietf-oauth-status-list: entry i sits in byte i*bits/8, at
		// bit offset (i*bits)%8 counted from the least significant bit.
		got := raw[ref.Idx/4] >> ((ref.Idx % 4) * 2) & 0b11
		if got != want[i] || got != e.status(is) {
			t.Fatalf("credential %d idx %d: JWT %d, CWT %d, want %d", i, ref.Idx, got, e.status(is), want[i])
		}
	}
}
