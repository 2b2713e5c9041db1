package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/envmon/envmon/internal/config"
	"github.com/envmon/envmon/simulators"

	"github.com/envmon/envmon/internal/testenv"
)

// syncBuffer is a buffer safe for a writer and a reader goroutine.
type syncBuffer = testenv.SyncBuffer

// startDemo runs `envmon demo` in-process with args and returns its base
// URL and its standard output so far; the demo stops when the test ends.
func startDemo(t *testing.T, args ...string) (base string, stdout *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout = new(syncBuffer)
	var stderr syncBuffer
	done := make(chan int)
	// The data dir is made first, so that its removal is cleaned up after
	// (cleanups run last first) the demo has stopped.
	dataDir := t.TempDir()
	go func() {
		done <- run(ctx, append([]string{"demo", "--data-dir", dataDir, "--log-level", "warn"}, args...), stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("demo exited %d; stderr:\n%s", code, stderr.String())
		}
	})
	urlRE := regexp.MustCompile(`Open (http://[^ ]+)/ `)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := urlRE.FindStringSubmatch(stdout.String()); m != nil {
			return m[1], stdout
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo printed no URL; stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDemo runs `envmon demo` in-process on free ports and checks that the
// API lists the simulated stations with fresh readings.
func TestDemo(t *testing.T) {
	base, _ := startDemo(t, "--http-addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0", "--sim-rate", "40")
	waitFreshStations(t, base, demoIDs(20))
}

// demoIDs returns the ids of the stations demo simulates with
// --sim-stations n.
func demoIDs(n int) []string {
	var ids []string
	for _, st := range simulators.Layout(demoSim("", demoRegistry(), n, 1, nil)) {
		ids = append(ids, st.ID)
	}
	return ids
}

// waitFreshStations waits until base lists every station of ids with a
// reading from the last minute.
func waitFreshStations(t *testing.T, base string, ids []string) {
	t.Helper()
	type station struct {
		ID     string `json:"id"`
		Latest map[string]struct {
			Time time.Time `json:"time"`
		} `json:"latest"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got []station
		res, err := http.Get(base + "/api/v1/stations")
		if err == nil {
			var body struct{ Stations []station }
			err = json.NewDecoder(res.Body).Decode(&body)
			res.Body.Close()
			got = body.Stations
		}
		fresh := map[string]bool{}
		for _, s := range got {
			for _, v := range s.Latest {
				if time.Since(v.Time) < time.Minute {
					fresh[s.ID] = true
					break
				}
			}
		}
		var stale []string
		for _, id := range ids {
			if !fresh[id] {
				stale = append(stale, id)
			}
		}
		if len(stale) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stations %v have no fresh readings (%d stations listed, err %v)", stale, len(got), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDemoPrintedCommands runs the commands demo prints, as printed, on
// the ports the kernel chose: the mosquitto_pub line through sh, the curl
// line's URL through net/http, and the sim line in-process (faster than
// printed, so that the scenario's day takes seconds), which must pass
// every check of faulty-sensor while the demo's own stations run.
func TestDemoPrintedCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the demo's commands in -short mode")
	}
	if _, err := exec.LookPath("mosquitto_pub"); err != nil {
		t.Fatal("mosquitto_pub not found; run `make test`, which installs it")
	}
	base, stdout := startDemo(t, "--http-addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0", "--sim-stations", "20", "--sim-rate", "40")
	cmds := map[string]string{}
	for l := range strings.SplitSeq(stdout.String(), "\n") {
		l = strings.TrimSpace(l)
		for _, p := range []string{"mosquitto_pub ", "curl ", "go run ./cmd/envmon sim "} {
			if strings.HasPrefix(l, p) {
				cmds[p] = l
			}
		}
	}
	if len(cmds) != 3 {
		t.Fatalf("demo printed %d of the 3 commands:\n%s", len(cmds), stdout.String())
	}
	m := regexp.MustCompile(`publishing to tcp://[^ ]+:(\d+)\n`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("demo did not say where it publishes:\n%s", stdout.String())
	}
	mqttPort := m[1]
	if !strings.Contains(cmds["mosquitto_pub "], " -p "+mqttPort+" ") || strings.Contains(base, ":8080") {
		t.Fatalf("the commands do not use the ports the demo chose (%s, %s):\n%s", base, mqttPort, stdout.String())
	}

	sent := time.Now()
	if out, err := exec.Command("sh", "-c", cmds["mosquitto_pub "]).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmds["mosquitto_pub "], err, out)
	}
	curl := strings.Fields(cmds["curl "])
	if len(curl) != 2 || !strings.HasPrefix(curl[1], base+"/api/v1/stations/") {
		t.Fatalf("curl line %q", cmds["curl "])
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		var body struct {
			Values map[string]struct {
				Value float64   `json:"value"`
				Time  time.Time `json:"time"`
			} `json:"values"`
		}
		res, err := http.Get(curl[1])
		if err == nil {
			if res.StatusCode == http.StatusOK {
				err = json.NewDecoder(res.Body).Decode(&body)
			}
			res.Body.Close()
		}
		v, ok := body.Values["pm25"]
		// The shell's timestamp has whole seconds.
		if ok && v.Value == 42.5 && !v.Time.Before(sent.Truncate(time.Second)) && v.Time.Before(time.Now()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: pm25 %+v (%v), want 42.5 timestamped when it was sent", curl[1], v, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	args := strings.Fields(strings.TrimPrefix(cmds["go run ./cmd/envmon sim "], "go run ./cmd/envmon "))
	for i := range args {
		if args[i] == "--speed" {
			args[i+1] = "8640" // the 12 h day in 5 s
		}
	}
	var out, errOut syncBuffer
	if code := run(context.Background(), args, &out, &errOut); code != 0 {
		t.Fatalf("envmon %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out.String(), errOut.String())
	}
	t.Logf("envmon %s:\n%s", strings.Join(args, " "), out.String())
	waitFreshStations(t, base, demoIDs(20)) // the scenario kicked none of the demo's stations off
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, 2, "Usage:"},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"serve help", []string{"serve", "--help"}, 0, "-http-addr"},
		{"demo help", []string{"demo", "--help"}, 0, "-sim-stations"},
		{"sim help", []string{"sim", "--help"}, 0, "-stations"},
		{"bad config value", []string{"serve", "--http-addr", "nonsense"}, 2, "http.addr"},
		{"bad flag", []string{"serve", "--no-such-flag"}, 2, "no-such-flag"},
		{"sim bad qos", []string{"sim", "--qos", "3"}, 2, "--qos 3"},
		{"version", []string{"version"}, 0, "envmon"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr syncBuffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			out := stdout.String() + stderr.String()
			if code != tt.code || !strings.Contains(out, tt.want) {
				t.Fatalf("exit %d, want %d; output %q does not contain %q", code, tt.code, out, tt.want)
			}
		})
	}
}

// TestTakenPorts: serve names the port and the flag when a port is taken;
// demo moves a taken default port instead of failing. The taken ports are
// ones the test holds itself, made the defaults for the demo's part.
func TestTakenPorts(t *testing.T) {
	hold := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln.Addr().String()
	}
	httpAddr, mqttAddr := hold(), hold()
	port := func(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }

	var stdout, stderr syncBuffer
	code := run(context.Background(), []string{"serve", "--data-dir", t.TempDir(), "--http-addr", httpAddr}, &stdout, &stderr)
	if want := "port " + port(httpAddr) + " is already in use; choose another with --http-addr (ENVMON_HTTP_ADDR)"; code != 1 || !strings.Contains(stderr.String(), want) {
		t.Fatalf("serve with a taken port: exit %d, stderr %q, want %q", code, stderr.String(), want)
	}

	stdout, stderr = syncBuffer{}, syncBuffer{}
	code = run(context.Background(), []string{"serve", "--http-addr", "127.0.0.1:0", "--mqtt-addr", mqttAddr, "--data-dir", t.TempDir()}, &stdout, &stderr)
	if want := "port " + port(mqttAddr) + " is already in use; choose another with --mqtt-addr"; code != 1 || !strings.Contains(stderr.String(), want) {
		t.Fatalf("serve with a taken MQTT port: exit %d, stderr %q, want %q", code, stderr.String(), want)
	}

	defaults = func() config.Config {
		c := config.Default()
		c.HTTP.Addr, c.MQTT.Addr = httpAddr, mqttAddr
		return c
	}
	t.Cleanup(func() { defaults = config.Default })
	ctx, cancel := context.WithCancel(context.Background())
	var dout, derr syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"demo", "--data-dir", t.TempDir(), "--sim-stations", "4"}, &dout, &derr)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(dout.String(), "Open http://") {
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("demo did not start; stderr:\n%s", derr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("demo exited %d: %s", code, derr.String())
	}
	if strings.Contains(dout.String(), ":"+port(httpAddr)+"/") || strings.Contains(dout.String(), ":"+port(mqttAddr)+" ") || strings.Contains(dout.String(), " -p "+port(mqttAddr)+" ") {
		t.Errorf("demo used a taken port: %s", dout.String())
	}
	if n := strings.Count(derr.String(), "default port is taken"); n != 2 {
		t.Errorf("demo said %d times that it moved a port, want 2:\n%s", n, derr.String())
	}
}
