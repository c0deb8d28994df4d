package trust

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/mynumber-mdoc/mnc/internal/fsx"
	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/mdoc"
)

// MaxKeyFileSize bounds a key file.
const MaxKeyFileSize = 64 << 10

// ParsePrivateKey parses a PEM private key: "EC PRIVATE KEY" (SEC 1) or
// "PRIVATE KEY" (PKCS #8).
func ParsePrivateKey(b []byte) (crypto.Signer, error) {
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return nil, errors.New("no PRIVATE KEY block")
		}
		switch blk.Type {
		case "EC PRIVATE KEY":
			return x509.ParseECPrivateKey(blk.Bytes)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return nil, err
			}
			s, ok := k.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("unsupported key type %T", k)
			}
			return s, nil
		}
	}
}

// ParseReaderEphemeralKey parses the reader's ephemeral private key used to
// check a deviceMac: PEM (SEC 1 or PKCS #8, P-256) or the 32-byte scalar in
// hex (as ISO 18013-5 Annex D prints it).
func ParseReaderEphemeralKey(b []byte) (*ecdh.PrivateKey, error) {
	s := strings.TrimSpace(string(b))
	if !strings.Contains(s, "-----BEGIN") {
		raw, err := hex.DecodeString(strings.TrimPrefix(strings.ToLower(s), "0x"))
		if err != nil || len(raw) != 32 {
			return nil, errors.New("reader key: want PEM or 32-byte hex")
		}
		return ecdh.P256().NewPrivateKey(raw)
	}
	k, err := ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("reader key: %w", err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("reader key: %T is not an EC key", k)
	}
	return ek.ECDH()
}

// ReaderCredentials are the verifier's reader authentication certificate
// chain and key: they sign ReaderAuth in proximity and Annex C, and the
// OpenID4VP request object.
type ReaderCredentials struct {
	Chain       [][]byte // reader certificate first, DER
	Certificate *x509.Certificate
	Key         crypto.Signer
}

// LoadReaderCredentials reads the reader certificate (PEM, chain allowed,
// leaf first) and its private key (PEM), and checks that they belong
// together and that the certificate has the reader profile (Annex B.1.7).
func LoadReaderCredentials(certPath, keyPath string) (*ReaderCredentials, error) {
	cb, err := fsx.ReadFile(certPath, MaxCertificateFileSize)
	if err != nil {
		return nil, err
	}
	certs, err := ParseCertificates(cb)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	kb, err := fsx.ReadFile(keyPath, MaxKeyFileSize)
	if err != nil {
		return nil, err
	}
	key, err := ParsePrivateKey(kb)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	return NewReaderCredentials(certs, key)
}

// NewReaderCredentials checks and wraps a reader chain and key.
func NewReaderCredentials(chain []*x509.Certificate, key crypto.Signer) (*ReaderCredentials, error) {
	if len(chain) == 0 {
		return nil, errors.New("trust: empty reader chain")
	}
	leaf := chain[0]
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return nil, errors.New("trust: reader key does not match the reader certificate")
	}
	if err := mdoc.CheckReaderProfile(leaf); err != nil {
		return nil, fmt.Errorf("trust: reader certificate: %w", err)
	}
	rc := &ReaderCredentials{Certificate: leaf, Key: key}
	for _, c := range chain {
		rc.Chain = append(rc.Chain, c.Raw)
	}
	return rc, nil
}

// LoadJPKIRoots reads JPKI root certificates from files or directories.
func LoadJPKIRoots(paths ...string) (*jpki.Roots, error) {
	certs, err := LoadCertificates(paths...)
	if err != nil {
		return nil, err
	}
	return jpki.NewRoots(certs...)
}

// IssuerRules is the JSON form of per-issuer rules:
//
//	{"rules": [{"iaca": "<SHA-256 fingerprint hex>", "docTypes": ["org.iso.23220.1.jp.mnc"]}]}
type IssuerRules struct {
	Rules []struct {
		IACA     string   `json:"iaca"`
		DocTypes []string `json:"docTypes"`
	} `json:"rules"`
}

// LoadIssuerRules reads a rules file into options for NewIACAs.
func LoadIssuerRules(path string) ([]Option, error) {
	b, err := fsx.ReadFile(path, MaxKeyFileSize)
	if err != nil {
		return nil, err
	}
	var r IssuerRules
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var opts []Option
	for i, rule := range r.Rules {
		fp, err := hex.DecodeString(rule.IACA)
		if err != nil || len(fp) != 32 || len(rule.DocTypes) == 0 {
			return nil, fmt.Errorf("%s: rule %d needs a SHA-256 fingerprint and docTypes", path, i)
		}
		opts = append(opts, WithIssuerRule(rule.IACA, rule.DocTypes...))
	}
	return opts, nil
}
