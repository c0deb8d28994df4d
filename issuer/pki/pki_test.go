package pki

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/keys"
	"github.com/mynumber-mdoc/mnc/mdoc"
)

func TestLoadCreatesThenReloads(t *testing.T) {
	ctx := context.Background()
	o := devOptions(t)
	now := o.Now
	p, err := Load(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := mdoc.CheckDocumentSignerProfile(p.DS, p.IACA, true); err != nil {
		t.Fatalf("DS profile: %v", err)
	}
	ts := mdoc.NewTrustStore(mdoc.PurposeStatusList, true, p.IACA)
	if _, err := ts.VerifyChain([][]byte{p.StatusList.Raw}, now); err != nil {
		t.Fatalf("status list signer does not chain to the IACA: %v", err)
	}
	if p.AttestationCA == nil || p.AttestationCert.CheckSignatureFrom(p.AttestationCA) != nil {
		t.Fatal("attestation CA")
	}
	q, err := Load(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if !q.IACA.Equal(p.IACA) || !q.DS.Equal(p.DS) {
		t.Fatal("reload made new certificates")
	}
	// Near the DS end a new DS with a new key replaces it.
	o.Now = p.DS.NotAfter.Add(-DSRenewBefore / 2)
	r, err := Load(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if r.DS.Equal(p.DS) || samePublic(r.DS.PublicKey, p.DS.PublicKey) {
		t.Fatal("DS not renewed with a new key")
	}
	// Reader certificates carry the roles.
	rk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rc, err := p.IssueReaderCertificate(&rk.PublicKey, ReaderCertificateOptions{CommonName: "Clinic", Roles: mdoc.ReaderRoles{MedicalInstitution: true}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if !mdoc.ReaderRolesOf(rc).MedicalInstitution || mdoc.ReaderRolesOf(rc).IndividualNumber {
		t.Fatalf("roles %+v", mdoc.ReaderRolesOf(rc))
	}
	rts := mdoc.NewTrustStore(mdoc.PurposeReaderAuth, true, p.ReaderCA)
	if _, err := rts.VerifyChain([][]byte{rc.Raw}, now); err != nil {
		t.Fatalf("reader cert: %v", err)
	}
}

func TestProductionRefusesFileKeys(t *testing.T) {
	km, _ := keys.NewFileManager(t.TempDir())
	_, err := Load(context.Background(), Options{Dir: t.TempDir(), Keys: km, Production: true})
	if !errors.Is(err, ErrDevKeysInProduction) {
		t.Fatalf("got %v", err)
	}
}

// devOptions are development-mode options over a fresh directory with file
// keys and a fixed clock.
func devOptions(t *testing.T) Options {
	t.Helper()
	dir := t.TempDir()
	km, err := keys.NewFileManager(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	return Options{Dir: filepath.Join(dir, "pki"), Keys: km, BaseURL: "http://127.0.0.1:8080", Now: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}
}
