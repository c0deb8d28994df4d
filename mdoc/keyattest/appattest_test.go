package keyattest_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/mynumber-mdoc/mnc/mdoc/keyattest"
	"github.com/mynumber-mdoc/mnc/mdoc/keyattest/attestsim"
)

type appleVector struct {
	Name                    string    `json:"name"`
	Attestation             string    `json:"attestation"`
	AppID                   string    `json:"app_id"`
	ClientDataHash          string    `json:"client_data_hash"`
	KeyID                   string    `json:"key_id"`
	Environment             string    `json:"environment"`
	Recorded                time.Time `json:"recorded"`
	IOSVersion              string    `json:"ios_version"`
	Assertion               string    `json:"assertion"`
	AssertionClientDataHash string    `json:"assertion_client_data_hash"`
	AssertionCounter        uint32    `json:"assertion_counter"`
}

func appleVectors(t *testing.T) []appleVector {
	t.Helper()
	b, err := os.ReadFile("testdata/appattest/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v []appleVector
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v) < 2 {
		t.Fatalf("only %d App Attest vectors", len(v))
	}
	return v
}

func b64(t *testing.T, s string) []byte {
	t.Helper()
	s = strings.TrimSpace(s)
	b, err := base64.StdEncoding.DecodeString(s + strings.Repeat("=", (4-len(s)%4)%4))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readAppleObject(t *testing.T, v appleVector) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata/appattest", v.Attestation))
	if err != nil {
		t.Fatal(err)
	}
	return b64(t, string(raw))
}

func TestRecordedAppAttest(t *testing.T) {
	for _, v := range appleVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			raw := readAppleObject(t, v)
			obj, err := keyattest.ParseAppAttestObject(raw)
			if err != nil {
				t.Fatal(err)
			}
			opts := keyattest.AppAttestOptions{Environment: keyattest.Development, AppID: v.AppID, ClientDataHash: mustHex(t, v.ClientDataHash), KeyID: b64(t, v.KeyID), CurrentTime: v.Recorded}
			a, err := keyattest.VerifyAppAttest(obj, opts)
			if err != nil {
				t.Fatal(err)
			}
			if a.Facts.AppID != v.AppID || a.Facts.OSVersion != v.IOSVersion || a.Facts.Environment != "development" || *a.Facts.Counter != 0 || a.Facts.KeyID != v.KeyID {
				t.Errorf("facts %+v", a.Facts)
			}
			// Assertion: counter 1 after the attestation's 0.
			as, err := keyattest.ParseAssertion(b64(t, v.Assertion))
			if err != nil {
				t.Fatal(err)
			}
			ao := keyattest.AssertionOptions{PublicKey: a.PublicKey, AppID: v.AppID, ClientDataHash: mustHex(t, v.AssertionClientDataHash)}
			c, err := keyattest.VerifyAssertion(as, ao)
			if err != nil || c != v.AssertionCounter {
				t.Fatalf("assertion: %d, %v", c, err)
			}
			ao.PreviousCounter = c // replayed
			_, err = keyattest.VerifyAssertion(as, ao)
			wantCode(t, err, keyattest.CodeCounter)
			ao.PreviousCounter = 0
			ao.ClientDataHash = make([]byte, 32)
			_, err = keyattest.VerifyAssertion(as, ao)
			wantCode(t, err, keyattest.CodeSignature)

			bad := func(mut func(o *keyattest.AppAttestOptions), code keyattest.Code) {
				t.Helper()
				o := opts
				mut(&o)
				_, err := keyattest.VerifyAppAttest(obj, o)
				wantCode(t, err, code)
			}
			bad(func(o *keyattest.AppAttestOptions) { o.ClientDataHash = make([]byte, 32) }, keyattest.CodeChallengeMismatch)
			bad(func(o *keyattest.AppAttestOptions) { o.AppID = "ABCDE12345.jp.example.other" }, keyattest.CodeAppMismatch)
			bad(func(o *keyattest.AppAttestOptions) { o.KeyID = make([]byte, 32) }, keyattest.CodeKeyMismatch)
			bad(func(o *keyattest.AppAttestOptions) { o.Environment = keyattest.Production }, keyattest.CodeEnvironment)
			bad(func(o *keyattest.AppAttestOptions) { o.CurrentTime = v.Recorded.AddDate(0, 1, 0) }, keyattest.CodeExpired)
			bad(func(o *keyattest.AppAttestOptions) { o.Roots = attestsim.Apple().Roots() }, keyattest.CodeUntrusted)

			// Tampered authData (rpIdHash byte): the nonce no longer matches.
			var w map[string]cbor.RawMessage
			if err := cbor.Unmarshal(raw, &w); err != nil {
				t.Fatal(err)
			}
			var ad []byte
			cbor.Unmarshal(w["authData"], &ad)
			ad[0] ^= 1
			w["authData"], _ = cbor.Marshal(ad)
			tampered, _ := cbor.Marshal(w)
			tobj, err := keyattest.ParseAppAttestObject(tampered)
			if err != nil {
				t.Fatal(err)
			}
			o := opts
			o.AppID = ""
			_, err = keyattest.VerifyAppAttest(tobj, o)
			wantCode(t, err, keyattest.CodeChallengeMismatch)
		})
	}
}

func TestAppAttestMalformed(t *testing.T) {
	v := appleVectors(t)[0]
	raw := readAppleObject(t, v)
	_, err := keyattest.ParseAppAttestObject(append(append([]byte{}, raw...), 0))
	wantCode(t, err, keyattest.CodeMalformed)
	_, err = keyattest.ParseAppAttestObject(make([]byte, keyattest.MaxAttestationObjectBytes+1))
	wantCode(t, err, keyattest.CodeTooLarge)
	var w map[string]any
	cbor.Unmarshal(raw, &w)
	w["fmt"] = "packed"
	b, _ := cbor.Marshal(w)
	_, err = keyattest.ParseAppAttestObject(b)
	wantCode(t, err, keyattest.CodeUnsupported)
	w["fmt"] = 7
	b, _ = cbor.Marshal(w)
	_, err = keyattest.ParseAppAttestObject(b)
	wantCode(t, err, keyattest.CodeMalformed)
	_, err = keyattest.ParseAssertion([]byte{0xa0})
	wantCode(t, err, keyattest.CodeMalformed)
}

func TestSimulatedAppAttest(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cdh := sha256.Sum256([]byte("nonce"))
	const app = "ABCDE12345.jp.mnc.wallet"
	ca := attestsim.Apple()
	obj, kid, err := ca.AttestApple(&k.PublicKey, attestsim.AppAttestOptions{AppID: app, ClientDataHash: cdh[:], OSVersion: "18.1"})
	if err != nil {
		t.Fatal(err)
	}
	o, err := keyattest.ParseAppAttestObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	opts := keyattest.AppAttestOptions{Roots: ca.Roots(), Environment: keyattest.Development, AppID: app, ClientDataHash: cdh[:], KeyID: kid}
	a, err := keyattest.VerifyAppAttest(o, opts)
	if err != nil {
		t.Fatal(err)
	}
	if a.Facts.OSVersion != "18.1" || !a.Facts.Simulated {
		t.Errorf("facts %+v", a.Facts)
	}
	// Production: simulated root refused even with a production aaguid.
	pobj, _, _ := ca.AttestApple(&k.PublicKey, attestsim.AppAttestOptions{AppID: app, ClientDataHash: cdh[:], Environment: keyattest.Production})
	po, _ := keyattest.ParseAppAttestObject(pobj)
	opts.Environment = keyattest.Production
	_, err = keyattest.VerifyAppAttest(po, opts)
	wantCode(t, err, keyattest.CodeSimulatedRoot)
	// Counter not 0 at attestation.
	cobj, _, _ := ca.AttestApple(&k.PublicKey, attestsim.AppAttestOptions{AppID: app, ClientDataHash: cdh[:], Counter: 3})
	co, _ := keyattest.ParseAppAttestObject(cobj)
	opts.Environment = keyattest.Development
	_, err = keyattest.VerifyAppAttest(co, opts)
	wantCode(t, err, keyattest.CodeCounter)
	// Assertions with increasing counters; a stale one refused.
	store := keyattest.NewMemoryCounters()
	for _, c := range []uint32{1, 2, 5} {
		as, _ := attestsim.Assert(k, app, c, cdh[:])
		pa, err := keyattest.ParseAssertion(as)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.VerifyAndAdvance(t.Context(), kid, pa, keyattest.AssertionOptions{PublicKey: &k.PublicKey, AppID: app, ClientDataHash: cdh[:]}); err != nil {
			t.Fatalf("counter %d: %v", c, err)
		}
	}
	as, _ := attestsim.Assert(k, app, 4, cdh[:])
	pa, _ := keyattest.ParseAssertion(as)
	_, err = store.VerifyAndAdvance(t.Context(), kid, pa, keyattest.AssertionOptions{PublicKey: &k.PublicKey, AppID: app, ClientDataHash: cdh[:]})
	wantCode(t, err, keyattest.CodeCounter)
}
