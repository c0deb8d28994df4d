package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/cli"
)

// Defaults and bounds.
const (
	DefaultDuration = 30 * time.Second
	// DefaultMaxRequests caps operations: with Rate 0 (as fast as
	// possible) a long duration on a fast machine stays bounded too.
	DefaultMaxRequests = 100_000
	DefaultWallets     = 8
	// DefaultIssueShare is the share of operations that are issuance;
	// presentations dominate real traffic (a card is shown far more often
	// than re-issued).
	DefaultIssueShare = 0.1
	// maxWallets bounds preparation: each wallet is a card with two RSA
	// keys and an enrolment.
	maxWallets = 256
	// minRate is the smallest --rate: one operation per 100 s.
	minRate = 0.01
	// opTimeout bounds one operation.
	opTimeout = 30 * time.Second
)

// Options configure a run. The zero value runs on embedded defaults.
type Options struct {
	// IssuerURL and VerifierURL name running servers; both empty starts
	// them as child processes.
	IssuerURL, VerifierURL string
	// IssuerDataDir is the data directory of the issuer at IssuerURL: its
	// pki/iaca.pem is trusted and its jpki-testca makes the wallets' cards
	// (default: the development issuer's directory).
	IssuerDataDir string
	// VerifierDataDir is the data directory of the verifier at
	// VerifierURL, whose development reader CA the wallets trust (default:
	// the development verifier's directory).
	VerifierDataDir string
	// AllowRemote permits non-loopback targets.
	AllowRemote bool
	// Duration of the measured window (DefaultDuration).
	Duration time.Duration
	// MaxRequests caps operations in the window (DefaultMaxRequests).
	MaxRequests int
	// Rate is operations per second in total; 0 runs as fast as the
	// workers can.
	Rate float64
	// Workers is how many operations run at once (default: Wallets).
	Workers int
	// Wallets is how many enrolled wallets take part (DefaultWallets).
	Wallets int
	// IssueShare is the share of operations that are issuance (a
	// wallet's refresh), the rest online presentations; negative means
	// none (DefaultIssueShare when zero).
	IssueShare float64
	// WorkDir holds the cards and, when the tool starts the servers,
	// their binaries and data; "" is a temporary directory removed after.
	WorkDir string
	// WalletDir holds the simulated wallets' state; "" is a temporary
	// directory on a memory file system when the machine has one (see
	// walletDir), else inside WorkDir.
	WalletDir string
	// Progress receives a line per phase; nil is silent.
	Progress io.Writer
	Logger   *slog.Logger
}

// Report is the outcome of a run (the --json output).
type Report struct {
	Verify VerifyReport `json:"verify"`
	Issue  IssueReport  `json:"issue"`
	Floor  Floor        `json:"floor"`
	// Machine is how busy this machine was during the window.
	Machine Machine `json:"machine"`
	// DurationS is the measured window in seconds.
	DurationS float64 `json:"duration_s"`
	Wallets   int     `json:"wallets"`
	Workers   int     `json:"workers"`
	// TargetRate is the requested rate, 0 for as fast as possible.
	TargetRate float64 `json:"target_rate"`
	Issuer     string  `json:"issuer"`
	Verifier   string  `json:"verifier"`
	// Started says whether the tool started the servers itself.
	Started bool `json:"started_servers"`
}

// Machine says how much CPU each party used during the window, in cores
// (CPU seconds per second), so that a reader can tell whether the figures
// measure the servers or the machine they share with the load tool. It
// means most when everything runs here: the default, or loopback targets.
type Machine struct {
	// Cores is the number of CPUs this process may use.
	Cores         int     `json:"cores"`
	VerifierCores float64 `json:"verifier_cores"`
	IssuerCores   float64 `json:"issuer_cores"`
	// LoadToolCores is this process: the wallets' work (decrypting,
	// checking reader authentication, signing, sealing and saving their
	// state) and the HTTP clients. Absent where it cannot be read.
	LoadToolCores float64 `json:"load_tool_cores,omitempty"`
	// Busy is the share of all CPU time of the machine that was not idle
	// (anyone's: a database on the same machine, other jobs, time stolen
	// by the hypervisor), from /proc/stat; absent where it cannot be read.
	Busy float64 `json:"busy,omitempty"`
	// Saturated is set when the three parties together used at least
	// SaturatedShare of Cores, or the machine was that busy: throughput
	// and latency then measure this machine, and the servers' CPU per
	// operation is the figure to scale from.
	Saturated bool `json:"saturated"`
}

// SaturatedShare is the share of the machine's cores beyond which a run
// reports the machine as saturated.
const SaturatedShare = 0.9

// VerifyReport is the online presentations' figures. Latency is the whole
// flow a relying party sees: create the transaction, the wallet fetches
// and answers the request, read the verdict.
type VerifyReport struct {
	OpReport
	// CPUMillisPerOp is the verifier process's CPU time per presentation.
	CPUMillisPerOp float64 `json:"cpu_ms_per_op"`
	// CostXFloor is CPUMillisPerOp over two P-256 verifications timed
	// during the window; CostXQuietFloor over two timed on the quiet
	// machine (see Floor).
	CostXFloor      float64 `json:"cost_x_floor"`
	CostXQuietFloor float64 `json:"cost_x_quiet_floor"`
	// ServerP99ms is the 99th percentile of the verifier's own time for
	// the verification step (the wallet's response POST), from its
	// latency histogram over the window (linear within buckets, as
	// Prometheus's histogram_quantile): the servers' latency, without the
	// wallet's work and the client's queueing that the flow's p50–p99
	// include.
	ServerP99ms float64 `json:"server_p99_ms"`
	// ServerMillisPerOp is the verifier's time in its handlers per
	// presentation, all four requests together (mean).
	ServerMillisPerOp float64 `json:"server_ms_per_op"`
}

// The routes whose server-side latency the report gives (internal/obs
// labels: method and route pattern).
const (
	routeVerify     = "POST /oid4vp/response/:id"
	routeCredential = "POST /credential"
)

// IssueReport is the issuance figures: an operation is a wallet's refresh,
// which issues a batch of credentials.
type IssueReport struct {
	OpReport
	Credentials int `json:"credentials"`
	// CPUMillisPerCredential is the issuer process's CPU time per
	// credential issued.
	CPUMillisPerCredential float64 `json:"cpu_ms_per_credential"`
	// CostXSign is CPUMillisPerCredential over one P-256 signature timed
	// during the window; CostXQuietSign over one on the quiet machine.
	CostXSign      float64 `json:"cost_x_sign"`
	CostXQuietSign float64 `json:"cost_x_quiet_sign"`
	// ServerP99ms is the 99th percentile of the issuer's own time for a
	// credential request (the batch), from its latency histogram.
	ServerP99ms float64 `json:"server_p99_ms"`
}

// ErrNoOperations is returned when the window ended with no successful
// operation at all: the figures would be meaningless.
var ErrNoOperations = errors.New("loadgen: no operation succeeded")

// Run prepares the servers and wallets, drives load for the window and
// reports. Failed operations are counted, not fatal; a failure to start
// or prepare is.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	say := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "mnc-load: "+format+"\n", args...)
		}
	}
	work := o.WorkDir
	if work == "" {
		d, err := os.MkdirTemp("", "mnc-load-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		work = d
	}
	rep := &Report{Wallets: o.Wallets, Workers: o.Workers, TargetRate: o.Rate}
	if o.IssuerURL == "" {
		say("building mdoc-issuer and mdoc-verifier")
		iss, ver, err := buildServers(ctx, filepath.Join(work, "bin"))
		if err != nil {
			return nil, err
		}
		o.IssuerDataDir, o.VerifierDataDir = filepath.Join(work, "issuer"), filepath.Join(work, "verifier")
		addr, err := freeLoopbackAddr()
		if err != nil {
			return nil, err
		}
		// No rate limit: every wallet shares the loopback address, and
		// the limit is per client IP.
		ic, _, err := startChild(ctx, "mdoc-issuer", iss, []string{"serve", "--data-dir", o.IssuerDataDir, "--listen", addr, "--rate-limit", "-1"}, "listening on ")
		if err != nil {
			return nil, err
		}
		defer ic.stop()
		o.IssuerURL = "http://" + addr
		vc, line, err := startChild(ctx, "mdoc-verifier", ver, []string{"serve", "--data-dir", o.VerifierDataDir, "--issuer-data-dir", o.IssuerDataDir, "--listen", "127.0.0.1:0"}, "serving on ")
		if err != nil {
			return nil, err
		}
		defer vc.stop()
		if o.VerifierURL, err = urlAfter(line, "serving on "); err != nil {
			return nil, err
		}
		rep.Started = true
		say("issuer %s (pid %d), verifier %s (pid %d)", o.IssuerURL, ic.cmd.Process.Pid, o.VerifierURL, vc.cmd.Process.Pid)
	}
	rep.Issuer, rep.Verifier = o.IssuerURL, o.VerifierURL
	hc := &http.Client{Timeout: opTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 4 * o.Workers}}

	wdir, where, cleanup, err := walletDir(o.WalletDir, work, o.Wallets)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	say("preparing %d wallets (a card each, enrolled with the issuer) in %s (%s)", o.Wallets, wdir, where)
	ws, err := prepareWallets(ctx, o, work, wdir, hc)
	if err != nil {
		return nil, err
	}
	// One presentation each before the window warms the verifier's
	// status-list cache and the connections, as in a running service.
	for _, w := range ws {
		if _, err := w.present(ctx, o.VerifierURL, hc); err != nil {
			return nil, fmt.Errorf("warm-up presentation: %w", err)
		}
	}

	floorBefore := measureFloor()
	v0, err := scrapeServer(ctx, hc, o.VerifierURL)
	if err != nil {
		return nil, err
	}
	i0, err := scrapeServer(ctx, hc, o.IssuerURL)
	if err != nil {
		return nil, err
	}
	say("driving load for %s (rate %s, %d workers, %.0f%% issuance)", o.Duration, rateText(o.Rate), o.Workers, 100*o.IssueShare)
	self0, selfOK := processCPU()
	busy0, total0, ticksOK := machineTicks()
	sctx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan Floor, 1)
	go func() {
		f, n := sampleFloor(sctx)
		f.Samples = n
		sampled <- f
	}()
	res, window := drive(ctx, o, ws, hc)
	stopSampling()
	loaded := <-sampled
	self1, _ := processCPU()
	busy1, total1, _ := machineTicks()
	v1, err := scrapeServer(ctx, hc, o.VerifierURL)
	if err != nil {
		return nil, err
	}
	i1, err := scrapeServer(ctx, hc, o.IssuerURL)
	if err != nil {
		return nil, err
	}
	// The servers' CPU time during the window.
	cpuV, cpuI := v1.cpu-v0.cpu, i1.cpu-i0.cpu
	floorAfter := measureFloor()
	// The floor is what P-256 cost during the window (see Floor); the
	// quiet floor is the mean of a measurement before and after it.
	rep.Floor = Floor{QuietVerifyMicros: (floorBefore.VerifyMicros + floorAfter.VerifyMicros) / 2,
		QuietSignMicros: (floorBefore.SignMicros + floorAfter.SignMicros) / 2, Clock: floorBefore.Clock}
	rep.Floor.VerifyMicros, rep.Floor.SignMicros = rep.Floor.QuietVerifyMicros, rep.Floor.QuietSignMicros
	if loaded.Samples > 0 {
		rep.Floor.VerifyMicros, rep.Floor.SignMicros, rep.Floor.Samples = loaded.VerifyMicros, loaded.SignMicros, loaded.Samples
	}
	rep.DurationS = window.Seconds()
	rep.Machine = Machine{Cores: runtime.GOMAXPROCS(0),
		VerifierCores: cpuV.Seconds() / window.Seconds(),
		IssuerCores:   cpuI.Seconds() / window.Seconds()}
	if selfOK {
		rep.Machine.LoadToolCores = (self1 - self0).Seconds() / window.Seconds()
	}
	used := rep.Machine.VerifierCores + rep.Machine.IssuerCores + rep.Machine.LoadToolCores
	if ticksOK && total1 > total0 {
		rep.Machine.Busy = float64(busy1-busy0) / float64(total1-total0)
	}
	rep.Machine.Saturated = used >= SaturatedShare*float64(rep.Machine.Cores) || rep.Machine.Busy >= SaturatedShare

	rep.Verify.OpReport = res.verify.report(window)
	rep.Issue.OpReport = res.issue.report(window)
	rep.Issue.Credentials = res.credentials
	if n := len(res.verify.lat); n > 0 {
		var inServer float64
		for route, h := range v1.latency {
			inServer += h.since(v0.latency[route]).sum
		}
		rep.Verify.ServerMillisPerOp = 1e3 * inServer / float64(n)
		rep.Verify.ServerP99ms = 1e3 * v1.latency[routeVerify].since(v0.latency[routeVerify]).quantile(0.99)
		rep.Verify.CPUMillisPerOp = ms(cpuV) / float64(n)
		rep.Verify.CostXFloor = rep.Verify.CPUMillisPerOp * 1e3 / (2 * rep.Floor.VerifyMicros)
		rep.Verify.CostXQuietFloor = rep.Verify.CPUMillisPerOp * 1e3 / (2 * rep.Floor.QuietVerifyMicros)
	}
	if res.credentials > 0 {
		rep.Issue.ServerP99ms = 1e3 * i1.latency[routeCredential].since(i0.latency[routeCredential]).quantile(0.99)
		rep.Issue.CPUMillisPerCredential = ms(cpuI) / float64(res.credentials)
		rep.Issue.CostXSign = rep.Issue.CPUMillisPerCredential * 1e3 / rep.Floor.SignMicros
		rep.Issue.CostXQuietSign = rep.Issue.CPUMillisPerCredential * 1e3 / rep.Floor.QuietSignMicros
	}
	if rep.Verify.Ops+rep.Issue.Ops == rep.Verify.Errors+rep.Issue.Errors {
		return rep, ErrNoOperations
	}
	return rep, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }

func rateText(r float64) string {
	if r <= 0 {
		return "as fast as possible"
	}
	return fmt.Sprintf("%.0f/s", r)
}

func (o *Options) defaults() error {
	if (o.IssuerURL == "") != (o.VerifierURL == "") {
		return cli.Usagef("--issuer and --verifier go together (neither starts both servers)")
	}
	for _, t := range []string{o.IssuerURL, o.VerifierURL} {
		if t == "" {
			continue
		}
		if _, err := CheckTarget(t, o.AllowRemote); err != nil {
			return cli.Usagef("%v", err)
		}
	}
	if o.Duration <= 0 {
		o.Duration = DefaultDuration
	}
	if o.MaxRequests <= 0 {
		o.MaxRequests = DefaultMaxRequests
	}
	if o.Wallets <= 0 {
		o.Wallets = DefaultWallets
	}
	if o.Wallets > maxWallets {
		return cli.Usagef("--wallets %d: at most %d", o.Wallets, maxWallets)
	}
	if o.Workers <= 0 {
		o.Workers = o.Wallets
	}
	if o.Workers > o.Wallets {
		// A wallet serves one operation at a time (its history and
		// batch bookkeeping are per wallet), so workers beyond the
		// wallets would only wait.
		return cli.Usagef("--workers %d exceeds --wallets %d (each worker drives its own wallet)", o.Workers, o.Wallets)
	}
	if o.Rate < 0 || math.IsNaN(o.Rate) || math.IsInf(o.Rate, 0) || (o.Rate > 0 && o.Rate < minRate) {
		// A rate too small to pace (its interval beyond time.Duration)
		// would otherwise run as fast as possible.
		return cli.Usagef("--rate %v: want 0 (as fast as possible) or a rate of at least %v per second", o.Rate, minRate)
	}
	switch {
	case o.IssueShare == 0:
		o.IssueShare = DefaultIssueShare
	case o.IssueShare < 0:
		o.IssueShare = 0
	case o.IssueShare > 1 || math.IsNaN(o.IssueShare):
		return cli.Usagef("--issue-share %v: want a share between 0 and 1", o.IssueShare)
	}
	if o.IssuerDataDir == "" {
		o.IssuerDataDir = cli.DefaultDataDir("issuer")
	}
	if o.VerifierDataDir == "" {
		o.VerifierDataDir = cli.DefaultDataDir("verifier")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}

// opStats collects one kind of operation.
type opStats struct {
	ops, errors int
	firstErr    string
	lat         []time.Duration
}

func (s *opStats) add(d time.Duration, err error) {
	s.ops++
	if err != nil {
		s.errors++
		if s.firstErr == "" {
			s.firstErr = err.Error()
		}
		return
	}
	s.lat = append(s.lat, d)
}

func (s *opStats) report(window time.Duration) OpReport {
	r := OpReport{Ops: s.ops, Errors: s.errors, FirstError: s.firstErr}
	summarise(&r, s.lat, window)
	return r
}

type results struct {
	mu            sync.Mutex
	verify, issue opStats
	credentials   int
}

// drive runs the window: each worker owns a wallet; with a rate, pace
// hands out tickets and an operation that finds no free worker waits for
// one (latency is measured from when the operation starts, so the figures
// show service time; a rate above capacity shows up as a lower achieved
// rate, not as queueing).
func drive(ctx context.Context, o Options, ws []*loadWallet, hc *http.Client) (*results, time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	res := &results{}
	var tickets chan struct{}
	if o.Rate > 0 {
		tickets = make(chan struct{})
		go pace(ctx, o.Rate, tickets)
	}
	var budget sync.Mutex
	left := o.MaxRequests
	take := func() bool {
		budget.Lock()
		defer budget.Unlock()
		if left <= 0 {
			return false
		}
		left--
		return true
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < o.Workers; i++ {
		w := ws[i]
		rng := rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano())))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if tickets != nil {
					select {
					case <-tickets:
					case <-ctx.Done():
						return
					}
				}
				if !take() {
					return
				}
				octx, ocancel := context.WithTimeout(context.Background(), opTimeout)
				t0 := time.Now()
				if rng.Float64() < o.IssueShare {
					n, err := w.refresh(octx)
					d := time.Since(t0)
					res.mu.Lock()
					res.issue.add(d, err)
					res.credentials += n
					res.mu.Unlock()
				} else {
					_, err := w.present(octx, o.VerifierURL, hc)
					d := time.Since(t0)
					res.mu.Lock()
					res.verify.add(d, err)
					res.mu.Unlock()
				}
				ocancel()
			}
		}()
	}
	wg.Wait()
	return res, time.Since(start)
}
