package online

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/mynumber-mdoc/mnc/verifier/trust"
)

// Development defaults: `mdoc-verifier serve` with no flags listens beside
// the issuer (which takes 127.0.0.1:8080), trusts the development issuer's
// IACA from the issuer's data directory, and signs its requests with the
// development reader certificate (trust.DevReaderCredentials) made on
// first run.
const (
	DefaultListen = "127.0.0.1:8081"
	// DefaultIACAWait is how long Development waits for the issuer's IACA
	// to appear, so that both servers can be started at the same moment.
	DefaultIACAWait = 30 * time.Second
)

// DevOptions configure Development; zero values are the defaults above.
type DevOptions struct {
	// Dir keeps the development reader credentials (required; the
	// command line defaults it to the user's data directory).
	Dir string
	// IssuerIACA is the development issuer's IACA: <issuer data
	// directory>/pki/iaca.pem (required).
	IssuerIACA string
	Wait       time.Duration // DefaultIACAWait; negative: do not wait
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
	if o.Dir == "" || o.IssuerIACA == "" {
		return nil, errors.New("online: development defaults need a data directory and the issuer's IACA path")
	}
	if o.Wait == 0 {
		o.Wait = DefaultIACAWait
	}
	if err := waitForFile(ctx, o.IssuerIACA, o.Wait, o.Waiting); err != nil {
		return nil, fmt.Errorf("online: development issuer IACA %s: %w (start `mdoc-issuer serve` first, or pass --trust)", o.IssuerIACA, err)
	}
	creds, paths, created, err := trust.DevReaderCredentials(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("online: development reader certificate: %w", err)
	}
	return &DevSetup{ReaderCA: paths.CA, ReaderCert: paths.Cert, ReaderKey: paths.Key, IssuerIACA: o.IssuerIACA,
		Created: created, Credentials: creds}, nil
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
