package demo

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/app"
	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/online"
	"github.com/mynumber-mdoc/mnc/verifier/status"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
)

// Defaults of Serve.
const (
	DefaultServeDataDir   = "mnc-demo-data"
	DefaultIssuerListen   = "127.0.0.1:8080"
	DefaultVerifierListen = "127.0.0.1:8081"
	// transactionSweep is how often the verifier expires transactions.
	transactionSweep = time.Minute
)

// ServeOptions configure Serve. Zero values are the defaults above.
type ServeOptions struct {
	// DataDir holds the issuer data directory (DataDir/issuer, the same
	// layout as mdoc-issuer serve --data-dir) and the verifier's reader
	// credentials (DataDir/verifier); reused across runs.
	DataDir string
	// IssuerListen and VerifierListen are loopback addresses; port 0 picks
	// a free port.
	IssuerListen   string
	VerifierListen string
	// Out receives the addresses and the next commands; nil discards.
	Out io.Writer
	// Logger nil means slog.Default().
	Logger *slog.Logger
	// Ready, when set, is called with both base URLs once they serve.
	Ready func(issuerURL, verifierURL string)
	// ShutdownTimeout bounds the graceful stop; zero means 5 s.
	ShutdownTimeout time.Duration
}

// Serve starts the issuer (as mdoc-issuer serve does, on the embedded
// defaults) and the online verifier together, writes reader credentials for
// a shop and a clinic reader, prints what to run next with wallet-sim,
// jpki-sim and mdoc-verifier, and serves until ctx ends.
func Serve(ctx context.Context, o ServeOptions) error {
	if o.DataDir == "" {
		o.DataDir = DefaultServeDataDir
	}
	if o.IssuerListen == "" {
		o.IssuerListen = DefaultIssuerListen
	}
	if o.VerifierListen == "" {
		o.VerifierListen = DefaultVerifierListen
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = shutdownTimeout
	}
	for _, a := range []string{o.IssuerListen, o.VerifierListen} {
		if err := loopbackOnly(a); err != nil {
			return err
		}
	}
	issuerAddr, err := resolvePort(o.IssuerListen)
	if err != nil {
		return err
	}
	a, err := app.Open(ctx, app.Options{DataDir: filepath.Join(o.DataDir, "issuer"), Listen: issuerAddr, Logger: o.Logger})
	if err != nil {
		return fmt.Errorf("open issuer: %w", err)
	}
	defer a.Close()
	issuerURL := a.Service.Config().IssuerURL

	vdir := filepath.Join(o.DataDir, "verifier")
	if err := os.MkdirAll(vdir, 0o700); err != nil {
		return fmt.Errorf("verifier directory: %w", err)
	}
	e := &env{issuer: a, log: o.Logger}
	readers := map[string]*trust.ReaderCredentials{}
	for _, r := range []struct {
		name, cn string
		medical  bool
	}{{"web", "Demo Web Verifier", false}, {"shop", "Demo Shop (age check)", false}, {"clinic", "Demo Clinic (insurance check)", true}} {
		c, err := e.readerCredentials(r.cn, r.medical)
		if err != nil {
			return err
		}
		if err := writeReaderCredentials(vdir, r.name, c); err != nil {
			return err
		}
		readers[r.name] = c
	}
	iacas := trust.NewIACAsFromCertificates([]*x509.Certificate{a.PKI.IACA})
	ln, err := net.Listen("tcp", o.VerifierListen)
	if err != nil {
		return fmt.Errorf("verifier: listen on %s: %w", o.VerifierListen, err)
	}
	verifierURL := "http://" + ln.Addr().String()
	jv := &jpki.Verifier{Roots: a.TestCA.TrustRoots(), Mode: jpki.ModeTest, Revocation: &jpki.CRLChecker{Source: jpki.CRLDir(a.TestCA.CRLDir())}}
	srv, err := online.New(online.Config{BaseURL: verifierURL, Credentials: readers["web"], JPKI: jv, Logger: o.Logger,
		Verify: verifier.Options{Trust: iacas, Status: status.New(iacas.StatusListTrust(), status.WithLogger(o.Logger)), Logger: o.Logger}})
	if err != nil {
		ln.Close()
		return fmt.Errorf("verifier: %w", err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: readHeaderTimeout}
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go srv.Run(ctx, transactionSweep)
	go func() {
		errc <- a.Serve(ctx, func(string) {
			printNext(o.Out, o.DataDir, a, issuerURL, verifierURL, vdir)
			if o.Ready != nil {
				o.Ready(issuerURL, verifierURL)
			}
		})
	}()
	select {
	case <-ctx.Done():
	case err = <-errc:
		cancel()
	}
	sctx, c := context.WithTimeout(context.Background(), o.ShutdownTimeout)
	defer c()
	_ = hs.Shutdown(sctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// loopbackOnly refuses addresses that are not loopback: the demo issuer
// runs on development keys and an admin token in a local directory.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("listen address %q: the demo serves on loopback only (use mdoc-issuer and mdoc-verifier for anything else)", addr)
	}
	return nil
}

// resolvePort turns port 0 into a free port: the issuer's identifier (its
// URL) must be known before it listens. Another process could take the
// port in between; then listening fails with a clear error.
func resolvePort(addr string) (string, error) {
	if _, port, _ := net.SplitHostPort(addr); port != "0" {
		return addr, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listen on %s: %w", addr, err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func writeReaderCredentials(dir, name string, c *trust.ReaderCredentials) error {
	k, ok := c.Key.(*ecdsa.PrivateKey)
	if !ok {
		return fmt.Errorf("reader key %T", c.Key)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, name+"-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return fmt.Errorf("write reader key: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, name+".pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate.Raw}), 0o644)
}

func printNext(w io.Writer, dataDir string, a *app.App, issuerURL, verifierURL, vdir string) {
	abs := func(p string) string {
		if s, err := filepath.Abs(p); err == nil {
			return s
		}
		return p
	}
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	iaca, readerCA, ca := abs(a.PKI.IACAPath), abs(a.PKI.ReaderCAPath), abs(a.TestCA.Dir())
	fmt.Fprintf(w, "mdoc-demo serve: issuer and verifier are running (Ctrl-C stops both)\n")
	fmt.Fprintf(w, "  issuer     %s   (data %s; metadata %s/.well-known/openid-credential-issuer)\n", issuerURL, abs(filepath.Join(dataDir, "issuer")), issuerURL)
	fmt.Fprintf(w, "  verifier   %s   (open it in a browser: age and insurance checks by QR)\n", verifierURL)
	fmt.Fprintf(w, "  IACA       %s\n  reader CA  %s\n  JPKI CA    %s (J-LIS stand-in for jpki-sim)\n", iaca, readerCA, ca)
	if a.AdminTokenNew {
		fmt.Fprintf(w, "  admin token (shown once; also in %s): %s\n", abs(a.AdminTokenPath), a.AdminToken)
	} else {
		fmt.Fprintf(w, "  admin token in %s\n", abs(a.AdminTokenPath))
	}
	fmt.Fprintf(w, "  readers    %s/{shop,clinic}.pem with {shop,clinic}-key.pem (the clinic is a medical institution)\n", abs(vdir))
	fmt.Fprintf(w, "\nNext, in another terminal (the phone is ./phone, the card ./card.json):\n")
	lines := []string{
		"# 1. the J-LIS stand-in makes a My Number Card",
		fmt.Sprintf("go run ./cmd/jpki-sim person --dir %s --name '佐藤　花子' --birth 1990-07-15 --sex 2 --address '東京都千代田区霞が関1-2-3' --out card.json --sign-password %s --auth-pin %s", q(ca), cardPassword, cardPIN),
		fmt.Sprintf("go run ./cmd/jpki-sim crl --dir %s", q(ca)),
		"# 2. a phone wallet, trusting this issuer and its readers",
		"go run ./cmd/wallet-sim init --home phone --profile android --model 'Pixel 9' --pin 135790",
		fmt.Sprintf("go run ./cmd/wallet-sim trust --home phone --iaca %s --reader-roots %s", q(iaca), q(readerCA)),
		"# 3. enrol from the card (OpenID4VCI)",
		fmt.Sprintf("go run ./cmd/wallet-sim enroll --home phone --card card.json --card-password %s --issuer %s --jpki-password %s --jpki-pin %s --pin 135790", cardPassword, issuerURL, phonePassword, phonePIN),
		"# 4. online age check: create a request at the verifier, answer it with the wallet",
		fmt.Sprintf(`curl -s -X POST %s/api/transactions -H 'Content-Type: application/json' -d '{"protocol":"openid4vp","purpose":"age","ageOver":20}'`, verifierURL),
		"go run ./cmd/wallet-sim present --home phone --approve-all --pin 135790 --request '<the \"invocation\" of the answer>'",
		fmt.Sprintf("curl -s -H 'Authorization: Bearer <the \"secret\" of the answer>' %s/api/transactions/<id>     # the verdict, once", verifierURL),
		"# 5. in person: the phone shows a QR engagement, the shop's reader scans it (simulated BLE)",
		"go run ./cmd/wallet-sim present --home phone --qr --approve-all --pin 135790 --engagement-out qr.txt &",
		fmt.Sprintf("go run ./cmd/mdoc-verifier reader --trust %s --qr-file qr.txt --reader-cert %s --reader-key %s --age-over 20", q(iaca), q(abs(filepath.Join(vdir, "shop.pem"))), q(abs(filepath.Join(vdir, "shop-key.pem")))),
		"# 6. lifecycle: suspend, resume, revoke (admin), then see it in the wallet",
		fmt.Sprintf("go run ./cmd/mdoc-issuer suspend --data-dir %s --person <person id from: mdoc-issuer list-devices --data-dir %s>", q(abs(filepath.Join(dataDir, "issuer"))), q(abs(filepath.Join(dataDir, "issuer")))),
		"go run ./cmd/wallet-sim sync --home phone --pin 135790 && go run ./cmd/wallet-sim list --home phone",
	}
	for _, l := range lines {
		fmt.Fprintf(w, "  %s\n", l)
	}
}
