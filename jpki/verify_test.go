package jpki_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/jpki"
)

func TestChainChoiceAmongGenerations(t *testing.T) {
	ca := newCA(t, false)
	old := issue(t, ca, yamada())
	gen1 := ca.Root(jpki.KindSignature)
	if err := ca.Rollover(); err != nil {
		t.Fatal(err)
	}
	gen2 := ca.Root(jpki.KindSignature)
	if !bytes.Equal(gen1.RawSubject, gen2.RawSubject) || bytes.Equal(gen1.Raw, gen2.Raw) {
		t.Fatal("generations must share the DN and differ in key")
	}
	young := issue(t, ca, yamada())
	v := verifier(t, ca, jpki.ModeTest)
	for _, tt := range []struct {
		name string
		cert []byte
		root []byte
	}{
		{"old generation", old.SignCert.Raw, gen1.Raw},
		{"new generation", young.SignCert.Raw, gen2.Raw},
	} {
		res, err := v.VerifyDER(context.Background(), tt.cert, at(testNow))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !bytes.Equal(res.Root.Raw, tt.root) {
			t.Errorf("%s: chained to the wrong generation", tt.name)
		}
		if !res.Test || res.Revocation == nil || res.Revocation.Method != "crl" {
			t.Errorf("%s: result %+v", tt.name, res)
		}
	}
	// Only the new generation configured: the old certificate is untrusted
	// even though a root of the same name is there.
	roots, err := jpki.NewRoots(gen2, ca.Root(jpki.KindAuth))
	if err != nil {
		t.Fatal(err)
	}
	v.Roots = roots
	_, err = v.VerifyDER(context.Background(), old.SignCert.Raw, at(testNow))
	wantCode(t, err, jpki.CodeUntrusted)
}

func TestTestRootRefusedInProduction(t *testing.T) {
	test := newCA(t, false)
	creds := issue(t, test, yamada())
	v := verifier(t, test, jpki.ModeProduction)
	_, err := verifyCert(t, v, creds.SignCert, at(testNow))
	wantCode(t, err, jpki.CodeTestRootInProduction)
	_, err = verifyCert(t, v, creds.AuthCert, at(testNow))
	wantCode(t, err, jpki.CodeTestRootInProduction)

	v.Mode = jpki.ModeTest
	if _, err := verifyCert(t, v, creds.SignCert, at(testNow)); err != nil {
		t.Fatalf("test mode: %v", err)
	}

	prod := newCA(t, true)
	pc := issue(t, prod, yamada())
	pv := verifier(t, prod, jpki.ModeProduction)
	res, err := verifyCert(t, pv, pc.SignCert, at(testNow))
	if err != nil {
		t.Fatalf("production root in production mode: %v", err)
	}
	if res.Test {
		t.Error("production root reported as test")
	}
}

func TestUntrustedAndValidity(t *testing.T) {
	ca := newCA(t, false)
	other := newCA(t, false) // same DN, different keys
	creds := issue(t, other, yamada())
	v := verifier(t, ca, jpki.ModeTest)
	_, err := verifyCert(t, v, creds.SignCert, at(testNow))
	wantCode(t, err, jpki.CodeUntrusted)

	mine := issue(t, ca, yamada())
	_, err = verifyCert(t, v, mine.SignCert, at(testNow.Add(-48*time.Hour)))
	wantCode(t, err, jpki.CodeNotYetValid)
	_, err = verifyCert(t, v, mine.SignCert, at(mine.SignCert.NotAfter.Add(time.Second)))
	wantCode(t, err, jpki.CodeExpired)

	// Wrong kind for the purpose.
	_, err = verifyCert(t, v, mine.SignCert, jpki.VerifyOptions{CurrentTime: testNow, Kind: jpki.KindAuth})
	wantCode(t, err, jpki.CodeProfile)
	_, err = verifyCert(t, v, mine.SignCert, jpki.VerifyOptions{CurrentTime: testNow, Form: jpki.FormSmartphone})
	wantCode(t, err, jpki.CodeProfile)

	// No revocation source: refuse unless told to skip.
	v.Revocation = nil
	_, err = verifyCert(t, v, mine.SignCert, at(testNow))
	wantCode(t, err, jpki.CodeCRLUnavailable)
	res, err := verifyCert(t, v, mine.SignCert, jpki.VerifyOptions{CurrentTime: testNow, SkipRevocation: true})
	if err != nil || res.Revocation != nil {
		t.Fatalf("skip revocation: %+v %v", res, err)
	}
}

func TestRootsAdd(t *testing.T) {
	ca := newCA(t, false)
	creds := issue(t, ca, yamada())
	var r jpki.Roots
	if err := r.Add(creds.SignCert); err == nil {
		t.Error("end-entity certificate accepted as a root")
	}
	if err := r.AppendPEM(ca.RootsPEM()); err != nil {
		t.Fatal(err)
	}
	if n := len(r.Certificates()); n != 2 {
		t.Errorf("%d roots, want 2", n)
	}
	if err := r.AppendPEM([]byte("nothing here")); err == nil {
		t.Error("empty PEM accepted")
	}
	if !jpki.IsTestRoot(ca.Root(jpki.KindAuth)) || jpki.IsTestRoot(newCA(t, true).Root(jpki.KindAuth)) {
		t.Error("IsTestRoot wrong")
	}
}
