package demo

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer"
	"github.com/mynumber-mdoc/mnc/issuer/app"
	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
	"github.com/mynumber-mdoc/mnc/mdoc/blesim"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/online"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
	walletsim "github.com/mynumber-mdoc/mnc/wallet-sim"
	"github.com/mynumber-mdoc/mnc/wallet-sim/se"
)

// plannedRSAKeys is how many RSA-2048 keys the story uses: two JPKI roots,
// two card keys, two JPKI phone keys per enrolled phone (android, apple) and
// two for the card re-issued after the address change.
const plannedRSAKeys = 10

// serverTimeouts of the loopback servers.
const (
	readHeaderTimeout = 10 * time.Second
	shutdownTimeout   = 5 * time.Second
)

// env is the running world of the story.
type env struct {
	o    Options
	n    *narrator
	cur  *Step
	work string
	temp bool // work is ours to remove
	keys *keySource
	log  *slog.Logger

	radio blesim.Radio

	issuer    *app.App
	issuerURL string
	caDir     string // the JPKI test CA directory (J-LIS stand-in)
	jpki      *jpki.Verifier

	iacas  *trust.IACAs
	status *statusRecorder

	shop, clinic, web *trust.ReaderCredentials
	online            *online.Server
	onlineURL         string
	tap               *onlineTap

	servers []*http.Server

	st         storyState
	nfc        *nfcRig  // the PC/SC reader of the --nfc story, opened at its first tap
	taps       []string // artefact directories of JPKI taps (expected-tap.json)
	artifacts  []string
	artifactNo map[string]int
}

// listen opens a fresh loopback port and returns it with its base URL.
func (e *env) listen() (net.Listener, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("listen on loopback: %w", err)
	}
	return ln, "http://" + ln.Addr().String(), nil
}

// serve serves h on ln until close.
func (e *env) serve(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, ErrorLog: slog.NewLogLogger(e.log.Handler(), slog.LevelWarn)}
	e.servers = append(e.servers, srv)
	go func() { _ = srv.Serve(ln) }()
}

// newEnv starts the issuer and the verifier on loopback ports and prepares
// the reader credentials. On error the returned env (possibly nil) still
// needs close.
func newEnv(ctx context.Context, o Options, n *narrator) (*env, error) {
	e := &env{o: o, n: n, log: o.Logger, artifactNo: map[string]int{}}
	if o.WorkDir == "" {
		d, err := os.MkdirTemp("", "mdoc-demo-")
		if err != nil {
			return nil, fmt.Errorf("work directory: %w", err)
		}
		e.work, e.temp = d, true
	} else {
		// The story creates a person, her card and her phones: a directory
		// holding an earlier story would start from another world.
		if ents, err := os.ReadDir(o.WorkDir); err == nil && len(ents) > 0 {
			return nil, fmt.Errorf("work directory %s is not empty: give a new or empty directory", o.WorkDir)
		}
		if err := os.MkdirAll(o.WorkDir, 0o700); err != nil {
			return nil, fmt.Errorf("work directory: %w", err)
		}
		e.work = o.WorkDir
	}
	// The phones' and the CA's RSA keys are generated on both cores while
	// the rest starts.
	e.keys = newKeySource(plannedRSAKeys, 2)
	e.radio = blesim.Radio{Dir: filepath.Join(e.work, "radio")}
	if err := os.MkdirAll(e.radio.Dir, 0o700); err != nil {
		return e, fmt.Errorf("radio directory: %w", err)
	}
	if err := e.startIssuer(ctx); err != nil {
		return e, err
	}
	if err := e.startVerifier(); err != nil {
		return e, err
	}
	if o.ArtifactsDir != "" {
		if err := os.MkdirAll(o.ArtifactsDir, 0o755); err != nil {
			return e, fmt.Errorf("artefacts directory: %w", err)
		}
	}
	return e, nil
}

// startIssuer opens the issuer exactly as `mdoc-issuer serve` does on its
// embedded defaults (app.Open: SQLite and file keys in the data directory,
// dev PKI, the development JPKI test CA and attestation CA), except that it
// listens on a free loopback port. The JPKI test CA directory is made first
// with the story's key source so its root keys come from the pre-generated
// pool; app.Open then finds and uses it as it would its own.
func (e *env) startIssuer(ctx context.Context) error {
	dataDir := filepath.Join(e.work, "issuer")
	e.caDir = filepath.Join(dataDir, "jpki-testca")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("issuer data directory: %w", err)
	}
	if _, err := os.Stat(filepath.Join(e.caDir, "ca.json")); errors.Is(err, os.ErrNotExist) {
		if _, err := testca.Init(e.caDir, testca.Options{GenerateKey: e.keys.Next}); err != nil {
			return fmt.Errorf("JPKI test CA: %w", err)
		}
	}
	ln, url, err := e.listen()
	if err != nil {
		return err
	}
	a, err := app.Open(ctx, app.Options{DataDir: dataDir, Listen: ln.Addr().String(), PublicURL: url, JPKICADir: e.caDir, Logger: e.log})
	if err != nil {
		ln.Close()
		return fmt.Errorf("open issuer: %w", err)
	}
	e.issuer, e.issuerURL = a, url
	e.serve(ln, a.Service.Handler())
	e.jpki = &jpki.Verifier{Roots: a.TestCA.TrustRoots(), Mode: jpki.ModeTest, Revocation: &jpki.CRLChecker{Source: jpki.CRLDir(a.TestCA.CRLDir())}}
	e.n.info("issuer   %s  (SQLite + file keys in %s, dev PKI: IACA %q)", url, dataDir, a.PKI.IACA.Subject.CommonName)
	return nil
}

// startVerifier issues the three relying parties' reader certificates from
// the issuer's reader CA (a shop without roles, a clinic marked as medical
// institution, the web verifier) and starts the online verifier.
func (e *env) startVerifier() error {
	e.iacas = trust.NewIACAsFromCertificates([]*x509.Certificate{e.issuer.PKI.IACA})
	e.status = newStatusRecorder(e.iacas.StatusListTrust())
	var err error
	if e.shop, err = e.readerCredentials("Demo Shop (age check)", false); err != nil {
		return err
	}
	if e.clinic, err = e.readerCredentials("Demo Clinic (insurance check)", true); err != nil {
		return err
	}
	if e.web, err = e.readerCredentials("Demo Web Verifier", false); err != nil {
		return err
	}
	ln, url, err := e.listen()
	if err != nil {
		return err
	}
	e.tap = newOnlineTap()
	e.online, err = online.New(online.Config{BaseURL: url, Credentials: e.web, Store: e.tap, JPKI: e.jpki, Logger: e.log,
		Verify: verifier.Options{Trust: e.iacas, Status: e.status, Logger: e.log}})
	if err != nil {
		ln.Close()
		return fmt.Errorf("online verifier: %w", err)
	}
	e.onlineURL = url
	e.serve(ln, e.tap.Wrap(e.online.Handler()))
	e.n.info("verifier %s  (OpenID4VP, Annex C, JPKI login; trusts the IACA, fetches status lists)", url)
	e.n.info("readers  shop and clinic over the simulated BLE radio in %s; reader certificates from the issuer's reader CA", e.radio.Dir)
	return nil
}

// readerCredentials makes a reader key and has the issuer certify it
// (the admin reader-certificate operation).
func (e *env) readerCredentials(cn string, medical bool) (*trust.ReaderCredentials, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		return nil, err
	}
	p, err := e.issuer.Service.IssueReaderCertificate(context.Background(), issuer.ReaderCertificateRequest{
		PublicKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), CommonName: cn, Medical: medical}, "mdoc-demo")
	if err != nil {
		return nil, fmt.Errorf("reader certificate for %s: %w", cn, err)
	}
	certs, err := trust.ParseCertificates(p)
	if err != nil {
		return nil, fmt.Errorf("reader certificate for %s: %w", cn, err)
	}
	return trust.NewReaderCredentials(certs, k)
}

// newWallet creates a wallet simulator that trusts the issuer's IACA and
// reader CA. The holder's user verification is scripted: a matching
// biometric (both platforms accept one).
func (e *env) newWallet(name string, p walletsim.Profile) (*walletsim.Wallet, error) {
	pin := ""
	if p.Platform == walletsim.PlatformAndroid {
		pin = "135790"
	}
	w, err := walletsim.Init(filepath.Join(e.work, "wallets", name), p, pin, walletsim.Options{
		Authenticator: walletsim.StaticAuth{Biometric: se.BiometricMatch}, Radio: e.radio, Logger: e.log, GenerateRSA: e.keys.Next,
		HTTPClient: &http.Client{Timeout: 30 * time.Second}})
	if err != nil {
		return nil, fmt.Errorf("wallet %s: %w", name, err)
	}
	if err := w.TrustIACA(e.issuer.PKI.IACA); err != nil {
		return nil, err
	}
	if err := w.TrustReaderRoots(e.issuer.PKI.ReaderCA); err != nil {
		return nil, err
	}
	return w, nil
}

// openCA opens the JPKI test CA directory afresh, as jpki-sim does: the
// issuer writes phone certificates into it between our operations.
func (e *env) openCA() (*testca.CA, error) {
	return testca.Open(e.caDir, testca.Options{GenerateKey: e.keys.Next})
}

// publishCRLs republishes the test CA's CRLs (what J-LIS does; the issuer
// reads them from the CRL directory).
func (e *env) publishCRLs(ca *testca.CA) error {
	_, err := ca.PublishCRLs("", time.Now().Add(-time.Minute), 0)
	return err
}

func (e *env) close() {
	for _, s := range e.servers {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		_ = s.Shutdown(ctx)
		cancel()
	}
	if e.issuer != nil {
		e.issuer.Close()
	}
	if e.keys != nil {
		e.keys.Close()
	}
	if e.nfc != nil {
		e.nfc.pc.Close()
	}
	if e.temp && !e.o.Keep {
		removeAll(e.work)
	}
}

// artifactName returns a unique directory name for a presentation of step.
func (e *env) artifactName(step int, slug string) string {
	name := fmt.Sprintf("%02d-%s", step, strings.ReplaceAll(slug, " ", "-"))
	e.artifactNo[name]++
	if k := e.artifactNo[name]; k > 1 {
		name = fmt.Sprintf("%s-%d", name, k)
	}
	return name
}
