package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// testProgram has a leaf with a required argument and flag, a leaf that
// fails, and a nested group, which is all the shapes the binaries use.
func testProgram() *Program {
	return &Program{
		Root: func() *cobra.Command {
			echo := &cobra.Command{Use: "echo WORD", Short: "print a word", Args: cobra.ExactArgs(1),
				RunE: func(c *cobra.Command, args []string) error {
					n, _ := c.Flags().GetInt("times")
					if n < 0 {
						return Usagef("--times must not be negative")
					}
					c.Println(strings.Repeat(args[0], n))
					return nil
				}}
			echo.Flags().Int("times", 1, "repetitions")
			fail := &cobra.Command{Use: "fail", Short: "fail", Args: cobra.NoArgs,
				RunE: func(*cobra.Command, []string) error { return errors.New("it broke") }}
			fail.Flags().Bool("json", false, "JSON")
			ask := &cobra.Command{Use: "ask", Short: "ask", RunE: func(c *cobra.Command, _ []string) error {
				if !IsTerminal(c.InOrStdin()) {
					return NeedInput("a PIN", "--pin")
				}
				return nil
			}}
			return NewRoot("prog", "a test program", "", echo, fail, Group(&cobra.Command{Use: "grp", Short: "a group"}, ask))
		},
		Code: func(err error) string {
			if strings.Contains(err.Error(), "broke") {
				return "broken"
			}
			return ""
		},
		Hint: func(code string) string { return map[string]string{"broken": "fix it"}[code] },
	}
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		code      int
		out, errs string
		notInErrs string
	}{
		{[]string{"echo", "hi", "--times", "2"}, 0, "hihi", "", ""},
		{[]string{}, 2, "", "Usage:\n  prog [command]\n\nAvailable Commands", ""},
		{[]string{}, 2, "", "prog: a command is needed", ""},
		{[]string{"bogus"}, 2, "", `unknown command "bogus"`, ""},
		{[]string{"echo"}, 2, "", "accepts 1 arg", ""},
		{[]string{"echo", "a", "b"}, 2, "", "accepts 1 arg", ""},
		{[]string{"echo", "a", "--nope"}, 2, "", "unknown flag: --nope", ""},
		{[]string{"echo", "a", "--times", "x"}, 2, "", "invalid argument", ""},
		{[]string{"echo", "a", "--times", "-1"}, 2, "", "Run 'prog echo --help' for usage.", ""},
		{[]string{"fail"}, 1, "", "prog fail: it broke\n  → fix it (code broken)", "--help"},
		{[]string{"grp"}, 2, "", "prog grp: a command is needed", ""},
		{[]string{"grp", "nope"}, 2, "", `unknown command "nope" for "prog grp"`, ""},
		{[]string{"grp", "ask"}, 2, "", "stdin is not a terminal: pass --pin", ""},
		{[]string{"echo", "--help"}, 0, "Usage:\n  prog echo WORD", "", ""},
		{[]string{"completion", "bash"}, 0, "bash completion", "", ""},
	} {
		var out, errs bytes.Buffer
		code := testProgram().Run(context.Background(), tc.args, strings.NewReader(""), &out, &errs)
		if code != tc.code || !strings.Contains(out.String(), tc.out) || !strings.Contains(errs.String(), tc.errs) ||
			(tc.notInErrs != "" && strings.Contains(errs.String(), tc.notInErrs)) {
			t.Errorf("%v: exit %d (want %d)\nstdout %q\nstderr %q", tc.args, code, tc.code, out.String(), errs.String())
		}
	}
}

func TestJSONError(t *testing.T) {
	var out, errs bytes.Buffer
	if code := testProgram().Run(context.Background(), []string{"fail", "--json"}, nil, &out, &errs); code != 1 {
		t.Fatalf("exit %d", code)
	}
	var v struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(errs.Bytes(), &v); err != nil || v.Error.Code != "broken" || v.Error.Message != "it broke" || out.Len() != 0 {
		t.Fatalf("stderr %q stdout %q: %v", errs.String(), out.String(), err)
	}
	// A binary may keep its own shape and stream.
	p := testProgram()
	p.JSONError = func(stdout, _ io.Writer, code string, err error) { fmt.Fprintf(stdout, "%s|%v", code, err) }
	out.Reset()
	errs.Reset()
	if code := p.Run(context.Background(), []string{"fail", "--json"}, nil, &out, &errs); code != 1 || out.String() != "broken|it broke" || errs.Len() != 0 {
		t.Fatalf("custom JSON error: exit %d %q %q", code, out.String(), errs.String())
	}
}

func TestExitCodeAndIsTerminal(t *testing.T) {
	if ExitCode(nil) != 0 || ExitCode(errors.New("x")) != 1 || ExitCode(Usagef("x")) != 2 ||
		ExitCode(errors.Join(errors.New("ctx"), NeedInput("a", "--b"))) != 2 || ExitCode(Fail("c", errors.New("x"))) != 1 {
		t.Fatal("ExitCode")
	}
	// /dev/null is a character device but no terminal: the bug this check replaces.
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) || IsTerminal(strings.NewReader("")) {
		t.Fatal("IsTerminal true for /dev/null or a reader")
	}
}

func TestDataDir(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/xdg")
	if d, err := DataDir("issuer"); err != nil || d != "/xdg/mnc/issuer" {
		t.Fatalf("XDG: %q %v", d, err)
	}
	// XDG says a relative XDG_DATA_HOME is invalid and must be ignored.
	t.Setenv("XDG_DATA_HOME", "rel")
	t.Setenv("HOME", "/home/u")
	if d, err := DataDir("verifier"); err != nil || d != "/home/u/.local/share/mnc/verifier" {
		t.Fatalf("HOME: %q %v", d, err)
	}
}

func TestLint(t *testing.T) {
	root := testProgram().Root()
	got := Lint(root)
	// The test program is terse on purpose: every shortfall is reported.
	for _, want := range []string{"prog echo: no description (Long)", "prog echo: no example (Example)", "prog grp: no description (Long)"} {
		if !slices.Contains(got, want) {
			t.Errorf("Lint lacks %q: %v", want, got)
		}
	}
	ok := &cobra.Command{Use: "x", Short: "s", Long: "l", Example: "  x"}
	ok.Flags().Bool("quiet", false, "")
	if got := Lint(NewRoot("p", "s", "l", ok)); len(got) != 1 || !strings.Contains(got[0], "--quiet") {
		t.Errorf("Lint: %v", got)
	}
}

// TestListenFlag: servers take --listen; --addr still works as a
// deprecated alias, and Lint catches a server that names it --addr.
func TestListenFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "127.0.0.1:9"},
		{[]string{"--listen", "127.0.0.1:1"}, "127.0.0.1:1"},
		{[]string{"--addr", "127.0.0.1:2"}, "127.0.0.1:2"},
	} {
		var got string
		c := &cobra.Command{Use: "serve", Short: "s", Long: "l", Example: "  serve", RunE: func(*cobra.Command, []string) error { return nil }}
		ListenFlag(c.Flags(), &got, "127.0.0.1:9")
		var errb bytes.Buffer
		c.SetErr(&errb)
		c.Flags().SetOutput(&errb) // where pflag warns of a deprecated flag
		c.SetArgs(tc.args)
		if err := c.Execute(); err != nil || got != tc.want {
			t.Errorf("%v: %q %v, want %q", tc.args, got, err, tc.want)
		}
		if deprecated := slices.Contains(tc.args, "--addr"); deprecated != strings.Contains(errb.String(), "use --listen") {
			t.Errorf("%v: warning %q", tc.args, errb.String())
		}
		if p := Lint(NewRoot("p", "s", "l", c)); len(p) != 0 {
			t.Errorf("Lint: %v", p)
		}
	}
	bad := &cobra.Command{Use: "serve", Short: "s", Long: "l", Example: "  serve"}
	bad.Flags().String("addr", "", "listen address")
	if p := Lint(NewRoot("p", "s", "l", bad)); len(p) != 1 || !strings.Contains(p[0], "--listen") {
		t.Errorf("Lint of --addr: %v", p)
	}
}
