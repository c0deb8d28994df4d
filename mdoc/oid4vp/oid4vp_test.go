package oid4vp

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwe"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/mynumber-mdoc/mnc/internal/jose"
	"github.com/mynumber-mdoc/mnc/mdoc"
)

func mustSign(t *testing.T, p *readerPKI, ro *RequestObject) []byte {
	t.Helper()
	jwt, err := SignRequestObject(p.key, [][]byte{p.cert.Raw}, ro)
	if err != nil {
		t.Fatalf("SignRequestObject: %v", err)
	}
	return jwt
}

func TestRequestObjectRoundTrip(t *testing.T) {
	p := fixtureReader(t)
	for _, clientID := range []string{ClientIDX509Hash(p.cert.Raw), "x509_san_dns:verifier.example.jp"} {
		t.Run(clientID[:9], func(t *testing.T) {
			ro, _ := newRequest(t, clientID)
			jwt := mustSign(t, p, ro)
			v, err := VerifyRequestObject(jwt, RequestObjectOptions{Trust: p.trust(), CurrentTime: testNow, ClientID: clientID})
			if err != nil {
				t.Fatalf("VerifyRequestObject: %v", err)
			}
			if v.Object.Nonce != ro.Nonce || v.Object.DCQLQuery.Credentials[0].Meta.DoctypeValue != mdoc.DocTypeMNC {
				t.Fatalf("claims not carried: %+v", v.Object)
			}
			if !v.Roles.MedicalInstitution {
				t.Fatal("reader roles not read from the certificate")
			}
			if v.Enc != EncA128GCM {
				t.Fatalf("enc = %s", v.Enc)
			}
		})
	}
}

func TestVerifyRequestObjectRefusals(t *testing.T) {
	p := fixtureReader(t)
	hashID := ClientIDX509Hash(p.cert.Raw)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherCA, err := mdoc.NewIACACertificate(otherKey, mdocCAOptions("Other CA"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		make func() ([]byte, RequestObjectOptions)
		code mdoc.Code
	}{
		{"untrusted chain", func() ([]byte, RequestObjectOptions) {
			ro, _ := newRequest(t, hashID)
			return mustSign(t, p, ro), RequestObjectOptions{Trust: mdoc.NewTrustStore(mdoc.PurposeReaderAuth, false, otherCA), CurrentTime: testNow}
		}, mdoc.CodeReaderAuthInvalid},
		{"signed by another key", func() ([]byte, RequestObjectOptions) {
			ro, _ := newRequest(t, hashID)
			jwt, err := SignRequestObject(otherKey, [][]byte{p.cert.Raw}, ro)
			if err != nil {
				t.Fatal(err)
			}
			return jwt, RequestObjectOptions{Trust: p.trust(), CurrentTime: testNow}
		}, mdoc.CodeReaderAuthInvalid},
		{"tampered payload", func() ([]byte, RequestObjectOptions) {
			ro, _ := newRequest(t, hashID)
			jwt := mustSign(t, p, ro)
			parts := strings.Split(string(jwt), ".")
			ro.Nonce = "attacker"
			pl, _ := json.Marshal(ro)
			parts[1] = base64.RawURLEncoding.EncodeToString(pl)
			return []byte(strings.Join(parts, ".")), RequestObjectOptions{Trust: p.trust(), CurrentTime: testNow}
		}, mdoc.CodeReaderAuthInvalid},
		{"wrong x509_hash", func() ([]byte, RequestObjectOptions) {
			ro, _ := newRequest(t, ClientIDX509Hash(otherCA.Raw))
			return mustSign(t, p, ro), RequestObjectOptions{Trust: p.trust(), CurrentTime: testNow}
		}, CodeInvalidClient},
		{"dns name not in certificate", func() ([]byte, RequestObjectOptions) {
			ro, _ := newRequest(t, "x509_san_dns:evil.example.com")
			return mustSign(t, p, ro), RequestObjectOptions{Trust: p.trust(), CurrentTime: testNow}
		}, CodeInvalidClient},
		{"response_uri on another host", func() ([]byte, RequestObjectOptions) {
			ro, _ := newRequest(t, "x509_san_dns:verifier.example.jp")
			ro.ResponseURI = "https://evil.example.com/cb"
			return mustSign(t, p, ro), RequestObjectOptions{Trust: p.trust(), CurrentTime: testNow}
		}, CodeInvalidClient},
		{"client_id differs from the link", func() ([]byte, RequestObjectOptions) {
			ro, _ := newRequest(t, hashID)
			return mustSign(t, p, ro), RequestObjectOptions{Trust: p.trust(), CurrentTime: testNow, ClientID: "x509_san_dns:verifier.example.jp"}
		}, CodeInvalidClient},
		{"expired", func() ([]byte, RequestObjectOptions) {
			ro, _ := newRequest(t, hashID)
			return mustSign(t, p, ro), RequestObjectOptions{Trust: p.trust(), CurrentTime: testNow.Add(time.Hour)}
		}, CodeInvalidRequestObject},
		{"wrong typ", func() ([]byte, RequestObjectOptions) {
			ro, _ := newRequest(t, hashID)
			jwt := mustSign(t, p, ro)
			parts := strings.Split(string(jwt), ".")
			parts[0] = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","typ":"JWT","x5c":["` + base64.StdEncoding.EncodeToString(p.cert.Raw) + `"]}`))
			return []byte(strings.Join(parts, ".")), RequestObjectOptions{Trust: p.trust(), CurrentTime: testNow}
		}, CodeInvalidRequestObject},
		{"alg none", func() ([]byte, RequestObjectOptions) {
			ro, _ := newRequest(t, hashID)
			pl, _ := json.Marshal(ro)
			h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"oauth-authz-req+jwt","x5c":["` + base64.StdEncoding.EncodeToString(p.cert.Raw) + `"]}`))
			return []byte(h + "." + base64.RawURLEncoding.EncodeToString(pl) + "."), RequestObjectOptions{Trust: p.trust(), CurrentTime: testNow}
		}, mdoc.CodeReaderAuthInvalid},
		{"duplicate member", func() ([]byte, RequestObjectOptions) {
			// Validly signed, but with a second response_uri ahead of the
			// real one: one reader would post to the first, another to the
			// last. Refused rather than read either way.
			ro, _ := newRequest(t, hashID)
			pl, _ := json.Marshal(ro)
			pl = append([]byte(`{"response_uri":"https://evil.example.com/cb",`), pl[1:]...)
			x5c := []string{base64.StdEncoding.EncodeToString(p.cert.Raw)}
			jwt, err := jose.Sign(p.key, map[string]any{"typ": RequestObjectType, "x5c": x5c}, pl)
			if err != nil {
				t.Fatal(err)
			}
			return []byte(jwt), RequestObjectOptions{Trust: p.trust(), CurrentTime: testNow}
		}, CodeInvalidRequestObject},
		{"oversized", func() ([]byte, RequestObjectOptions) {
			return bytes.Repeat([]byte("a"), MaxRequestObjectSize+1), RequestObjectOptions{Trust: p.trust()}
		}, mdoc.CodeLimitExceeded},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			jwt, opts := c.make()
			_, err := VerifyRequestObject(jwt, opts)
			if got := mdoc.CodeOf(err); got != c.code {
				t.Fatalf("code = %q (%v), want %q", got, err, c.code)
			}
		})
	}
}

func mdocCAOptions(cn string) mdoc.CertificateOptions {
	nb := testNow.Add(-24 * time.Hour)
	return mdoc.CertificateOptions{
		Subject:   pkixName(cn),
		NotBefore: nb, NotAfter: nb.Add(365 * 24 * time.Hour),
		IssuerAltNameURI: "https://other.example", CRLDistributionPoint: "https://other.example/ca.crl",
	}
}

func TestRequestValidate(t *testing.T) {
	p := fixtureReader(t)
	cases := []struct {
		name string
		mod  func(*RequestObject)
		code mdoc.Code
	}{
		{"ok", func(*RequestObject) {}, ""},
		{"response_type", func(r *RequestObject) { r.ResponseType = "code" }, CodeInvalidRequest},
		{"response_mode", func(r *RequestObject) { r.ResponseMode = "direct_post" }, CodeInvalidRequest},
		{"client prefix", func(r *RequestObject) { r.ClientID = "redirect_uri:https://x" }, CodeInvalidClient},
		{"response_uri relative", func(r *RequestObject) { r.ResponseURI = "/cb" }, CodeInvalidRequest},
		{"no nonce", func(r *RequestObject) { r.Nonce = "" }, CodeInvalidRequest},
		{"no dcql", func(r *RequestObject) { r.DCQLQuery = nil }, CodeInvalidRequest},
		{"no metadata", func(r *RequestObject) { r.ClientMetadata = nil }, CodeInvalidRequest},
		{"no keys", func(r *RequestObject) { r.ClientMetadata.JWKS = &JWKS{} }, CodeInvalidRequest},
		{"only unsupported enc", func(r *RequestObject) {
			r.ClientMetadata.EncryptedResponseEncValuesSupported = []string{"A128CBC-HS256"}
		}, mdoc.CodeUnsupported},
		{"aud", func(r *RequestObject) { r.Audience = "https://other" }, CodeInvalidRequestObject},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ro, _ := newRequest(t, ClientIDX509Hash(p.cert.Raw))
			c.mod(ro)
			if got := mdoc.CodeOf(ro.Validate()); got != c.code {
				t.Fatalf("code = %q, want %q", got, c.code)
			}
		})
	}
}

func TestDCQLValidate(t *testing.T) {
	f := false
	ok := NewMdocCredentialQuery("mnc", mdoc.DocTypeMNC, map[string][]string{mdoc.NameSpaceISO23220: {"family_name", "age_over_20"}}, false)
	cases := []struct {
		name string
		q    DCQLQuery
		code mdoc.Code
	}{
		{"ok", DCQLQuery{Credentials: []CredentialQuery{ok}}, ""},
		{"empty", DCQLQuery{}, CodeInvalidRequest},
		{"bad id", DCQLQuery{Credentials: []CredentialQuery{{ID: "a b", Format: FormatMsoMdoc, Meta: MdocMeta{"x"}}}}, CodeInvalidRequest},
		{"dup id", DCQLQuery{Credentials: []CredentialQuery{ok, ok}}, CodeInvalidRequest},
		{"sd-jwt", DCQLQuery{Credentials: []CredentialQuery{{ID: "a", Format: "dc+sd-jwt", Meta: MdocMeta{"x"}}}}, mdoc.CodeUnsupported},
		{"no doctype", DCQLQuery{Credentials: []CredentialQuery{{ID: "a", Format: FormatMsoMdoc}}}, CodeInvalidRequest},
		{"path of 1", DCQLQuery{Credentials: []CredentialQuery{{ID: "a", Format: FormatMsoMdoc, Meta: MdocMeta{"x"}, Claims: []ClaimQuery{{Path: []string{"ns"}}}}}}, CodeInvalidRequest},
		{"dup claim", DCQLQuery{Credentials: []CredentialQuery{{ID: "a", Format: FormatMsoMdoc, Meta: MdocMeta{"x"}, Claims: []ClaimQuery{{Path: []string{"ns", "e"}}, {Path: []string{"ns", "e"}}}}}}, CodeInvalidRequest},
		{"claim set unknown", DCQLQuery{Credentials: []CredentialQuery{{ID: "a", Format: FormatMsoMdoc, Meta: MdocMeta{"x"}, Claims: []ClaimQuery{{ID: "c1", Path: []string{"ns", "e"}}}, ClaimSets: [][]string{{"c2"}}}}}, CodeInvalidRequest},
		{"claim set without ids", DCQLQuery{Credentials: []CredentialQuery{{ID: "a", Format: FormatMsoMdoc, Meta: MdocMeta{"x"}, Claims: []ClaimQuery{{Path: []string{"ns", "e"}}}, ClaimSets: [][]string{{"c2"}}}}}, CodeInvalidRequest},
		{"credential set ok", DCQLQuery{Credentials: []CredentialQuery{ok}, CredentialSets: []CredentialSetQuery{{Options: [][]string{{"mnc"}}, Required: &f}}}, ""},
		{"credential set unknown", DCQLQuery{Credentials: []CredentialQuery{ok}, CredentialSets: []CredentialSetQuery{{Options: [][]string{{"hic"}}}}}, CodeInvalidRequest},
		{"too many", DCQLQuery{Credentials: make([]CredentialQuery, MaxCredentialQueries+1)}, mdoc.CodeLimitExceeded},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := mdoc.CodeOf(c.q.Validate()); got != c.code {
				t.Fatalf("code = %q (%v), want %q", got, c.q.Validate(), c.code)
			}
		})
	}
	els := ok.Elements()[mdoc.NameSpaceISO23220]
	if strings.Join(els, ",") != "age_over_20,family_name" {
		t.Fatalf("Elements = %v", els)
	}
	ir := ok.ItemsRequest()
	if ir.DocType != mdoc.DocTypeMNC || len(ir.NameSpaces[mdoc.NameSpaceISO23220]) != 2 || ir.NameSpaces[mdoc.NameSpaceISO23220]["family_name"] {
		t.Fatalf("ItemsRequest = %+v", ir)
	}
}

func TestThumbprintMatchesJWX(t *testing.T) {
	ek, _ := ecdh.P256().GenerateKey(rand.Reader)
	k, err := NewEncryptionJWK(ek.PublicKey(), "kid-1")
	if err != nil {
		t.Fatal(err)
	}
	ours, err := k.Thumbprint()
	if err != nil {
		t.Fatal(err)
	}
	jk, err := jwk.Import(ek.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := jk.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ours, theirs) {
		t.Fatalf("thumbprint %x, jwx %x", ours, theirs)
	}
}

func TestThumbprintRejectsBadPoint(t *testing.T) {
	k := JWK{Kty: "EC", Crv: "P-256", X: base64.RawURLEncoding.EncodeToString(make([]byte, 32)), Y: base64.RawURLEncoding.EncodeToString(make([]byte, 32))}
	if _, err := k.Thumbprint(); mdoc.CodeOf(err) != mdoc.CodeMalformed {
		t.Fatalf("off-curve point accepted: %v", err)
	}
}

func TestResponseRoundTrip(t *testing.T) {
	p := fixtureReader(t)
	for _, enc := range []string{EncA128GCM, EncA256GCM} {
		t.Run(enc, func(t *testing.T) {
			ro, ek := newRequest(t, ClientIDX509Hash(p.cert.Raw))
			key, _ := ro.ClientMetadata.JWKS.EncryptionKey()
			var r AuthorizationResponse
			r.AddPresentation("mnc", []byte{0xa1, 0x01, 0x02})
			r.State = ro.State
			jweb, err := EncryptResponse(&r, key, enc)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecryptResponse(jweb, DecryptOptions{Key: ek, Kid: "k1", Enc: ro.ClientMetadata.EncValues()})
			if err != nil {
				t.Fatalf("DecryptResponse: %v", err)
			}
			ps, err := got.Presentations("mnc")
			if err != nil || len(ps) != 1 || !bytes.Equal(ps[0], []byte{0xa1, 0x01, 0x02}) || got.State != ro.State {
				t.Fatalf("got %+v %v", got, err)
			}
			// The form field as a string, with the whitespace a sender may
			// leave around it, reads the same.
			got2, err := DecryptResponseString(" "+string(jweb)+"\r\n", DecryptOptions{Key: ek, Kid: "k1", Enc: ro.ClientMetadata.EncValues()})
			if err != nil || !reflect.DeepEqual(got2, got) {
				t.Fatalf("DecryptResponseString: %+v %v", got2, err)
			}
			if _, err := DecryptResponseString(strings.Repeat("a", MaxResponseSize+1), DecryptOptions{Key: ek}); mdoc.CodeOf(err) != mdoc.CodeLimitExceeded {
				t.Fatalf("oversized string: %v", err)
			}

			// Another transaction's key cannot open it.
			other, _ := ecdh.P256().GenerateKey(rand.Reader)
			if _, err := DecryptResponse(jweb, DecryptOptions{Key: other, Enc: ro.ClientMetadata.EncValues()}); mdoc.CodeOf(err) != mdoc.CodeSessionEncryption {
				t.Fatalf("wrong key: %v", err)
			}
			// Tampered ciphertext.
			parts := bytes.Split(jweb, []byte("."))
			if parts[3][3] == 'A' {
				parts[3][3] = 'B'
			} else {
				parts[3][3] = 'A'
			}
			if _, err := DecryptResponse(bytes.Join(parts, []byte(".")), DecryptOptions{Key: ek, Enc: ro.ClientMetadata.EncValues()}); err == nil {
				t.Fatal("tampered JWE accepted")
			}
			// An enc the verifier did not offer.
			if _, err := DecryptResponse(jweb, DecryptOptions{Key: ek, Enc: []string{"none"}}); mdoc.CodeOf(err) != mdoc.CodeUnsupported {
				t.Fatalf("unoffered enc: %v", err)
			}
		})
	}
}

func TestDecryptResponseShape(t *testing.T) {
	ek, _ := ecdh.P256().GenerateKey(rand.Reader)
	cases := map[string]string{
		"jws":        "a.b.c",
		"bad hdr":    "!!.b.c.d.e",
		"dir alg":    base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"dir","enc":"A128GCM"}`)) + ".b.c.d.e",
		"zip":        base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ECDH-ES","enc":"A128GCM","zip":"DEF"}`)) + ".b.c.d.e",
		"garbage ct": base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ECDH-ES","enc":"A128GCM"}`)) + "..AAAA.AAAA.AAAA",
	}
	for name, in := range cases {
		if _, err := DecryptResponse([]byte(in), DecryptOptions{Key: ek}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSessionTranscriptBothSides(t *testing.T) {
	p := fixtureReader(t)
	ro, _ := newRequest(t, ClientIDX509Hash(p.cert.Raw))
	v, err := VerifyRequestObject(mustSign(t, p, ro), RequestObjectOptions{Trust: p.trust(), CurrentTime: testNow})
	if err != nil {
		t.Fatal(err)
	}
	wallet, err := v.SessionTranscript()
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ro.ClientMetadata.JWKS.EncryptionKey()
	th, _ := key.Thumbprint()
	verifier, err := SessionTranscript(ro.ClientID, ro.Nonce, th, ro.ResponseURI)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(wallet.Raw, verifier.Raw) {
		t.Fatal("transcripts differ")
	}
	other, _ := SessionTranscript(ro.ClientID, "other-nonce", th, ro.ResponseURI)
	if bytes.Equal(other.Raw, verifier.Raw) {
		t.Fatal("nonce not bound into the transcript")
	}
	// [null, null, ["OpenID4VPHandover", h'…32 bytes']]
	if !bytes.HasPrefix(verifier.Raw, []byte{0x83, 0xf6, 0xf6, 0x82, 0x71}) {
		t.Fatalf("transcript shape %x", verifier.Raw[:8])
	}
}

func TestAuthorizationRequestURI(t *testing.T) {
	a := AuthorizationRequest{ClientID: "x509_hash:abc", RequestURI: "https://v.example/req/1?x=y"}
	got, err := ParseAuthorizationRequest(a.URI())
	if err != nil || *got != a {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	bad := map[string]mdoc.Code{
		"https://v.example/?client_id=a&request_uri=https://x/":                   CodeInvalidRequest,
		"openid4vp://?request_uri=https://x/":                                     CodeInvalidRequest,
		"openid4vp://?client_id=a&request=eyJ":                                    mdoc.CodeUnsupported,
		"openid4vp://?client_id=a&request_uri=ftp://x/":                           CodeInvalidRequest,
		"openid4vp://?client_id=a&client_id=b&request_uri=https://x/":             CodeInvalidRequest,
		"openid4vp://?client_id=a&request_uri=https://x/&request_uri_method=post": mdoc.CodeUnsupported,
		"openid4vp://?client_id=a&request_uri=" + strings.Repeat("x", 5000):       mdoc.CodeLimitExceeded,
	}
	for in, code := range bad {
		if _, err := ParseAuthorizationRequest(in); mdoc.CodeOf(err) != code {
			t.Errorf("%.60s: %v, want %s", in, err, code)
		}
	}
}

func TestOrigin(t *testing.T) {
	cases := map[string]string{
		"https://Verifier.Example.jp/annexc/1": "https://verifier.example.jp",
		"https://v.example:443/x":              "https://v.example",
		"http://127.0.0.1:8080/a?b=c":          "http://127.0.0.1:8080",
		"http://[::1]:9/":                      "http://[::1]:9",
		"http://v.example:80":                  "http://v.example",
	}
	for in, want := range cases {
		if got, err := Origin(in); err != nil || got != want {
			t.Errorf("Origin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"file:///etc/passwd", "/relative", "https://x/#frag"} {
		if _, err := Origin(bad); err == nil {
			t.Errorf("Origin(%q) accepted", bad)
		}
	}
	link := AnnexCInvocation("http://127.0.0.1:8080/annexc/request/tx?a=b")
	u, o, err := ParseAnnexCInvocation(link)
	if err != nil || u != "http://127.0.0.1:8080/annexc/request/tx?a=b" || o != "http://127.0.0.1:8080" {
		t.Fatalf("invocation: %q %q %v", u, o, err)
	}
}

func TestAnnexCEnvelope(t *testing.T) {
	p := fixtureReader(t)
	rk, _ := ecdh.P256().GenerateKey(rand.Reader)
	nonce := make([]byte, 16)
	rand.Read(nonce)
	ei, err := mdoc.NewEncryptionInfo(nonce, rk.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	st, err := mdoc.AnnexCSessionTranscript(ei.Base64(), "https://verifier.example.jp")
	if err != nil {
		t.Fatal(err)
	}
	dr, err := mdoc.NewDocRequest(mdoc.ItemsRequest{DocType: mdoc.DocTypeMNC, NameSpaces: map[string]map[string]bool{mdoc.NameSpaceISO23220: {"age_over_20": false}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := dr.SignReaderAuth(rand.Reader, p.key, [][]byte{p.cert.Raw}, st.Raw); err != nil {
		t.Fatal(err)
	}
	req := &mdoc.DeviceRequest{Version: mdoc.DeviceRequestVersion, DocRequests: []mdoc.DocRequest{*dr}}
	env, err := NewAnnexCRequest(req, ei)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(env)
	_, gotReq, gotEI, err := ParseAnnexCRequest(js)
	if err != nil {
		t.Fatal(err)
	}
	if gotEI.Base64() != ei.Base64() {
		t.Fatal("encryptionInfo changed")
	}
	if _, err := gotReq.DocRequests[0].VerifyReaderAuth(p.trust(), st.Raw, testNow); err != nil {
		t.Fatalf("ReaderAuth over the Annex C transcript: %v", err)
	}
	sealed, err := mdoc.SealAnnexC(rk.PublicKey(), st, []byte{0xa0})
	if err != nil {
		t.Fatal(err)
	}
	rjs, _ := json.Marshal(NewAnnexCResponse(sealed))
	back, err := ParseAnnexCResponse(rjs)
	if err != nil || !bytes.Equal(back, sealed) {
		t.Fatalf("response envelope: %v", err)
	}
	for _, bad := range []string{`{"response":"!!"}`, `{"response":""}`, `{"response":"AA"} x`, `[]`} {
		if _, err := ParseAnnexCResponse([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if _, _, _, err := ParseAnnexCRequest([]byte(`{"deviceRequest":"oA","encryptionInfo":"!"}`)); err == nil {
		t.Error("bad request envelope accepted")
	}
	if !errors.Is(errorf(CodeInvalidClient, "x"), ErrInvalidClient) {
		t.Error("sentinel")
	}
}

// TestDecryptResponsePayload: the decrypted payload is read one way only —
// exact member names, no duplicate members, nothing after the object —
// so a response cannot carry a second vp_token that another parser would
// pick. The JWEs are made by jwx, an independent implementation.
func TestDecryptResponsePayload(t *testing.T) {
	ek, _ := ecdh.P256().GenerateKey(rand.Reader)
	pub, err := jwk.Import(ek.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	good := `{"vp_token":{"mnc":["oQEC"]},"state":"s1"}`
	for _, tc := range []struct {
		name, payload string
		code          mdoc.Code // "" when accepted
	}{
		{"well formed", good, ""},
		{"unknown member ignored", `{"vp_token":{"mnc":["oQEC"]},"x":1}`, ""},
		{"duplicate vp_token", `{"vp_token":{"mnc":["oQEC"]},"vp_token":{"mnc":["oQED"]}}`, CodeInvalidRequest},
		{"duplicate id", `{"vp_token":{"mnc":["oQEC"],"mnc":["oQED"]}}`, CodeInvalidRequest},
		{"trailing object", good + `{"vp_token":{"mnc":["oQED"]}}`, CodeInvalidRequest},
		{"member name case", `{"VP_TOKEN":{"mnc":["oQEC"]}}`, CodeInvalidRequest},
		{"invalid UTF-8", "{\"vp_token\":{\"mnc\":[\"oQEC\"]},\"state\":\"\xff\"}", CodeInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jweb, err := jwe.Encrypt([]byte(tc.payload), jwe.WithKey(jwa.ECDH_ES(), pub), jwe.WithContentEncryption(jwa.A128GCM()), jwe.WithCompact())
			if err != nil {
				t.Fatal(err)
			}
			r, err := DecryptResponse(jweb, DecryptOptions{Key: ek})
			if tc.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if ps, err := r.Presentations("mnc"); err != nil || len(ps) != 1 || !bytes.Equal(ps[0], []byte{0xa1, 0x01, 0x02}) {
					t.Fatalf("presentations %x %v", ps, err)
				}
				return
			}
			if got := mdoc.CodeOf(err); got != tc.code {
				t.Fatalf("code %q (%v), want %q", got, err, tc.code)
			}
		})
	}
}
