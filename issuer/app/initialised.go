package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrNotInitialised is returned by CheckInitialised for a data directory
// that no issuer has set up.
var ErrNotInitialised = errors.New("issuer data directory not initialised")

// CheckInitialised reports whether dataDir holds an issuer that Open has
// set up (its IACA certificate is there). Administration commands call it
// before Open so that a mistyped --data-dir, or a relative default taken
// from the wrong directory, fails instead of quietly creating a second PKI
// whose certificates nobody trusts.
func CheckInitialised(dataDir string) error {
	if dataDir == "" {
		dataDir = DefaultDataDir
	}
	marker := filepath.Join(dataDir, "pki", "iaca.pem")
	if _, err := os.Stat(marker); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			abs, _ := filepath.Abs(dataDir)
			return fmt.Errorf("%w: %s has no %s (start the issuer once with serve --data-dir %s to create it)",
				ErrNotInitialised, abs, filepath.Join("pki", "iaca.pem"), dataDir)
		}
		return err
	}
	return nil
}
