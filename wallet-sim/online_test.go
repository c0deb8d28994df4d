package walletsim

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vp"
)

// testVerifier is an OpenID4VP / Annex C verifier built from the shared
// oid4vp primitives: it serves a signed request object (or an Annex C
// envelope) and decrypts what the wallet posts.
type testVerifier struct {
	srv      *httptest.Server
	reader   *testReader
	ro       *oid4vp.RequestObject
	encKey   *ecdh.PrivateKey
	posted   chan url.Values
	annexC   []byte
	annexKey *ecdh.PrivateKey
	annexEI  *mdoc.EncryptionInfo
	annexOut chan []byte
}

func newTestVerifier(t *testing.T, reader *testReader, elements map[string][]string, docType string) *testVerifier {
	t.Helper()
	v := &testVerifier{reader: reader, posted: make(chan url.Values, 1), annexOut: make(chan []byte, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /request", func(w http.ResponseWriter, r *http.Request) {
		jwt, err := oid4vp.SignRequestObject(reader.key, [][]byte{reader.cert.Raw}, v.ro)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/oauth-authz-req+jwt")
		w.Write(jwt)
	})
	mux.HandleFunc("POST /response", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		v.posted <- r.PostForm
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"redirect_uri":"https://verifier.example/done"}`))
	})
	mux.HandleFunc("GET /annexc", func(w http.ResponseWriter, r *http.Request) { w.Write(v.annexC) })
	mux.HandleFunc("POST /annexc", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		v.annexOut <- b
	})
	v.srv = httptest.NewServer(mux)
	t.Cleanup(v.srv.Close)
	var err error
	if v.encKey, err = ecdh.P256().GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	jwk, err := oid4vp.NewEncryptionJWK(v.encKey.PublicKey(), "k1")
	if err != nil {
		t.Fatal(err)
	}
	v.ro = &oid4vp.RequestObject{
		ClientID: oid4vp.ClientIDX509Hash(reader.cert.Raw), ResponseType: "vp_token", ResponseMode: "direct_post.jwt",
		ResponseURI: v.srv.URL + "/response", Nonce: "n-0123456789abcdef", State: "s1",
		DCQLQuery:      &oid4vp.DCQLQuery{Credentials: []oid4vp.CredentialQuery{oid4vp.NewMdocCredentialQuery("q1", docType, elements, false)}},
		ClientMetadata: &oid4vp.ClientMetadata{JWKS: &oid4vp.JWKS{Keys: []oid4vp.JWK{jwk}}, EncryptedResponseEncValuesSupported: []string{"A128GCM"}},
		IssuedAt:       time.Now().Unix(),
	}
	return v
}

func (v *testVerifier) link() string {
	return oid4vp.AuthorizationRequest{ClientID: v.ro.ClientID, RequestURI: v.srv.URL + "/request"}.URI()
}

func TestOID4VPRoundTrip(t *testing.T) {
	p := fixturePKI(t)
	w := newTestWallet(t, PlatformApple)
	v := newTestVerifier(t, p.readers["shop"], map[string][]string{mdoc.NameSpaceISO23220: {"age_over_20", "family_name"}}, mdoc.DocTypeMNC)
	res, err := w.PresentOnline(context.Background(), v.link(), OnlineOptions{Consent: Rules{Approve: []string{"age_over_20"}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.RedirectURI != "https://verifier.example/done" || res.Entry.Outcome != "released" {
		t.Fatalf("result %+v", res)
	}
	form := <-v.posted
	ar, err := oid4vp.DecryptResponse([]byte(form.Get("response")), oid4vp.DecryptOptions{Key: v.encKey, Kid: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	pres, err := ar.Presentations("q1")
	if err != nil || len(pres) != 1 || ar.State != "s1" {
		t.Fatalf("presentations %d %v state %q", len(pres), err, ar.State)
	}
	dr, err := mdoc.ParseDeviceResponse(pres[0])
	if err != nil {
		t.Fatal(err)
	}
	jwk := v.ro.ClientMetadata.JWKS.Keys[0]
	tp, _ := jwk.Thumbprint()
	st, _ := oid4vp.SessionTranscript(v.ro.ClientID, v.ro.Nonce, tp, v.ro.ResponseURI)
	r := mdoc.VerifyDeviceResponse(dr, &mdoc.VerifyOptions{Trust: mdoc.NewTrustStore(mdoc.PurposeDocumentSigner, true, p.iaca), SessionTranscript: st.Raw})
	if !r.Valid {
		t.Fatalf("invalid: %v %v", r.Errors, r.Documents[0].Errors)
	}
	got := r.Documents[0].Disclosed()[mdoc.NameSpaceISO23220]
	if len(got) != 1 || got["age_over_20"] != true {
		t.Fatalf("disclosed %v", got)
	}
}

func TestOID4VPUntrustedVerifierGetsNothing(t *testing.T) {
	p := fixturePKI(t)
	w := newTestWallet(t, PlatformAndroid)
	v := newTestVerifier(t, p.readers["rogue"], map[string][]string{mdoc.NameSpaceISO23220: {"age_over_20"}}, mdoc.DocTypeMNC)
	_, err := w.PresentOnline(context.Background(), v.link(), OnlineOptions{Consent: Rules{ApproveAll: true}})
	if CodeOf(err) != string(CodeReaderAuthInvalid) {
		t.Fatalf("err %v", err)
	}
	select {
	case f := <-v.posted:
		t.Fatalf("wallet posted %v to an untrusted verifier", f)
	default:
	}
}

func TestOID4VPInsuranceToNonMedicalDeclined(t *testing.T) {
	p := fixturePKI(t)
	w := newTestWallet(t, PlatformAndroid)
	v := newTestVerifier(t, p.readers["shop"], map[string][]string{mdoc.NameSpaceHIC: {"insurer_number"}}, mdoc.DocTypeHIC)
	res, err := w.PresentOnline(context.Background(), v.link(), OnlineOptions{Consent: Rules{ApproveAll: true}})
	if err != nil {
		t.Fatal(err)
	}
	form := <-v.posted
	if !res.Declined || form.Get("error") != "access_denied" || form.Get("response") != "" {
		t.Fatalf("declined %v, form %v", res.Declined, form)
	}
}

func TestAnnexCRoundTrip(t *testing.T) {
	p := fixturePKI(t)
	for _, tc := range []struct {
		name   string
		reader string
		sign   bool
		want   bool
	}{{"trusted", "shop", true, true}, {"no readerauth", "shop", false, false}, {"rogue", "rogue", true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newTestWallet(t, PlatformAndroid)
			v := newTestVerifier(t, p.readers[tc.reader], nil, mdoc.DocTypeMNC)
			reqURL := v.srv.URL + "/annexc"
			origin, _ := oid4vp.Origin(reqURL)
			v.annexKey, _ = ecdh.P256().GenerateKey(rand.Reader)
			nonce := make([]byte, 16)
			rand.Read(nonce)
			ei, err := mdoc.NewEncryptionInfo(nonce, v.annexKey.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			st, _ := mdoc.AnnexCSessionTranscript(ei.Base64(), origin)
			d, _ := mdoc.NewDocRequest(mdoc.ItemsRequest{DocType: mdoc.DocTypeMNC, NameSpaces: ageRequest})
			if tc.sign {
				if err := d.SignReaderAuth(rand.Reader, p.readers[tc.reader].key, [][]byte{p.readers[tc.reader].cert.Raw}, st.Raw); err != nil {
					t.Fatal(err)
				}
			}
			env, err := oid4vp.NewAnnexCRequest(&mdoc.DeviceRequest{Version: "1.0", DocRequests: []mdoc.DocRequest{*d}}, ei)
			if err != nil {
				t.Fatal(err)
			}
			v.annexC, _ = json.Marshal(env)
			_, err = w.PresentOnline(context.Background(), oid4vp.AnnexCInvocation(reqURL), OnlineOptions{Consent: Rules{ApproveAll: true}})
			if tc.want != (err == nil) {
				t.Fatalf("err %v", err)
			}
			out := <-v.annexOut
			enc, err := oid4vp.ParseAnnexCResponse(out)
			if err != nil {
				t.Fatal(err)
			}
			rb, err := mdoc.OpenAnnexC(v.annexKey, st, enc)
			if err != nil {
				t.Fatal(err)
			}
			dr, _ := mdoc.ParseDeviceResponse(rb)
			r := mdoc.VerifyDeviceResponse(dr, &mdoc.VerifyOptions{Trust: mdoc.NewTrustStore(mdoc.PurposeDocumentSigner, true, p.iaca), SessionTranscript: st.Raw})
			if r.Valid != tc.want {
				t.Fatalf("valid %v, want %v (status %d)", r.Valid, tc.want, dr.Status)
			}
			if !tc.want && (len(dr.Documents) != 0 || dr.Status != mdoc.DeviceResponseGeneralError) {
				t.Fatalf("unauthenticated reader got status %d, %d documents", dr.Status, len(dr.Documents))
			}
		})
	}
}
