package interop

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/app"
	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/keyattest"
	"github.com/mynumber-mdoc/mnc/mdoc/keyattest/attestsim"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

// skipLoudly skips and says so on stderr too, so a run without -v still
// shows that the interop test did not run.
func skipLoudly(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf("SKIPPED npm OpenID4VCI interop test: "+format, args...)
	fmt.Fprintln(os.Stderr, msg)
	t.Skip(msg)
}

// npmWallet prepares a copy of npmwallet with its locked dependencies.
func npmWallet(t *testing.T) (node, dir string) {
	node, err := exec.LookPath("node")
	if err != nil {
		skipLoudly(t, "node is not installed")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		skipLoudly(t, "npm is not installed")
	}
	dir = t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json", "wallet.mjs"} {
		b, err := os.ReadFile(filepath.Join("npmwallet", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--prefer-offline")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		skipLoudly(t, "npm ci failed (registry unreachable?): %v\n%s", err, out)
	}
	return node, dir
}

func runNode(t *testing.T, node, dir string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{"wallet.mjs"}, args...)...)
	cmd.Dir = dir
	var stderr bytesBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node wallet.mjs %s: %v\n%s", args[0], err, stderr.String())
	}
	return out
}

type bytesBuffer struct{ b []byte }

func (w *bytesBuffer) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }
func (w *bytesBuffer) String() string              { return string(w.b) }

// walletProvider is a wallet provider nobody here runs: its own CA, trusted
// by the issuer through --attestation-roots, and a signing key and x5c the
// npm wallet uses for its key attestation.
func walletProvider(t *testing.T, dir string) (rootsFile, providerFile string) {
	rk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	lk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	rt := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Example Wallet Provider Root"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	rder, err := x509.CreateCertificate(rand.Reader, rt, rt, rk.Public(), rk)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(rder)
	lt := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Example Wallet Provider key attestation"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}
	lder, err := x509.CreateCertificate(rand.Reader, lt, root, lk.Public(), rk)
	if err != nil {
		t.Fatal(err)
	}
	rootsFile = filepath.Join(dir, "wallet-provider-root.pem")
	os.WriteFile(rootsFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rder}), 0o600)
	ek, _ := lk.PublicKey.ECDH()
	pt := ek.Bytes()
	d, _ := lk.Bytes()
	prov := map[string]any{
		"private_jwk": map[string]string{"kty": "EC", "crv": "P-256", "x": b64u(pt[1:33]), "y": b64u(pt[33:]), "d": b64u(d)},
		"x5c":         []string{base64.StdEncoding.EncodeToString(lder)},
	}
	b, _ := json.Marshal(prov)
	providerFile = filepath.Join(dir, "provider.json")
	os.WriteFile(providerFile, b, 0o600)
	return rootsFile, providerFile
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// TestNpmWalletRedeemsOffer: an OpenID4VCI 1.0 client library from npm
// redeems a credential offer of mdoc-issuer (pre-authorized code, tx_code,
// nonce endpoint, proof JWTs with a keyattestation+jwt key attestation, a
// batch, a notification), with the enrolment — this project's own card
// application — done beside it.
func TestNpmWalletRedeemsOffer(t *testing.T) {
	if testing.Short() {
		skipLoudly(t, "-short")
	}
	node, wdir := npmWallet(t)
	work := t.TempDir()
	ctx := t.Context()
	rootsFile, providerFile := walletProvider(t, work)

	// mdoc-issuer serve, development mode, with a tx_code on every offer.
	caDir := filepath.Join(work, "jpki-testca")
	ca, err := testca.Init(caDir, testca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := ca.IssueCard(testca.Person{Name: "山田　太郎", BirthDate: jpki.NewBirthDate(1990, time.April, 1), Sex: jpki.SexMale, Address: "東京都千代田区千代田1-1"}, testca.IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.PublishCRLs("", time.Now().Add(-time.Minute), 0); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	a, err := app.Open(ctx, app.Options{DataDir: filepath.Join(work, "issuer"), Listen: ln.Addr().String(), PublicURL: url, JPKICADir: caDir,
		AttestationRootsFile: rootsFile, RequireTxCode: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: a.Service.Handler()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); a.Close() })
	client := &oid4vci.Client{BaseURL: url}

	// 1. The npm wallet makes its keys and its provider's key attestation.
	const batch = 3
	var keys struct {
		DeviceJWK      json.RawMessage `json:"device_jwk"`
		KeyAttestation string          `json:"key_attestation"`
	}
	state := filepath.Join(work, "wallet-state.json")
	if err := json.Unmarshal(runNode(t, node, wdir, "keys", state, providerFile, fmt.Sprint(batch)), &keys); err != nil {
		t.Fatal(err)
	}
	dk, err := oid4vci.ParseJWK(keys.DeviceJWK)
	if err != nil {
		t.Fatal(err)
	}
	devPub, _ := dk.ECDSA()

	// 2. Enrolment (this project's card application, not OpenID4VCI): the
	// card signs; the platform attests the wallet's device key.
	nonce, err := client.Nonce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ders, err := attestsim.Android().AttestAndroid(devPub, attestsim.AndroidOptions{KeyDescriptionParams: keyattest.KeyDescriptionParams{
		SecurityLevel: keyattest.SecurityStrongBox, Challenge: []byte(nonce), Locked: true, BootState: keyattest.BootVerified,
		OSVersion: 160000, OSPatchLevel: 202511, PackageName: attestsim.WalletPackage, SigningCertDigest: attestsim.WalletSigningDigest(), Model: "Pixel 9",
	}})
	if err != nil {
		t.Fatal(err)
	}
	pa := &oid4vci.PlatformAttestation{Format: oid4vci.PlatformAndroidKey}
	for _, d := range ders {
		pa.CertificateChain = append(pa.CertificateChain, base64.StdEncoding.EncodeToString(d))
	}
	appl := &oid4vci.CardApplication{Audience: oid4vci.Audience{url}, Nonce: nonce, IssuedAt: time.Now().Unix(), DeviceKey: dk,
		KeyAttestation: keys.KeyAttestation, PlatformAttestation: pa, DeviceModel: "Pixel 9", OSVersion: "Android 16", ContactEmail: "taro@example.jp"}
	jws, err := oid4vci.SignCardApplication(appl, creds.SignCert.Raw, creds.SignKey)
	if err != nil {
		t.Fatal(err)
	}
	er, err := client.Enrol(ctx, jws)
	if err != nil {
		t.Fatalf("enrol with the npm wallet's keys and key attestation: %v", err)
	}
	offerURI, err := er.CredentialOffer.URI()
	if err != nil {
		t.Fatal(err)
	}
	// The tx_code goes to the holder's e-mail; read it from the outbox.
	pend, err := a.Store.PendingNotifications(ctx, time.Now().Add(time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	var txCode string
	for _, n := range pend {
		if m := regexp.MustCompile(`"tx_code":"(\d+)"`).FindStringSubmatch(n.Payload); m != nil {
			txCode = m[1]
		}
	}
	if txCode == "" {
		t.Fatal("no tx_code in the outbox")
	}

	// 3. The npm wallet redeems the offer.
	var got struct {
		ConfigID       string            `json:"credential_configuration_id"`
		BatchSize      int               `json:"batch_size"`
		Credentials    []string          `json:"credentials"`
		BatchJWKs      []json.RawMessage `json:"batch_public_jwks"`
		NotificationID string            `json:"notification_id"`
		Notified       bool              `json:"notified"`
	}
	if err := json.Unmarshal(runNode(t, node, wdir, "redeem", state, offerURI, txCode), &got); err != nil {
		t.Fatal(err)
	}
	if got.BatchSize < batch || len(got.Credentials) != batch || len(got.BatchJWKs) != batch {
		t.Fatalf("batch_size %d, %d credentials for %d keys", got.BatchSize, len(got.Credentials), len(got.BatchJWKs))
	}
	for i, c := range got.Credentials {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil {
			t.Fatal(err)
		}
		is, err := mdoc.ParseIssuerSigned(b)
		if err != nil {
			t.Fatal(err)
		}
		if is.IssuerAuth.MSO.DocType != mdoc.DocTypeMNC {
			t.Errorf("credential %d docType %s", i, is.IssuerAuth.MSO.DocType)
		}
		pub, _ := is.IssuerAuth.MSO.DeviceKeyInfo.DeviceKey.PublicKey()
		want, _ := oid4vci.ParseJWK(got.BatchJWKs[i])
		wp, _ := want.ECDSA()
		if !wp.Equal(pub) {
			t.Errorf("credential %d is not bound to the npm wallet's key %d", i, i)
		}
	}
	if !got.Notified {
		t.Error("the issuer returned no notification_id, or the notification failed")
	}
	audit, _ := a.Service.Audit(ctx, er.DeviceID, "", 50)
	seen := false
	for _, e := range audit {
		seen = seen || e.Action == "notification_"+oid4vci.EventCredentialAccepted
	}
	if !seen {
		t.Error("credential_accepted notification not recorded")
	}
}
