package demo

import (
	"strings"
	"testing"
)

const goodExpected = `{"step":3,"name":"03-x","description":"d","transport":"qr","deviceAuth":"signature","valid":false,"code":"revoked",
"at":"2026-01-02T03:04:05Z","status":"list","statusList":"status-list.cwt","statusLists":["status-list.cwt"],
"args":["verify","--trust","iaca.pem","--session-transcript","session-transcript.cbor","--status-list","status-list.cwt","--json","device-response.cbor"]}`

func TestParseExpected(t *testing.T) {
	tests := []struct {
		name, json, err string
	}{
		{"good", goodExpected, ""},
		{"valid without code", strings.Replace(strings.Replace(goodExpected, `"valid":false`, `"valid":true`, 1), `"code":"revoked"`, `"code":null`, 1), ""},
		{"valid with code", strings.Replace(goodExpected, `"valid":false`, `"valid":true`, 1), "code must be null"},
		{"invalid without code", strings.Replace(goodExpected, `"code":"revoked"`, `"code":null`, 1), "code must be null"},
		{"bad time", strings.Replace(goodExpected, `2026-01-02T03:04:05Z`, `yesterday`, 1), "at:"},
		{"unknown field", strings.Replace(goodExpected, `"step":3`, `"step":3,"extra":1`, 1), "unknown field"},
		{"trailing", goodExpected + `{}`, "trailing"},
		{"status list outside", strings.Replace(goodExpected, `"statusList":"status-list.cwt"`, `"statusList":"../x.cwt"`, 1), "plain file name"},
		{"argument outside", strings.Replace(goodExpected, `"iaca.pem"`, `"/etc/passwd"`, 1), "leaves the directory"},
		{"not verify", strings.Replace(goodExpected, `["verify",`, `["serve",`, 1), "verify command line"},
		{"list without file", strings.Replace(goodExpected, `"statusList":"status-list.cwt",`, ``, 1), "without statusList"},
		{"unknown status", strings.Replace(goodExpected, `"status":"list"`, `"status":"maybe"`, 1), "status"},
		{"too large", `{"name":"` + strings.Repeat("a", MaxExpectedSize) + `"}`, "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseExpected([]byte(tt.json))
			if tt.err == "" {
				if err != nil || e == nil {
					t.Fatalf("ParseExpected: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v, want it to mention %q", err, tt.err)
			}
		})
	}
}

// FuzzParseExpected: whatever the bytes, ParseExpected never panics and
// never accepts a file name that leaves the artefact directory.
func FuzzParseExpected(f *testing.F) {
	f.Add([]byte(goodExpected))
	f.Add([]byte(`{"valid":true,"code":null,"at":"2026-01-02T03:04:05Z","status":"none","args":["verify"]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseExpected(b)
		if err != nil {
			return
		}
		for _, n := range append([]string{e.StatusList, e.ReaderKey, e.Request}, e.StatusLists...) {
			if n != "" && !plainName(n) {
				t.Fatalf("accepted %q", n)
			}
		}
		if e.Valid != (e.Code == nil) {
			t.Fatal("valid and code disagree")
		}
	})
}

func TestPlainName(t *testing.T) {
	for n, want := range map[string]bool{"a.cbor": true, "status-list-2.cwt": true, "": false, ".": false, "..": false, "a/b": false, `a\b`: false, "/a": false} {
		if got := plainName(n); got != want {
			t.Errorf("plainName(%q) = %v", n, got)
		}
	}
}
