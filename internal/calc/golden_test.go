package calc

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*/expected from the commands' output")

// commands maps the first word of a golden case's args to its command.
var commands = map[string]func(args []string, stdout, stderr io.Writer) int{
	"aqi":   AQI,
	"water": Water,
	"noise": Noise,
}

// TestGolden runs each case in testdata: testdata/<case>/args holds the
// command line after "envmon", words separated by white space, and
// testdata/<case>/expected the exit code, standard output and standard
// error it must produce. A new case is a new folder; run
// `go test ./internal/calc -run Golden -update` to write its expected
// file, and read it before committing.
func TestGolden(t *testing.T) {
	t.Parallel()
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "args"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no golden cases in testdata")
	}
	for _, argsFile := range dirs {
		dir := filepath.Dir(argsFile)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(argsFile)
			if err != nil {
				t.Fatal(err)
			}
			words := strings.Fields(string(raw))
			if len(words) == 0 {
				t.Fatalf("%s is empty", argsFile)
			}
			cmd, ok := commands[words[0]]
			if !ok {
				t.Fatalf("%s: unknown command %q", argsFile, words[0])
			}
			var stdout, stderr bytes.Buffer
			code := cmd(words[1:], &stdout, &stderr)
			got := fmt.Sprintf("exit %d\n-- stdout --\n%s-- stderr --\n%s", code, stdout.String(), stderr.String())
			expectedFile := filepath.Join(dir, "expected")
			if *update {
				if err := os.WriteFile(expectedFile, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(expectedFile)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("envmon %s\n--- got\n%s\n--- want\n%s", strings.Join(words, " "), got, want)
			}
		})
	}
}
