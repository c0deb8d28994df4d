package e2e

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseWalkthrough(t *testing.T) {
	readme := "intro\n```sh\nnot-in-block\n```\n" + StartMarker + "\n```sh\n" +
		"# a comment\n" +
		"srv serve --dir 'a b' &\n" +
		"\n" +
		"tool make --name \"山田　太郎\" \\\n    --x=\"q\\\"uote\" plain\\ space # trailing comment\n" +
		"# expect: made\n" +
		"# expect: twice\n" +
		"```\n" + EndMarker + "\n"
	steps, err := ParseWalkthrough(readme)
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{
		{Line: 8, Args: []string{"srv", "serve", "--dir", "a b"}, Background: true},
		{Line: 10, Args: []string{"tool", "make", "--name", "山田　太郎", `--x=q"uote`, "plain space"}, Expect: []string{"made", "twice"}},
	}
	if !reflect.DeepEqual(steps, want) {
		t.Fatalf("steps\n%#v\nwant\n%#v", steps, want)
	}
}

// TestParseWalkthroughRefusesShell: what a shell would do differently
// from the test is an error, never skipped.
func TestParseWalkthroughRefusesShell(t *testing.T) {
	for _, cmd := range []string{
		"a | b", "a > f", "a; b", "echo $HOME", `echo "$HOME"`, "a $(b)", "a & b", "echo 'open", `echo "open`, "ls *.pem", "cd ~",
	} {
		readme := StartMarker + "\n```sh\n" + cmd + "\n```\n" + EndMarker
		if _, err := ParseWalkthrough(readme); err == nil {
			t.Errorf("%q accepted", cmd)
		}
	}
	for _, readme := range []string{"no markers", StartMarker + "\n```sh\n# expect: x\n```\n" + EndMarker, StartMarker + "\n```sh\na \\\n```\n" + EndMarker} {
		if _, err := ParseWalkthrough(readme); err == nil {
			t.Errorf("%q accepted", readme)
		}
	}
	if _, err := ParseWalkthrough(StartMarker + "\n```sh\n```\n" + EndMarker); err == nil || !strings.Contains(err.Error(), "no commands") {
		t.Errorf("empty walkthrough: %v", err)
	}
}
