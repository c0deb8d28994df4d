package online

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
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

// IssuerIACAOptions configure WaitForIssuerIACA.
type IssuerIACAOptions struct {
	// Wait is how long to wait for the file; zero means DefaultIACAWait,
	// negative not at all.
	Wait time.Duration
	// Waiting is called once if the file is not there yet.
	Waiting func(path string)
}

// WaitForIssuerIACA waits for the development issuer's IACA at path
// (<issuer data directory>/pki/iaca.pem), so that `mdoc-verifier serve`
// with no flags can start at the same moment as `mdoc-issuer serve` and
// trust what it makes. It never runs in production: real deployments pass
// their trust list.
func WaitForIssuerIACA(ctx context.Context, path string, o IssuerIACAOptions) error {
	if o.Wait == 0 {
		o.Wait = DefaultIACAWait
	}
	if err := waitForFile(ctx, path, o.Wait, o.Waiting); err != nil {
		return fmt.Errorf("online: development issuer IACA %s: %w (start `mdoc-issuer serve` first, or pass --trust)", path, err)
	}
	return nil
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
