package testenv

import (
	"context"
	"path/filepath"
	"testing"
)

// TestStartRetrying: a server that finds its port taken is started again
// on new ports; one that starts is returned; one that fails otherwise
// fails at once. The servers are shell scripts that say what each case's
// server says.
func TestStartRetrying(t *testing.T) {
	dir := t.TempDir()
	attempts := 0
	p := startRetrying(t, func() *process {
		attempts++
		script := "echo 'Error: Address already in use'; exit 1"
		if attempts == 3 {
			script = "echo 'server version 1 running'; exec sleep 60"
		}
		p := &process{name: "fake", bin: "sh", args: []string{"-c", script}, logPath: filepath.Join(dir, "fake.log")}
		p.ready = p.logReady(" running", func(context.Context) error { return nil })
		return p
	})
	defer p.stop(t)
	if attempts != 3 {
		t.Errorf("%d attempts, want 3", attempts)
	}
	// The first attempts' "running"-less log does not count for the third,
	// and the third's does not make an old start look ready.
	if !p.logHas("running") || p.logHas("already in use") {
		t.Errorf("logHas reads the wrong part of the log")
	}
}
