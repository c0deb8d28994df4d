package main

import (
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mynumber-mdoc/mnc/mdoc"
	vt "github.com/mynumber-mdoc/mnc/verifier/verifiertest"
)

func TestBuildServer(t *testing.T) {
	dir := t.TempDir()
	is, _ := vt.NewIssuer("srv")
	rd, _ := vt.NewReader(mdoc.ReaderRoles{}, "")
	w := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
		return p
	}
	keyDER, _ := x509.MarshalECPrivateKey(rd.Key)
	iaca, cert, key := w("iaca.pem", "CERTIFICATE", is.IACA.Raw), w("reader.pem", "CERTIFICATE", rd.Cert.Raw), w("reader.key", "EC PRIVATE KEY", keyDER)
	tf := trustFlags{trust: listFlag{iaca}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, ln, _, err := buildServer(&tf, "127.0.0.1:0", "", cert, key, "x509_hash", 0, nil, "", false, log)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	resp, err := http.Post(ts.URL+"/api/transactions", "application/json", strings.NewReader(`{"protocol":"openid4vp","purpose":"age","ageOver":20}`))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %v %v", err, resp.Status)
	}
	// Misconfigurations are usage errors.
	for _, c := range []struct{ cert, key, prefix string }{{cert, iaca, "x509_hash"}, {cert, key, "redirect_uri"}, {cert, key, "x509_san_dns"}, {"", key, "x509_hash"}} {
		if _, ln, _, err := buildServer(&tf, "127.0.0.1:0", "", c.cert, c.key, c.prefix, 0, nil, "", false, log); err == nil {
			ln.Close()
			t.Errorf("%v accepted", c)
		}
	}
	if _, _, _, err := buildServer(&tf, "127.0.0.1:0", "", cert, key, "x509_hash", 0, []string{iaca}, "", false, log); err == nil {
		t.Error("JPKI roots without CRL dir accepted")
	}
}
