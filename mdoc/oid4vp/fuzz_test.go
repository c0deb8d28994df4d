package oid4vp

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/mynumber-mdoc/mnc/mdoc"
)

// FuzzVerifyRequestObject: a hostile request object never panics and
// never verifies without the reader key.
func FuzzVerifyRequestObject(f *testing.F) {
	p := fixtureReader(f)
	ro, _ := newRequest(f, ClientIDX509Hash(p.cert.Raw))
	jwt, err := SignRequestObject(p.key, [][]byte{p.cert.Raw}, ro)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(jwt)
	f.Add([]byte("a.b.c"))
	trust := p.trust()
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := VerifyRequestObject(b, RequestObjectOptions{Trust: trust, CurrentTime: testNow})
		if err == nil && v.Object.Nonce != ro.Nonce {
			t.Fatalf("forged request object verified: %+v", v.Object)
		}
	})
}

// FuzzDecryptResponse: hostile direct_post.jwt bodies never panic.
func FuzzDecryptResponse(f *testing.F) {
	ek, _ := ecdh.P256().GenerateKey(rand.Reader)
	jwk, _ := NewEncryptionJWK(ek.PublicKey(), "k")
	var r AuthorizationResponse
	r.AddPresentation("mnc", []byte{0xa0})
	b, err := EncryptResponse(&r, &jwk, EncA128GCM)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("e30.a.b.c.d"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r1, err1 := DecryptResponse(b, DecryptOptions{Key: ek})
		r2, err2 := DecryptResponseString(string(b), DecryptOptions{Key: ek})
		if mdoc.CodeOf(err1) != mdoc.CodeOf(err2) || (err1 == nil) != (err2 == nil) || !reflect.DeepEqual(r1, r2) {
			t.Fatalf("[]byte and string entry points differ: %v / %v", err1, err2)
		}
	})
}

// FuzzDCQL: any JSON query either fails validation or yields elements
// within bounds.
func FuzzDCQL(f *testing.F) {
	q := DCQLQuery{Credentials: []CredentialQuery{NewMdocCredentialQuery("mnc", "org.iso.23220.1.jp.mnc", map[string][]string{"org.iso.23220.1": {"age_over_20"}}, false)}}
	b, _ := json.Marshal(q)
	f.Add(b)
	f.Add([]byte(`{"credentials":[{"id":"a","format":"mso_mdoc","meta":{"doctype_value":"x"},"claims":[{"id":"c","path":["n","e"]}],"claim_sets":[["c"]]}],"credential_sets":[{"options":[["a"]]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var q DCQLQuery
		if json.Unmarshal(b, &q) != nil || q.Validate() != nil {
			return
		}
		for i := range q.Credentials {
			n := 0
			for _, ids := range q.Credentials[i].Elements() {
				n += len(ids)
			}
			if n > MaxClaimsPerQuery {
				t.Fatalf("%d elements passed validation", n)
			}
			_ = q.Credentials[i].ClaimSetElements(0)
			_ = q.Credentials[i].ItemsRequest()
		}
	})
}

// FuzzParseAuthorizationRequest: hostile links never panic, and a parsed
// one always has an http(s) request_uri.
func FuzzParseAuthorizationRequest(f *testing.F) {
	f.Add(AuthorizationRequest{ClientID: "x509_hash:a", RequestURI: "https://v/r"}.URI())
	f.Add(AnnexCInvocation("http://127.0.0.1:1/annexc/request/x"))
	f.Fuzz(func(t *testing.T, s string) {
		if a, err := ParseAuthorizationRequest(s); err == nil {
			if _, err := Origin(a.RequestURI); err != nil {
				t.Fatalf("accepted request_uri %q: %v", a.RequestURI, err)
			}
		}
		_, _, _ = ParseAnnexCInvocation(s)
	})
}

// FuzzParseAnnexC: hostile Annex C envelopes never panic.
func FuzzParseAnnexC(f *testing.F) {
	f.Add([]byte(`{"deviceRequest":"omd2ZXJzaW9uYzEuMGtkb2NSZXF1ZXN0c4A","encryptionInfo":"AA"}`))
	f.Add([]byte(`{"response":"gmVkY2FwaaJjZW5jQWBqY2lwaGVyVGV4dEFg"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _, _ = ParseAnnexCRequest(b)
		_, _ = ParseAnnexCResponse(b)
	})
}
