package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/pcsc/pcsctest"
	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/applet"
	"github.com/mynumber-mdoc/mnc/jpki/cardsim"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
	"github.com/mynumber-mdoc/mnc/verifier/counter"
	"github.com/mynumber-mdoc/mnc/verifier/verifiertest"
)

// TestNFCCommandCardTaps runs `mdoc-verifier nfc` against a simulated My
// Number Card on the real PC/SC stack (pcscd + vpcd): the right PIN gives
// a JSON verdict and a trace with the PIN masked; a wrong PIN exits 1 with
// the tries left; no --pin and no terminal is a usage error naming --pin.
func TestNFCCommandCardTaps(t *testing.T) {
	slot := pcsctest.Require(t)
	dir := t.TempDir()
	ca, err := testca.New(testca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := ca.IssueCard(testca.Person{Name: "山田　太郎", BirthDate: jpki.NewBirthDate(1990, time.April, 1), Sex: jpki.SexMale, Address: "東京都千代田区千代田1-1"}, testca.IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	crlDir := filepath.Join(dir, "crl")
	if _, err := ca.PublishCRLs(crlDir, time.Now().Add(-time.Minute), 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	roots := filepath.Join(dir, "jpki-roots.pem")
	os.WriteFile(roots, ca.RootsPEM(), 0o644)
	is, _ := verifiertest.NewIssuer("nfc-cli")
	iaca := filepath.Join(dir, "iaca.pem")
	os.WriteFile(iaca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: is.IACA.Raw}), 0o644)
	ap, err := applet.New(creds.AppletConfig(jpki.TokenCard, "PASS1234", "1234"))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := cardsim.NewCard(ap, nil)
	if err != nil {
		t.Fatal(err)
	}
	slot.Insert(t, sim)
	base := []string{"nfc", "--trust", iaca, "--reader", slot.Reader, "--data-dir", filepath.Join(dir, "verifier"),
		"--jpki-roots", roots, "--jpki-crl-dir", crlDir, "--jpki-test", "--timeout", "20s"}

	tracePath := filepath.Join(dir, "trace.txt")
	var out, errb bytes.Buffer
	code := run(context.Background(), append(base, "--pin", "1234", "--json", "--trace", tracePath), strings.NewReader(""), &out, &errb)
	if code != 0 {
		t.Fatalf("right PIN: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	var v counter.Verdict
	if err := json.Unmarshal(out.Bytes(), &v); err != nil || !v.OK || v.Kind != counter.KindJPKI || v.JPKI.Token != string(jpki.TokenCard) {
		t.Fatalf("verdict %+v %v\n%s", v, err, out.String())
	}
	trace, _ := os.ReadFile(tracePath)
	if !strings.Contains(string(trace), "> 00A4040C0AD392F000260100000001") && !strings.Contains(string(trace), "D392F000260100000001") {
		t.Errorf("trace lacks the JPKI AID:\n%s", trace)
	}
	if !strings.Contains(string(trace), "0020008004********") || strings.Contains(string(trace), "002000800431323334") {
		t.Errorf("PIN not masked:\n%s", trace)
	}

	out.Reset()
	errb.Reset()
	if code := run(context.Background(), append(base, "--pin", "0000"), strings.NewReader(""), &out, &errb); code != 1 || !strings.Contains(out.String(), "NG") || !strings.Contains(out.String(), "tries left 2") {
		t.Fatalf("wrong PIN: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := run(context.Background(), base, strings.NewReader(""), &out, &errb); code != 2 || !strings.Contains(errb.String(), "--pin") {
		t.Fatalf("no PIN, no terminal: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	// The counter never asked the card for a PIN it did not have: still
	// two tries left after the refused run.
	out.Reset()
	if code := run(context.Background(), append(base, "--pin", "1234", "--json"), strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("right PIN after: exit %d\n%s", code, errb.String())
	}
}

func TestNFCCommandUsage(t *testing.T) {
	var out, errb bytes.Buffer
	for _, args := range [][]string{
		{"nfc"},
		{"nfc", "--trust", "x.pem", "--check", "weight"},
		{"nfc", "--trust", "x.pem", "--mode", "bluetooth"},
		{"nfc", "--trust", "x.pem", "--jpki-roots", "r.pem"},
	} {
		if code := run(context.Background(), args, strings.NewReader(""), &out, &errb); code != 2 {
			t.Errorf("%v: exit %d", args, code)
		}
	}
}
