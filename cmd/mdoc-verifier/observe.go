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
	"github.com/mynumber-mdoc/mnc/verifier/online/pgstore"
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

// observeStore adds the shared store's readiness and its connection pool
// to the metrics: a database that is down makes the replica unready (503)
// and ready again when it is back, without a restart (the pool reconnects).
func observeStore(o *obs.Obs, s *pgstore.Store) {
	o.AddCheck("store", s.Ping)
	pool := s.Pool()
	for name, f := range map[string]func() float64{
		"mnc_db_pool_total_conns":    func() float64 { return float64(pool.Stat().TotalConns()) },
		"mnc_db_pool_acquired_conns": func() float64 { return float64(pool.Stat().AcquiredConns()) },
		"mnc_db_pool_idle_conns":     func() float64 { return float64(pool.Stat().IdleConns()) },
		"mnc_db_pool_max_conns":      func() float64 { return float64(pool.Stat().MaxConns()) },
	} {
		o.Registerer.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: "PostgreSQL transaction store pool: " + strings.TrimPrefix(name, "mnc_db_pool_") + "."}, f))
	}
	o.Registerer.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mnc_db_pool_acquire_total",
		Help: "Connections acquired from the transaction store pool."}, func() float64 { return float64(pool.Stat().AcquireCount()) }))
}
