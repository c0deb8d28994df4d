package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"strings"

	"github.com/mynumber-mdoc/mnc/internal/obs"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
	"github.com/prometheus/client_golang/prometheus"
)

// outcomeValid is the code label of a valid presentation.
const outcomeValid = "valid"

// newObservability builds the verifier's metrics and readiness: the shared
// request metrics (package obs), verification outcomes by error code, and
// a readiness check that the reader key still signs (a PKCS#11 session or
// a removed key file shows up here rather than in the first wallet's
// request). It returns the Outcome hook of online.Config.
func newObservability(log *slog.Logger, creds *trust.ReaderCredentials) (*obs.Obs, func(protocol string, valid bool, codes []string)) {
	o := obs.New("verifier", log)
	outcomes := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mnc_verifications_total",
		Help: "Judged online presentations by protocol and outcome: valid, or the first error code of an invalid one."},
		[]string{"protocol", "code"})
	o.Registerer.MustRegister(outcomes)
	o.AddCheck("reader_key", func(ctx context.Context) error {
		h := sha256.Sum256([]byte("mdoc-verifier readiness"))
		if _, err := creds.Key.Sign(rand.Reader, h[:], crypto.SHA256); err != nil {
			return fmt.Errorf("reader key does not sign: %w", err)
		}
		return nil
	})
	hook := func(protocol string, valid bool, codes []string) {
		outcomes.WithLabelValues(protocol, outcomeCode(valid, codes)).Inc()
	}
	return o, hook
}

// outcomeCode is the label of one verdict. Codes come from the closed set
// of mdoc error codes, so the label's cardinality is bounded; only the
// first is used so that a response with several findings counts once.
func outcomeCode(valid bool, codes []string) string {
	if valid {
		return outcomeValid
	}
	if len(codes) == 0 {
		return "invalid"
	}
	return strings.ToLower(codes[0])
}
