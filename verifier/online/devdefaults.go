package online

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
)

// Development defaults: `mdoc-verifier serve` with no flags listens beside
// the issuer (which takes 127.0.0.1:8080 and keeps its data in
// ./mnc-issuer-data), trusts the development issuer's IACA, and signs its
// requests with a reader certificate made for it on first run.
const (
	DefaultListen  = "127.0.0.1:8081"
	DefaultDataDir = "mnc-verifier-data"
	// DefaultIssuerIACA is where `mdoc-issuer serve` writes its
	// development IACA (its data directory, then pki/iaca.pem).
	DefaultIssuerIACA = "mnc-issuer-data/pki/iaca.pem"
	// DefaultIACAWait is how long Development waits for the issuer's IACA
	// to appear, so that both servers can be started at the same moment.
	DefaultIACAWait = 30 * time.Second

	devReaderCAValidity = 3 * 365 * 24 * time.Hour
	devReaderValidity   = 365 * 24 * time.Hour
)

// DevOptions configure Development; zero values are the defaults above.
type DevOptions struct {
	Dir        string        // DefaultDataDir
	IssuerIACA string        // DefaultIssuerIACA
	Wait       time.Duration // DefaultIACAWait; negative: do not wait
	Now        time.Time     // zero: time.Now()
	// Waiting is called once if Development has to wait for the IACA.
	Waiting func(path string)
}

// DevSetup is what Development made or found: paths to print and load.
type DevSetup struct {
	ReaderCA, ReaderCert, ReaderKey string // PEM files in Dir
	IssuerIACA                      string
	Created                         bool // the reader certificate was made now
	Credentials                     *trust.ReaderCredentials
}

// Development prepares the development defaults: a reader CA and a reader
// certificate and key in o.Dir (made on first run, reused afterwards; the
// reader CA is what wallets must trust for ReaderAuth and the signed
// OpenID4VP request), and the development issuer's IACA, waiting for it up
// to o.Wait. It never runs in production: real deployments pass their
// reader certificate and trust list explicitly.
func Development(ctx context.Context, o DevOptions) (*DevSetup, error) {
	if o.Dir == "" {
		o.Dir = DefaultDataDir
	}
	if o.IssuerIACA == "" {
		o.IssuerIACA = DefaultIssuerIACA
	}
	if o.Wait == 0 {
		o.Wait = DefaultIACAWait
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if err := waitForFile(ctx, o.IssuerIACA, o.Wait, o.Waiting); err != nil {
		return nil, fmt.Errorf("online: development issuer IACA %s: %w (start `mdoc-issuer serve` first, or pass --trust)", o.IssuerIACA, err)
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("online: development data: %w", err)
	}
	d := &DevSetup{ReaderCA: filepath.Join(o.Dir, "reader-ca.pem"), ReaderCert: filepath.Join(o.Dir, "reader.pem"),
		ReaderKey: filepath.Join(o.Dir, "reader-key.pem"), IssuerIACA: o.IssuerIACA}
	creds, err := trust.LoadReaderCredentials(d.ReaderCert, d.ReaderKey)
	if errors.Is(err, fs.ErrNotExist) {
		if err = makeDevReader(d, o.Now); err == nil {
			d.Created = true
			creds, err = trust.LoadReaderCredentials(d.ReaderCert, d.ReaderKey)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("online: development reader certificate: %w", err)
	}
	d.Credentials = creds
	return d, nil
}

func waitForFile(ctx context.Context, path string, wait time.Duration, waiting func(string)) error {
	deadline := time.Now().Add(wait)
	announced := false
	for {
		_, err := os.Stat(path)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || wait < 0 || time.Now().After(deadline) {
			return err
		}
		if !announced && waiting != nil {
			waiting(path)
			announced = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// makeDevReader writes a development reader CA (Annex B IACA profile, as
// a reader root) and a reader certificate (EKU 1.0.18013.5.1.6) for a
// fresh P-256 key.
func makeDevReader(d *DevSetup, now time.Time) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	ca, err := mdoc.NewIACACertificate(caKey, mdoc.CertificateOptions{
		Subject:   pkix.Name{Country: []string{"JP"}, Organization: []string{"MNC Development Verifier"}, CommonName: "MNC Development Verifier Reader CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(devReaderCAValidity),
		IssuerAltNameURI: "http://" + DefaultListen, CRLDistributionPoint: "http://" + DefaultListen + "/reader-ca.crl",
	})
	if err != nil {
		return err
	}
	cert, err := mdoc.NewReaderCertificate(key.Public(), ca, caKey, mdoc.CertificateOptions{
		Subject:   pkix.Name{Country: []string{"JP"}, Organization: []string{"MNC Development Verifier"}, CommonName: "MNC Development Verifier"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(devReaderValidity),
	})
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	// The CA key is not kept: the development CA certifies this one reader
	// and nothing else.
	if err := os.WriteFile(d.ReaderKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(d.ReaderCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(d.ReaderCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644)
}
