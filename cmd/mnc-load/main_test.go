package main

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/mynumber-mdoc/mnc/internal/cli"
)

// TestShortRun starts both servers as child processes, drives them for a
// moment and checks the JSON report: its shape, that operations of both
// kinds succeeded, and that the cost figures were computed from measured
// CPU time (positive) against a measured floor.
func TestShortRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts both servers")
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"--duration", "3s", "--wallets", "2", "--issue-share", "0.3", "--json"}, strings.NewReader(""), &out, &errb)
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s\n%s", code, errb.String(), out.String())
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(out.Bytes(), &top); err != nil {
		t.Fatalf("report is not a JSON object: %v\n%s", err, out.String())
	}
	raw := map[string]map[string]any{}
	for _, obj := range []string{"verify", "issue", "floor", "machine"} {
		var m map[string]any
		if err := json.Unmarshal(top[obj], &m); err != nil {
			t.Fatalf("%s is not an object: %v", obj, err)
		}
		raw[obj] = m
	}
	for obj, keys := range map[string][]string{
		"verify":  {"rate", "p50_ms", "p95_ms", "p99_ms", "cost_x_floor", "ops", "errors", "server_p99_ms", "server_ms_per_op"},
		"issue":   {"rate", "p99_ms", "cost_x_sign", "credentials", "server_p99_ms"},
		"floor":   {"p256_verify_us", "p256_sign_us", "quiet_p256_verify_us", "quiet_p256_sign_us", "samples"},
		"machine": {"cores", "verifier_cores", "issuer_cores", "saturated"},
	} {
		for _, k := range keys {
			if _, ok := raw[obj][k]; !ok {
				t.Errorf("report lacks %s.%s", obj, k)
			}
		}
	}
	var rep struct {
		Verify struct {
			Ops, Errors int
			Rate        float64
			P99         float64 `json:"p99_ms"`
			Cost        float64 `json:"cost_x_floor"`
			ServerP99   float64 `json:"server_p99_ms"`
			ServerMs    float64 `json:"server_ms_per_op"`
			FirstError  string  `json:"first_error"`
		}
		Issue struct {
			Ops, Errors, Credentials int
			Cost                     float64 `json:"cost_x_sign"`
			FirstError               string  `json:"first_error"`
		}
		Floor struct {
			Verify  float64 `json:"p256_verify_us"`
			Sign    float64 `json:"p256_sign_us"`
			Samples int     `json:"samples"`
		}
		Machine struct {
			Cores    int     `json:"cores"`
			Verifier float64 `json:"verifier_cores"`
			LoadTool float64 `json:"load_tool_cores"`
		}
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	// The verifier's own time is part of the flow's: read from its
	// histograms, it must be there and below the flow's.
	if rep.Verify.Ops == 0 || rep.Verify.Errors != 0 || rep.Verify.Rate <= 0 || rep.Verify.P99 <= 0 ||
		rep.Verify.ServerP99 <= 0 || rep.Verify.ServerMs <= 0 || rep.Verify.ServerMs > rep.Verify.P99 {
		t.Errorf("presentations: %+v", rep.Verify)
	}
	if rep.Issue.Errors != 0 {
		t.Errorf("issuance errors: %+v", rep.Issue)
	}
	// A 3 s window holds about 15 sampling rounds of the floor.
	if rep.Floor.Verify <= 0 || rep.Floor.Sign <= 0 || rep.Floor.Samples < 5 {
		t.Errorf("floor not measured: %+v", rep.Floor)
	}
	// A presentation cannot cost the verifier less than its two
	// verifications; a cost below 1 would mean the CPU was not read.
	if rep.Verify.Cost < 1 {
		t.Errorf("presentation cost %.2f× the floor: CPU time not measured", rep.Verify.Cost)
	}
	// Every party did work in the window, and none used more than the
	// machine has (a unit error would show as thousands of cores).
	if m := rep.Machine; m.Cores < 1 || m.Verifier <= 0 || m.Verifier > float64(m.Cores) || (runtime.GOOS == "linux" && (m.LoadTool <= 0 || m.LoadTool > float64(m.Cores))) {
		t.Errorf("machine figures %+v", rep.Machine)
	}
	if rep.Issue.Credentials > 0 && rep.Issue.Cost < 1 {
		t.Errorf("issuance cost %.2f× a sign: CPU time not measured", rep.Issue.Cost)
	}
}

// TestRefusals: remote targets need --allow-remote, the two URLs go
// together, profiles stay on loopback and rates and shares must make
// sense; all are usage errors that start nothing.
func TestRefusals(t *testing.T) {
	for _, args := range [][]string{
		{"--issuer", "http://203.0.113.7:8080", "--verifier", "http://127.0.0.1:8081"},
		{"--issuer", "http://127.0.0.1:8080", "--verifier", "https://verifier.example"},
		{"--issuer", "http://127.0.0.1:8080"},
		{"--issuer", "ftp://127.0.0.1", "--verifier", "http://127.0.0.1:8081"},
		{"--rate", "-5"},
		{"--rate", "NaN"},
		{"--rate", "Inf"},
		{"--rate", "1e-300"},
		{"--issue-share", "NaN"},
		{"--issue-share", "1.5"},
		{"--wallets", "2", "--workers", "3"},
		{"--debug-addr", "203.0.113.7:6062"},
		{"extra-argument"},
	} {
		var errb bytes.Buffer
		if code := run(context.Background(), args, strings.NewReader(""), &bytes.Buffer{}, &errb); code != cli.ExitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, cli.ExitUsage, errb.String())
		}
	}
	var errb bytes.Buffer
	run(context.Background(), []string{"--issuer", "http://203.0.113.7:8080", "--verifier", "http://203.0.113.7:8081"}, strings.NewReader(""), &bytes.Buffer{}, &errb)
	if !strings.Contains(errb.String(), "--allow-remote") {
		t.Errorf("refusal does not name --allow-remote: %s", errb.String())
	}
}
