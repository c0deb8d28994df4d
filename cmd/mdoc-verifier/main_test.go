package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier"
	vt "github.com/mynumber-mdoc/mnc/verifier/verifiertest"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

type annexD struct{ dir, iaca, st, resp, req, rk string }

func loadAnnexD(t *testing.T) annexD {
	t.Helper()
	var f struct {
		Vectors map[string]struct{ Hex string } `json:"vectors"`
	}
	b, err := os.ReadFile("../../mdoc/testdata/iso18013-5-annex-d.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	w := func(name, key string, asHex bool) string {
		p := filepath.Join(dir, name)
		h := f.Vectors[key].Hex
		var data []byte
		if asHex {
			data = []byte(h + "\n")
		} else {
			data, _ = hex.DecodeString(h)
		}
		os.WriteFile(p, data, 0o644)
		return p
	}
	return annexD{dir: dir, iaca: w("iaca.der", "iaca_certificate_der", false), st: w("st.cbor", "session_transcript_bytes", false),
		resp: w("resp.cbor", "device_response", false), req: w("req.hex", "device_request", true), rk: w("rk.hex", "ereader_key_d", true)}
}

func decode(t *testing.T, s string) *verifier.Result {
	t.Helper()
	var r verifier.Result
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("JSON output: %v\n%s", err, s)
	}
	return &r
}

func TestAnnexDThroughCLI(t *testing.T) {
	d := loadAnnexD(t)
	code, out, errs := runCLI(t, "verify", "--trust", d.iaca, "--session-transcript", d.st, "--reader-key", d.rk,
		"--at", "2021-01-01T00:00:00Z", "--request", d.req, "--json", d.resp)
	if code != exitValid {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	r := decode(t, out)
	if !r.Valid || len(r.Documents) != 1 || r.Documents[0].DocType != mdoc.DocTypeMDL {
		t.Fatalf("result %s", out)
	}
	el := r.Documents[0].Elements[mdoc.NameSpaceMDL]
	if el["family_name"] != "Doe" || el["issue_date"] != "2019-10-20" || el["document_number"] != "123456789" {
		t.Fatalf("elements %v", el)
	}
	// The raw JSON has exactly the contract's keys.
	var raw map[string]json.RawMessage
	json.Unmarshal([]byte(out), &raw)
	if len(raw) != 3 || raw["valid"] == nil || raw["documents"] == nil || raw["errors"] == nil {
		t.Fatalf("top-level keys: %s", out)
	}
	// Text output.
	if code, out, _ := runCLI(t, "verify", "--trust", d.dir, "--session-transcript", d.st, "--reader-key", d.rk, "--at", "2021-01-01T00:00:00Z", d.resp); code != 0 || !strings.HasPrefix(out, "VALID") {
		t.Fatalf("text: %d %s", code, out)
	}
}

func TestAnnexDRefusals(t *testing.T) {
	d := loadAnnexD(t)
	base := []string{"verify", "--trust", d.iaca, "--session-transcript", d.st, "--json"}
	cases := []struct {
		name string
		args []string
		code string
	}{
		{"no reader key for deviceMac", []string{"--at", "2021-01-01T00:00:00Z", d.resp}, "device_auth_invalid"},
		{"after the DS expired", []string{"--reader-key", d.rk, "--at", "2022-01-01T00:00:00Z", d.resp}, "expired"},
		{"before the certificates", []string{"--reader-key", d.rk, "--at", "2019-01-01T00:00:00Z", d.resp}, "not_yet_valid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := runCLI(t, append(slices.Clone(base), c.args...)...)
			if code != exitInvalid {
				t.Fatalf("exit %d: %s %s", code, out, errs)
			}
			if r := decode(t, out); r.Valid || !slices.Contains(r.Codes(), c.code) {
				t.Fatalf("codes %v, want %s", r.Codes(), c.code)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	d := loadAnnexD(t)
	cases := [][]string{
		{},
		{"bogus"},
		{"verify", "--session-transcript", d.st, d.resp},
		{"verify", "--trust", d.iaca, d.resp},
		{"verify", "--trust", d.iaca, "--session-transcript", d.st},
		{"verify", "--trust", d.iaca, "--session-transcript", d.st, d.resp, d.resp},
		{"verify", "--trust", d.iaca, "--session-transcript", d.st, "--at", "yesterday", d.resp},
		{"verify", "--trust", d.iaca, "--session-transcript", d.resp, d.resp},
		{"verify", "--trust", d.iaca, "--session-transcript", d.st, "--reader-key", d.resp, d.resp},
		{"verify", "--trust", d.iaca, "--session-transcript", d.st, "--request", d.resp, d.resp},
		{"verify", "--trust", filepath.Join(d.dir, "missing.pem"), "--session-transcript", d.st, d.resp},
		{"verify", "--trust", d.iaca, "--session-transcript", d.st, filepath.Join(d.dir, "missing.cbor")},
		{"verify", "--no-such-flag"},
		{"verify", "--trust", d.iaca, "--session-transcript", d.st, "--json=maybe", d.resp},
		{"serve", "--trust", d.iaca, "--reader-cert", d.iaca},
		{"serve", "--trust", d.iaca, "extra"},
		{"reader", "--trust", d.iaca},
		{"reader", "--trust", d.iaca, "--qr", "mdoc:x", "--qr-file", d.resp},
		{"reader", "--trust", d.iaca, "--qr-file", filepath.Join(d.dir, "missing.txt")},
		{"reader", "--trust", d.iaca, "--qr", "mdoc:x", "--age-over", "20", "--elements", "a:b"},
	}
	for _, args := range cases {
		// Usage errors exit 2, say what is wrong on stderr and print nothing on stdout.
		if code, out, errs := runCLI(t, args...); code != exitUsage || out != "" || !strings.Contains(errs, "mdoc-verifier") {
			t.Errorf("%v: exit %d (%s %s)", args, code, out, errs)
		}
	}
	for _, args := range [][]string{{"--help"}, {"verify", "--help"}, {"serve", "-h"}, {"reader", "--help"}} {
		if code, out, _ := runCLI(t, args...); code != exitValid || !strings.Contains(out, "Usage:") || !strings.Contains(out, "Example") && len(args) > 1 {
			t.Errorf("%v: exit %d %q", args, code, out)
		}
	}
}

// cliFixture writes an issuer's IACA, a QR-handover transcript and
// helpers to write responses for the CLI.
type cliFixture struct {
	t    *testing.T
	dir  string
	is   *vt.Issuer
	iaca string
	st   *mdoc.SessionTranscript
	stF  string
	dev  any
}

func newCLIFixture(t *testing.T) *cliFixture {
	t.Helper()
	is, err := vt.NewIssuer("cli")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := &cliFixture{t: t, dir: dir, is: is, iaca: filepath.Join(dir, "iaca.pem"), stF: filepath.Join(dir, "st.cbor")}
	os.WriteFile(f.iaca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: is.IACA.Raw}), 0o644)
	if f.st, _, err = vt.QRTranscript(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(f.stF, f.st.Bytes(), 0o644)
	return f
}

func (f *cliFixture) write(name string, b []byte) string {
	p := filepath.Join(f.dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		f.t.Fatal(err)
	}
	return p
}

var at = vt.Now.Format(time.RFC3339)

// TestEveryCodeFromTheCLI reaches each verification code through the
// command line with responses made by the mdoc primitives.
func TestEveryCodeFromTheCLI(t *testing.T) {
	f := newCLIFixture(t)
	dev := vt.DeviceKey()
	sel := map[string][]string{mdoc.NameSpaceISO23220: {"family_name", "age_over_20"}}
	issue := func(status *mdoc.StatusListRef, mod func(*mdoc.IssueOptions)) *mdoc.IssuerSigned {
		is, err := f.is.Issue(mdoc.DocTypeMNC, vt.MNCElements(mdoc.FullDate{Year: 1990, Month: 4, Day: 1}, map[int]bool{20: true}), dev, status, mod)
		if err != nil {
			t.Fatal(err)
		}
		return is
	}
	presentDoc := func(is *mdoc.IssuerSigned, o func(*mdoc.PresentOptions)) *mdoc.Document {
		po := mdoc.PresentOptions{SessionTranscript: f.st.Raw, DeviceSigner: dev}
		if o != nil {
			o(&po)
		}
		d, err := mdoc.Present(is, sel, po)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	encode := func(docs ...mdoc.Document) []byte {
		b, err := mdoc.NewDeviceResponse(docs, nil).Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := issue(nil, nil)
	goodResp := encode(*presentDoc(good, nil))

	srv, err := vt.NewStatusServer(f.is, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.Set(1, mdoc.StatusInvalid)
	srv.Set(2, mdoc.StatusSuspended)
	other, _ := vt.NewIssuer("other")
	wrongSigner, _ := vt.NewStatusServer(f.is, 16)
	wrongSigner.SignWith = other
	defer wrongSigner.Close()
	down, _ := vt.NewStatusServer(f.is, 16)
	down.Set(2, mdoc.StatusSuspended)
	recorded := f.write("status-list.cwt", fetchToken(t, down.URI())) // recorded before the server went down
	down.SetDown(true)
	defer down.Close()

	cases := []struct {
		name  string
		resp  func() []byte
		extra []string
		code  string // "" means valid
	}{
		{"valid", func() []byte { return goodResp }, nil, ""},
		{"malformed", func() []byte { return []byte("not cbor") }, nil, "malformed"},
		{"limit_exceeded", func() []byte { return append(bytes.Repeat([]byte{0x81}, 40), 0x00) }, nil, "limit_exceeded"},
		{"unsupported", func() []byte {
			// The MSO's device key on curve 8 (secp256k1): parsed, refused.
			return bytes.Replace(goodResp, []byte{0xa4, 0x01, 0x02, 0x20, 0x01, 0x21, 0x58, 0x20}, []byte{0xa4, 0x01, 0x02, 0x20, 0x08, 0x21, 0x58, 0x20}, 1)
		}, nil, "unsupported"},
		{"issuer_signature_invalid", func() []byte {
			raw := good.IssuerAuth.Raw
			i := bytes.Index(goodResp, raw)
			b := bytes.Clone(goodResp)
			b[i+len(raw)-1] ^= 1
			return b
		}, nil, "issuer_signature_invalid"},
		{"untrusted_issuer", func() []byte {
			is, _ := other.Issue(mdoc.DocTypeMNC, vt.MNCElements(mdoc.FullDate{Year: 1990, Month: 4, Day: 1}, nil), dev, nil, nil)
			return encode(*presentDoc(is, nil))
		}, nil, "untrusted_issuer"},
		{"certificate_profile", func() []byte {
			return encode(*presentDoc(issue(nil, func(o *mdoc.IssueOptions) { o.Signed = vt.Now.Add(-40 * 24 * time.Hour) }), nil))
		}, nil, "certificate_profile"},
		{"digest_mismatch", func() []byte { return bytes.Replace(goodResp, []byte("山田"), []byte("田中"), 1) }, nil, "digest_mismatch"},
		{"digest_missing", func() []byte {
			// Items of another credential under this one's issuerAuth.
			d := presentDoc(good, nil)
			d.IssuerSigned.NameSpaces = presentDoc(issue(nil, nil), nil).IssuerSigned.NameSpaces
			return encode(*d)
		}, nil, "digest_missing"},
		{"expired", func() []byte { return goodResp }, []string{"--at", vt.Now.Add(60 * 24 * time.Hour).Format(time.RFC3339)}, "expired"},
		{"not_yet_valid", func() []byte {
			return encode(*presentDoc(issue(nil, func(o *mdoc.IssueOptions) { o.ValidFrom = vt.Now.Add(time.Hour) }), nil))
		}, nil, "not_yet_valid"},
		{"doc_type_mismatch", func() []byte {
			d := presentDoc(good, nil)
			d.DocType = mdoc.DocTypeHIC
			return encode(*d)
		}, nil, "doc_type_mismatch"},
		{"device_auth_invalid", func() []byte {
			return encode(*presentDoc(good, func(o *mdoc.PresentOptions) { o.DeviceSigner = vt.DeviceKey() }))
		}, nil, "device_auth_invalid"},
		{"key_authorization", func() []byte {
			return encode(*presentDoc(good, func(o *mdoc.PresentOptions) {
				o.DeviceNameSpaces = map[string]map[string]any{mdoc.NameSpaceISO23220: {"family_name": "偽"}}
			}))
		}, nil, "key_authorization"},
		{"element_not_returned", func() []byte { return goodResp }, []string{"--request", f.write("req.cbor", deviceRequest(t, map[string][]string{mdoc.NameSpaceISO23220: {"family_name", "age_over_20", "sex"}}))}, "element_not_returned"},
		{"element_not_requested", func() []byte { return goodResp }, []string{"--request", f.write("req-narrow.cbor", deviceRequest(t, map[string][]string{mdoc.NameSpaceISO23220: {"sex"}}))}, "element_not_requested"},
		// --request is exact about age_over (ISO 18013-5 §7.2.5): age_over_20 =
		// true answers age_over_18, but not age_over_21.
		{"age_over_18 answered by age_over_20 = true", func() []byte { return goodResp }, []string{"--request", f.write("req-18.cbor", deviceRequest(t, map[string][]string{mdoc.NameSpaceISO23220: {"family_name", "age_over_18"}}))}, ""},
		{"age_over_21 not answered by age_over_20 = true", func() []byte { return goodResp }, []string{"--request", f.write("req-21.cbor", deviceRequest(t, map[string][]string{mdoc.NameSpaceISO23220: {"family_name", "age_over_21"}}))}, "element_not_returned"},
		{"revoked", func() []byte { return encode(*presentDoc(issue(srv.Ref(1), nil), nil)) }, nil, "revoked"},
		{"suspended", func() []byte { return encode(*presentDoc(issue(srv.Ref(2), nil), nil)) }, nil, "suspended"},
		{"status valid", func() []byte { return encode(*presentDoc(issue(srv.Ref(3), nil), nil)) }, nil, ""},
		{"status_unavailable", func() []byte { return encode(*presentDoc(issue(down.Ref(3), nil), nil)) }, nil, "status_unavailable"},
		{"status from a local --status-list", func() []byte { return encode(*presentDoc(issue(down.Ref(3), nil), nil)) }, []string{"--status-list", recorded}, ""},
		{"suspended from a local --status-list", func() []byte { return encode(*presentDoc(issue(down.Ref(2), nil), nil)) }, []string{"--status-list", recorded}, "suspended"},
		{"status_stale: a local --status-list two hours past its iat", func() []byte { return encode(*presentDoc(issue(down.Ref(3), nil), nil)) },
			[]string{"--status-list", recorded, "--at", vt.Now.Add(2 * time.Hour).Format(time.RFC3339)}, "status_stale"},
		{"status skipped with --no-status", func() []byte { return encode(*presentDoc(issue(down.Ref(3), nil), nil)) }, []string{"--no-status"}, ""},
		{"status_list_invalid", func() []byte { return encode(*presentDoc(issue(wrongSigner.Ref(3), nil), nil)) }, nil, "status_list_invalid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"verify", "--trust", f.iaca, "--session-transcript", f.stF, "--at", at, "--json"}
			args = append(args, c.extra...)
			args = append(args, f.write("resp.cbor", c.resp()))
			code, out, errs := runCLI(t, args...)
			want := exitInvalid
			if c.code == "" {
				want = exitValid
			}
			if code != want {
				t.Fatalf("exit %d, want %d: %s %s", code, want, out, errs)
			}
			r := decode(t, out)
			if c.code != "" && !slices.Contains(r.Codes(), c.code) {
				t.Fatalf("codes %v, want %s", r.Codes(), c.code)
			}
			// Every document states its status outcome and warnings.
			var raw struct {
				Documents []map[string]json.RawMessage `json:"documents"`
			}
			if err := json.Unmarshal([]byte(out), &raw); err != nil {
				t.Fatal(err)
			}
			for _, d := range raw.Documents {
				var st string
				if err := json.Unmarshal(d["status"], &st); err != nil || !slices.Contains([]string{"valid", "revoked", "suspended", "unchecked"}, st) {
					t.Fatalf("document status %s", d["status"])
				}
				if string(d["warnings"]) != "[]" {
					t.Fatalf("warnings %s", d["warnings"])
				}
				want := map[string]string{"status valid": "valid", "suspended": "suspended", "revoked": "revoked", "status_stale: a local --status-list two hours past its iat": "unchecked"}[c.name]
				if want != "" && st != want {
					t.Fatalf("status %s, want %s", st, want)
				}
			}
		})
	}
}

func deviceRequest(t *testing.T, els map[string][]string) []byte {
	t.Helper()
	dr, err := verifier.NewDeviceRequest([]mdoc.ItemsRequest{verifier.Items(mdoc.DocTypeMNC, els)}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := dr.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPeerMultipazResponse verifies a DeviceResponse produced by another
// implementation (Multipaz, see verifier/testdata/peer/multipaz-pid) with
// only its IACA and the transcript published with it: issuer
// authentication holds; device authentication does not, because the
// published transcript is not the one the wallet signed (README there).
func TestPeerMultipazResponse(t *testing.T) {
	dir := "../../verifier/testdata/peer/multipaz-pid"
	code, out, errs := runCLI(t, "verify", "--trust", dir+"/iaca.pem", "--session-transcript", dir+"/session-transcript.cbor",
		"--at", "2025-10-01T00:00:00Z", "--json", dir+"/device-response.cbor")
	if code != exitInvalid {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	r := decode(t, out)
	if len(r.Documents) != 1 || r.Documents[0].DocType != "eu.europa.ec.eudi.pid.1" {
		t.Fatalf("%s", out)
	}
	if codes := r.Codes(); len(codes) != 1 || codes[0] != "device_auth_invalid" {
		t.Fatalf("codes %v: issuer authentication of the peer response must hold", codes)
	}
	// With another IACA it is untrusted.
	d := loadAnnexD(t)
	_, out, _ = runCLI(t, "verify", "--trust", d.iaca, "--session-transcript", dir+"/session-transcript.cbor", "--at", "2025-10-01T00:00:00Z", "--json", dir+"/device-response.cbor")
	if !slices.Contains(decode(t, out).Codes(), "untrusted_issuer") {
		t.Fatalf("foreign IACA: %s", out)
	}
}

// fetchToken returns the status list token served at uri.
func fetchToken(t *testing.T, uri string) []byte {
	t.Helper()
	resp, err := http.Get(uri)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("fetch %s: %v (HTTP %d)", uri, err, resp.StatusCode)
	}
	return b
}

// TestPeerAuth0Response: a DeviceResponse issued and presented by another
// published mdoc library (@auth0/mdl, see verifier/testdata/peer/auth0-mdl)
// verifies through the CLI with only its IACA and its session transcript,
// under the strict Annex B profile too.
func TestPeerAuth0Response(t *testing.T) {
	dir := "../../verifier/testdata/peer/auth0-mdl"
	for _, strict := range []bool{false, true} {
		args := []string{"verify", "--trust", dir + "/iaca.pem", "--session-transcript", dir + "/session-transcript.cbor", "--at", "2026-11-24T00:00:00Z", "--json"}
		if strict {
			args = append(args, "--strict")
		}
		code, out, errs := runCLI(t, append(args, dir+"/device-response.cbor")...)
		if code != exitValid {
			t.Fatalf("strict=%v: exit %d: %s %s", strict, code, out, errs)
		}
		r := decode(t, out)
		if len(r.Documents) != 1 || r.Documents[0].Elements["org.iso.18013.5.1"]["age_over_18"] != true || r.Documents[0].Elements["org.iso.18013.5.1"]["family_name"] != "Jones" {
			t.Fatalf("strict=%v: %s", strict, out)
		}
	}
	// Another transcript: device authentication fails.
	d := loadAnnexD(t)
	code, out, _ := runCLI(t, "verify", "--trust", dir+"/iaca.pem", "--session-transcript", d.st, "--at", "2026-11-24T00:00:00Z", "--json", dir+"/device-response.cbor")
	if code != exitInvalid || !slices.Contains(decode(t, out).Codes(), "device_auth_invalid") {
		t.Fatalf("wrong transcript: exit %d %s", code, out)
	}
}
