package obs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Paths of the operational endpoints.
const (
	PathMetrics = "/metrics"
	PathHealth  = "/healthz"
	PathReady   = "/readyz"
)

// HeaderRequestID carries the request id both ways.
const HeaderRequestID = "X-Request-ID"

// Bounds.
const (
	// maxRequestIDLen bounds an id taken from a client: longer ones are
	// replaced, so a client cannot bloat every log line of its request.
	maxRequestIDLen = 128
	// readyTimeout bounds all readiness checks of one /readyz together: a
	// hung database makes the replica unready rather than hanging the
	// load balancer's probe.
	readyTimeout = 2 * time.Second
)

// latencyBuckets span the half-millisecond presentation check to a
// multi-second issuance on a busy database. They are dense between 2 and
// 10 ms, where a verifier's latency objective (p99 under 5 ms) is read off
// them, since a quantile is only known to the width of its bucket.
var latencyBuckets = []float64{.0005, .001, .002, .003, .004, .005, .0075, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Check is one readiness check: nil when the dependency is usable.
type Check func(ctx context.Context) error

// Obs holds one server's metrics registry and readiness checks.
type Obs struct {
	// Registry is where the server registers its own metrics; it already
	// holds the request metrics and the Go runtime and process collectors
	// (process_cpu_seconds_total is what mnc-load reads).
	Registry *prometheus.Registry
	// Registerer labels everything registered through it with the server.
	Registerer prometheus.Registerer

	log      *slog.Logger
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	mu     sync.Mutex
	checks map[string]Check
}

// New makes the registry of server ("issuer", "verifier"). log receives
// one line per request (debug, or warn for 5xx) with its request id.
func New(server string, log *slog.Logger) *Obs {
	if log == nil {
		log = slog.Default()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	o := &Obs{Registry: reg, Registerer: prometheus.WrapRegistererWith(prometheus.Labels{"server": server}, reg),
		log: log, checks: map[string]Check{}}
	o.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mnc_http_requests_total",
		Help: "HTTP requests by route pattern, method and status code."}, []string{"route", "method", "status"})
	o.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mnc_http_request_duration_seconds",
		Help: "HTTP request latency by route pattern, method and status code.", Buckets: latencyBuckets},
		[]string{"route", "method", "status"})
	o.Registerer.MustRegister(o.requests, o.latency)
	return o
}

// AddCheck adds a readiness check; /readyz answers 200 only while every
// check passes.
func (o *Obs) AddCheck(name string, c Check) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.checks[name] = c
}

// Ready runs the checks and returns the failures by name.
func (o *Obs) Ready(ctx context.Context) map[string]string {
	o.mu.Lock()
	names := make([]string, 0, len(o.checks))
	for n := range o.checks {
		names = append(names, n)
	}
	o.mu.Unlock()
	sort.Strings(names)
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	failed := map[string]string{}
	for _, n := range names {
		o.mu.Lock()
		c := o.checks[n]
		o.mu.Unlock()
		if err := c(ctx); err != nil {
			failed[n] = err.Error()
		}
	}
	return failed
}

// Handler serves the operational endpoints and passes everything else to
// next, counting and timing it by the route pattern of next (a gin engine)
// and giving it a request id.
func (o *Obs) Handler(next http.Handler) http.Handler {
	routes := routesOf(next)
	metrics := promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case PathMetrics:
			metrics.ServeHTTP(w, r)
			return
		case PathHealth:
			writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
			return
		case PathReady:
			if failed := o.Ready(r.Context()); len(failed) > 0 {
				writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unready", "failed": failed})
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
			return
		}
		id := r.Header.Get(HeaderRequestID)
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(HeaderRequestID, id)
		r = r.WithContext(WithRequestID(r.Context(), id))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(sw, r)
		d := time.Since(start)
		route := routes.match(r.Method, r.URL.Path)
		status := strconv.Itoa(sw.status)
		o.requests.WithLabelValues(route, r.Method, status).Inc()
		o.latency.WithLabelValues(route, r.Method, status).Observe(d.Seconds())
		lvl := slog.LevelDebug
		if sw.status >= 500 {
			lvl = slog.LevelWarn
		}
		o.log.Log(r.Context(), lvl, "http", "method", r.Method, "route", route, "status", sw.status, "dur", d)
	})
}

// validRequestID accepts ids made of the characters ids are usually made
// of (uuids, hex, base64url, dotted trace ids), so that a logged id can
// never forge a log line.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// statusWriter records the status code a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flush,
// deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
