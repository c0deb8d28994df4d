// Package cli holds the command-line conventions that every binary of the
// project shares, so that the five of them behave alike without five
// copies: exit statuses (0 success, 1 a failed operation or check, 2 a
// usage error), errors with stable codes rendered as text or JSON on
// stderr, a terminal check for prompts, and the cobra wiring that tells a
// usage error from a failure.
//
// A binary builds its root command with NewRoot, passing one constructor
// per subcommand, and runs it with Program.Run (tests) or Main (main.go).
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// Exit statuses, the contract of every binary.
const (
	ExitOK      = 0
	ExitFailure = 1 // the operation ran and failed, or a check did not hold
	ExitUsage   = 2 // the command line was wrong: nothing was done
)

// Stable error codes of this package; binaries add their own.
const (
	CodeUsage         = "usage"          // unknown command or flag, bad argument count or value
	CodeInputRequired = "input_required" // a prompt was needed but stdin is not a terminal
	CodeError         = "error"          // a failure without a more specific code
)

// Error is an error with an exit status and a stable code. Commands return
// it (through Usagef, NeedInput or Fail) when the default — exit 1 with
// the Program's code mapping — is not what they mean.
type Error struct {
	Exit int    // process exit status
	Code string // stable, machine-readable code
	Err  error
	// Silent says the command already told the user (a verdict printed
	// on stdout): only the exit status remains to be given.
	Silent bool
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Usagef reports a command-line mistake that the flag parser cannot see
// (flags that exclude each other, a value outside an enumeration).
func Usagef(format string, args ...any) error {
	return &Error{Exit: ExitUsage, Code: CodeUsage, Err: fmt.Errorf(format, args...)}
}

// Fail wraps err as a failure (exit 1) with a stable code.
func Fail(code string, err error) error {
	return &Error{Exit: ExitFailure, Code: code, Err: err}
}

// NeedInput is the error for a question that would be asked at a prompt
// when there is no terminal to ask on: it names the flag that answers it.
// It is a usage error: the command line lacks an input, as with a missing
// required flag, and nothing was attempted.
func NeedInput(what, flag string) error {
	return &Error{Exit: ExitUsage, Code: CodeInputRequired,
		Err: fmt.Errorf("%s is needed and stdin is not a terminal: pass %s", what, flag)}
}

// ExitCode is the exit status for err: 0 for nil, the status of the first
// *Error in its chain, else 1.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Exit
	}
	return ExitFailure
}

// IsTerminal reports whether r is an interactive terminal. A character
// device is not enough: /dev/null is one, and a command run with stdin from
// /dev/null (CI, cron, nohup) must not treat end-of-file as an answer.
func IsTerminal(r io.Reader) bool {
	f, ok := r.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// WriteJSONError renders {"error":{"code":…,"message":…}}, the default JSON
// error shape, as one line.
func WriteJSONError(w io.Writer, code string, err error) {
	var v struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	v.Error.Code, v.Error.Message = code, err.Error()
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// NewRoot makes a binary's root command. Each subcommand comes from its own
// constructor, so adding one is one more argument here. The root itself
// runs nothing: without a subcommand it prints its help to stderr and is a
// usage error, as an unknown subcommand is.
func NewRoot(name, short, long string, subs ...*cobra.Command) *cobra.Command {
	root := &cobra.Command{
		Use:   name,
		Short: short,
		Long:  long,
		// Errors and usage are printed once, by Program.Run, with the
		// exit status that goes with them.
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	Group(root, subs...)
	return root
}

// Group makes cmd a command that only holds subcommands: run bare it prints
// its help to stderr and is a usage error; run with an argument that is no
// subcommand it is a usage error too. Cobra's default for such a command is
// to print help and succeed, which would hide a typo behind exit 0.
func Group(cmd *cobra.Command, subs ...*cobra.Command) *cobra.Command {
	cmd.AddCommand(subs...)
	// The RunE below makes cobra call the group runnable, and its usage
	// would then offer "CMD [flags]" as if the group did something alone.
	// The template (inherited by the subcommands) leaves that line out for
	// groups only.
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[groupAnnotation] = "true"
	if t := cmd.UsageTemplate(); strings.HasPrefix(t, groupUsagePrefix) {
		cmd.SetUsageTemplate(groupUsageReplacement + strings.TrimPrefix(t, groupUsagePrefix))
	}
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return Usagef("unknown command %q for %q", args[0], c.CommandPath())
		}
		c.SetOut(c.ErrOrStderr())
		_ = c.Help()
		return Usagef("a command is needed")
	}
	return cmd
}

// groupUsagePrefix is the start of cobra's usage template that prints the
// use line of a runnable command; groupUsageReplacement skips it for
// commands that Group made.
const (
	groupAnnotation       = "mnc-cli-group"
	groupUsagePrefix      = "Usage:{{if .Runnable}}\n  {{.UseLine}}{{end}}"
	groupUsageReplacement = `Usage:{{if and .Runnable (ne (index .Annotations "` + groupAnnotation + `") "true")}}
  {{.UseLine}}{{end}}`
)

// Program runs a root command with the shared conventions.
type Program struct {
	// Root builds the command tree. Run wraps the commands it returns, so
	// it needs a fresh tree per run: a constructor, not a value.
	Root func() *cobra.Command
	// Code maps an error that carries no *Error to a stable code (a
	// domain package's CodeOf); nil or "" gives CodeError.
	Code func(error) string
	// Hint turns a code into advice printed under a text error; optional.
	Hint func(code string) string
	// JSONError renders an error of a command run with --json. Nil writes
	// WriteJSONError to stderr; a binary with an older published shape
	// (wallet-sim) keeps it here.
	JSONError func(stdout, stderr io.Writer, code string, err error)
}

// Run executes args and returns the exit status. Help goes to stdout,
// errors to stderr.
func (p *Program) Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := p.Root()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	// pflag warns of a deprecated flag on its own output, os.Stderr
	// unless told: the command's stderr, like every other message.
	var flagOutput func(c *cobra.Command)
	flagOutput = func(c *cobra.Command) {
		c.Flags().SetOutput(stderr)
		for _, s := range c.Commands() {
			flagOutput(s)
		}
	}
	flagOutput(root)
	// Cobra reports its own refusals (unknown command or flag, a bad flag
	// value, wrong argument count, a missing required flag) as plain
	// errors before a command's RunE starts. Marking the start of RunE
	// tells those usage errors from failures of the command itself.
	ran := false
	markRun(root, &ran)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	var e *Error
	if !errors.As(err, &e) {
		if ran {
			e = &Error{Exit: ExitFailure, Err: err}
		} else {
			e = &Error{Exit: ExitUsage, Code: CodeUsage, Err: err}
		}
	}
	code := e.Code
	if code == "" && p.Code != nil {
		code = p.Code(err)
	}
	if code == "" {
		code = CodeError
	}
	if e.Silent {
		return e.Exit
	}
	if cmd == nil {
		cmd = root
	}
	if jsonRequested(cmd) {
		if p.JSONError != nil {
			p.JSONError(stdout, stderr, code, err)
		} else {
			WriteJSONError(stderr, code, err)
		}
		return e.Exit
	}
	fmt.Fprintf(stderr, "%s: %v\n", cmd.CommandPath(), err)
	if p.Hint != nil {
		if h := p.Hint(code); h != "" {
			fmt.Fprintf(stderr, "  → %s (code %s)\n", h, code)
		}
	}
	if e.Exit == ExitUsage {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return e.Exit
}

func markRun(c *cobra.Command, ran *bool) {
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			*ran = true
			return run(cmd, args)
		}
	}
	for _, s := range c.Commands() {
		markRun(s, ran)
	}
}

// jsonRequested reports whether the command that ran was given --json.
func jsonRequested(cmd *cobra.Command) bool {
	f := cmd.Flags().Lookup("json")
	return f != nil && f.Value.Type() == "bool" && f.Value.String() == "true"
}

// Main runs p on the process's arguments and streams, cancelling the
// context on SIGINT or SIGTERM, and exits with the status. It is all a
// main function does.
func Main(p *Program) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := p.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// DataDir is the default data directory of a component (the issuer, the
// verifier): $XDG_DATA_HOME/mnc/NAME, else ~/.local/share/mnc/NAME (the XDG
// base directory default). It keeps keys and tokens out of whatever
// directory the command happens to run in — a repository checkout, often.
func DataDir(name string) (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "mnc", name), nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no default data directory (set --data-dir, XDG_DATA_HOME or HOME): %w", err)
	}
	return filepath.Join(h, ".local", "share", "mnc", name), nil
}

// DefaultDataDir is DataDir for a flag default; when no home directory is
// known it falls back to a relative directory named after the component,
// which the flag's help and the command's start-up line then show.
func DefaultDataDir(name string) string {
	d, err := DataDir(name)
	if err != nil {
		return "mnc-" + name + "-data"
	}
	return d
}

// ListenFlag defines --listen, the address a server listens on, under the
// same name on every server. --addr, the name the verifier first had, is
// kept as a deprecated alias (hidden; cobra warns when it is used), so
// that scripts written for it keep working.
func ListenFlag(f *pflag.FlagSet, p *string, def string) {
	f.StringVar(p, "listen", def, "listen address (host:port; port 0 picks a free one)")
	f.StringVar(p, "addr", def, "listen address (deprecated: use --listen)")
	_ = f.MarkDeprecated("addr", "use --listen")
}

// Lint lists what the project's command-line style asks of every command
// and root's tree lacks: a one-line summary, a longer description and an
// example, and for a command that takes flags, flags with help texts and
// a listen address named --listen. Each
// binary's tests call it, so that a command added later meets the style too.
func Lint(root *cobra.Command) []string {
	var problems []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() == "help" || c.Name() == "completion" || c.Hidden {
			return
		}
		path := c.CommandPath()
		if c.Short == "" {
			problems = append(problems, path+": no one-line summary (Short)")
		}
		if c.Long == "" {
			problems = append(problems, path+": no description (Long)")
		}
		if c.Example == "" && c.HasParent() {
			problems = append(problems, path+": no example (Example)")
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Usage == "" {
				problems = append(problems, path+": flag --"+f.Name+" has no help text")
			}
			if f.Name == "addr" && f.Deprecated == "" {
				problems = append(problems, path+": flag --addr: a server's listen address is --listen (ListenFlag)")
			}
		})
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	return problems
}
