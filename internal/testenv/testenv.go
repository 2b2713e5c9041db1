// Package testenv starts real servers (InfluxDB, Mosquitto) as processes for
// integration tests, on free loopback ports in a test's temporary directory.
//
// Each server is stopped when its test ends, and can be stopped and started
// again in between (from the test's goroutine) to test faults. The helpers
// skip the test under go test -short, since starting servers is what
// integration tests do; without -short a missing binary fails the test,
// telling to run make test, which installs it.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
//
// Deprecated: another process can take the port between FreePort and its
// use. Listen on 127.0.0.1:0 and pass the listener, or let the server
// listen on 127.0.0.1:0 and read its address back; servers run as
// processes that must be told a port are started by this package, which
// retries when it loses the port.
func FreePort(t testing.TB) int {
	t.Helper()
	return freePort(t)
}

// freePort returns a port that was free a moment ago, for a server run as a
// process that must be told its port; startRetrying picks again if the
// server finds it taken.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// portAttempts is how many sets of ports startRetrying tries.
const portAttempts = 5

// startRetrying starts the server that newProc returns for freshly picked
// ports, and picks again when the server could not bind one of them
// because something else took it after it was picked.
func startRetrying(t testing.TB, newProc func() *process) *process {
	t.Helper()
	for attempt := 1; ; attempt++ {
		p := newProc()
		err := p.tryStart()
		if err == nil {
			return p
		}
		if attempt < portAttempts && p.logHas("ddress already in use") {
			t.Logf("start %s: a port was taken meanwhile; picking others (attempt %d)", p.name, attempt)
			continue
		}
		t.Fatal(err)
	}
}

// skipShort skips t under -short.
func skipShort(t testing.TB, server string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("skipping integration test with a real %s in -short mode", server)
	}
}

// lookBinary returns the path of a server binary: $env if set, else the
// first candidate that exists, where a candidate without a slash is looked
// up in PATH. It fails t if there is none.
func lookBinary(t testing.TB, name, env string, candidates ...string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			missing(t, fmt.Sprintf("%s=%s: %v", env, p, err))
		}
		return p
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	missing(t, fmt.Sprintf("%s not found (set $%s, or looked for %v)", name, env, candidates))
	return ""
}

func missing(t testing.TB, why string) {
	t.Helper()
	if testing.Short() {
		t.Skip(why)
	}
	t.Fatalf("%s; run `make test`, which installs it", why)
}

// process is a server run as its own process group, so that stopping it
// stops its children too. Its output goes to a log file that is appended to
// across restarts.
type process struct {
	name    string
	bin     string
	args    []string
	logPath string
	// ready reports whether the started server answers.
	ready func(ctx context.Context) error

	mu       sync.Mutex
	logStart int64 // the log's size when the server last started
	cmd      *exec.Cmd
	done     chan struct{} // closed when cmd has exited
	err      error         // cmd.Wait's error, set before done is closed
}

// startTimeout bounds how long a server may take to answer after start.
const startTimeout = 60 * time.Second

// stopTimeout is how long a server gets to exit on SIGTERM before SIGKILL.
const stopTimeout = 20 * time.Second

func (p *process) start(t testing.TB) {
	t.Helper()
	if err := p.tryStart(); err != nil {
		t.Fatal(err)
	}
}

// tryStart starts the server and waits until it is ready, or reports why
// it is not.
func (p *process) tryStart() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("start %s: already running", p.name)
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start %s: %v", p.name, err)
	}
	if fi, err := logf.Stat(); err == nil {
		p.logStart = fi.Size()
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Dir = filepath.Dir(p.logPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Pdeathsig kills the server should the test binary die without
	// running its cleanups (a -timeout panic, say).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %v", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done = cmd, done
	go func() {
		err := cmd.Wait()
		logf.Close()
		p.err = err
		close(done)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for {
		err := p.ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-done:
			p.cmd = nil
			return fmt.Errorf("start %s: it exited: %v\n%s", p.name, p.err, p.logTail())
		case <-ctx.Done():
			p.kill()
			return fmt.Errorf("start %s: not ready after %v: %v\n%s", p.name, startTimeout, err, p.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// logHas reports whether the server's log since its latest start contains
// s.
func (p *process) logHas(s string) bool {
	f, err := os.Open(p.logPath)
	if err != nil {
		return false
	}
	defer f.Close()
	if _, err := f.Seek(p.logStart, io.SeekStart); err != nil {
		return false
	}
	b, err := io.ReadAll(f)
	return err == nil && strings.Contains(string(b), s)
}

// logReady is a readiness check that passes once the server's log since
// its latest start contains line, which it writes only once it listens on
// its own port: something else that took the port cannot pass for it.
func (p *process) logReady(line string, then func(ctx context.Context) error) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if !p.logHas(line) {
			return fmt.Errorf("log does not say %q yet", line)
		}
		return then(ctx)
	}
}

// stop ends the server with SIGTERM, then SIGKILL if it takes too long, and
// waits for it. It does nothing if the server is not running.
func (p *process) stop(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		t.Logf("stop %s: no exit %v after SIGTERM; killing it", p.name, stopTimeout)
		p.kill()
		return
	}
	// A server stopped by SIGTERM may still leave children behind.
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	p.cmd = nil
}

// kill kills the process group and waits for the server. p.mu is held.
func (p *process) kill() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	p.cmd = nil
}

// logTail returns the end of the server's log for a failure message.
func (p *process) logTail() string {
	const max = 8 << 10
	f, err := os.Open(p.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > max {
		f.Seek(fi.Size()-max, io.SeekStart)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(reading log: %v)", err)
	}
	return fmt.Sprintf("--- %s log (%s) ---\n%s", p.name, p.logPath, b)
}

// dialReady reports whether something accepts TCP connections at addr.
func dialReady(addr string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// errStatus is returned by readiness checks that got an unexpected answer.
var errStatus = errors.New("unexpected status")
