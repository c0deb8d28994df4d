// Package e2e runs the README's hands-on walkthrough against the built
// binaries, so that the documented path cannot drift from what the
// programs do. This file reads the walkthrough; walkthrough_test.go runs it.
package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
)

// Markers around the walkthrough's fenced block in README.md.
const (
	StartMarker = "<!-- walkthrough:start -->"
	EndMarker   = "<!-- walkthrough:end -->"
	expectTag   = "# expect:"
)

// Step is one command of the walkthrough.
type Step struct {
	Line       int      // line in the README where the command starts
	Args       []string // the words, quotes removed; Args[0] is the program
	Background bool     // the command ended with &: it keeps running
	Expect     []string // texts its stdout must contain (# expect: lines)
}

func (s Step) String() string {
	return fmt.Sprintf("README line %d: %s", s.Line, strings.Join(s.Args, " "))
}

// ParseWalkthrough extracts the steps between the markers of a README. It
// understands only what a reader can type into any POSIX shell and what
// the test can run without one: words, '…' and "…" quoting, backslash
// escapes and line continuations, a trailing &, and # comments. Anything
// else — pipes, redirections, variables, command substitution — is an
// error, so the README cannot grow a step that the test would silently
// skip or run differently from a shell.
func ParseWalkthrough(readme string) ([]Step, error) {
	start := strings.Index(readme, StartMarker)
	end := strings.Index(readme, EndMarker)
	if start < 0 || end < start {
		return nil, errors.New("walkthrough markers not found")
	}
	startLine := strings.Count(readme[:start], "\n") + 1
	block := readme[start+len(StartMarker) : end]
	sc := bufio.NewScanner(strings.NewReader(block))
	var steps []Step
	var pending string
	pendingLine := 0
	inFence := false
	for n := startLine; sc.Scan(); n++ {
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
			continue
		}
		if !inFence {
			continue
		}
		if pending == "" {
			if strings.HasPrefix(line, expectTag) {
				if len(steps) == 0 {
					return nil, fmt.Errorf("README line %d: %s before any command", n, expectTag)
				}
				steps[len(steps)-1].Expect = append(steps[len(steps)-1].Expect, strings.TrimSpace(strings.TrimPrefix(line, expectTag)))
				continue
			}
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			pendingLine = n
		}
		if strings.HasSuffix(line, "\\") {
			pending += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		pending += line
		st, err := parseCommand(pending)
		if err != nil {
			return nil, fmt.Errorf("README line %d: %w", pendingLine, err)
		}
		st.Line = pendingLine
		steps = append(steps, st)
		pending = ""
	}
	if pending != "" {
		return nil, fmt.Errorf("README line %d: unfinished command", pendingLine)
	}
	if len(steps) == 0 {
		return nil, errors.New("walkthrough has no commands")
	}
	return steps, nil
}

// parseCommand splits one command line into words.
func parseCommand(s string) (Step, error) {
	var st Step
	var word strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			st.Args = append(st.Args, word.String())
			word.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			flush()
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return st, errors.New("unterminated '")
			}
			word.WriteString(s[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case c == '"':
			inWord = true
			for i++; ; i++ {
				if i >= len(s) {
					return st, errors.New(`unterminated "`)
				}
				if s[i] == '"' {
					break
				}
				if strings.IndexByte("$`", s[i]) >= 0 {
					return st, fmt.Errorf("%q inside double quotes is shell expansion, which the walkthrough does not use", s[i])
				}
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				word.WriteByte(s[i])
			}
		case c == '\\':
			if i+1 >= len(s) {
				return st, errors.New("trailing backslash")
			}
			i++
			word.WriteByte(s[i])
			inWord = true
		case c == '&':
			if strings.TrimSpace(s[i+1:]) != "" {
				return st, errors.New("& only at the end of a command")
			}
			flush()
			st.Background = true
			i = len(s)
		case c == '#' && !inWord:
			i = len(s) // a comment to the end of the line
		case strings.IndexByte("|;<>()$`*?[]{}~", c) >= 0:
			return st, fmt.Errorf("%q is shell syntax the walkthrough does not use", c)
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	flush()
	if len(st.Args) == 0 {
		return st, errors.New("empty command")
	}
	return st, nil
}
