package cli

import (
	"testing"

	icli "github.com/mynumber-mdoc/mnc/internal/cli"
)

// TestCommandStyle: every command has a summary, a description, an
// example and documented flags (STYLE.md, "Command-line tools").
func TestCommandStyle(t *testing.T) {
	for _, p := range icli.Lint(newRootCmd(&cmd{env: Env{Getenv: func(string) string { return "" }}})) {
		t.Error(p)
	}
}
