package demo

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Artefact file names inside a presentation directory.
const (
	FileDeviceResponse    = "device-response.cbor"
	FileSessionTranscript = "session-transcript.cbor" // SessionTranscriptBytes, tag 24
	FileIACA              = "iaca.pem"
	FileReaderKey         = "reader-ephemeral-key.pem" // only when a deviceMac was used
	FileDeviceRequest     = "device-request.cbor"      // when the request was an mdoc DeviceRequest
	FileStatusList        = "status-list.cwt"          // the first status list token; more are status-list-2.cwt, …
	FileExpected          = "expected.json"
)

// MaxExpectedSize bounds expected.json: it names a handful of files.
const MaxExpectedSize = 64 << 10

// maxExpectedArgs bounds the recorded command line.
const maxExpectedArgs = 32

// Expected is expected.json: what an outside verifier must conclude from
// the files next to it, and how to ask it.
//
//	{"valid":false,"code":"revoked","at":"2026-…Z","statusList":"status-list.cwt",
//	 "args":["verify","--trust","iaca.pem",…,"device-response.cbor"], …}
//
// Code is the stable error code the verdict must contain (null when valid).
// At is the verification time (RFC 3339): the presentation is checked at
// the time it was made. Credentials carry a Token Status List reference, and
// an offline checker cannot fetch the list, so StatusList names the token the
// verifier was served at that time (the bytes at the status uri): pass it
// with --status-list; it is verified like a fetched one (chain to the IACA,
// signature, iat/exp at At). Status is "list" when such tokens are given,
// "none" when the response holds no credential naming a status list. Args is
// the complete mdoc-verifier command line to run inside the directory.
type Expected struct {
	Step        int      `json:"step"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Transport   string   `json:"transport"` // qr, oid4vp, annexc, replay
	DeviceAuth  string   `json:"deviceAuth,omitempty"`
	Valid       bool     `json:"valid"`
	Code        *string  `json:"code"`
	At          string   `json:"at"`
	Status      string   `json:"status"`
	StatusList  string   `json:"statusList,omitempty"`
	StatusLists []string `json:"statusLists,omitempty"`
	ReaderKey   string   `json:"readerKey,omitempty"`
	Request     string   `json:"request,omitempty"`
	Args        []string `json:"args"`
}

// Statuses of Expected.Status.
const (
	StatusFromList = "list"
	StatusNone     = "none"
)

// ParseExpected decodes and checks an expected.json. Every file it names
// must be a plain name inside the artefact directory (a checker runs the
// recorded command there), and At must be RFC 3339.
func ParseExpected(b []byte) (*Expected, error) {
	if len(b) > MaxExpectedSize {
		return nil, fmt.Errorf("demo: expected.json of %d bytes exceeds %d", len(b), MaxExpectedSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var e Expected
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("demo: expected.json: %w", err)
	}
	if dec.More() {
		return nil, errors.New("demo: expected.json: trailing data")
	}
	if _, err := time.Parse(time.RFC3339, e.At); err != nil {
		return nil, fmt.Errorf("demo: expected.json: at: %w", err)
	}
	if e.Valid != (e.Code == nil) {
		return nil, errors.New("demo: expected.json: code must be null exactly when valid")
	}
	switch e.Status {
	case StatusFromList:
		if e.StatusList == "" {
			return nil, errors.New(`demo: expected.json: status "list" without statusList`)
		}
	case StatusNone:
		if e.StatusList != "" {
			return nil, errors.New(`demo: expected.json: status "none" with a statusList`)
		}
	default:
		return nil, fmt.Errorf("demo: expected.json: status %q", e.Status)
	}
	if len(e.Args) == 0 || len(e.Args) > maxExpectedArgs || e.Args[0] != "verify" {
		return nil, errors.New("demo: expected.json: args must be an mdoc-verifier verify command line")
	}
	for _, f := range append([]string{e.StatusList, e.ReaderKey, e.Request}, e.StatusLists...) {
		if f != "" && !plainName(f) {
			return nil, fmt.Errorf("demo: expected.json: %q is not a plain file name", f)
		}
	}
	for _, a := range e.Args[1:] {
		if !strings.HasPrefix(a, "-") && strings.ContainsAny(a, `/\`) {
			return nil, fmt.Errorf("demo: expected.json: argument %q leaves the directory", a)
		}
	}
	return &e, nil
}

func plainName(f string) bool {
	return f != "." && f != ".." && !strings.ContainsAny(f, `/\`) && filepath.Base(f) == f
}

// Artifact is one presentation to write out.
type Artifact struct {
	Step         int
	Name         string // directory name, e.g. "03-shop-age-qr"
	Description  string
	Transport    string
	Presentation *Presentation
	IACA         *x509.Certificate
	// Valid and Code are the expected verdict.
	Valid bool
	Code  string
	At    time.Time
}

// WriteArtifact writes a presentation directory under root and returns its
// path.
func WriteArtifact(root string, a *Artifact) (string, error) {
	if !plainName(a.Name) {
		return "", fmt.Errorf("demo: artefact name %q", a.Name)
	}
	dir := filepath.Join(root, a.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("demo: artefacts: %w", err)
	}
	p := a.Presentation
	at := a.At.UTC().Format(time.RFC3339)
	e := Expected{Step: a.Step, Name: a.Name, Description: a.Description, Transport: a.Transport, Valid: a.Valid, At: at, Status: StatusNone,
		DeviceAuth: deviceAuthOf(p)}
	if !a.Valid {
		c := a.Code
		e.Code = &c
	}
	files := map[string][]byte{
		FileDeviceResponse:    p.DeviceResponse,
		FileSessionTranscript: p.Transcript.Bytes(),
		FileIACA:              pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.IACA.Raw}),
	}
	e.Args = []string{"verify", "--trust", FileIACA, "--session-transcript", FileSessionTranscript, "--at", at}
	uris := make([]string, 0, len(p.StatusLists))
	for u := range p.StatusLists {
		uris = append(uris, u)
	}
	slices.Sort(uris)
	for i, u := range uris {
		name := FileStatusList
		if i > 0 {
			name = fmt.Sprintf("status-list-%d.cwt", i+1)
		}
		files[name] = p.StatusLists[u]
		e.StatusLists = append(e.StatusLists, name)
		e.Args = append(e.Args, "--status-list", name)
	}
	if len(uris) > 0 {
		e.Status, e.StatusList = StatusFromList, e.StatusLists[0]
	}
	if p.EReaderKey != nil && e.DeviceAuth == "mac" {
		der, err := x509.MarshalPKCS8PrivateKey(p.EReaderKey)
		if err != nil {
			return "", fmt.Errorf("demo: encode reader key: %w", err)
		}
		files[FileReaderKey] = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		e.ReaderKey = FileReaderKey
		e.Args = append(e.Args, "--reader-key", FileReaderKey)
	}
	if p.DeviceRequest != nil {
		files[FileDeviceRequest] = p.DeviceRequest
		e.Request = FileDeviceRequest
		e.Args = append(e.Args, "--request", FileDeviceRequest)
	}
	e.Args = append(e.Args, "--json", FileDeviceResponse)
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return "", err
	}
	files[FileExpected] = append(b, '\n')
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			return "", fmt.Errorf("demo: artefacts: %w", err)
		}
	}
	return dir, nil
}

// deviceAuthOf says how the device authenticated ("signature", "mac", or
// "" when the response holds no document).
func deviceAuthOf(p *Presentation) string {
	if p.Result != nil && len(p.Result.Documents) == 0 {
		return ""
	}
	if p.MAC {
		return "mac"
	}
	return "signature"
}

// FileIndex lists the presentations of an artefacts directory.
const FileIndex = "index.json"

// IndexEntry is one line of index.json.
type IndexEntry struct {
	Dir         string  `json:"dir"`
	Step        int     `json:"step"`
	Description string  `json:"description"`
	Valid       bool    `json:"valid"`
	Code        *string `json:"code"`
}

// artefactsReadme explains the directory to whoever receives it.
const artefactsReadme = `Presentations recorded by mdoc-demo, one directory each, for outside verifiers.

Each directory holds device-response.cbor (the DeviceResponse as received),
session-transcript.cbor (SessionTranscriptBytes, tag 24), iaca.pem (the issuer
root), status-list.cwt (the Token Status List token served at the credential's
status uri when the verifier checked it), reader-ephemeral-key.pem when the
device authenticated with a MAC, device-request.cbor when the request was an
mdoc DeviceRequest, and expected.json: the verdict ("valid", and "code", the
stable error code, or null), the verification time "at", and "args", the
mdoc-verifier command line that must reach that verdict when run inside the
directory (exit 0 valid, 1 invalid):

  for d in */; do (cd "$d" && mdoc-verifier $(jq -r '.args|join(" ")' expected.json) >/dev/null; echo "$d exit $?"); done

index.json lists every directory with its expected verdict.

mdoc-demo --nfc adds apdu-trace.txt (every APDU of the tap, "> HEX" / "< HEX", PIN
bytes masked) to its NFC presentations, and writes the JPKI card taps as directories
with apdu-trace.txt and expected-tap.json (the counter's verdict: kind, ok, code, tries
left) instead of an mdoc presentation.
`

// writeIndex writes index.json and README.txt into root.
func writeIndex(root string, dirs []string) error {
	entries := []IndexEntry{}
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, FileExpected))
		if err != nil {
			return fmt.Errorf("demo: index: %w", err)
		}
		e, err := ParseExpected(b)
		if err != nil {
			return fmt.Errorf("demo: index %s: %w", d, err)
		}
		entries = append(entries, IndexEntry{Dir: filepath.Base(d), Step: e.Step, Description: e.Description, Valid: e.Valid, Code: e.Code})
	}
	b, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, FileIndex), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("demo: index: %w", err)
	}
	return os.WriteFile(filepath.Join(root, "README.txt"), []byte(artefactsReadme), 0o644)
}
