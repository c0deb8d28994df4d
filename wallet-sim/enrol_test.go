package walletsim

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/applet"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/keyattest"
	"github.com/mynumber-mdoc/mnc/mdoc/keyattest/attestsim"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
	"github.com/mynumber-mdoc/mnc/wallet-sim/se"
)

// testIssuer speaks the issuer side of the mdoc/oid4vci contract with the
// shared primitives (card JWS via jpki, key attestation, proofs, device
// requests, Token Status List), so the wallet's enrolment and lifecycle
// client is exercised over real HTTP. The real issuer (package issuer) is
// tested against the wallet by its own end-to-end tests.
type testIssuer struct {
	t       *testing.T
	srv     *httptest.Server
	ca      *testca.CA
	attKey  *ecdsa.PrivateKey
	attCert *x509.Certificate
	statKey *ecdsa.PrivateKey
	stat    *x509.Certificate

	mu      sync.Mutex
	devices map[string]*testDevice // by device id
	codes   map[string]string      // pre-authorized code / token → device id
	list    *mdoc.StatusList
	acks    []string

	// outage is how many of the next nonce requests are answered 503
	// temporarily_unavailable with Retry-After: 1, as the issuer answers
	// while its database is unreachable.
	outage atomic.Int32
}

type testDevice struct {
	id       string
	person   string // card certificate serial
	key      *oid4vci.JWK
	state    string
	idx      uint64
	commands []oid4vci.RemoteCommand
}

var (
	poolOnce sync.Once
	pool     *testca.KeyPool
)

func keyPool(t *testing.T) *testca.KeyPool {
	poolOnce.Do(func() {
		var err error
		if pool, err = testca.NewKeyPool(4); err != nil {
			t.Fatal(err)
		}
	})
	return pool
}

func newTestIssuer(t *testing.T) *testIssuer {
	p := fixturePKI(t)
	is := &testIssuer{t: t, devices: map[string]*testDevice{}, codes: map[string]string{}, attKey: genKey(), statKey: genKey()}
	var err error
	if is.ca, err = testca.New(testca.Options{GenerateKey: keyPool(t).Next}); err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Attestation CA"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour * 24), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, is.attKey.Public(), is.attKey)
	if err != nil {
		t.Fatal(err)
	}
	is.attCert, _ = x509.ParseCertificate(der)
	if is.stat, err = mdoc.NewStatusListSignerCertificate(is.statKey.Public(), p.iaca, p.iacaKey, mdoc.CertificateOptions{Subject: pkix.Name{CommonName: "Test Status", Country: []string{"JP"}}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	is.list, _ = mdoc.NewStatusList(2, 64)
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+oid4vci.PathDevAttest, is.attest)
	mux.HandleFunc("POST "+oid4vci.PathNonce, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if is.outage.Add(-1) >= 0 {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(oid4vci.ErrorResponse{Error: oid4vci.CodeTemporarilyUnavailable, ErrorDescription: "the issuer cannot reach its database; retry later"})
			return
		}
		writeJSON(w, oid4vci.NonceResponse{CNonce: randHex()})
	})
	mux.HandleFunc("POST "+oid4vci.PathEnrol, is.enrol)
	mux.HandleFunc("POST "+oid4vci.PathToken, is.token)
	mux.HandleFunc("POST "+oid4vci.PathCredential, is.credential)
	mux.HandleFunc("POST "+oid4vci.PathDeviceRequest, is.device)
	mux.HandleFunc("POST "+oid4vci.PathCardRevoke, is.cardRevoke)
	mux.HandleFunc("GET /status/1", is.status)
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func randHex() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, code, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(oid4vci.ErrorResponse{Error: code, Reason: reason})
}

func (is *testIssuer) attest(w http.ResponseWriter, r *http.Request) {
	var req oid4vci.AttestRequest
	if json.NewDecoder(r.Body).Decode(&req) != nil || req.Validate() != nil {
		fail(w, 400, oid4vci.CodeInvalidRequest, "")
		return
	}
	var keys []any
	for _, k := range req.Keys {
		keys = append(keys, k.Public)
	}
	att, err := oid4vci.SignKeyAttestation(is.attKey, [][]byte{is.attCert.Raw}, oid4vci.KeyAttestationOptions{Keys: toPubs(keys), DeviceModel: req.DeviceModel, OSVersion: req.OSVersion, Rooted: req.Rooted, WalletProfile: req.WalletProfile})
	if err != nil {
		fail(w, 500, oid4vci.CodeServerError, err.Error())
		return
	}
	writeJSON(w, oid4vci.AttestResponse{KeyAttestation: att})
}

func (is *testIssuer) jpkiVerifier() *jpki.Verifier {
	return &jpki.Verifier{Roots: is.ca.TrustRoots(), Mode: jpki.ModeTest}
}

func (is *testIssuer) enrol(w http.ResponseWriter, r *http.Request) {
	var req oid4vci.EnrolRequest
	json.NewDecoder(r.Body).Decode(&req)
	res, err := is.jpkiVerifier().VerifyJWS(r.Context(), []byte(req.Application), jpki.VerifyOptions{SkipRevocation: true})
	if err != nil {
		fail(w, 400, oid4vci.CodeCardRejected, string(jpki.CodeOf(err)))
		return
	}
	app, err := oid4vci.ParseCardApplication(res.Payload, oid4vci.CheckOptions{Audience: is.srv.URL})
	if err != nil {
		fail(w, 400, oid4vci.CodeInvalidApplication, oid4vci.ReasonCode(err))
		return
	}
	roots := x509.NewCertPool()
	roots.AddCert(is.attCert)
	ka, err := oid4vci.VerifyKeyAttestation(app.KeyAttestation, oid4vci.VerifyKeyAttestationOptions{Roots: roots})
	if err != nil || !ka.Attests(app.DeviceKey) {
		fail(w, 400, oid4vci.CodeInvalidKeyAttestation, "")
		return
	}
	// The platform attestation runs the real parsers (package keyattest)
	// against the simulated platform roots, as a development issuer does.
	if err := checkPlatform(app); err != nil {
		fail(w, 400, oid4vci.CodeInvalidKeyAttestation, "platform_"+string(keyattest.CodeOf(err)))
		return
	}
	if ka.Claims.Rooted || strings.HasPrefix(ka.Claims.DeviceModel, "Blocked") {
		fail(w, 403, oid4vci.CodeDeviceNotAllowed, oid4vci.ReasonModelNotAllowed)
		return
	}
	cardCert := res.Verified.Certificate.X509
	person := cardCert.SerialNumber.String()
	is.mu.Lock()
	defer is.mu.Unlock()
	out := oid4vci.EnrolResponse{DeviceID: "dev-" + randHex()[:8]}
	// One device per person: the old one is revoked and told to delete.
	for _, d := range is.devices {
		if d.person == person && d.state != oid4vci.StateRevoked {
			d.state = oid4vci.StateRevoked
			is.list.Set(d.idx, mdoc.StatusInvalid)
			d.commands = append(d.commands, oid4vci.RemoteCommand{CommandID: "cmd-" + randHex()[:6], Action: oid4vci.RemoteActionDelete, Reason: "device change"})
			out.ReplacedDeviceID = d.id
		}
	}
	d := &testDevice{id: out.DeviceID, person: person, key: app.DeviceKey, state: oid4vci.StateActive, idx: uint64(len(is.devices))}
	is.devices[d.id] = d
	code := "code-" + randHex()
	is.codes[code] = d.id
	out.CredentialOffer = oid4vci.CredentialOffer{CredentialIssuer: is.srv.URL, CredentialConfigurationIDs: []string{oid4vci.ConfigMNC}, Grants: &oid4vci.Grants{PreAuthorizedCode: &oid4vci.PreAuthorizedCodeGrant{PreAuthorizedCode: code}}}
	if app.JPKISignKey != nil {
		for _, k := range []struct {
			jwk  *oid4vci.JWK
			kind jpki.Kind
			dst  *string
			ca   *string
		}{{app.JPKISignKey, jpki.KindSignature, &out.JPKISignCertificate, &out.JPKISignCACertificate}, {app.JPKIAuthKey, jpki.KindAuth, &out.JPKIAuthCertificate, &out.JPKIAuthCACertificate}} {
			pub, _ := k.jwk.RSA()
			c, err := is.ca.IssueSmartphoneCertificate(cardCert, k.kind, pub, testca.IssueOptions{})
			if err != nil {
				fail(w, 500, oid4vci.CodeServerError, err.Error())
				return
			}
			*k.dst, *k.ca = oid4vci.EncodeCertificate(c.Raw), oid4vci.EncodeCertificate(is.ca.Root(k.kind).Raw)
		}
	}
	writeJSON(w, out)
}

func (is *testIssuer) token(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	tr, err := oid4vci.ParseTokenRequest(r.PostForm)
	is.mu.Lock()
	defer is.mu.Unlock()
	dev, ok := is.codes[tr.PreAuthorizedCode]
	if err != nil || !ok {
		fail(w, 400, oid4vci.CodeInvalidGrant, "")
		return
	}
	delete(is.codes, tr.PreAuthorizedCode)
	tok := "tok-" + randHex()
	is.codes[tok] = dev
	writeJSON(w, oid4vci.TokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: 300})
}

func (is *testIssuer) credential(w http.ResponseWriter, r *http.Request) {
	p := fixturePKI(is.t)
	is.mu.Lock()
	d := is.devices[is.codes[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]]
	is.mu.Unlock()
	if d == nil {
		fail(w, 401, oid4vci.CodeInvalidToken, "")
		return
	}
	var req oid4vci.CredentialRequest
	json.NewDecoder(r.Body).Decode(&req)
	if req.Proofs == nil || len(req.Proofs.JWT) != 1 {
		fail(w, 400, oid4vci.CodeInvalidProof, "")
		return
	}
	pr, err := oid4vci.VerifyProof(req.Proofs.JWT[0], oid4vci.VerifyProofOptions{Audience: is.srv.URL})
	if err != nil || !pr.Key.Equal(d.key) {
		fail(w, 400, oid4vci.CodeInvalidProof, "")
		return
	}
	pub, _ := d.key.ECDSA()
	now := time.Now().Truncate(time.Second)
	cred, err := mdoc.Issue(mdoc.IssueOptions{DocType: mdoc.DocTypeMNC, NameSpaces: mncElements(), DeviceKey: pub, Signed: now, ValidFrom: now, ValidUntil: now.Add(20 * 24 * time.Hour),
		Status: &mdoc.StatusListRef{Idx: d.idx, URI: is.srv.URL + "/status/1"}, Signer: p.dsKey, Chain: [][]byte{p.ds.Raw}})
	if err != nil {
		fail(w, 500, oid4vci.CodeServerError, err.Error())
		return
	}
	b, _ := cred.Encode()
	writeJSON(w, oid4vci.CredentialResponse{Credentials: []oid4vci.IssuedCredential{{Credential: base64.RawURLEncoding.EncodeToString(b)}}})
}

func (is *testIssuer) device(w http.ResponseWriter, r *http.Request) {
	var body oid4vci.DeviceRequestBody
	json.NewDecoder(r.Body).Decode(&body)
	kid, err := oid4vci.DeviceRequestKeyID(body.Request)
	is.mu.Lock()
	defer is.mu.Unlock()
	d := is.devices[kid]
	if err != nil || d == nil {
		fail(w, 404, oid4vci.CodeDeviceUnknown, "")
		return
	}
	req, err := oid4vci.VerifyDeviceRequest(body.Request, d.key, oid4vci.CheckOptions{Audience: is.srv.URL})
	if err != nil {
		fail(w, 400, oid4vci.CodeInvalidDeviceRequest, oid4vci.ReasonCode(err))
		return
	}
	switch req.Action {
	case oid4vci.ActionRevoke:
		d.state = oid4vci.StateRevoked
		is.list.Set(d.idx, mdoc.StatusInvalid)
		writeJSON(w, oid4vci.LifecycleResponse{DeviceIDs: []string{d.id}, State: d.state, Changed: true, CredentialsChanged: 1})
	case oid4vci.ActionPoll:
		writeJSON(w, oid4vci.PollResponse{DeviceID: d.id, State: d.state, Commands: append([]oid4vci.RemoteCommand{}, d.commands...)})
	case oid4vci.ActionAck:
		is.acks = append(is.acks, req.CommandID)
		d.commands = nil
		writeJSON(w, oid4vci.PollResponse{DeviceID: d.id, State: d.state, Commands: []oid4vci.RemoteCommand{}})
	case oid4vci.ActionRefresh:
		if d.state != oid4vci.StateActive {
			fail(w, 403, oid4vci.CodeDeviceInactive, "")
			return
		}
		code := "code-" + randHex()
		is.codes[code] = d.id
		writeJSON(w, oid4vci.EnrolResponse{DeviceID: d.id, CredentialOffer: oid4vci.CredentialOffer{CredentialIssuer: is.srv.URL, CredentialConfigurationIDs: []string{oid4vci.ConfigMNC}, Grants: &oid4vci.Grants{PreAuthorizedCode: &oid4vci.PreAuthorizedCodeGrant{PreAuthorizedCode: code}}}})
	}
}

func (is *testIssuer) cardRevoke(w http.ResponseWriter, r *http.Request) {
	var body oid4vci.CardRevocationRequest
	json.NewDecoder(r.Body).Decode(&body)
	res, err := is.jpkiVerifier().VerifyJWS(r.Context(), []byte(body.Revocation), jpki.VerifyOptions{SkipRevocation: true})
	if err != nil {
		fail(w, 400, oid4vci.CodeCardRejected, "")
		return
	}
	if _, err := oid4vci.ParseCardRevocation(res.Payload, oid4vci.CheckOptions{Audience: is.srv.URL}); err != nil {
		fail(w, 400, oid4vci.CodeInvalidRequest, "")
		return
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	lr := oid4vci.LifecycleResponse{State: oid4vci.StateRevoked, DeviceIDs: []string{}}
	for _, d := range is.devices {
		if d.person == res.Verified.Certificate.X509.SerialNumber.String() && d.state != oid4vci.StateRevoked {
			d.state = oid4vci.StateRevoked
			lr.DeviceIDs = append(lr.DeviceIDs, d.id)
			lr.Changed = true
		}
	}
	writeJSON(w, lr)
}

func (is *testIssuer) status(w http.ResponseWriter, r *http.Request) {
	is.mu.Lock()
	defer is.mu.Unlock()
	b, err := mdoc.SignStatusListToken(is.statKey, mdoc.StatusListTokenOptions{X5Chain: [][]byte{is.stat.Raw}}, mdoc.StatusListClaims{Subject: is.srv.URL + "/status/1", IssuedAt: time.Now().Add(-time.Second), TTL: time.Minute}, is.list)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", mdoc.StatusListCWTType)
	w.Write(b)
}

func (is *testIssuer) suspend(id string) {
	is.mu.Lock()
	defer is.mu.Unlock()
	d := is.devices[id]
	d.state = oid4vci.StateSuspended
	is.list.Set(d.idx, mdoc.StatusSuspended)
}

// newCard writes a simulated My Number Card for a new person.
func (is *testIssuer) newCard(t *testing.T) string {
	creds, err := is.ca.IssueCard(testca.Person{Name: "山田\u3000花子", BirthDate: jpki.NewBirthDate(1990, time.April, 1), Sex: jpki.SexFemale, Address: "東京都千代田区"}, testca.IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "card.json")
	if _, err := applet.Create(path, creds.AppletConfig(jpki.TokenCard, "CARDPW1", "1234")); err != nil {
		t.Fatal(err)
	}
	return path
}

func (is *testIssuer) wallet(t *testing.T, platform Platform, model string) *Wallet {
	p := fixturePKI(t)
	w, err := Init(t.TempDir(), Profile{Platform: platform, Model: model}, pinFor(platform), Options{Authenticator: StaticAuth{Biometric: se.BiometricMatch}, GenerateRSA: keyPool(t).Next, Radio: radioFor(t)})
	if err != nil {
		t.Fatal(err)
	}
	w.TrustReaderRoots(p.readerCA)
	w.TrustIACA(p.iaca)
	return w
}

func (is *testIssuer) enrolWallet(t *testing.T, w *Wallet, cardFile string) (*EnrolResult, error) {
	tr, err := OpenCardFile(cardFile)
	if err != nil {
		t.Fatal(err)
	}
	return w.Enrol(context.Background(), EnrolOptions{IssuerURL: is.srv.URL, Card: tr, CardPassword: "CARDPW1", JPKIPassword: "PHONEPW1", JPKIPIN: "5678"})
}

func TestEnrolmentLifecycle(t *testing.T) {
	p := fixturePKI(t)
	is := newTestIssuer(t)
	cardFile := is.newCard(t)
	ctx := context.Background()

	// Android wallet enrols, presents, authenticates with JPKI.
	a := is.wallet(t, PlatformAndroid, "Pixel 9")
	res, err := is.enrolWallet(t, a, cardFile)
	if err != nil {
		t.Fatal(err)
	}
	if !res.JPKI || len(res.Credentials) != 1 || res.ReplacedDeviceID != "" {
		t.Fatalf("enrol result %+v", res)
	}
	// The state is known right after enrolment, before any sync: the
	// credential names a status list, which enrolment has already read.
	if res.Credentials[0].StatusList == nil || res.Credentials[0].State != StateValid {
		t.Fatalf("state after enrolment: %q (status list %v)", res.Credentials[0].State, res.Credentials[0].StatusList)
	}
	if cs := a.Credentials(); len(cs) != 1 || cs[0].State != StateValid || cs[0].StatusCheckedAt.IsZero() {
		t.Fatalf("stored state after enrolment: %+v", cs)
	}
	r, resp, _, _ := present(t, a, EngagementQR, Rules{ApproveAll: true}, []docReq{{docType: mdoc.DocTypeMNC, items: ageRequest, signer: p.readers["shop"]}})
	if v := r.verify(resp, p); !v.Valid {
		t.Fatalf("enrolled credential does not verify: %v", v.Errors)
	}
	nonce := []byte("0123456789abcdef0123")
	ar, err := a.JPKIAuth(ctx, "5678", nonce)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := is.jpkiVerifier().VerifyAuth(ctx, nonce, ar.Certificate, ar.Signature, jpki.VerifyOptions{SkipRevocation: true}); err != nil {
		t.Fatalf("phone auth does not verify: %v", err)
	}
	if _, err := a.JPKIAuth(ctx, "0000", nonce); CodeOf(err) != string(CodeJPKI) {
		t.Fatalf("wrong JPKI PIN: %v", err)
	}
	sr, err := a.Sync(ctx)
	if err != nil || sr.States[res.Credentials[0].ID] != StateValid {
		t.Fatalf("sync: %+v %v", sr, err)
	}

	// Suspension is visible and blocks presentation.
	is.suspend(res.DeviceID)
	if sr, err = a.Sync(ctx); err != nil || sr.States[res.Credentials[0].ID] != StateSuspended {
		t.Fatalf("sync after suspension: %+v %v", sr, err)
	}
	_, resp, _, _ = present(t, a, EngagementQR, Rules{ApproveAll: true}, []docReq{{docType: mdoc.DocTypeMNC, items: ageRequest, signer: p.readers["shop"]}})
	if len(resp.Documents) != 0 {
		t.Fatal("suspended credential presented")
	}

	// Device change: an Apple wallet enrols with the same card; the old one
	// processes its remote delete on the next sync and acknowledges it.
	b := is.wallet(t, PlatformApple, "iPhone17,1")
	resB, err := is.enrolWallet(t, b, cardFile)
	if err != nil {
		t.Fatal(err)
	}
	if resB.ReplacedDeviceID != res.DeviceID {
		t.Fatalf("replaced %q, want %q", resB.ReplacedDeviceID, res.DeviceID)
	}
	if sr, err = a.Sync(ctx); err != nil || !sr.RemoteDeleted {
		t.Fatalf("old wallet sync: %+v %v", sr, err)
	}
	if len(a.Credentials()) != 0 || a.Status().Element.Keys != 0 || a.Status().Element.JPKI {
		t.Fatal("old wallet still holds credentials or keys")
	}
	if len(is.acks) != 1 {
		t.Fatalf("acks %v", is.acks)
	}

	// Refresh, then self-revocation on the new wallet.
	creds, err := b.Refresh(ctx)
	if err != nil || len(creds) != 1 || creds[0].ID == resB.Credentials[0].ID && creds[0].AddedAt.Equal(resB.Credentials[0].AddedAt) {
		t.Fatalf("refresh: %v %v", creds, err)
	}
	if _, err := b.Revoke(ctx, "lost interest"); err != nil {
		t.Fatal(err)
	}
	if len(b.Credentials()) != 0 || is.devices[resB.DeviceID].state != oid4vci.StateRevoked {
		t.Fatal("self-revocation did not revoke and delete")
	}
	if _, err := b.Revoke(ctx, "again"); !errors.Is(err, ErrNotEnrolled) {
		t.Fatalf("second revoke: %v", err)
	}
}

func TestUnsupportedModelCanStillRevokeWithCard(t *testing.T) {
	is := newTestIssuer(t)
	cardFile := is.newCard(t)
	old := is.wallet(t, PlatformAndroid, "Pixel 9")
	res, err := is.enrolWallet(t, old, cardFile)
	if err != nil {
		t.Fatal(err)
	}
	blocked := is.wallet(t, PlatformAndroid, "Blocked Phone X")
	if _, err := is.enrolWallet(t, blocked, cardFile); CodeOf(err) != string(CodeDeviceNotAllowed) {
		t.Fatalf("blocked model enrol: %v", err)
	}
	if n := len(blocked.Credentials()); n != 0 || blocked.Status().Element.Keys != 0 {
		t.Fatalf("failed enrolment left %d credentials, %d keys", n, blocked.Status().Element.Keys)
	}
	tr, _ := OpenCardFile(cardFile)
	lr, err := blocked.RevokeWithCard(context.Background(), is.srv.URL, tr, "CARDPW1", "", "lost phone")
	if err != nil {
		t.Fatal(err)
	}
	if len(lr.DeviceIDs) != 1 || lr.DeviceIDs[0] != res.DeviceID {
		t.Fatalf("revoked %v", lr.DeviceIDs)
	}
}

func toPubs(keys []any) []crypto.PublicKey {
	out := make([]crypto.PublicKey, len(keys))
	for i, k := range keys {
		out[i] = k
	}
	return out
}

func checkPlatform(app *oid4vci.CardApplication) error {
	pa := app.PlatformAttestation
	if pa == nil {
		return &keyattest.Error{Code: keyattest.CodeMalformed, Detail: "no platform attestation"}
	}
	switch pa.Format {
	case oid4vci.PlatformAndroidKey:
		ders, err := pa.DERChain()
		if err != nil {
			return err
		}
		chain, err := keyattest.ParseAndroidChain(ders)
		if err != nil {
			return err
		}
		a, err := keyattest.VerifyAndroid(chain, keyattest.AndroidOptions{Roots: attestsim.Android().Roots(), Environment: keyattest.Development,
			Challenge: []byte(app.Nonce), PackageName: attestsim.WalletPackage, SigningCertDigests: [][]byte{attestsim.WalletSigningDigest()}})
		if err != nil {
			return err
		}
		dk, _ := app.DeviceKey.ECDSA()
		if !dk.Equal(a.PublicKey) {
			return &keyattest.Error{Code: keyattest.CodeKeyMismatch}
		}
		return keyattest.AndroidPolicy{}.Check(a.Facts)
	default:
		obj, kid, err := pa.Object()
		if err != nil {
			return err
		}
		o, err := keyattest.ParseAppAttestObject(obj)
		if err != nil {
			return err
		}
		_, err = keyattest.VerifyAppAttest(o, keyattest.AppAttestOptions{Roots: attestsim.Apple().Roots(), Environment: keyattest.Development,
			AppID: attestsim.WalletAppID, KeyID: kid, ClientDataHash: oid4vci.AppAttestClientDataHash(app.Nonce, app.DeviceKey.Thumbprint)})
		return err
	}
}

// A phone wallet waits out an issuer's short outage (503 with Retry-After)
// and carries on; a wallet told not to retry reports the issuer's code and
// the wait it asked for.
func TestEnrolWaitsOutAnIssuerOutage(t *testing.T) {
	is := newTestIssuer(t)
	is.outage.Store(1)
	start := time.Now()
	if _, err := is.enrolWallet(t, is.wallet(t, PlatformAndroid, "Pixel 9"), is.newCard(t)); err != nil {
		t.Fatalf("enrolment through a one-request outage: %v", err)
	}
	if time.Since(start) < time.Second {
		t.Errorf("enrolled in %s: the Retry-After was not waited out", time.Since(start))
	}

	is.outage.Store(1)
	p := fixturePKI(t)
	w, err := Init(t.TempDir(), Profile{Platform: PlatformAndroid, Model: "Pixel 9"}, pinFor(PlatformAndroid),
		Options{Authenticator: StaticAuth{Biometric: se.BiometricMatch}, GenerateRSA: keyPool(t).Next, Radio: radioFor(t), IssuerRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	w.TrustReaderRoots(p.readerCA)
	w.TrustIACA(p.iaca)
	_, err = is.enrolWallet(t, w, is.newCard(t))
	if CodeOf(err) != string(CodeIssuer) || !strings.Contains(err.Error(), oid4vci.CodeTemporarilyUnavailable) || !strings.Contains(err.Error(), "retry after 1s") {
		t.Fatalf("enrolment without retries: %v; want the issuer's temporarily_unavailable and its wait", err)
	}
}
