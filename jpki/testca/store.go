package testca

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mynumber-mdoc/mnc/internal/fsx"
	"github.com/mynumber-mdoc/mnc/jpki"
)

const (
	stateFile    = "ca.json"
	rootsFile    = "roots.pem"
	stateFormat  = "mnc-jpki-testca"
	stateVersion = 1
	// maxStateFile bounds ca.json when opening a CA.
	maxStateFile = 64 << 20
)

type rootState struct {
	Kind       jpki.Kind `json:"kind"`
	Generation int       `json:"generation"`
	Cert       []byte    `json:"cert"`
	Key        []byte    `json:"key_pkcs8"`
}

type caState struct {
	Format     string      `json:"format"`
	Version    int         `json:"version"`
	Production bool        `json:"production"`
	OCSPURL    string      `json:"ocsp_url,omitempty"`
	Roots      []rootState `json:"roots"`
	NextSerial int64       `json:"next_serial"`
	CRLNumber  int64       `json:"crl_number"`
	Records    []*Record   `json:"records"`
}

// Open loads the CA saved in dir. Of opts only Now, GenerateKey and
// RootValidity are used; the rest was fixed at Init.
func Open(dir string, opts Options) (*CA, error) {
	path := filepath.Join(dir, stateFile)
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("testca: open CA: %w (run init first?)", err)
	}
	if fi.Size() > maxStateFile {
		return nil, fmt.Errorf("testca: %s is over %d bytes", path, maxStateFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("testca: open CA: %w", err)
	}
	var st caState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("testca: %s: %w", path, err)
	}
	if st.Format != stateFormat || st.Version != stateVersion {
		return nil, fmt.Errorf("testca: %s: format %q version %d, want %q version %d", path, st.Format, st.Version, stateFormat, stateVersion)
	}
	opts.Production = st.Production
	if opts.OCSPURL == "" {
		opts.OCSPURL = st.OCSPURL
	}
	ca := &CA{dir: dir, opts: opts, production: st.Production, nextSerial: st.NextSerial, crlNumber: st.CRLNumber, records: st.Records}
	for _, rs := range st.Roots {
		cert, err := x509.ParseCertificate(rs.Cert)
		if err != nil {
			return nil, fmt.Errorf("testca: %s: root: %w", path, err)
		}
		k, err := x509.ParsePKCS8PrivateKey(rs.Key)
		if err != nil {
			return nil, fmt.Errorf("testca: %s: root key: %w", path, err)
		}
		key, ok := k.(*rsa.PrivateKey)
		if !ok || !key.PublicKey.Equal(cert.PublicKey) {
			return nil, fmt.Errorf("testca: %s: root key does not match its certificate", path)
		}
		ca.roots = append(ca.roots, &Root{Kind: rs.Kind, Generation: rs.Generation, Cert: cert, key: key})
	}
	if ca.currentRoot(jpki.KindSignature) == nil || ca.currentRoot(jpki.KindAuth) == nil {
		return nil, fmt.Errorf("testca: %s: missing roots", path)
	}
	return ca, nil
}

// Save writes the CA state; a no-op for an in-memory CA.
func (ca *CA) Save() error {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return ca.saveLocked()
}

func (ca *CA) saveLocked() error {
	if ca.dir == "" {
		return nil
	}
	st := caState{Format: stateFormat, Version: stateVersion, Production: ca.production, OCSPURL: ca.opts.OCSPURL,
		NextSerial: ca.nextSerial, CRLNumber: ca.crlNumber, Records: ca.records}
	var rootsPEM []byte
	for _, r := range ca.roots {
		key, err := x509.MarshalPKCS8PrivateKey(r.key)
		if err != nil {
			return fmt.Errorf("testca: save: %w", err)
		}
		st.Roots = append(st.Roots, rootState{Kind: r.Kind, Generation: r.Generation, Cert: r.Cert.Raw, Key: key})
		rootsPEM = append(rootsPEM, pemCert(r.Cert.Raw)...)
	}
	b, err := json.MarshalIndent(&st, "", "  ")
	if err != nil {
		return fmt.Errorf("testca: save: %w", err)
	}
	if err := fsx.WriteFile(filepath.Join(ca.dir, stateFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("testca: %w", err)
	}
	if err := fsx.WriteFile(filepath.Join(ca.dir, rootsFile), rootsPEM, 0o644); err != nil {
		return fmt.Errorf("testca: %w", err)
	}
	return nil
}

// RootsFile returns the path of roots.pem in the CA directory.
func (ca *CA) RootsFile() string {
	if ca.dir == "" {
		return ""
	}
	return filepath.Join(ca.dir, rootsFile)
}
