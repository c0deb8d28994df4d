package main

import (
	"testing"

	"github.com/mynumber-mdoc/mnc/internal/cli"
)

// TestCommandStyle: the command has a summary, a description, an example
// and documented flags (STYLE.md, "Command-line tools").
func TestCommandStyle(t *testing.T) {
	for _, p := range cli.Lint(newRootCmd()) {
		t.Error(p)
	}
}
