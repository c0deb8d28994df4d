package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Bounds of starting and probing the servers.
const (
	// startTimeout covers a first run of the issuer, which creates its
	// development PKI and JPKI test CA (RSA keys) before it listens.
	startTimeout = 90 * time.Second
	// maxMetricsBody bounds a /metrics scrape.
	maxMetricsBody = 4 << 20
	// metricCPU is the Prometheus process collector's CPU counter, which
	// both servers export.
	metricCPU = "process_cpu_seconds_total"
	// metricLatency is the servers' request latency histogram (internal/obs).
	metricLatency = "mnc_http_request_duration_seconds"
)

// modulePath is where the server commands live.
const modulePath = "github.com/mynumber-mdoc/mnc"

// CheckTarget refuses a target URL that is not on loopback unless
// allowRemote: load is real traffic.
func CheckTarget(raw string, allowRemote bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL", raw)
	}
	if allowRemote {
		return u, nil
	}
	host := u.Hostname()
	if host == "localhost" {
		return u, nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return u, nil
	}
	return nil, fmt.Errorf("%s is not a loopback address: load goes to loopback only unless --allow-remote is given", host)
}

// child is a server started by the tool.
type child struct {
	name string
	cmd  *exec.Cmd
	out  *lineBuffer
	// done is closed when the process has exited; err is then its Wait
	// error. Closing (rather than sending) lets any number of waiters see
	// the exit, a killed child's stop among them.
	done chan struct{}
	err  error
}

// buildServers builds mdoc-issuer and mdoc-verifier into dir with the go
// tool, from the module the working directory is in, and returns their
// paths. Building once (rather than `go run` per start) keeps the compiler
// out of the measured CPU and out of the children's process tree.
func buildServers(ctx context.Context, dir string) (issuer, verifier string, err error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(filepath.Separator), modulePath+"/cmd/mdoc-issuer", modulePath+"/cmd/mdoc-verifier")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		return "", "", fmt.Errorf("go build the servers (run from the repository, or pass --issuer and --verifier): %w: %s", err, strings.TrimSpace(errb.String()))
	}
	return filepath.Join(dir, "mdoc-issuer"), filepath.Join(dir, "mdoc-verifier"), nil
}

// freeLoopbackAddr picks a free loopback port. The issuer names its
// public URL from its listen address before it listens, so it needs a
// real port rather than :0; the port could be taken in between, which
// start then reports.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startChild starts bin with args and waits until its output has a line
// containing marker, returning the child and that line.
func startChild(ctx context.Context, name, bin string, args []string, marker string) (*child, string, error) {
	cmd := exec.Command(bin, args...)
	c := &child{name: name, cmd: cmd, out: &lineBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c.out, c.out
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start %s: %w", name, err)
	}
	go func() { c.err = cmd.Wait(); close(c.done) }()
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if line, ok := c.out.find(marker); ok {
			return c, line, nil
		}
		select {
		case <-c.done:
			return nil, "", fmt.Errorf("%s exited before serving (%v): %s", name, c.err, c.out.tail())
		case <-deadline.C:
			c.stop()
			return nil, "", fmt.Errorf("%s did not start within %s: %s", name, startTimeout, c.out.tail())
		case <-ctx.Done():
			c.stop()
			return nil, "", ctx.Err()
		case <-tick.C:
		}
	}
}

// stop asks the child to shut down (SIGINT, as Ctrl-C would) and kills it
// if it has not exited within a few seconds.
func (c *child) stop() {
	if c == nil || c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// lineBuffer collects a child's output for its start marker and for the
// error message if it fails. It keeps the last maxChildOutput bytes (up to
// twice that between trims: trimming on every write once full would copy
// the whole buffer per log line, and an issuer logs each credential).
type lineBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const maxChildOutput = 64 << 10

func (l *lineBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if len(l.buf) > 2*maxChildOutput {
		l.buf = append(l.buf[:0], l.buf[len(l.buf)-maxChildOutput:]...)
	}
	return len(p), nil
}

func (l *lineBuffer) find(marker string) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sc := bufio.NewScanner(bytes.NewReader(l.buf))
	for sc.Scan() {
		if strings.Contains(sc.Text(), marker) {
			return sc.Text(), true
		}
	}
	return "", false
}

func (l *lineBuffer) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buf
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// urlAfter returns the http URL that follows prefix in line ("serving on
// http://127.0.0.1:8081 (metrics …)").
func urlAfter(line, prefix string) (string, error) {
	_, rest, ok := strings.Cut(line, prefix)
	if !ok {
		return "", fmt.Errorf("no %q in %q", prefix, line)
	}
	u, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
	return u, nil
}

// scrape is what the load tool reads from a server's /metrics: its CPU
// time and its request latency histograms.
type scrape struct {
	cpu time.Duration
	// latency is mnc_http_request_duration_seconds by "METHOD route",
	// successful (2xx) requests only, statuses merged.
	latency map[string]*histogram
}

// histogram is a cumulative Prometheus histogram: counts[i] requests took
// at most bounds[i] seconds.
type histogram struct {
	bounds []float64
	counts []uint64
	count  uint64
	sum    float64
}

// scrapeServer reads a server's /metrics.
func scrapeServer(ctx context.Context, hc *http.Client, base string) (*scrape, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: HTTP %d", base, resp.StatusCode)
	}
	sc, err := parseMetrics(io.LimitReader(resp.Body, maxMetricsBody))
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", base, err)
	}
	return sc, nil
}

// parseMetrics reads a Prometheus text exposition (expfmt, the format's
// reference parser).
func parseMetrics(r io.Reader) (*scrape, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, err
	}
	cpu, ok := fams[metricCPU]
	if !ok || len(cpu.GetMetric()) == 0 || cpu.GetMetric()[0].GetCounter() == nil {
		return nil, errors.New("no " + metricCPU + " in /metrics (is it an mnc server of this version?)")
	}
	sc := &scrape{cpu: time.Duration(cpu.GetMetric()[0].GetCounter().GetValue() * float64(time.Second)), latency: map[string]*histogram{}}
	for _, m := range fams[metricLatency].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		h := m.GetHistogram()
		if h == nil || !strings.HasPrefix(labels["status"], "2") {
			continue
		}
		key := labels["method"] + " " + labels["route"]
		acc := sc.latency[key]
		if acc == nil {
			acc = &histogram{}
			for _, b := range h.GetBucket() {
				acc.bounds = append(acc.bounds, b.GetUpperBound())
			}
			acc.counts = make([]uint64, len(acc.bounds))
			sc.latency[key] = acc
		}
		if len(h.GetBucket()) != len(acc.bounds) {
			return nil, fmt.Errorf("%s %s: buckets differ between statuses", metricLatency, key)
		}
		for i, b := range h.GetBucket() {
			acc.counts[i] += b.GetCumulativeCount()
		}
		acc.count += h.GetSampleCount()
		acc.sum += h.GetSampleSum()
	}
	return sc, nil
}

// since returns the histogram of the requests between an earlier scrape's
// h0 (nil: none) and h.
func (h *histogram) since(h0 *histogram) *histogram {
	if h == nil {
		return &histogram{}
	}
	d := &histogram{bounds: h.bounds, counts: slices.Clone(h.counts), count: h.count, sum: h.sum}
	if h0 != nil && len(h0.counts) == len(d.counts) {
		for i := range d.counts {
			d.counts[i] -= h0.counts[i]
		}
		d.count -= h0.count
		d.sum -= h0.sum
	}
	return d
}

// quantile estimates the q-quantile (0 < q < 1) in seconds as Prometheus's
// histogram_quantile does: linear within the bucket that holds it, the
// lower bound of the first bucket taken as 0. Above the last finite bound
// it returns that bound (the true value is only known to be larger).
func (h *histogram) quantile(q float64) float64 {
	if h == nil || h.count == 0 {
		return 0
	}
	rank := q * float64(h.count)
	lower, below := 0.0, uint64(0)
	for i, ub := range h.bounds {
		if math.IsInf(ub, 1) {
			break
		}
		if float64(h.counts[i]) >= rank {
			in := h.counts[i] - below
			if in == 0 {
				return ub
			}
			return lower + (ub-lower)*(rank-float64(below))/float64(in)
		}
		lower, below = ub, h.counts[i]
	}
	return lower
}
