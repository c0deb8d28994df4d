package issuer

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/keys"
	"github.com/mynumber-mdoc/mnc/issuer/pki"
	"github.com/mynumber-mdoc/mnc/issuer/store"
	"github.com/mynumber-mdoc/mnc/issuer/store/sqlite"
	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/applet"
	"github.com/mynumber-mdoc/mnc/jpki/card"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

var (
	poolOnce sync.Once
	keyPool  *testca.KeyPool
)

func pool(t testing.TB) *testca.KeyPool {
	poolOnce.Do(func() {
		var err error
		keyPool, err = testca.NewKeyPool(6)
		if err != nil {
			panic(err)
		}
	})
	return keyPool
}

// env is an issuer under test with its J-LIS stand-in.
type env struct {
	t      testing.TB
	ca     *testca.CA
	crlDir string
	svc    *Service
	srv    *httptest.Server
	client *oid4vci.Client
	st     store.Store
	pki    *pki.PKI
	now    time.Time
	mu     sync.Mutex
	dbPath string // SQLite file (when the default store is used)
}

type envOptions struct {
	production     bool
	platform       PlatformConfig
	store          func(t testing.TB) store.Store
	txCode         bool // Config.RequireTxCode
	noPhoneCA      bool // no smartphone JPKI CA, as in production
	rateLimit      int  // Config.RateLimit; 0 disables rate limiting in tests
	suspendOnBlock bool
	keys           keys.Manager // nil: file keys in the temporary directory
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	e := &env{t: t, now: time.Now().Truncate(time.Second), dbPath: filepath.Join(dir, "issuer.db")}
	var err error
	e.ca, err = testca.New(testca.Options{GenerateKey: pool(t).Next, Now: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	e.crlDir = filepath.Join(dir, "crl")
	e.publishCRLs()
	var km keys.Manager = o.keys
	if km == nil {
		km, _ = keys.NewFileManager(filepath.Join(dir, "keys"))
	}
	if o.store != nil {
		e.st = o.store(t)
	} else {
		s, err := sqlite.Open(ctx, e.dbPath)
		if err != nil {
			t.Fatal(err)
		}
		e.st = s
	}
	t.Cleanup(func() { e.st.Close() })
	e.srv = httptest.NewUnstartedServer(nil)
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	e.pki, err = pki.Load(ctx, pki.Options{Dir: filepath.Join(dir, "pki"), Keys: km, BaseURL: e.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(e.pki.AttestationCA)
	mode := jpki.ModeTest
	if o.production {
		mode = jpki.ModeProduction
	}
	var phoneCA PhoneCA = testPhoneCA{e.ca}
	if o.noPhoneCA {
		phoneCA = nil
	}
	rl := o.rateLimit
	if rl == 0 {
		rl = -1
	}
	e.svc, err = New(Config{
		IssuerURL: e.srv.URL, Store: e.st, AuthLinks: authLinksOf(e.st),
		DocumentSigner: e.pki.DocumentSigner(), StatusListSigner: e.pki.StatusListSigner(), CA: e.pki, KeyAttester: e.pki.KeyAttestationSigner(),
		JPKI:    &jpki.Verifier{Roots: e.ca.TrustRoots(), Mode: mode, Revocation: &jpki.CRLChecker{Source: jpki.CRLDir(e.crlDir)}},
		PhoneCA: phoneCA, AttestationRoots: roots, Production: o.production,
		Platform:      o.platform,
		RequireTxCode: o.txCode, SuspendOnBlock: o.suspendOnBlock,
		RateLimit: rl, AdminToken: "admin-secret", Now: e.clock,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Config.Handler = e.svc.Handler()
	e.client = &oid4vci.Client{BaseURL: e.srv.URL, HTTP: e.srv.Client()}
	return e
}

// testPhoneCA adapts the test's in-memory J-LIS stand-in to PhoneCA
// (issuer/app wires the one kept in a data directory).
type testPhoneCA struct{ ca *testca.CA }

func (p testPhoneCA) IssueSmartphoneCertificate(card *x509.Certificate, kind jpki.Kind, pub *rsa.PublicKey) (*x509.Certificate, error) {
	return p.ca.IssueSmartphoneCertificate(card, kind, pub, testca.IssueOptions{})
}

func (p testPhoneCA) Root(kind jpki.Kind) *x509.Certificate { return p.ca.Root(kind) }

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

func (e *env) publishCRLs() {
	if _, err := e.ca.PublishCRLs(e.crlDir, e.clock().Add(-time.Minute), 48*time.Hour); err != nil {
		e.t.Fatal(err)
	}
}

var taro = testca.Person{Name: "山田　太郎", BirthDate: jpki.NewBirthDate(1990, time.April, 1), Sex: jpki.SexMale, Address: "東京都千代田区千代田1-1"}

// wallet is the test wallet: a phone with a secure element holding the
// mdoc device key and the two JPKI phone key pairs, and the holder's card.
type wallet struct {
	e         *env
	card      *card.Client
	cardCert  *x509.Certificate
	devKey    *ecdsa.PrivateKey
	jpkiSign  *rsa.PrivateKey
	jpkiAuth  *rsa.PrivateKey
	model, os string
	rooted    bool
	email     string // contact_email of the application
	notifyUse bool
	deviceID  string
	enrolment *oid4vci.EnrolResponse
}

func (e *env) newCard(p testca.Person, o testca.IssueOptions) *testca.Credentials {
	creds, err := e.ca.IssueCard(p, o)
	if err != nil {
		e.t.Fatal(err)
	}
	return creds
}

func (e *env) newWallet(creds *testca.Credentials, model string) *wallet {
	t := e.t
	ap, err := applet.New(creds.AppletConfig(jpki.TokenCard, "PASS1234", "1234"))
	if err != nil {
		t.Fatal(err)
	}
	cl := card.New(card.InMemory(ap))
	dk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sk, _ := pool(t).Next()
	ak, _ := pool(t).Next()
	return &wallet{e: e, card: cl, cardCert: creds.SignCert, devKey: dk, jpkiSign: sk, jpkiAuth: ak, model: model, os: "18.2"}
}

func (w *wallet) cardSigner() crypto.Signer {
	ctx := context.Background()
	if err := w.card.Select(ctx); err != nil {
		w.e.t.Fatal(err)
	}
	if err := w.card.VerifySignPassword(ctx, "PASS1234"); err != nil {
		w.e.t.Fatal(err)
	}
	return w.card.Signer(ctx, card.KeySign, w.cardCert.PublicKey.(*rsa.PublicKey))
}

func jwk(t testing.TB, pub crypto.PublicKey) *oid4vci.JWK {
	j, err := oid4vci.NewJWK(pub)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func (w *wallet) attest() string {
	t := w.e.t
	ka, err := w.e.client.Attest(context.Background(), &oid4vci.AttestRequest{
		Keys:        []*oid4vci.JWK{jwk(t, &w.devKey.PublicKey), jwk(t, &w.jpkiSign.PublicKey), jwk(t, &w.jpkiAuth.PublicKey)},
		DeviceModel: w.model, OSVersion: w.os, Rooted: w.rooted, WalletProfile: oid4vci.WalletProfileApple,
	})
	if err != nil {
		t.Fatalf("attest: %v", err)
	}
	return ka
}

func (w *wallet) nonce() string {
	n, err := w.e.client.Nonce(context.Background())
	if err != nil {
		w.e.t.Fatalf("nonce: %v", err)
	}
	return n
}

// application builds the card-signed application; mutate may change it
// before signing.
func (w *wallet) application(mutate func(*oid4vci.CardApplication)) string {
	t := w.e.t
	app := &oid4vci.CardApplication{
		Audience: oid4vci.Audience{w.e.srv.URL}, Nonce: w.nonce(), IssuedAt: w.e.clock().Unix(),
		DeviceKey: jwk(t, &w.devKey.PublicKey), KeyAttestation: w.attest(), DeviceModel: w.model, OSVersion: w.os,
		JPKISignKey: jwk(t, &w.jpkiSign.PublicKey), JPKIAuthKey: jwk(t, &w.jpkiAuth.PublicKey),
		ContactEmail: w.email, NotifyUse: w.notifyUse,
	}
	if mutate != nil {
		mutate(app)
	}
	s, err := oid4vci.SignCardApplication(app, w.cardCert.Raw, w.cardSigner())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (w *wallet) tryEnrol(mutate func(*oid4vci.CardApplication)) (*oid4vci.EnrolResponse, error) {
	r, err := w.e.client.Enrol(context.Background(), w.application(mutate))
	if err == nil {
		w.deviceID, w.enrolment = r.DeviceID, r
	}
	return r, err
}

func (w *wallet) enrol() *oid4vci.EnrolResponse {
	r, err := w.tryEnrol(nil)
	if err != nil {
		w.e.t.Fatalf("enrol: %v", err)
	}
	return r
}

// fetch runs token → nonce → credential for every configuration offered.
func (w *wallet) fetch(offer oid4vci.CredentialOffer, txCode string) (map[string]*mdoc.IssuerSigned, error) {
	ctx := context.Background()
	code, err := offer.OfferCode()
	if err != nil {
		return nil, err
	}
	tok, err := w.e.client.Token(ctx, code, txCode)
	if err != nil {
		return nil, err
	}
	out := map[string]*mdoc.IssuerSigned{}
	for _, cfg := range offer.CredentialConfigurationIDs {
		resp, err := w.credential(tok.AccessToken, cfg, w.proof(w.nonce(), w.e.srv.URL))
		if err != nil {
			return nil, err
		}
		b, err := base64.RawURLEncoding.DecodeString(resp.Credentials[0].Credential)
		if err != nil {
			return nil, err
		}
		is, err := mdoc.ParseIssuerSigned(b)
		if err != nil {
			return nil, err
		}
		out[cfg] = is
	}
	return out, nil
}

func (w *wallet) proof(nonce, aud string) string {
	p, err := oid4vci.SignProof(w.devKey, oid4vci.ProofOptions{Audience: aud, Nonce: nonce, IssuedAt: w.e.clock(), KeyAttestation: w.attest()})
	if err != nil {
		w.e.t.Fatal(err)
	}
	return p
}

func (w *wallet) credential(token, cfg, proof string) (*oid4vci.CredentialResponse, error) {
	return w.e.client.Credential(context.Background(), token, &oid4vci.CredentialRequest{CredentialConfigurationID: cfg, Proofs: &oid4vci.Proofs{JWT: []string{proof}}})
}

func (w *wallet) device(action, commandID string, out any) error {
	req, err := oid4vci.SignDeviceRequest(w.devKey, &oid4vci.DeviceRequest{Audience: oid4vci.Audience{w.e.srv.URL}, Nonce: w.nonce(),
		IssuedAt: w.e.clock().Unix(), DeviceID: w.deviceID, Action: action, CommandID: commandID})
	if err != nil {
		w.e.t.Fatal(err)
	}
	return w.e.client.Device(context.Background(), req, out)
}

func (w *wallet) reportUse(u *oid4vci.UseReport) (*oid4vci.UseResponse, error) {
	req, err := oid4vci.SignDeviceRequest(w.devKey, &oid4vci.DeviceRequest{Audience: oid4vci.Audience{w.e.srv.URL}, Nonce: w.nonce(),
		IssuedAt: w.e.clock().Unix(), DeviceID: w.deviceID, Action: oid4vci.ActionUsed, Use: u})
	if err != nil {
		w.e.t.Fatal(err)
	}
	var out oid4vci.UseResponse
	return &out, w.e.client.Device(context.Background(), req, &out)
}

func (w *wallet) revokeWithCard(deviceID string) (*oid4vci.LifecycleResponse, error) {
	r := &oid4vci.CardRevocation{Audience: oid4vci.Audience{w.e.srv.URL}, Nonce: w.nonce(), IssuedAt: w.e.clock().Unix(), DeviceID: deviceID, Reason: "test"}
	s, err := oid4vci.SignCardRevocation(r, w.cardCert.Raw, w.cardSigner())
	if err != nil {
		w.e.t.Fatal(err)
	}
	return w.e.client.RevokeWithCard(context.Background(), s)
}

// status fetches the status list named in is's MSO and returns the entry,
// verifying the token with the status-list certificate chained to the
// IACA, as a verifier does.
func (e *env) status(is *mdoc.IssuerSigned) uint8 {
	t := e.t
	ref := is.IssuerAuth.MSO.Status.StatusList
	b, err := e.client.StatusList(context.Background(), ref.URI, MediaTypeStatusListCWT)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := mdoc.ParseStatusListToken(b)
	if err != nil {
		t.Fatal(err)
	}
	ts := mdoc.NewTrustStore(mdoc.PurposeStatusList, true, e.pki.IACA)
	cr, err := ts.VerifyChain(tok.X5Chain, e.clock())
	if err != nil {
		t.Fatalf("status list chain: %v", err)
	}
	if err := tok.Verify(cr.PublicKey, ref.URI, e.clock()); err != nil {
		t.Fatalf("status list token: %v", err)
	}
	st, err := tok.Status(ref.Idx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func wantCode(t testing.TB, err error, code, reason string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s/%s, got success", code, reason)
	}
	if oid4vci.CodeOf(err) != code || (reason != "" && oid4vci.ReasonOf(err) != reason) {
		t.Fatalf("want %s/%s, got %s/%s: %v", code, reason, oid4vci.CodeOf(err), oid4vci.ReasonOf(err), err)
	}
}
