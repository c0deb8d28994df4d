package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"

	"github.com/mynumber-mdoc/mnc/internal/cli"
	"github.com/mynumber-mdoc/mnc/internal/loadgen"
	"github.com/mynumber-mdoc/mnc/internal/obs"
	"github.com/spf13/cobra"
)

// codeNoOperations is the failure code of a run in which nothing
// succeeded.
const codeNoOperations = "no_operations"

func program() *cli.Program {
	return &cli.Program{Root: newRootCmd, Code: func(err error) string {
		if errors.Is(err, loadgen.ErrNoOperations) {
			return codeNoOperations
		}
		return ""
	}}
}

// run executes one command line; tests call it like main does.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return program().Run(ctx, args, stdin, stdout, stderr)
}

// newRootCmd is the whole tool: one command, since it does one thing.
func newRootCmd() *cobra.Command {
	var o loadgen.Options
	var asJSON, verbose bool
	var gcPercent int
	var debugAddr string
	cmd := &cobra.Command{
		Use:   "mnc-load [--issuer URL --verifier URL] [flags]",
		Short: "Drive the issuer and the online verifier with simulated wallets and report throughput, latency and CPU cost",
		Long: `mnc-load prepares wallets (a simulated My Number Card each, enrolled with the issuer),
then for --duration (or until --max-requests operations) drives online presentations
(OpenID4VP age checks) and issuance (a wallet's refresh: a batch of credentials) at
--rate operations per second, or as fast as --workers allow. It prints throughput,
p50/p95/p99 latency of the whole flow, the servers' own p99 (the verifier's
verification step, the issuer's credential request, from their latency histograms),
and each server's CPU time per operation (process_cpu_seconds_total) as a multiple of
the raw P-256 cost: two verifications per presentation, one signature per credential,
timed during the window on the machine as loaded as the servers (and, beside it, on the
quiet machine before and after). It also prints how many cores the verifier, the issuer
and the load tool itself used and how busy the machine was, and says when the machine
rather than the servers was the limit.

With no URLs it builds mdoc-issuer and mdoc-verifier with the go tool (run it from the
repository) and starts them as child processes on loopback, on embedded defaults and
fresh data directories that are removed afterwards. With --issuer and --verifier it
drives running servers started on development defaults: the wallets trust the IACA and
the reader CA found in --issuer-data-dir and --verifier-data-dir, and their cards come
from the issuer's JPKI test CA there. Targets must be loopback unless --allow-remote.

The wallets sync their state to storage after every change, as phones do; they
keep it on /dev/shm (memory) when the machine has it, so that their writes do not
take CPU from servers on the same machine (--wallet-dir to choose).`,
		Example: `  mnc-load --duration 20s --json
  mnc-load --rate 200 --duration 10s --issue-share 0
  mdoc-issuer serve --rate-limit -1 & mdoc-verifier serve &
  mnc-load --issuer http://127.0.0.1:8080 --verifier http://127.0.0.1:8081`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The wallets warn when they show a credential again (a batch
			// used up between refreshes): expected under load, so only
			// errors are shown unless asked.
			lvl := slog.LevelError
			if verbose {
				lvl = slog.LevelDebug
			}
			// The wallets allocate as much as the servers do; at Go's default
			// target their collector took about a tenth of the tool's CPU,
			// which the servers on the same machine then lacked.
			gc, gcFrom, err := obs.ApplyGC(gcPercent, cmd.Flags().Changed("gc-percent"))
			if err != nil {
				return cli.Usagef("%v", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "mnc-load: garbage-collection target %d%% (%s)\n", gc, gcFrom)
			o.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: lvl}))
			if debugAddr != "" {
				// The tool's own profile: on one machine its wallets
				// compete with the servers for the cores.
				addr, err := obs.ServeDebug(cmd.Context(), debugAddr, false, o.Logger)
				if err != nil {
					return cli.Usagef("--debug-addr: %v", err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "mnc-load: profiles on http://%s/debug/pprof/\n", addr)
			}
			o.Progress = cmd.ErrOrStderr()
			rep, err := loadgen.Run(cmd.Context(), o)
			if rep != nil {
				if asJSON {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					if werr := enc.Encode(rep); werr != nil {
						return werr
					}
				} else {
					printReport(cmd.OutOrStdout(), rep)
				}
			}
			if errors.Is(err, loadgen.ErrNoOperations) {
				return cli.Fail(codeNoOperations, err)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.IssuerURL, "issuer", "", "URL of a running issuer (with --verifier); default: start one")
	f.StringVar(&o.VerifierURL, "verifier", "", "URL of a running online verifier (with --issuer); default: start one")
	f.StringVar(&o.IssuerDataDir, "issuer-data-dir", cli.DefaultDataDir("issuer"), "with --issuer: its data directory (IACA, JPKI test CA for the cards)")
	f.StringVar(&o.VerifierDataDir, "verifier-data-dir", cli.DefaultDataDir("verifier"), "with --verifier: its data directory (development reader CA)")
	f.StringVar(&o.WalletDir, "wallet-dir", "", "where the simulated wallets keep their state (default: a temporary directory on /dev/shm when present with room for them, so that their synced writes do not take the servers' CPU; else in the work directory)")
	f.BoolVar(&o.AllowRemote, "allow-remote", false, "allow targets that are not on loopback")
	f.DurationVar(&o.Duration, "duration", loadgen.DefaultDuration, "length of the measured window")
	f.IntVar(&o.MaxRequests, "max-requests", loadgen.DefaultMaxRequests, "stop after this many operations")
	f.Float64Var(&o.Rate, "rate", 0, "operations per second in total (0: as fast as the workers can)")
	f.IntVar(&o.Wallets, "wallets", loadgen.DefaultWallets, "enrolled wallets taking part")
	f.IntVar(&o.Workers, "workers", 0, "operations in flight at once, at most --wallets (default: --wallets)")
	f.Float64Var(&o.IssueShare, "issue-share", loadgen.DefaultIssueShare, "share of operations that are issuance (0 for none)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	obs.GCFlag(f, &gcPercent)
	f.StringVar(&debugAddr, "debug-addr", "", "serve the load tool's own Go runtime profiles (/debug/pprof/) on this loopback address, e.g. 127.0.0.1:6062 (off by default)")
	f.BoolVarP(&verbose, "verbose", "v", false, "debug logging of the wallets")
	cmd.PreRun = func(c *cobra.Command, _ []string) {
		if c.Flags().Changed("issue-share") && o.IssueShare == 0 {
			o.IssueShare = -1 // explicitly none; zero means the default
		}
	}
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	return cmd
}

func printReport(w io.Writer, r *loadgen.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "window\t%.1f s, %d wallets, %d workers, rate %s\n", r.DurationS, r.Wallets, r.Workers, rateOf(r.TargetRate))
	fmt.Fprintf(tw, "floor\tP-256 verify %.1f µs, sign %.1f µs during the window (%d samples); quiet machine %.1f µs, %.1f µs (%s)\n",
		r.Floor.VerifyMicros, r.Floor.SignMicros, r.Floor.Samples, r.Floor.QuietVerifyMicros, r.Floor.QuietSignMicros, r.Floor.Clock)
	fmt.Fprintf(tw, "\tops\terrors\trate/s\tp50 ms\tp95 ms\tp99 ms\tserver p99 ms\tserver CPU\n")
	fmt.Fprintf(tw, "presentation\t%d\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.3f ms/op = %.2f× two P-256 verifies (%.2f× quiet)\n",
		r.Verify.Ops, r.Verify.Errors, r.Verify.Rate, r.Verify.P50ms, r.Verify.P95ms, r.Verify.P99ms, r.Verify.ServerP99ms, r.Verify.CPUMillisPerOp, r.Verify.CostXFloor, r.Verify.CostXQuietFloor)
	fmt.Fprintf(tw, "issuance\t%d\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.3f ms/credential = %.1f× one P-256 sign (%.1f× quiet; %d credentials)\n",
		r.Issue.Ops, r.Issue.Errors, r.Issue.Rate, r.Issue.P50ms, r.Issue.P95ms, r.Issue.P99ms, r.Issue.ServerP99ms, r.Issue.CPUMillisPerCredential, r.Issue.CostXSign, r.Issue.CostXQuietSign, r.Issue.Credentials)
	tw.Flush()
	fmt.Fprintln(w, "p50–p99: the relying party's whole flow (with the wallet's work); server p99: the verifier's verification step and the issuer's credential request, from their /metrics")
	m := r.Machine
	fmt.Fprintf(tw, "machine\t%d cores, %.0f%% busy; cores used: verifier %.2f, issuer %.2f, load tool %.2f\n", m.Cores, 100*m.Busy, m.VerifierCores, m.IssuerCores, m.LoadToolCores)
	tw.Flush()
	if m.Saturated {
		fmt.Fprintln(w, "the machine was saturated: throughput and latency measure this machine, not the servers; the servers' CPU per operation is the figure to scale from")
	}
	for _, e := range []string{r.Verify.FirstError, r.Issue.FirstError} {
		if e != "" {
			fmt.Fprintf(w, "first error: %s\n", e)
		}
	}
}

func rateOf(r float64) string {
	if r <= 0 {
		return "max"
	}
	return fmt.Sprintf("%.0f/s", r)
}
