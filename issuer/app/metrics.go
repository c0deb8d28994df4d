package app

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/obs"
	"github.com/mynumber-mdoc/mnc/issuer/store/sqlstore"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// scrapeTimeout bounds the database queries of one scrape: a slow
// database must not stall the monitoring that would show it.
const scrapeTimeout = time.Second

// observe registers the issuer's own metrics and readiness checks on o
// and returns the hook of issuer.Config.StatusListSigned.
//
// Issuance and lifecycle counts come from the store's committed audit
// events (sqlstore.SetEventHook), so they agree with the audit log and a
// rolled-back enrolment never counts. They are per replica: sum them over
// replicas in the monitoring system.
func (a *App) observe(o *obs.Obs, sq *sqlstore.Store) func(string, time.Time, time.Duration) {
	events := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mnc_issuer_events_total",
		Help: "Committed issuer events by audit action (device_enrolled, credential_issued, device_suspended, device_revoked, …)."},
		[]string{"action"})
	sq.SetEventHook(func(actions []string) {
		for _, act := range actions {
			events.WithLabelValues(act).Inc()
		}
	})
	signTime := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mnc_status_list_sign_seconds",
		Help:    "Time to sign a status list's CWT and JWT forms, with reading and compressing the list when it changed (an unchanged list is re-signed from its compressed form at half its ttl).",
		Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10}})
	lists := &listAges{signed: map[string]time.Time{}}
	outbox := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mnc_outbox_depth",
		Help: "Notifications not yet delivered (cluster-wide: read from the shared database); NaN when the database does not answer."},
		func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
			defer cancel()
			n, err := sq.OutboxDepth(ctx)
			if err != nil {
				return math.NaN()
			}
			return float64(n)
		})
	o.Registerer.MustRegister(events, signTime, lists, outbox, collectors.NewDBStatsCollector(sq.DB(), "issuer"))

	o.AddCheck("store", sq.Ping)
	o.AddCheck("keys", func(ctx context.Context) error {
		// The Document Signer and the status-list signer are the keys every
		// issuance and every lifecycle change needs.
		h := sha256.Sum256([]byte("mdoc-issuer readiness"))
		for name, k := range map[string]crypto.Signer{"document signer": a.PKI.DSKey, "status list signer": a.PKI.StatusListKey} {
			if k == nil {
				return fmt.Errorf("%s key missing", name)
			}
			if _, err := k.Sign(rand.Reader, h[:], crypto.SHA256); err != nil {
				return fmt.Errorf("%s key does not sign: %w", name, err)
			}
		}
		return nil
	})
	return func(listID string, issuedAt time.Time, took time.Duration) {
		signTime.Observe(took.Seconds())
		lists.set(listID, issuedAt)
	}
}

// listAges exports the age of the token this replica last signed for each
// status list. A list is re-signed when it is fetched after half its ttl,
// so while verifiers fetch it from this replica its age stays under the
// ttl. A list nobody fetches (or fetches only through another replica)
// ages without limit, which is harmless; an age past the ttl on a list
// that is fetched means signing fails.
type listAges struct {
	mu     sync.Mutex
	signed map[string]time.Time
}

var listAgeDesc = prometheus.NewDesc("mnc_status_list_age_seconds",
	"Seconds since this replica last signed the status list.", []string{"list"}, nil)

func (l *listAges) set(id string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.signed[id] = at
}

func (l *listAges) Describe(ch chan<- *prometheus.Desc) { ch <- listAgeDesc }

func (l *listAges) Collect(ch chan<- prometheus.Metric) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	for id, at := range l.signed {
		ch <- prometheus.MustNewConstMetric(listAgeDesc, prometheus.GaugeValue, now.Sub(at).Seconds(), id)
	}
}
