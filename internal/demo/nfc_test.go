package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mynumber-mdoc/mnc/internal/pcsc/pcsctest"
)

// TestRunNFC plays the counter story over the real PC/SC stack (pcscd and
// the vpcd driver), as `mdoc-demo --nfc --artifacts DIR` does, and has
// mdoc-verifier agree with every mdoc artefact.
func TestRunNFC(t *testing.T) {
	slot := pcsctest.Require(t)
	var out bytes.Buffer
	arts := t.TempDir()
	rep, err := Run(context.Background(), Options{Out: &out, ArtifactsDir: arts, NFC: true, NFCReader: slot.Reader, VPCDAddr: slot.Addr})
	transcript := out.String()
	if err != nil || !rep.OK() {
		t.Fatalf("Run: %v\n%s", err, transcript)
	}
	if len(rep.Steps) != len(nfcStory) || !strings.Contains(transcript, "Verdict: ✔ all 8 steps") {
		t.Fatalf("transcript:\n%s", transcript)
	}
	for name, extra := range map[string]string{"04-clinic-insurance-nfc-mac": "C30000", "08-shop-age-nfc": "> 00D60000"} {
		trace, err := os.ReadFile(filepath.Join(arts, name, FileAPDUTrace))
		if err != nil {
			t.Fatal(err)
		}
		// The NDEF and mdoc AIDs, the ENVELOPEs; the shop's phone asks
		// for negotiated handover, so the reader writes (UPDATE BINARY).
		for _, want := range []string{"> 00A4040007D2760000850101", "> 00A4040007A0000002480400", "C30000", extra} {
			if !strings.Contains(string(trace), want) {
				t.Errorf("%s: trace lacks %s", name, want)
			}
		}
	}
	for name, want := range map[string]TapExpected{
		"05-clinic-card-jpki":  {Kind: "jpki", OK: true, Code: "qualified", TriesLeft: 3},
		"06-clinic-phone-jpki": {Kind: "jpki", OK: true, Code: "qualified", TriesLeft: 3},
		"07-wrong-pin":         {Kind: "jpki", Code: "wrong_pin", TriesLeft: 1},
		"07-blocked-card":      {Kind: "jpki", Code: "pin_locked"},
	} {
		b, err := os.ReadFile(filepath.Join(arts, name, FileTapExpected))
		if err != nil {
			t.Fatal(err)
		}
		var got TapExpected
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got.Kind != want.Kind || got.OK != want.OK || got.Code != want.Code || got.TriesLeft != want.TriesLeft {
			t.Errorf("%s: %+v, want %+v", name, got, want)
		}
		trace, _ := os.ReadFile(filepath.Join(arts, name, FileAPDUTrace))
		if !strings.Contains(string(trace), "> 00A404") || strings.Contains(string(trace), "0020008004"+"31323334") {
			t.Errorf("%s: trace without SELECT or with the PIN in clear:\n%s", name, trace)
		}
	}
	bin := buildVerifier(t)
	for _, dir := range rep.Artifacts {
		b, err := os.ReadFile(filepath.Join(dir, FileExpected))
		if err != nil {
			t.Fatal(err)
		}
		e, err := ParseExpected(b)
		if err != nil {
			t.Fatal(err)
		}
		res, code := runVerifier(t, bin, dir, e.Args)
		if res.Valid != e.Valid || (code == 0) != e.Valid {
			t.Errorf("%s: mdoc-verifier valid=%v exit %d, expected.json valid=%v", dir, res.Valid, code, e.Valid)
		}
	}
}
