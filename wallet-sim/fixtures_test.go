package walletsim

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"sync"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/blesim"
	"github.com/mynumber-mdoc/mnc/wallet-sim/se"
)

// testPKI is an issuer (IACA + Document Signer) and a reader CA with
// readers of each role, made with mdoc's Annex B constructors.
type testPKI struct {
	iacaKey, dsKey *ecdsa.PrivateKey
	iaca, ds       *x509.Certificate
	readerCAKey    *ecdsa.PrivateKey
	readerCA       *x509.Certificate
	// readers by role: "shop" (no roles), "clinic" (medical), "city"
	// (individual number), "rogue" (issued by an untrusted CA).
	readers map[string]*testReader
}

type testReader struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

var (
	pkiOnce sync.Once
	pkiVal  *testPKI
	pkiErr  error
)

func genKey() *ecdsa.PrivateKey {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return k
}

func fixturePKI(t testing.TB) *testPKI {
	t.Helper()
	pkiOnce.Do(func() { pkiVal, pkiErr = makePKI() })
	if pkiErr != nil {
		t.Fatalf("fixture PKI: %v", pkiErr)
	}
	return pkiVal
}

func makePKI() (*testPKI, error) {
	p := &testPKI{iacaKey: genKey(), dsKey: genKey(), readerCAKey: genKey(), readers: map[string]*testReader{}}
	nb := time.Now().Add(-24 * time.Hour)
	var err error
	if p.iaca, err = mdoc.NewIACACertificate(p.iacaKey, mdoc.CertificateOptions{
		Subject: pkix.Name{CommonName: "Test IACA", Country: []string{"JP"}}, NotBefore: nb, NotAfter: nb.Add(5 * 365 * 24 * time.Hour),
		IssuerAltNameURI: "https://issuer.example.jp", CRLDistributionPoint: "https://issuer.example.jp/iaca.crl",
	}); err != nil {
		return nil, err
	}
	if p.ds, err = mdoc.NewDocumentSignerCertificate(p.dsKey.Public(), p.iaca, p.iacaKey, mdoc.CertificateOptions{
		Subject: pkix.Name{CommonName: "Test DS"}, NotBefore: nb, NotAfter: nb.Add(365 * 24 * time.Hour),
	}); err != nil {
		return nil, err
	}
	if p.readerCA, err = mdoc.NewIACACertificate(p.readerCAKey, mdoc.CertificateOptions{
		Subject: pkix.Name{CommonName: "Test Reader CA", Country: []string{"JP"}}, NotBefore: nb, NotAfter: nb.Add(5 * 365 * 24 * time.Hour),
		IssuerAltNameURI: "https://readers.example.jp", CRLDistributionPoint: "https://readers.example.jp/ca.crl",
	}); err != nil {
		return nil, err
	}
	rogueKey := genKey()
	rogueCA, err := mdoc.NewIACACertificate(rogueKey, mdoc.CertificateOptions{
		Subject: pkix.Name{CommonName: "Rogue Reader CA", Country: []string{"JP"}}, NotBefore: nb, NotAfter: nb.Add(5 * 365 * 24 * time.Hour),
		IssuerAltNameURI: "https://rogue.example", CRLDistributionPoint: "https://rogue.example/ca.crl",
	})
	if err != nil {
		return nil, err
	}
	for name, spec := range map[string]struct {
		roles mdoc.ReaderRoles
		ca    *x509.Certificate
		caKey *ecdsa.PrivateKey
	}{
		"shop":   {mdoc.ReaderRoles{}, p.readerCA, p.readerCAKey},
		"clinic": {mdoc.ReaderRoles{MedicalInstitution: true}, p.readerCA, p.readerCAKey},
		"city":   {mdoc.ReaderRoles{IndividualNumber: true}, p.readerCA, p.readerCAKey},
		"rogue":  {mdoc.ReaderRoles{MedicalInstitution: true, IndividualNumber: true}, rogueCA, rogueKey},
	} {
		k := genKey()
		c, err := mdoc.NewReaderCertificate(k.Public(), spec.ca, spec.caKey, mdoc.CertificateOptions{
			Subject: pkix.Name{CommonName: "Test " + name + " reader", Country: []string{"JP"}}, NotBefore: nb, NotAfter: nb.Add(365 * 24 * time.Hour),
			Policies: spec.roles.Policies(),
		})
		if err != nil {
			return nil, err
		}
		p.readers[name] = &testReader{key: k, cert: c}
	}
	return p, nil
}

func mncElements() map[string][]mdoc.Element {
	return map[string][]mdoc.Element{
		mdoc.NameSpaceISO23220: {
			{Identifier: "family_name", Value: "山田"},
			{Identifier: "given_name", Value: "花子"},
			{Identifier: "birth_date", Value: mdoc.FullDate{Year: 1990, Month: 4, Day: 1}},
			{Identifier: "sex", Value: 2},
			{Identifier: "age_over_18", Value: true},
			{Identifier: "age_over_20", Value: true},
			{Identifier: "issuing_country", Value: "JP"},
		},
		mdoc.NameSpaceJP: {
			{Identifier: "full_name_unicode", Value: "山田　花子"},
			{Identifier: "resident_address_unicode", Value: "東京都千代田区霞が関二丁目1番2号"},
			{Identifier: ElementIndividualNumber, Value: "123456789018"},
		},
	}
}

func hicElements() map[string][]mdoc.Element {
	return map[string][]mdoc.Element{
		mdoc.NameSpaceHIC: {
			{Identifier: "insurer_number", Value: "06139999"},
			{Identifier: "insured_number", Value: "12345"},
			{Identifier: "copayment_ratio", Value: 30},
		},
	}
}

// newTestWallet makes a wallet of platform with the fixture reader CA and
// IACA trusted, holding an MNC and an HIC issued to its device keys.
func newTestWallet(t testing.TB, platform Platform) *Wallet {
	t.Helper()
	p := fixturePKI(t)
	auth := StaticAuth{Biometric: se.BiometricMatch}
	w, err := Init(t.TempDir(), Profile{Platform: platform, Model: "TestPhone 1"}, pinFor(platform), Options{Authenticator: auth, Radio: blesim.Radio{Dir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.TrustReaderRoots(p.readerCA); err != nil {
		t.Fatal(err)
	}
	if err := w.TrustIACA(p.iaca); err != nil {
		t.Fatal(err)
	}
	for docType, els := range map[string]map[string][]mdoc.Element{mdoc.DocTypeMNC: mncElements(), mdoc.DocTypeHIC: hicElements()} {
		issueInto(t, w, docType, els, nil)
	}
	return w
}

func pinFor(p Platform) string {
	if p == PlatformAndroid {
		return "123456"
	}
	return ""
}

func issueInto(t testing.TB, w *Wallet, docType string, els map[string][]mdoc.Element, mod func(*mdoc.IssueOptions)) *Credential {
	t.Helper()
	p := fixturePKI(t)
	k, err := w.NewDeviceKey(docType)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	o := mdoc.IssueOptions{
		DocType: docType, NameSpaces: els, DeviceKey: k.Public,
		Signed: now.Add(-time.Minute), ValidFrom: now.Add(-time.Minute), ValidUntil: now.Add(30 * 24 * time.Hour),
		Signer: p.dsKey, Chain: [][]byte{p.ds.Raw},
	}
	if mod != nil {
		mod(&o)
	}
	is, err := mdoc.Issue(o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := is.Encode()
	if err != nil {
		t.Fatal(err)
	}
	c, err := w.AddCredential(k.ID, b, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// reader is a test mdoc reader speaking over blesim.
type reader struct {
	t     *testing.T
	radio blesim.Radio
	conn  *blesim.Conn
	sess  *mdoc.SessionEncryption
	st    *mdoc.SessionTranscript
	eKey  *ecdh.PrivateKey
	de    *mdoc.DeviceEngagement
}

// docReq is one DocRequest the test reader sends; signer nil sends no
// ReaderAuth.
type docReq struct {
	docType string
	items   map[string]map[string]bool
	signer  *testReader
	// transcript, when set, signs ReaderAuth over another transcript.
	badTranscript bool
}

func (r *reader) deviceRequest(reqs []docReq) []byte {
	t := r.t
	dr := mdoc.DeviceRequest{Version: mdoc.DeviceRequestVersion}
	for _, q := range reqs {
		d, err := mdoc.NewDocRequest(mdoc.ItemsRequest{DocType: q.docType, NameSpaces: q.items})
		if err != nil {
			t.Fatal(err)
		}
		if q.signer != nil {
			st := r.st.Raw
			if q.badTranscript {
				other, _ := mdoc.NewSessionTranscript(nil, nil, mdoc.QRHandover())
				st = other.Raw
			}
			if err := d.SignReaderAuth(rand.Reader, q.signer.key, [][]byte{q.signer.cert.Raw}, st); err != nil {
				t.Fatal(err)
			}
		}
		dr.DocRequests = append(dr.DocRequests, *d)
	}
	b, err := dr.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// connect engages with de over handover and sends the first request.
func connectReader(t *testing.T, ctx context.Context, radio blesim.Radio, de *mdoc.DeviceEngagement, handover []byte, reqs []docReq) *reader {
	t.Helper()
	r := &reader{t: t, radio: radio, de: de}
	var uuid []byte
	for _, m := range de.DeviceRetrievalMethods {
		if m.Type == mdoc.RetrievalBLE {
			o, err := m.BLEOptions()
			if err != nil {
				t.Fatal(err)
			}
			uuid = o.PeripheralServerUUID
		}
	}
	if uuid == nil {
		t.Fatal("engagement without a BLE peripheral server UUID")
	}
	var err error
	if r.eKey, err = ecdh.P256().GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	est, err := mdoc.NewSessionEstablishment(r.eKey.PublicKey(), nil)
	if err != nil {
		t.Fatal(err)
	}
	deb := de.Bytes()
	if r.st, err = mdoc.NewSessionTranscript(&deb, &est.EReaderKey, handover); err != nil {
		t.Fatal(err)
	}
	eDev, err := de.EDeviceKey()
	if err != nil {
		t.Fatal(err)
	}
	if r.sess, err = mdoc.NewSessionEncryption(mdoc.RoleReader, r.eKey, eDev, r.st.Bytes()); err != nil {
		t.Fatal(err)
	}
	if est.Data, err = r.sess.Encrypt(r.deviceRequest(reqs)); err != nil {
		t.Fatal(err)
	}
	msg, err := est.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if r.conn, err = radio.Connect(ctx, uuid); err != nil {
		t.Fatal(err)
	}
	r.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := r.conn.Send(msg); err != nil {
		t.Fatal(err)
	}
	return r
}

// receive reads one SessionData and decrypts its DeviceResponse (nil
// with the status when the wallet sent only a status).
func (r *reader) receive() (*mdoc.DeviceResponse, *uint) {
	t := r.t
	b, err := r.conn.Receive()
	if err != nil {
		t.Fatalf("reader receive: %v", err)
	}
	sd, err := mdoc.ParseSessionData(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(sd.Data) == 0 {
		return nil, sd.Status
	}
	pt, err := r.sess.Decrypt(sd.Data)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := mdoc.ParseDeviceResponse(pt)
	if err != nil {
		t.Fatal(err)
	}
	return resp, sd.Status
}

func (r *reader) end() {
	b, _ := mdoc.NewSessionStatus(mdoc.SessionStatusTermination).Encode()
	r.conn.Send(b)
	r.conn.End()
}

// verify checks resp with the mdoc verify primitives as a verifier would.
func (r *reader) verify(resp *mdoc.DeviceResponse, p *testPKI) *mdoc.ResponseResult {
	return mdoc.VerifyDeviceResponse(resp, &mdoc.VerifyOptions{
		Trust:             mdoc.NewTrustStore(mdoc.PurposeDocumentSigner, true, p.iaca),
		SessionTranscript: r.st.Raw,
		EReaderKey:        r.eKey,
	})
}

func radioFor(t *testing.T) blesim.Radio { return blesim.Radio{Dir: t.TempDir()} }

// mustHistory returns w's history, failing the test on a damaged log.
func mustHistory(t testing.TB, w *Wallet) []HistoryEntry {
	t.Helper()
	h, err := w.History()
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	return h
}
