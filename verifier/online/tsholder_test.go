package online_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier/online"
)

// tsHolderDir holds a holder assembled from published npm libraries
// (@openid4vc/openid4vp for OpenID4VP 1.0, @auth0/mdl for the mdoc, jose):
// an implementation nobody here wrote answers the online verifier.
const tsHolderDir = "testdata/tsholder"

// tsHolder returns the node binary with the holder's modules installed, or
// skips loudly (CI=true: fails) when node or the npm registry is missing.
func tsHolder(t *testing.T) string {
	t.Helper()
	skip := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format, args...)
		}
		t.Skipf("SKIPPED: "+format+": the verifier was NOT tested against the TypeScript holder", args...)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skip("node not found")
	}
	if _, err := os.Stat(filepath.Join(tsHolderDir, "node_modules", "@openid4vc", "openid4vp")); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			skip("npm not found to install %s", tsHolderDir)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		// npm install (not ci): npm 11 reports optional platform packages of
		// cbor-extract as missing from any lock file; versions stay pinned in
		// package.json and package-lock.json.
		cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--ignore-scripts")
		cmd.Dir = tsHolderDir
		if out, err := cmd.CombinedOutput(); err != nil {
			skip("npm install in %s failed (%v): %s", tsHolderDir, err, out)
		}
	}
	return node
}

func TestTypeScriptHolderAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs node")
	}
	node := tsHolder(t)
	e := newEnv(t)
	// The holder's mdoc: the issuer-signed credential in an MDoc container
	// (the shape @auth0/mdl reads), and the device key as a JWK.
	mdocBytes, err := mdoc.Marshal(map[string]any{"version": "1.0", "status": 0, "documents": []any{
		map[string]any{"docType": mdoc.DocTypeMNC, "issuerSigned": e.mnc}}})
	if err != nil {
		t.Fatal(err)
	}
	d := e.dev
	jwk := map[string]string{"kty": "EC", "crv": "P-256",
		"x": base64.RawURLEncoding.EncodeToString(d.PublicKey.X.FillBytes(make([]byte, 32))),
		"y": base64.RawURLEncoding.EncodeToString(d.PublicKey.Y.FillBytes(make([]byte, 32))),
		"d": base64.RawURLEncoding.EncodeToString(d.D.FillBytes(make([]byte, 32)))}
	for _, c := range []struct {
		name    string
		ageOver int
		allowed bool
		code    string
	}{{"age over 20", 20, true, ""}, {"age over 65 (not issued, not answered)", 65, false, "element_not_returned"}} {
		t.Run(c.name, func(t *testing.T) {
			created := e.create(online.ProtocolOpenID4VP, online.Purpose{Kind: online.PurposeAge, AgeOver: c.ageOver})
			in, _ := json.Marshal(map[string]any{"invocation": created.Invocation, "mdoc": base64.RawURLEncoding.EncodeToString(mdocBytes),
				"deviceJwk": jwk, "now": time.Unix(0, e.clock.Load()).UTC().Format(time.RFC3339), "readerRootPem": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.reader.CA.Raw}))})
			f := filepath.Join(t.TempDir(), "input.json")
			if err := os.WriteFile(f, in, 0o600); err != nil {
				t.Fatal(err)
			}
			abs, _ := filepath.Abs(f)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, "holder.mjs", abs)
			cmd.Dir = tsHolderDir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("holder: %v\n%s", err, out)
			}
			var res struct {
				Status int    `json:"status"`
				Body   string `json:"body"`
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil || res.Status != 200 || !strings.Contains(res.Body, "response_code=") {
				t.Fatalf("holder's POST: %v %s", err, out)
			}
			st := e.statusOf(created.ID)
			if st.State != online.StateDone || st.Decision == nil || st.Decision.Allowed != c.allowed || (c.allowed && !st.Valid) ||
				(c.code != "" && !slices.Contains(st.Codes, c.code)) {
				t.Fatalf("verdict %+v decision %+v codes %v", st, st.Decision, st.Codes)
			}
		})
	}
}
