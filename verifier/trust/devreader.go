package trust

import (
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
)

// File names of the development reader credentials in a verifier data
// directory (DevReaderCredentials).
const (
	DevReaderCAFile   = "dev-reader-ca.pem"  // self-signed reader CA: what a wallet trusts
	DevReaderCertFile = "dev-reader.pem"     // reader certificate, leaf first, then the CA
	DevReaderKeyFile  = "dev-reader-key.pem" // its private key (PKCS #8), mode 0600
)

// devReaderValidity bounds the development reader certificate; a wallet
// that trusted the dev CA keeps working for a year without a re-run.
const devReaderValidity = 365 * 24 * time.Hour

// DevReaderPaths are where DevReaderCredentials keeps its files.
type DevReaderPaths struct{ CA, Cert, Key string }

// DevReaderCredentials loads the development reader credentials from dir,
// creating them on first use: a self-signed reader CA (the ISO/IEC 18013-5
// Annex B.1.2 root profile, as IACAs) and a reader certificate (Annex
// B.1.7) for a fresh P-256 key. It lets `mdoc-verifier serve` start with no
// flags — OpenID4VP request objects and ReaderAuth must be signed by
// something — while making plain, by the file names and the CA's subject,
// that nothing here is a production reader identity. created reports
// whether the files were made now.
func DevReaderCredentials(dir string) (rc *ReaderCredentials, paths DevReaderPaths, created bool, err error) {
	paths = DevReaderPaths{CA: filepath.Join(dir, DevReaderCAFile), Cert: filepath.Join(dir, DevReaderCertFile), Key: filepath.Join(dir, DevReaderKeyFile)}
	rc, err = LoadReaderCredentials(paths.Cert, paths.Key)
	if err == nil {
		return rc, paths, false, nil
	}
	// Only absent files are made; a present but broken pair is the
	// operator's to look at, never silently replaced.
	_, certErr := os.Stat(paths.Cert)
	_, keyErr := os.Stat(paths.Key)
	if !errors.Is(certErr, fs.ErrNotExist) || !errors.Is(keyErr, fs.ErrNotExist) {
		return nil, paths, false, fmt.Errorf("trust: development reader credentials in %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, paths, false, fmt.Errorf("trust: %w", err)
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, paths, false, err
	}
	ca, err := mdoc.NewIACACertificate(caKey, mdoc.CertificateOptions{
		Subject:   pkix.Name{Country: []string{"JP"}, Organization: []string{"mnc development"}, CommonName: "mdoc-verifier development reader CA (not for production)"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(devReaderValidity),
		// The profile requires both; nothing serves them for a dev CA.
		IssuerAltNameURI: "http://localhost/", CRLDistributionPoint: "http://localhost/dev-reader-ca.crl",
	})
	if err != nil {
		return nil, paths, false, fmt.Errorf("trust: development reader CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, paths, false, err
	}
	leaf, err := mdoc.NewReaderCertificate(key.Public(), ca, caKey, mdoc.CertificateOptions{
		Subject:   pkix.Name{Country: []string{"JP"}, CommonName: "mdoc-verifier development reader"},
		NotBefore: now.Add(-time.Minute), NotAfter: ca.NotAfter,
	})
	if err != nil {
		return nil, paths, false, fmt.Errorf("trust: development reader certificate: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, paths, false, err
	}
	// Key first: a crash between the writes leaves a key without a
	// certificate, which the next run reports instead of overwriting.
	for _, f := range []struct {
		path string
		mode os.FileMode
		data []byte
	}{
		{paths.Key, 0o600, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})},
		{paths.CA, 0o644, pemCert(ca)},
		{paths.Cert, 0o644, append(pemCert(leaf), pemCert(ca)...)},
	} {
		if err := os.WriteFile(f.path, f.data, f.mode); err != nil {
			return nil, paths, false, fmt.Errorf("trust: %w", err)
		}
	}
	rc, err = NewReaderCredentials([]*x509.Certificate{leaf, ca}, key)
	return rc, paths, err == nil, err
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
