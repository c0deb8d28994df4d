package pki

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestCRLRevokePersistsAndResigns(t *testing.T) {
	ctx := context.Background()
	o := devOptions(t)
	now := o.Now
	p, err := Load(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	l0, err := p.CRL(CRLIACA, now)
	if err != nil || len(l0.RevokedCertificateEntries) != 0 || l0.CheckSignatureFrom(p.IACA) != nil {
		t.Fatalf("fresh CRL: %v", err)
	}
	// Cached until half its validity has passed.
	if l, _ := p.CRL(CRLIACA, now.Add(DefaultCRLValidity/4)); l != l0 {
		t.Fatal("re-signed too early")
	}
	if l, _ := p.CRL(CRLIACA, now.Add(DefaultCRLValidity/2+time.Minute)); l == l0 || l.Number.Cmp(l0.Number) <= 0 {
		t.Fatal("not re-signed after half its validity, or number did not grow")
	}
	if err := p.Revoke(CRLIACA, p.StatusList, 4, now); err != nil {
		t.Fatal(err)
	}
	if err := p.Revoke(CRLIACA, p.ReaderCA, 4, now); !errors.Is(err, ErrNotIssuedByCA) {
		t.Fatalf("foreign certificate: %v", err)
	}
	if _, err := p.CRL("nope", now); !errors.Is(err, ErrUnknownCA) {
		t.Fatalf("unknown CA: %v", err)
	}
	q, err := Load(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	l, err := q.CRL(CRLIACA, now)
	if err != nil || len(l.RevokedCertificateEntries) != 1 || l.RevokedCertificateEntries[0].SerialNumber.Cmp(p.StatusList.SerialNumber) != 0 {
		t.Fatalf("after reload: %+v %v", l, err)
	}
	// Another process (the admin CLI) revokes on the same directory: the
	// running instance picks it up at its next CRL request.
	if err := q.Revoke(CRLIACA, q.DS, 1, now); err != nil {
		t.Fatal(err)
	}
	if l, err := p.CRL(CRLIACA, now); err != nil || len(l.RevokedCertificateEntries) != 2 {
		t.Fatalf("running instance did not see the CLI's revocation: %v %v", l.RevokedCertificateEntries, err)
	}
	// The next start replaces the revoked Document Signer with a new key.
	r, err := Load(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if r.DS.Equal(q.DS) || r.DS.CheckSignatureFrom(r.IACA) != nil {
		t.Fatal("revoked Document Signer not replaced at load")
	}
	if rev, _ := r.IsRevoked(CRLIACA, r.DS); rev {
		t.Fatal("new Document Signer is revoked")
	}
	if rl, _ := q.CRL(CRLReaderCA, now); len(rl.RevokedCertificateEntries) != 0 || rl.CheckSignatureFrom(q.ReaderCA) != nil {
		t.Fatal("reader CA CRL")
	}
}
