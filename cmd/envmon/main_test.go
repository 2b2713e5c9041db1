package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDemo runs `envmon demo` in-process on free ports and checks that the
// API lists the simulated stations with fresh readings.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"demo", "--http-addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0",
			"--data-dir", t.TempDir(), "--sim-rate", "40", "--log-level", "warn"}, &stdout, &stderr)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("demo exited %d; stderr:\n%s", code, stderr.String())
		}
	}()

	urlRE := regexp.MustCompile(`Open (http://[^ ]+)/ `)
	var base string
	deadline := time.Now().Add(30 * time.Second)
	for base == "" {
		if m := urlRE.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("demo printed no URL; stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	type station struct {
		ID     string `json:"id"`
		Latest map[string]struct {
			Time time.Time `json:"time"`
		} `json:"latest"`
	}
	var got []station
	for {
		got = nil
		res, err := http.Get(base + "/api/v1/stations")
		if err == nil {
			var body struct{ Stations []station }
			err = json.NewDecoder(res.Body).Decode(&body)
			res.Body.Close()
			got = body.Stations
		}
		fresh := 0
		for _, s := range got {
			for _, v := range s.Latest {
				if time.Since(v.Time) < time.Minute {
					fresh++
					break
				}
			}
		}
		if fresh == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("want 20 stations with fresh readings, have %d of %d (err %v)", fresh, len(got), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
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
// demo moves a taken default port instead of failing.
func TestTakenPorts(t *testing.T) {
	hold := func(addr string) {
		if ln, err := net.Listen("tcp", addr); err == nil {
			t.Cleanup(func() { ln.Close() })
		} // else someone else holds it: taken all the same
	}
	hold(":8080")
	hold(":1883")

	var stdout, stderr syncBuffer
	code := run(context.Background(), []string{"serve", "--data-dir", t.TempDir()}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "port 8080 is already in use; choose another with --http-addr (ENVMON_HTTP_ADDR)") {
		t.Fatalf("serve with a taken port: exit %d, stderr %q", code, stderr.String())
	}

	stdout, stderr = syncBuffer{}, syncBuffer{}
	code = run(context.Background(), []string{"serve", "--http-addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "port 1883 is already in use; choose another with --mqtt-addr") {
		t.Fatalf("serve with a taken MQTT port: exit %d, stderr %q", code, stderr.String())
	}

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
	if strings.Contains(dout.String(), ":8080/") || strings.Contains(dout.String(), ":1883\n") {
		t.Errorf("demo used a taken port: %s", dout.String())
	}
	if n := strings.Count(derr.String(), "default port is taken"); n != 2 {
		t.Errorf("demo said %d times that it moved a port, want 2:\n%s", n, derr.String())
	}
}
