package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mynumber-mdoc/mnc/internal/cli"
	"github.com/mynumber-mdoc/mnc/internal/obs"
	"github.com/mynumber-mdoc/mnc/issuer/app"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
	"github.com/spf13/cobra"
)

func newServeCmd(c *common) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Start the issuer (default 127.0.0.1:8080), creating its data directory on first run",
		Long: `Serve starts the OpenID4VCI issuer. On first run it creates the data directory with
SQLite, file keys, a development PKI (IACA, Document Signer, reader CA), a JPKI test CA
standing in for J-LIS, and an admin token; it prints where each of them is.`,
		Example: `  mdoc-issuer serve
  mdoc-issuer serve --data-dir ./issuer --listen 127.0.0.1:9090
  mdoc-issuer serve --production --postgres postgres://mnc@db/mnc --pkcs11-module /usr/lib/softhsm/libsofthsm2.so \
      --pkcs11-token mnc --jpki-roots jpki-roots.pem --jpki-crl-dir crl --attestation-roots attest.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			abs, _ := filepath.Abs(c.opts.DataDir)
			fmt.Fprintf(out, "mdoc-issuer: data directory %s\n", abs)
			if c.opts.RequireTxCode && c.opts.SMTPAddr == "" {
				// Checked before anything is created: the tx_code goes by e-mail only.
				return cli.Usagef("--require-tx-code needs --smtp: the transaction code is sent only by e-mail")
			}
			gc, gcFrom, err := obs.ApplyGC(c.gcPercent, cmd.Flags().Changed("gc-percent"))
			if err != nil {
				return cli.Usagef("%v", err)
			}
			a, err := c.open(cmd.Context(), cmd.ErrOrStderr(), true)
			if err != nil {
				return err
			}
			defer a.Close()
			fmt.Fprintf(out, "mdoc-issuer: garbage-collection target %d%% (%s)\n", gc, gcFrom)
			if c.debugAddr != "" {
				addr, err := obs.ServeDebug(cmd.Context(), c.debugAddr, false, a.Opts.Logger)
				if err != nil {
					return cli.Usagef("--debug-addr: %v", err)
				}
				fmt.Fprintf(out, "mdoc-issuer: profiles on http://%s/debug/pprof/\n", addr)
			}
			return a.Serve(cmd.Context(), func(addr string) { printServing(out, a, addr) })
		},
	}
	f := cmd.Flags()
	o := &c.opts
	cli.ListenFlag(f, &o.Listen, app.DefaultListen)
	f.StringVar(&o.PublicURL, "public-url", "", "public base URL, the credential issuer identifier (default http://<listen>)")
	f.StringVar(&o.WebhookURL, "webhook", "", "notification webhook URL (JSON POST per event)")
	f.StringVar(&o.SMTPAddr, "smtp", "", "SMTP server host:port for e-mail notifications")
	f.StringVar(&o.SMTPFrom, "smtp-from", "issuer@localhost", "From address of notification e-mail")
	f.StringVar(&o.SMTPUser, "smtp-user", "", "SMTP user (PLAIN auth)")
	f.StringVar(&o.SMTPPass, "smtp-password", "", "SMTP password (default $MNC_ISSUER_SMTP_PASSWORD)")
	f.DurationVar(&o.CRLPollInterval, "crl-poll", app.DefaultCRLPoll, "interval of the CRL poll that drives linked revocation")
	f.BoolVar(&o.SuspendOnBlock, "suspend-on-block", false, "blocking a model or OS suspends existing credentials unless the block says otherwise")
	f.StringVar(&c.logFormat, "log-format", obs.LogText, "log format on stderr: text or json (one object per line, with request_id)")
	f.StringVar(&c.debugAddr, "debug-addr", "", "serve Go runtime profiles (/debug/pprof/) on this loopback address, e.g. 127.0.0.1:6060 (off by default)")
	obs.GCFlag(f, &c.gcPercent)
	f.IntVar(&o.RateLimit, "rate-limit", 0, "requests per minute per client IP on the nonce, token and enrolment endpoints, per replica (0: the default 60; -1: off, for load tests on loopback)")
	f.BoolVar(&o.RequireTxCode, "require-tx-code", false, "enrolment offers need a 6-digit tx_code, sent only by e-mail (SMTP) to the contact_email of the application; needs --smtp")
	cmd.PreRun = func(*cobra.Command, []string) {
		if o.SMTPPass == "" {
			o.SMTPPass = os.Getenv("MNC_ISSUER_SMTP_PASSWORD")
		}
	}
	return cmd
}

func printServing(w io.Writer, a *app.App, addr string) {
	abs := func(p string) string { s, _ := filepath.Abs(p); return s }
	url := a.Service.Config().IssuerURL
	fmt.Fprintf(w, "mdoc-issuer listening on http://%s (credential issuer %s)\n", addr, url)
	fmt.Fprintf(w, "  IACA certificate:      %s\n", abs(a.PKI.IACAPath))
	fmt.Fprintf(w, "  IACA CRL:              %s/pki/iaca.crl\n", url)
	fmt.Fprintf(w, "  reader CA certificate: %s\n", abs(a.PKI.ReaderCAPath))
	if a.PKI.AttestationCAPath != "" {
		fmt.Fprintf(w, "  attestation CA (dev):  %s\n", abs(a.PKI.AttestationCAPath))
	}
	if a.TestCA != nil {
		fmt.Fprintf(w, "  JPKI test CA (J-LIS stand-in; make test cards with jpki-sim person --dir): %s (roots %s)\n", abs(a.TestCA.Dir()), abs(a.TestCA.RootsFile()))
	}
	fmt.Fprintf(w, "  data directory:        %s (keys: %s)\n", abs(a.Opts.DataDir), a.PKI.KeyKind)
	if a.AdminTokenNew {
		fmt.Fprintf(w, "  admin token (shown once; also in %s): %s\n", abs(a.AdminTokenPath), a.AdminToken)
	} else {
		fmt.Fprintf(w, "  admin token in %s\n", abs(a.AdminTokenPath))
	}
	fmt.Fprintf(w, "  metadata: %s%s\n", url, oid4vci.WellKnownIssuerPath)
	fmt.Fprintf(w, "  metrics: %s%s  readiness: %s%s\n", url, obs.PathMetrics, url, obs.PathReady)
	if a.AdminToken != "" {
		fmt.Fprintf(w, "  operator console: %s/console/ (sign in with the admin token)\n", url)
	}
}
