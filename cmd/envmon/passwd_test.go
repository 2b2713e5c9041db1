package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestPasswd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		stdin    string
		code     int
		password string // the hash printed must match it
		stderr   string
	}{
		{"line", []string{"--cost", "4"}, "s3cret pass\n", 0, "s3cret pass", ""},
		{"CRLF", []string{"--cost", "4"}, "s3cret\r\nignored\n", 0, "s3cret", ""},
		{"no newline", []string{"--cost", "4"}, "s3cret", 0, "s3cret", ""},
		{"default cost", nil, "s3cret\n", 0, "s3cret", ""},
		{"empty", []string{"--cost", "4"}, "\n", 1, "", "no password on stdin"},
		{"nothing", []string{"--cost", "4"}, "", 1, "", "no password on stdin"},
		{"too long", []string{"--cost", "4"}, strings.Repeat("x", 73) + "\n", 1, "", "at most 72"},
		{"password as argument", []string{"s3cret"}, "", 2, "", "never from the command line"},
		{"bad cost", []string{"--cost", "99"}, "s3cret\n", 2, "", "--cost 99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr syncBuffer
			code := passwd(tt.args, strings.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.stderr) {
				t.Fatalf("exit %d, stderr %q; want %d, %q", code, stderr.String(), tt.code, tt.stderr)
			}
			if tt.code != 0 {
				if stdout.String() != "" {
					t.Errorf("printed %q on failure", stdout.String())
				}
				return
			}
			hash := strings.TrimSuffix(stdout.String(), "\n")
			if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(tt.password)); err != nil {
				t.Fatalf("hash %q does not match %q: %v", hash, tt.password, err)
			}
			if strings.Contains(stdout.String()+stderr.String(), tt.password) {
				t.Error("the password was echoed")
			}
		})
	}
}

// hashOf runs envmon passwd.
func hashOf(t *testing.T, password string) string {
	t.Helper()
	var stdout, stderr syncBuffer
	if code := passwd([]string{"--cost", "4"}, strings.NewReader(password+"\n"), &stdout, &stderr); code != 0 {
		t.Fatalf("passwd: exit %d: %s", code, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// startServe runs `envmon serve` (or demo) in-process on ports the kernel
// picks and returns its HTTP URL, its MQTT port and its log; it stops when
// the test ends.
func startServe(t *testing.T, args ...string) (httpURL, mqttPort string, log *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout syncBuffer
	log = new(syncBuffer)
	done := make(chan int)
	go func() {
		done <- run(ctx, append(args, "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0"), &stdout, log)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("envmon %s exited %d; log:\n%s", args[0], code, log.String())
		}
	})
	re := regexp.MustCompile(`msg="envmon serving" http=(\S+) mqtt=tcp://127\.0\.0\.1:(\d+)`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := re.FindStringSubmatch(log.String()); m != nil {
			return m[1], m[2], log
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("envmon %s did not start; log:\n%s", args[0], log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mosquitto runs mosquitto_pub or mosquitto_sub and returns its output
// and exit error.
func mosquitto(t *testing.T, tool string, args ...string) (string, error) {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("%s not installed", tool)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	return string(out), err
}

// hasLatest reports whether the station has a latest value of pm25.
func hasLatest(t *testing.T, httpURL, station string) bool {
	t.Helper()
	res, err := http.Get(httpURL + "/api/v1/stations/" + station + "/latest")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Values map[string]json.RawMessage `json:"values"`
	}
	if res.StatusCode != http.StatusOK {
		return false
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	_, ok := body.Values["pm25"]
	return ok
}

// TestProvisionedStation: a station provisioned as docs/MQTT.md says, with
// a hash from envmon passwd in the registry file, publishes with its
// password through mosquitto_pub to envmon serve's embedded broker; a
// wrong password, no credentials, envmon's client id, another station's
// topic and a subscription to '#' are all refused, and the reader
// subscribes to envmon/#.
func TestProvisionedStation(t *testing.T) {
	if testing.Short() {
		t.Skip("runs envmon serve and mosquitto clients")
	}
	registry := filepath.Join(t.TempDir(), "stations.yaml")
	err := os.WriteFile(registry, []byte(fmt.Sprintf(`points:
  - {id: p1, type: specialised}
stations:
  - id: st-1
    point: p1
    media: [air]
    mqtt_password_hash: %s
  - id: st-2
    point: p1
    media: [air]
    mqtt_password_hash: %s
readers:
  - username: dashboard
    password_hash: %s
    read: ["envmon/#"]
`, hashOf(t, "right horse"), hashOf(t, "other"), hashOf(t, "reader pw"))), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	httpURL, port, log := startServe(t, "serve", "--stations", registry)
	if strings.Contains(log.String(), "open registration is on") {
		t.Error("serve warned of open registration that is off")
	}
	payload := fmt.Sprintf(`{"ts":%d,"values":{"pm25":12}}`, time.Now().Add(-time.Second).UnixMilli())
	pub := func(args ...string) (string, error) {
		return mosquitto(t, "mosquitto_pub", append([]string{"-h", "127.0.0.1", "-p", port, "-q", "1", "-m", payload}, args...)...)
	}

	refused := []struct {
		name string
		args []string
	}{
		{"wrong password", []string{"-u", "st-1", "-P", "wrong", "-t", "envmon/p1/st-1/air"}},
		{"wrong password, MQTT 5", []string{"-V", "mqttv5", "-u", "st-1", "-P", "wrong", "-t", "envmon/p1/st-1/air"}},
		{"no credentials", []string{"-t", "envmon/p1/st-1/air"}},
		{"envmon's client id", []string{"-i", "envmon", "-u", "st-1", "-P", "right horse", "-t", "envmon/p1/st-1/air"}},
	}
	for _, tt := range refused {
		if out, err := pub(tt.args...); err == nil {
			t.Errorf("%s: mosquitto_pub succeeded: %s", tt.name, out)
		}
	}
	// As another station: MQTT 5 hears 0x87 in the PUBACK, and nothing is stored.
	_, _ = pub("-V", "mqttv5", "-u", "st-1", "-P", "right horse", "-t", "envmon/p1/st-2/air")

	if out, err := pub("-u", "st-1", "-P", "right horse", "-t", "envmon/p1/st-1/air"); err != nil {
		t.Fatalf("mosquitto_pub with the right password: %v: %s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !hasLatest(t, httpURL, "st-1") {
		if time.Now().After(deadline) {
			t.Fatal("st-1's reading never showed in /latest")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if hasLatest(t, httpURL, "st-2") {
		t.Error("st-1 published a reading as st-2")
	}

	sub := func(args ...string) (string, error) {
		return mosquitto(t, "mosquitto_sub", append([]string{"-h", "127.0.0.1", "-p", port, "-E", "-W", "5"}, args...)...)
	}
	// mosquitto_sub exits 0 when the broker denies every subscription.
	if out, _ := sub("-u", "st-1", "-P", "right horse", "-t", "#"); !strings.Contains(out, "All subscription requests were denied") {
		t.Errorf("station subscribed to '#': %s", out)
	}
	if out, err := sub("-u", "dashboard", "-P", "reader pw", "-t", "envmon/#"); err != nil || strings.Contains(out, "denied") {
		t.Errorf("reader could not subscribe to envmon/#: %v: %s", err, out)
	}
}

// TestOpenRegistrationWarns: serve with open registration warns; demo
// turns it on by itself, so that its stations and the mosquitto_pub it
// prints need no credentials.
func TestOpenRegistrationWarns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs envmon serve and demo")
	}
	_, port, log := startServe(t, "serve", "--mqtt-open-registration")
	if !strings.Contains(log.String(), `level=WARN msg="open registration is on`) {
		t.Errorf("no warning of open registration in:\n%s", log.String())
	}
	if out, err := mosquitto(t, "mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-E", "-W", "5", "-t", "#"); !strings.Contains(out, "All subscription requests were denied") {
		t.Errorf("open registration let an anonymous client subscribe to '#': %v: %s", err, out)
	}

	_, port, log = startServe(t, "demo", "--sim-stations", "1")
	if out, err := mosquitto(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-q", "1", "-t", "envmon/"+demoPoint+"/"+demoStation+"/air", "-m", `{"values":{"pm25":1}}`); err != nil {
		t.Errorf("demo refused an anonymous station: %v: %s", err, out)
	}
	if strings.Contains(log.String(), "open registration is on") {
		t.Error("demo warned of the open registration it needs")
	}
}
