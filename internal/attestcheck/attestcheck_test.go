package attestcheck

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"github.com/mynumber-mdoc/mnc/internal/cli"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const td = "../../mdoc/keyattest/testdata"

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	o, err := ParseArgs(args, &errb)
	if err != nil {
		if !IsUsage(err) {
			t.Fatalf("ParseArgs: %v", err)
		}
		return ExitUsage, out.String(), errb.String()
	}
	code := Run(t.Context(), o, &out, &errb)
	return code, out.String(), errb.String()
}

func TestAndroid(t *testing.T) {
	chain := filepath.Join(td, "android/pixel-strongbox-km4.pem")
	code, out, _ := run(t, "--format", "android-key", "--challenge", "7465737461736466", "--app-id", "com.ubinetic.attested.executor.test.testnet", "--at", "2022-07-10T00:00:00Z", chain)
	if code != ExitOK || !strings.Contains(out, "StrongBox") || !strings.Contains(out, "bootloader locked:    true") || !strings.Contains(out, "os patch level:       2022-06") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	code, _, errs := run(t, "--format", "android-key", "--challenge", "00", "--at", "2022-07-10T00:00:00Z", chain)
	if code != ExitFail || !strings.Contains(errs, "challenge_mismatch") {
		t.Fatalf("wrong challenge: exit %d %s", code, errs)
	}
	code, _, _ = run(t, "--format", "android-key", "--app-id", "jp.other", "--at", "2022-07-10T00:00:00Z", chain)
	if code != ExitFail {
		t.Fatalf("wrong package: exit %d", code)
	}
	// --roots replaces the built-in roots: Google's e35d sample verifies
	// only with its root given.
	sb := filepath.Join(td, "android/google-sample-rsa-strongbox-e35d-root.pem")
	code, _, _ = run(t, "--format", "android-key", "--at", "2018-03-22T00:00:00Z", sb)
	if code != ExitFail {
		t.Fatalf("e35d sample without --roots: exit %d", code)
	}
	b, _ := os.ReadFile(sb)
	blocks := strings.SplitAfter(string(b), "-----END CERTIFICATE-----")
	rootFile := filepath.Join(t.TempDir(), "root.pem")
	os.WriteFile(rootFile, []byte(blocks[3]), 0o600)
	code, out, _ = run(t, "--format", "android-key", "--roots", rootFile, "--at", "2018-03-22T00:00:00Z", "--json", sb)
	var res Result
	if code != ExitOK || json.Unmarshal([]byte(out), &res) != nil || !res.OK || res.Facts.VerifiedBootState != "Unverified" {
		t.Fatalf("e35d sample with --roots: exit %d %s", code, out)
	}
}

func TestApple(t *testing.T) {
	var vec []struct {
		Name, Attestation, AppID, ClientDataHash, KeyID string
		Recorded                                        string
	}
	b, _ := os.ReadFile(filepath.Join(td, "appattest/vectors.json"))
	json.Unmarshal(bytes.ReplaceAll(bytes.ReplaceAll(bytes.ReplaceAll(b, []byte(`"app_id"`), []byte(`"AppID"`)), []byte(`"client_data_hash"`), []byte(`"ClientDataHash"`)), []byte(`"key_id"`), []byte(`"KeyID"`)), &vec)
	v := vec[0]
	file := filepath.Join(td, "appattest", v.Attestation)
	code, out, _ := run(t, "--format", "apple-appattest", "--environment", "development", "--app-id", v.AppID, "--client-data-hash", v.ClientDataHash, "--key-id", v.KeyID, "--at", v.Recorded[:19]+"Z", "--json", file)
	var res Result
	if code != ExitOK || json.Unmarshal([]byte(out), &res) != nil || res.Facts.Environment != "development" || *res.Facts.Counter != 0 {
		t.Fatalf("exit %d %s", code, out)
	}
	// Raw CBOR input works too.
	raw, _ := os.ReadFile(file)
	cb, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	cfile := filepath.Join(t.TempDir(), "att.cbor")
	os.WriteFile(cfile, cb, 0o600)
	if code, out, _ := run(t, "--format", "apple-appattest", "--environment", "development", "--at", v.Recorded[:19]+"Z", cfile); code != ExitOK {
		t.Fatalf("raw CBOR: exit %d %s", code, out)
	}
	// Development key in production.
	code, out, errs := run(t, "--format", "apple-appattest", "--at", v.Recorded[:19]+"Z", "--json", cfile)
	if code != ExitFail || !strings.Contains(out, "environment_mismatch") || !strings.Contains(errs, "environment_mismatch") {
		t.Fatalf("production: exit %d %s %s", code, out, errs)
	}
	code, _, _ = run(t, "--format", "apple-appattest", "--environment", "development", "--key-id", base64.StdEncoding.EncodeToString(make([]byte, 32)), "--at", v.Recorded[:19]+"Z", cfile)
	if code != ExitFail {
		t.Fatalf("wrong key id: exit %d", code)
	}
}

func TestUsage(t *testing.T) {
	f := filepath.Join(td, "android/pixel-strongbox-km4.pem")
	for name, args := range map[string][]string{
		"no format":          {f},
		"bad format":         {"--format", "tpm", f},
		"no file":            {"--format", "android-key"},
		"two files":          {"--format", "android-key", f, f},
		"bad hex":            {"--format", "android-key", "--challenge", "zz", f},
		"bad time":           {"--format", "android-key", "--at", "yesterday", f},
		"bad environment":    {"--format", "android-key", "--environment", "staging", f},
		"key id on android":  {"--format", "android-key", "--key-id", "AAAA", f},
		"challenge on apple": {"--format", "apple-appattest", "--challenge", "00", f},
		"short cdh":          {"--format", "apple-appattest", "--client-data-hash", "00", f},
		"unknown flag":       {"--format", "android-key", "--nope", f},
		"missing roots":      {"--format", "android-key", "--roots", "/nonexistent", f},
	} {
		if code, _, _ := run(t, args...); code != ExitUsage {
			t.Errorf("%s: exit %d, want 2", name, code)
		}
	}
	if code, _, _ := run(t, "--format", "android-key", "/nonexistent.pem"); code != ExitFail {
		t.Errorf("missing FILE: exit %d, want 1", code)
	}
}

func TestCobraCommand(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"--format", "android-key", "--challenge", "7465737461736466", "--at", "2022-07-10T00:00:00Z", filepath.Join(td, "android/pixel-strongbox-km4.pem")}, 0},
		{[]string{"--format", "android-key", "--challenge", "00", "--at", "2022-07-10T00:00:00Z", filepath.Join(td, "android/pixel-strongbox-km4.pem")}, ExitFail},
		{[]string{"--format", "tpm", "x"}, ExitUsage},
	} {
		cmd := NewCommand()
		var out, errb bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&errb)
		cmd.SetArgs(c.args)
		err := cmd.ExecuteContext(t.Context())
		code := cli.ExitCode(err)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d (%s)", c.args, code, c.code, errb.String())
		}
	}
}
