package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

// Options configure Run. Zero values are the embedded defaults.
type Options struct {
	// Out receives the narrated transcript; nil discards it.
	Out io.Writer
	// ArtifactsDir, when set, receives one directory per mdoc presentation
	// (see Expected); it is created if needed.
	ArtifactsDir string
	// WorkDir holds the issuer data directory, the JPKI test CA, the card
	// and the wallets; "" means a new temporary directory, removed at the
	// end unless Keep is set.
	WorkDir string
	Keep    bool
	// Logger receives the components' logs; nil discards them (the
	// transcript is the output).
	Logger *slog.Logger
	// Timeout bounds the whole story; zero means DefaultTimeout.
	Timeout time.Duration
	// NFC plays the counter story over PC/SC instead (taps on a reader
	// driven through pcscd, the phone and the card served by the vpcd
	// driver). NFCReader names the PC/SC reader ("" = the first vpcd
	// reader) and VPCDAddr the driver (vpcd.DefaultAddr when empty).
	NFC       bool
	NFCReader string
	VPCDAddr  string
}

// DefaultTimeout bounds a run: the story takes seconds; a hang is a bug.
const DefaultTimeout = 2 * time.Minute

// Check is one verdict: what was checked, what was expected, what happened.
type Check struct {
	What     string `json:"what"`
	Expected string `json:"expected"`
	Got      string `json:"got"`
	OK       bool   `json:"ok"`
}

// Step is one step of the story and its verdicts.
type Step struct {
	N      int     `json:"n"`
	Title  string  `json:"title"`
	Checks []Check `json:"checks"`
	// Error is set when the step could not be played to the end.
	Error string `json:"error,omitempty"`
}

// OK reports whether every check of the step met its expectation.
func (s *Step) OK() bool {
	if s.Error != "" || len(s.Checks) == 0 {
		return false
	}
	for _, c := range s.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// Report is the outcome of Run.
type Report struct {
	// Planned is how many steps the story has.
	Planned   int           `json:"planned"`
	Steps     []*Step       `json:"steps"`
	Artifacts []string      `json:"artifacts,omitempty"`
	WorkDir   string        `json:"workDir,omitempty"` // set when kept
	Duration  time.Duration `json:"duration"`
}

// OK reports whether all ten steps ran and met their expectations.
func (r *Report) OK() bool {
	if r.Planned == 0 || len(r.Steps) != r.Planned {
		return false
	}
	for _, s := range r.Steps {
		if !s.OK() {
			return false
		}
	}
	return true
}

// Step returns step n, or nil when it did not run.
func (r *Report) Step(n int) *Step {
	for _, s := range r.Steps {
		if s.N == n {
			return s
		}
	}
	return nil
}

// ErrVerdict is returned (wrapped) by Run when a step's verdict is not the
// expected one.
var ErrVerdict = errors.New("demo: a verdict differs from the expected one")

// storyStep is one step to play.
type storyStep struct {
	title string
	play  func(e *env, ctx context.Context, s *Step) error
}

// story is the mission, in order (the ten steps).
var story = []storyStep{
	{"The local CA (J-LIS stand-in) makes a My Number Card; an android and an apple wallet exist", (*env).step1},
	{"The android wallet enrols from the card: card signature, attestation, OpenID4VCI", (*env).step2},
	{"A shop checks age_over_20 in person: QR engagement, session encryption, ReaderAuth", (*env).step3},
	{"A web shop checks the age online: OpenID4VP 1.0, then ISO/IEC 18013-7 Annex C", (*env).step4},
	{"A clinic checks insurance qualification: by mdoc, by the JPKI auth certificate; a shop asking for it gets nothing", (*env).step5},
	{"A web site logs in with the JPKI user-authentication certificate", (*env).step6},
	{"Device change to the apple wallet: the android credentials are revoked and deleted; a replayed response is rejected", (*env).step7},
	{"The phone is lost: support suspends, the verifier says suspended; found: resumed, valid", (*env).step8},
	{"Address change revokes the card certificate: linked revocation of the phone credentials", (*env).step9},
	{"A model on the emergency block-list is refused enrolment, with its reason", (*env).step10},
}

// Run plays the story and narrates it to o.Out. It returns the report and
// an error wrapping ErrVerdict when any verdict is not the expected one, or
// another error when the environment could not be set up.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	start := time.Now()
	n := &narrator{w: o.Out}
	rep := &Report{}
	n.title("mdoc-demo: the My Number Card on smartphones, end to end, in one process")
	e, err := newEnv(ctx, o, n)
	if e != nil {
		defer func() {
			e.close()
			if o.Keep {
				rep.WorkDir = e.work
			}
		}()
	}
	if err != nil {
		return rep, fmt.Errorf("demo: set up: %w", err)
	}
	steps := story
	if o.NFC {
		steps = nfcStory
		n.line("the counter story over PC/SC: NFC taps on a reader driven through pcscd, the phone and the card served by the vpcd driver")
	}
	rep.Planned = len(steps)
	for i, st := range steps {
		s := &Step{N: i + 1, Title: st.title}
		rep.Steps = append(rep.Steps, s)
		n.step(s)
		e.cur = s
		if err := st.play(e, ctx, s); err != nil {
			s.Error = err.Error()
			n.failure(err)
		}
		n.stepEnd(s)
		if s.Error != "" {
			// Later steps build on this one: stop rather than report
			// verdicts that mean nothing.
			n.line("  the story stops here: later steps depend on this one")
			break
		}
	}
	rep.Artifacts = e.artifacts
	if o.ArtifactsDir != "" && len(e.artifacts) > 0 {
		if err := writeIndex(o.ArtifactsDir, e.artifacts); err != nil {
			return rep, err
		}
	}
	rep.Duration = time.Since(start)
	n.summary(rep, o.ArtifactsDir)
	if !rep.OK() {
		return rep, fmt.Errorf("%w (%s)", ErrVerdict, failedSteps(rep))
	}
	return rep, nil
}

func failedSteps(r *Report) string {
	var f []string
	for _, s := range r.Steps {
		if !s.OK() {
			f = append(f, fmt.Sprintf("step %d", s.N))
		}
	}
	if len(r.Steps) < r.Planned {
		f = append(f, fmt.Sprintf("steps %d–%d not run", len(r.Steps)+1, r.Planned))
	}
	return strings.Join(f, ", ")
}

// narrator writes the transcript.
type narrator struct{ w io.Writer }

func (n *narrator) line(format string, args ...any) { fmt.Fprintf(n.w, format+"\n", args...) }

func (n *narrator) title(s string) {
	n.line("%s\n%s", s, strings.Repeat("═", min(len([]rune(s)), 78)))
}

func (n *narrator) step(s *Step) {
	n.line("\nStep %d. %s", s.N, s.Title)
}

// info narrates what happens.
func (n *narrator) info(format string, args ...any) { n.line("    · "+format, args...) }

func (n *narrator) check(c Check) {
	if c.OK {
		n.line("  ✔ %s: %s (as expected)", c.What, c.Got)
		return
	}
	n.line("  ✘ %s: got %s, expected %s", c.What, c.Got, c.Expected)
}

func (n *narrator) failure(err error) { n.line("  ✘ could not continue: %v", err) }

func (n *narrator) stepEnd(s *Step) {
	if s.OK() {
		n.line("  → step %d: as expected", s.N)
	} else {
		n.line("  → step %d: NOT as expected", s.N)
	}
}

func (n *narrator) summary(r *Report, artifacts string) {
	ok, checks := 0, 0
	for _, s := range r.Steps {
		checks += len(s.Checks)
		if s.OK() {
			ok++
		}
	}
	n.line("")
	if r.OK() {
		n.line("Verdict: ✔ all %d steps as expected (%d checks) in %.1f s", r.Planned, checks, r.Duration.Seconds())
	} else {
		n.line("Verdict: ✘ %d of %d steps as expected (%s) in %.1f s", ok, r.Planned, failedSteps(r), r.Duration.Seconds())
	}
	if artifacts != "" && len(r.Artifacts) > 0 {
		n.line("Artefacts: %d presentations in %s; check each with the command in its expected.json, e.g.", len(r.Artifacts), artifacts)
		n.line("  (cd %s && mdoc-verifier verify --trust iaca.pem --session-transcript session-transcript.cbor --at <at> --status-list status-list.cwt --json device-response.cbor)", r.Artifacts[0])
	}
}

// record adds a verdict to the current step and narrates it.
func (e *env) record(what, expected, got string) bool {
	c := Check{What: what, Expected: expected, Got: got, OK: expected == got}
	e.cur.Checks = append(e.cur.Checks, c)
	e.n.check(c)
	return c.OK
}

// recordBool is record for yes/no facts.
func (e *env) recordBool(what string, expected, got bool) bool {
	return e.record(what, yesNo(expected), yesNo(got))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// removeAll removes a temporary work directory.
func removeAll(dir string) { _ = os.RemoveAll(dir) }

// WriteReportJSON writes r as indented JSON.
func WriteReportJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
