package loadgen

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/applet"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
	"github.com/mynumber-mdoc/mnc/verifier/online"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
	walletsim "github.com/mynumber-mdoc/mnc/wallet-sim"
	"github.com/mynumber-mdoc/mnc/wallet-sim/se"
)

// The simulated holders' card secrets (card rules: a 6–16 character
// signature password, a 4-digit PIN) and phone.
const (
	cardPassword = "LOAD2026"
	cardPIN      = "1234"
	walletPIN    = "135790"
	walletModel  = "Pixel 9"
	// enrolWorkers enrol in parallel; card issuance (two RSA keys each)
	// runs one at a time because the test CA's files are shared.
	enrolWorkers = 4
	// maxJSON bounds the verifier's JSON answers.
	maxJSON = 1 << 20
	// jpkiTestCADir is the issuer data directory's J-LIS stand-in.
	jpkiTestCADir = "jpki-testca"
)

// approveAll releases what the wallet's policy allows: the scripted
// holder always consents.
var approveAll = walletsim.Rules{ApproveAll: true}

// loadWallet is an enrolled wallet driven by one worker at a time.
type loadWallet struct {
	w *walletsim.Wallet
}

// prepareWallets makes o.Wallets holders: a card each from the issuer's
// development J-LIS stand-in, a wallet that trusts the issuer's IACA and
// the verifier's reader CA, enrolled with the issuer.
func prepareWallets(ctx context.Context, o Options, work, wallets string, hc *http.Client) ([]*loadWallet, error) {
	iaca, err := readCert(filepath.Join(o.IssuerDataDir, "pki", "iaca.pem"))
	if err != nil {
		return nil, fmt.Errorf("issuer IACA (--issuer-data-dir): %w", err)
	}
	readerCA, err := readCert(filepath.Join(o.VerifierDataDir, trust.DevReaderCAFile))
	if err != nil {
		return nil, fmt.Errorf("verifier reader CA (--verifier-data-dir): %w", err)
	}
	ca, err := testca.Open(filepath.Join(o.IssuerDataDir, jpkiTestCADir), testca.Options{})
	if err != nil {
		return nil, fmt.Errorf("the issuer's JPKI test CA (--issuer-data-dir): %w", err)
	}
	// Holders differ by birth date and address, so each is a person of
	// its own to the issuer (one live device per person); the run's time
	// keeps a second run against the same issuer from re-enrolling (and
	// so replacing) the first run's holders.
	run := time.Now().Unix() % 100000
	cards := make([]string, o.Wallets)
	for i := range cards {
		p := testca.Person{Name: "負荷\u3000試験", BirthDate: jpki.NewBirthDate(1950+i%50, time.Month(1+i%12), 1+i%28),
			Sex: jpki.SexFemale, Address: fmt.Sprintf("東京都千代田区霞が関%d-%d", run, i+1)}
		creds, err := ca.IssueCard(p, testca.IssueOptions{})
		if err != nil {
			return nil, fmt.Errorf("card %d: %w", i, err)
		}
		cards[i] = filepath.Join(work, "cards", fmt.Sprintf("card-%d.json", i))
		if err := os.MkdirAll(filepath.Dir(cards[i]), 0o700); err != nil {
			return nil, err
		}
		if _, err := applet.Create(cards[i], creds.AppletConfig(jpki.TokenCard, cardPassword, cardPIN)); err != nil {
			return nil, fmt.Errorf("write card %d: %w", i, err)
		}
	}
	if err := ca.Save(); err != nil {
		return nil, fmt.Errorf("save the JPKI test CA: %w", err)
	}

	ws := make([]*loadWallet, o.Wallets)
	errs := make([]error, o.Wallets)
	next := make(chan int)
	var wg sync.WaitGroup
	for range enrolWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				ws[i], errs[i] = enrolWallet(ctx, o, filepath.Join(wallets, fmt.Sprint(i)), cards[i], iaca, readerCA, hc)
			}
		}()
	}
	for i := range ws {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("enrol: %w", err)
	}
	return ws, nil
}

func enrolWallet(ctx context.Context, o Options, home, cardFile string, iaca, readerCA *x509.Certificate, hc *http.Client) (*loadWallet, error) {
	w, err := walletsim.Init(home, walletsim.Profile{Platform: walletsim.PlatformAndroid, Model: walletModel}, walletPIN, walletsim.Options{
		Authenticator: walletsim.StaticAuth{Biometric: se.BiometricMatch}, Logger: o.Logger, HTTPClient: hc,
		// A refusal is counted, not waited out: retries would hide
		// rate limits and outages in the latency figures.
		IssuerRetries: -1})
	if err != nil {
		return nil, fmt.Errorf("wallet %s: %w", home, err)
	}
	if err := w.TrustIACA(iaca); err != nil {
		return nil, err
	}
	if err := w.TrustReaderRoots(readerCA); err != nil {
		return nil, err
	}
	tr, err := walletsim.OpenCardFile(cardFile)
	if err != nil {
		return nil, err
	}
	if _, err := w.Enrol(ctx, walletsim.EnrolOptions{IssuerURL: o.IssuerURL, Card: tr, CardPassword: cardPassword}); err != nil {
		return nil, fmt.Errorf("enrol %s: %w", home, err)
	}
	return &loadWallet{w: w}, nil
}

// present runs one online presentation (OpenID4VP, an age check) and
// reads the verdict as the relying party would; an invalid verdict is an
// error.
func (lw *loadWallet) present(ctx context.Context, verifierURL string, hc *http.Client) (*online.Status, error) {
	body, _ := json.Marshal(online.CreateRequest{Protocol: online.ProtocolOpenID4VP, Purpose: online.Purpose{Kind: online.PurposeAge, AgeOver: 20}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(verifierURL, "/")+"/api/transactions", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	var c online.Created
	if err := doJSON(hc, req, &c); err != nil {
		return nil, fmt.Errorf("create transaction: %w", err)
	}
	if _, err := lw.w.PresentOnline(ctx, c.Invocation, walletsim.OnlineOptions{Consent: approveAll}); err != nil {
		return nil, fmt.Errorf("wallet: %w", err)
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, c.StatusURI, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Secret)
	var st online.Status
	if err := doJSON(hc, req, &st); err != nil {
		return nil, fmt.Errorf("read verdict: %w", err)
	}
	if st.State != online.StateDone || !st.Valid {
		return &st, fmt.Errorf("verdict %s valid=%v codes=%v", st.State, st.Valid, st.Codes)
	}
	return &st, nil
}

// refresh has the wallet ask for a fresh batch of credentials; it returns
// how many were issued.
func (lw *loadWallet) refresh(ctx context.Context) (int, error) {
	cs, err := lw.w.Refresh(ctx)
	if err != nil {
		return 0, fmt.Errorf("refresh: %w", err)
	}
	if len(cs) == 0 {
		return 0, errors.New("refresh issued no credential")
	}
	return len(cs), nil
}

func doJSON(hc *http.Client, req *http.Request, out any) error {
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxJSON))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d: %s", req.Method, req.URL.Path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return json.Unmarshal(b, out)
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return x509.ParseCertificate(blk.Bytes)
}
