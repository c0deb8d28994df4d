package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"log/slog"

	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vp"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/online"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
)

func runServe(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var tf trustFlags
	tf.register(fs)
	addr := fs.String("addr", online.DefaultListen, "listen address (the issuer's default is 127.0.0.1:8080)")
	base := fs.String("base-url", "", "externally visible base URL (default http://ADDR); its origin is the Annex C origin")
	readerCert := fs.String("reader-cert", "", "reader authentication certificate (PEM, leaf first): signs request objects and ReaderAuth (default: a development reader certificate in --data-dir)")
	readerKey := fs.String("reader-key", "", "private key of the reader certificate (PEM; with --reader-cert)")
	dataDir := fs.String("data-dir", online.DefaultDataDir, "where the development defaults keep the reader certificate made for this verifier (used only without --trust, --reader-cert and --reader-key)")
	prefix := fs.String("client-id-prefix", "x509_hash", "OpenID4VP client identifier prefix: x509_hash or x509_san_dns (the certificate must name the base URL host)")
	ttl := fs.Duration("ttl", online.DefaultTTL, "how long a presentation request waits for the wallet")
	reload := fs.Duration("trust-reload", 10*time.Second, "how often the --trust files are checked for changes")
	var jpkiRoots listFlag
	fs.Var(&jpkiRoots, "jpki-roots", "JPKI root certificates (file or directory, repeatable); enables /jpki endpoints")
	jpkiCRL := fs.String("jpki-crl-dir", "", "directory of JPKI CRLs named by distribution point (jpki.CRLFileName); required with --jpki-roots")
	jpkiTest := fs.Bool("jpki-test", false, "accept JPKI-TEST roots (never in production)")
	verbose := fs.Bool("v", false, "debug logging")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mdoc-verifier serve [--trust PEM_OR_DIR --reader-cert FILE --reader-key FILE] [flags]")
		fmt.Fprintln(fs.Output(), "\nWithout --trust, --reader-cert and --reader-key it runs on development defaults: it trusts the development\nissuer's IACA ("+online.DefaultIssuerIACA+") and signs with a reader certificate made for it in --data-dir.")
		fmt.Fprintln(fs.Output(), "\nRuns the online verifier: a web page at / that asks a wallet by QR code (OpenID4VP 1.0 or ISO 18013-7 Annex C)\nand shows the verdict; JSON API at /api/transactions.\n\nflags:")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	logger := newLogger(stderr, *verbose)
	if len(tf.trust) == 0 && *readerCert == "" && *readerKey == "" {
		dev, err := online.Development(ctx, online.DevOptions{Dir: *dataDir,
			Waiting: func(p string) {
				fmt.Fprintf(stdout, "mdoc-verifier: waiting for the development issuer's IACA at %s\n", p)
			}})
		if err != nil {
			fmt.Fprintf(stderr, "mdoc-verifier serve: %v\n", err)
			return exitUsage
		}
		tf.trust, *readerCert, *readerKey = listFlag{dev.IssuerIACA}, dev.ReaderCert, dev.ReaderKey
		made := "made earlier"
		if dev.Created {
			made = "made now"
		}
		fmt.Fprintf(stdout, "mdoc-verifier: development defaults\n  trusting IACA:      %s\n  reader certificate: %s (%s; key %s)\n  reader CA:          %s (wallets must trust it for reader authentication)\n",
			abs(dev.IssuerIACA), abs(dev.ReaderCert), made, abs(dev.ReaderKey), abs(dev.ReaderCA))
	}
	srv, ln, iacas, err := buildServer(&tf, *addr, *base, *readerCert, *readerKey, *prefix, *ttl, jpkiRoots, *jpkiCRL, *jpkiTest, logger)
	if err != nil {
		fmt.Fprintf(stderr, "mdoc-verifier serve: %v\n", err)
		return exitUsage
	}
	go iacas.Watch(ctx, *reload)
	go srv.Run(ctx, 30*time.Second)
	hs := online.NewHTTPServer(srv.Handler(), online.ServerLimits{}, logger)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	fmt.Fprintf(stdout, "mdoc-verifier: serving on http://%s\n", ln.Addr())
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "mdoc-verifier serve: %v\n", err)
		return exitInvalid
	}
	return exitValid
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func buildServer(tf *trustFlags, addr, base, certPath, keyPath, prefix string, ttl time.Duration, jpkiRoots []string, jpkiCRL string, jpkiTest bool, logger *slog.Logger) (*online.Server, net.Listener, *trust.IACAs, error) {
	if certPath == "" || keyPath == "" {
		return nil, nil, nil, usagef("--reader-cert and --reader-key are required")
	}
	iacas, sc, err := tf.load(logger)
	if err != nil {
		return nil, nil, nil, err
	}
	creds, err := trust.LoadReaderCredentials(certPath, keyPath)
	if err != nil {
		return nil, nil, nil, usagef("%v", err)
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
	cfg := online.Config{Credentials: creds, ClientIDPrefix: p, TTL: ttl, Logger: logger,
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
		return nil, nil, nil, usagef("listen: %v", err)
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
