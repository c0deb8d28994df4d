package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"log/slog"

	"github.com/mynumber-mdoc/mnc/internal/cli"
	"github.com/mynumber-mdoc/mnc/internal/obs"
	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vp"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/online"
	"github.com/mynumber-mdoc/mnc/verifier/online/pgstore"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
	"github.com/spf13/cobra"
)

// defaultServeAddr differs from the issuer's 127.0.0.1:8080 so that both
// run side by side on their defaults.
const defaultServeAddr = online.DefaultListen

// serveOptions are the flags of serve.
type serveOptions struct {
	tf                          trustFlags
	addr, base, dataDir, prefix string
	issuerDataDir               string
	readerCert, readerKey       string
	ttl, reload                 time.Duration
	jpkiRoots                   listFlag
	jpkiCRL                     string
	jpkiTest, verbose           bool
	debugAddr                   string
	logFormat                   string
	postgres                    string
	gcPercent                   int
	gcChanged                   bool
}

func newServeCmd() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve [--trust PEM_OR_DIR] [flags]",
		Short: "Run the online verifier (OpenID4VP 1.0, ISO/IEC 18013-7 Annex C, JPKI login) with a web page",
		Long: `Serve runs the online verifier: a web page at / asks a wallet by QR code (OpenID4VP 1.0
or ISO/IEC 18013-7 Annex C) and shows the verdict; the JSON API is at /api/transactions.

With no flags it runs on development defaults beside 'mdoc-issuer serve': it trusts the
development issuer's IACA (<--issuer-data-dir>/pki/iaca.pem, waiting for it while the
issuer starts) and signs requests with a development reader certificate kept in
--data-dir, made on first run; it prints both, and the reader CA a wallet must trust for
ReaderAuth. In production pass --trust and --reader-cert/--reader-key.`,
		Example: `  mdoc-issuer serve & mdoc-verifier serve        # development defaults, side by side
  mdoc-verifier serve --trust iaca.pem
  mdoc-verifier serve --trust iacas/ --listen 0.0.0.0:8443 --base-url https://verifier.example \
      --reader-cert reader.pem --reader-key reader-key.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.gcChanged = cmd.Flags().Changed("gc-percent")
			return runServe(cmd.Context(), &o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	o.tf.register(f)
	cli.ListenFlag(f, &o.addr, defaultServeAddr)
	f.StringVar(&o.base, "base-url", "", "externally visible base URL (default http://<listen>); its origin is the Annex C origin")
	f.StringVar(&o.dataDir, "data-dir", cli.DefaultDataDir("verifier"), "data directory: the development reader certificate when --reader-cert is not given")
	f.StringVar(&o.issuerDataDir, "issuer-data-dir", cli.DefaultDataDir("issuer"), "without --trust: the development issuer's data directory, whose pki/iaca.pem is trusted")
	f.StringVar(&o.readerCert, "reader-cert", "", "reader authentication certificate (PEM, leaf first): signs request objects and ReaderAuth (default: a development certificate in --data-dir)")
	f.StringVar(&o.readerKey, "reader-key", "", "private key of --reader-cert (PEM)")
	f.StringVar(&o.prefix, "client-id-prefix", "x509_hash", "OpenID4VP client identifier prefix: x509_hash or x509_san_dns (the certificate must name the base URL host)")
	f.DurationVar(&o.ttl, "ttl", online.DefaultTTL, "how long a presentation request waits for the wallet")
	f.DurationVar(&o.reload, "trust-reload", 10*time.Second, "how often the --trust files are checked for changes")
	f.Var(&o.jpkiRoots, "jpki-roots", "JPKI root certificates (file or directory, repeatable); enables /jpki endpoints")
	f.StringVar(&o.jpkiCRL, "jpki-crl-dir", "", "directory of JPKI CRLs named by distribution point (jpki.CRLFileName); required with --jpki-roots")
	f.BoolVar(&o.jpkiTest, "jpki-test", false, "accept JPKI-TEST roots (never in production)")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "debug logging")
	f.StringVar(&o.postgres, "postgres", "", "PostgreSQL DSN of the transaction store shared by verifier replicas (default: in memory, one process)")
	f.StringVar(&o.logFormat, "log-format", obs.LogText, "log format on stderr: text or json (one object per line, with request_id)")
	f.StringVar(&o.debugAddr, "debug-addr", "", "serve Go runtime profiles (/debug/pprof/) on this loopback address, e.g. 127.0.0.1:6061 (off by default)")
	obs.GCFlag(f, &o.gcPercent)
	cmd.MarkFlagsRequiredTogether("reader-cert", "reader-key")
	cmd.MarkFlagsRequiredTogether("jpki-roots", "jpki-crl-dir")
	return cmd
}

func runServe(ctx context.Context, o *serveOptions, stdout, stderr io.Writer) error {
	lvl := slog.LevelWarn
	if o.verbose {
		lvl = slog.LevelDebug
	}
	logger, err := obs.NewLogger(stderr, o.logFormat, lvl)
	if err != nil {
		return usagef("%v", err)
	}
	gc, gcFrom, err := obs.ApplyGC(o.gcPercent, o.gcChanged)
	if err != nil {
		return usagef("%v", err)
	}
	fmt.Fprintf(stdout, "mdoc-verifier: garbage-collection target %d%% (%s)\n", gc, gcFrom)
	creds, err := readerCredentials(o, stdout)
	if err != nil {
		return err
	}
	if len(o.tf.trust) == 0 {
		iaca := filepath.Join(o.issuerDataDir, "pki", "iaca.pem")
		err := online.WaitForIssuerIACA(ctx, iaca, online.IssuerIACAOptions{Waiting: func(p string) {
			fmt.Fprintf(stdout, "mdoc-verifier: waiting for the development issuer's IACA at %s\n", p)
		}})
		if err != nil {
			return cli.Fail("no_trust", err)
		}
		o.tf.trust = listFlag{iaca}
		fmt.Fprintf(stdout, "mdoc-verifier: development defaults (not for production: pass --trust and --reader-cert/--reader-key)\n  trusting IACA: %s\n", abs(iaca))
	}
	if o.debugAddr != "" {
		a, err := obs.ServeDebug(ctx, o.debugAddr, false, logger)
		if err != nil {
			return usagef("--debug-addr: %v", err)
		}
		fmt.Fprintf(stdout, "mdoc-verifier: profiles on http://%s/debug/pprof/\n", a)
	}
	ob, outcome := newObservability(logger, creds)
	var store online.Store
	if o.postgres != "" {
		ps, err := pgstore.Open(ctx, o.postgres)
		if err != nil {
			return cli.Fail("store_unavailable", err)
		}
		defer ps.Close()
		observeStore(ob, ps)
		store = ps
		fmt.Fprintf(stdout, "mdoc-verifier: transactions in PostgreSQL (shared by replicas)\n")
	}
	srv, ln, iacas, err := buildServer(&o.tf, o.addr, o.base, creds, o.prefix, o.ttl, o.jpkiRoots, o.jpkiCRL, o.jpkiTest, logger, outcome, store)
	if err != nil {
		return err
	}
	go iacas.Watch(ctx, o.reload)
	go srv.Run(ctx, 30*time.Second)
	hs := online.NewHTTPServer(ob.Handler(srv.Handler()), online.ServerLimits{}, logger)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	fmt.Fprintf(stdout, "mdoc-verifier: serving on http://%s (metrics %s, readiness %s)\n", ln.Addr(), obs.PathMetrics, obs.PathReady)
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// readerCredentials loads the reader credentials of serve.
func readerCredentials(o *serveOptions, w io.Writer) (*trust.ReaderCredentials, error) {
	return loadReaderCredentials(o.readerCert, o.readerKey, o.dataDir, w)
}

// loadReaderCredentials loads certPath/keyPath, or the development
// credentials of dataDir, saying on w which it uses.
func loadReaderCredentials(certPath, keyPath, dataDir string, w io.Writer) (*trust.ReaderCredentials, error) {
	if certPath != "" {
		creds, err := trust.LoadReaderCredentials(certPath, keyPath)
		if err != nil {
			return nil, usagef("--reader-cert: %v", err)
		}
		return creds, nil
	}
	creds, paths, created, err := trust.DevReaderCredentials(dataDir)
	if err != nil {
		return nil, err
	}
	verb := "using"
	if created {
		verb = "created"
	}
	fmt.Fprintf(w, "mdoc-verifier: %s the development reader certificate %s (not for production: pass --reader-cert/--reader-key)\n", verb, abs(paths.Cert))
	fmt.Fprintf(w, "  reader CA for wallets (wallet-sim trust --reader-roots): %s\n", abs(paths.CA))
	return creds, nil
}

func buildServer(tf *trustFlags, addr, base string, creds *trust.ReaderCredentials, prefix string, ttl time.Duration, jpkiRoots []string, jpkiCRL string, jpkiTest bool, logger *slog.Logger, outcome func(string, bool, []string), store online.Store) (*online.Server, net.Listener, *trust.IACAs, error) {
	iacas, sc, err := tf.load(logger)
	if err != nil {
		return nil, nil, nil, err
	}
	var p string
	switch prefix {
	case "x509_hash":
		p = oid4vp.ClientIDPrefixX509Hash
	case "x509_san_dns":
		p = oid4vp.ClientIDPrefixX509SanDNS
	default:
		return nil, nil, nil, usagef("--client-id-prefix %q (x509_hash, x509_san_dns)", prefix)
	}
	cfg := online.Config{Credentials: creds, ClientIDPrefix: p, TTL: ttl, Logger: logger, Outcome: outcome, Store: store,
		Verify: verifier.Options{Trust: iacas, SkipStatus: tf.noStatus, Strict: tf.strict, Logger: logger}}
	if sc != nil {
		cfg.Verify.Status = sc
	}
	if len(jpkiRoots) > 0 {
		if jpkiCRL == "" {
			return nil, nil, nil, usagef("--jpki-crl-dir is required with --jpki-roots (revocation is never skipped)")
		}
		roots, err := trust.LoadJPKIRoots(jpkiRoots...)
		if err != nil {
			return nil, nil, nil, usagef("--jpki-roots: %v", err)
		}
		mode := jpki.ModeProduction
		if jpkiTest {
			mode = jpki.ModeTest
		}
		cfg.JPKI = &jpki.Verifier{Roots: roots, Mode: mode, Revocation: &jpki.CRLChecker{Source: jpki.CRLDir(jpkiCRL), CacheFor: 10 * time.Minute}}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		// A busy or unusable address is a failure to run, not a bad
		// command line.
		return nil, nil, nil, fmt.Errorf("listen: %w", err)
	}
	if base == "" {
		base = "http://" + ln.Addr().String()
	}
	cfg.BaseURL = base
	srv, err := online.New(cfg)
	if err != nil {
		ln.Close()
		return nil, nil, nil, usagef("%v", err)
	}
	return srv, ln, iacas, nil
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
