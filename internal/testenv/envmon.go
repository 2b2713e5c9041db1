package testenv

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// EnvmonBinary builds cmd/envmon once per test binary and returns its path.
func EnvmonBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "envmon-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildBin = filepath.Join(dir, "envmon")
		out, err := exec.Command("go", "build", "-o", buildBin, "github.com/envmon/envmon/cmd/envmon").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// Envmon is an envmon process started by StartEnvmon.
type Envmon struct {
	Cmd *exec.Cmd
	// HTTP is the base URL of its HTTP server, such as http://127.0.0.1:41234.
	HTTP string
	// MQTT is the URL of the broker it uses (the embedded one unless
	// --mqtt-broker was given).
	MQTT string
	// LogPath is the file its standard output and error go to.
	LogPath string
	done    chan struct{}
}

// StartEnvmon runs "envmon serve" with args, JSON logs, and HTTP and the
// embedded broker on ports the kernel picks (so no port is raced for),
// unless args choose them. It waits until envmon logs that it is serving,
// and kills it when the test ends.
func StartEnvmon(t testing.TB, args ...string) *Envmon {
	t.Helper()
	return StartEnvmonCommand(t, "serve", args...)
}

// StartEnvmonCommand is StartEnvmon for another serving command, such as
// "demo".
func StartEnvmonCommand(t testing.TB, command string, args ...string) *Envmon {
	t.Helper()
	bin := EnvmonBinary(t)
	logPath := filepath.Join(t.TempDir(), "envmon.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	all := []string{command, "--log-format", "json"}
	if !hasFlag(args, "--http-addr") {
		all = append(all, "--http-addr", "127.0.0.1:0")
	}
	if !hasFlag(args, "--mqtt-addr") && !hasFlag(args, "--mqtt-broker") {
		all = append(all, "--mqtt-addr", "127.0.0.1:0")
	}
	all = append(all, args...)
	cmd := exec.Command(bin, all...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = io.MultiWriter(logf, pw), io.MultiWriter(logf, pw)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &Envmon{Cmd: cmd, LogPath: logPath, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		pw.Close()
		logf.Close()
		close(e.done)
	}()
	t.Cleanup(func() { e.Kill() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		signalled := false
		for sc.Scan() {
			if signalled {
				continue // keep draining so the child never blocks on its pipe
			}
			var l struct {
				Msg  string `json:"msg"`
				HTTP string `json:"http"`
				MQTT string `json:"mqtt"`
			}
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "envmon serving" {
				e.HTTP, e.MQTT = l.HTTP, l.MQTT
				signalled = true
				close(ready)
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case <-ready:
	case <-e.done:
		t.Fatalf("envmon %s exited before serving:\n%s", command, e.LogTail())
	case <-time.After(60 * time.Second):
		t.Fatalf("envmon %s did not start serving within 60s:\n%s", command, e.LogTail())
	}
	return e
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// Kill sends SIGKILL and waits for the process to end.
func (e *Envmon) Kill() {
	if e.Cmd.Process != nil {
		e.Cmd.Process.Kill()
	}
	<-e.done
}

// Stop sends SIGTERM and waits up to timeout for the process to end,
// returning false if it had to be killed.
func (e *Envmon) Stop(timeout time.Duration) bool {
	e.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.done:
		return true
	case <-time.After(timeout):
		e.Kill()
		return false
	}
}

// Done is closed when the process has ended.
func (e *Envmon) Done() <-chan struct{} { return e.done }

// LogTail returns the last 4 KiB of the process's log.
func (e *Envmon) LogTail() string {
	b, _ := os.ReadFile(e.LogPath)
	if len(b) > 4<<10 {
		b = b[len(b)-4<<10:]
	}
	return string(b)
}

// RSS returns the process's resident set size now and its peak (VmRSS and
// VmHWM of /proc/PID/status), in bytes.
func RSS(pid int) (now, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			now = n << 10
		case "VmHWM":
			peak = n << 10
		}
	}
	return now, peak, nil
}
