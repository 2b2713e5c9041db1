package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// Broker is a Mosquitto MQTT broker that allows anonymous clients and
// keeps persistent sessions and retained messages across a Stop and Start.
type Broker struct {
	URL  string // tcp://127.0.0.1:PORT
	Port int
	Dir  string // holds the config, the log and the persistence file

	proc *process
}

// Mosquitto starts a Mosquitto broker (mosquitto from
// $ENVMON_MOSQUITTO, else PATH, else /usr/sbin/mosquitto) and stops it when
// t ends.
func Mosquitto(t testing.TB) *Broker {
	t.Helper()
	return MosquittoWith(t, "")
}

// MosquittoWith is Mosquitto with extra appended to the broker's config,
// where a later setting overrides an earlier one.
func MosquittoWith(t testing.TB, extra string) *Broker {
	t.Helper()
	skipShort(t, "Mosquitto")
	bin := lookBinary(t, "mosquitto", "ENVMON_MOSQUITTO", "mosquitto", "/usr/sbin/mosquitto")

	dir := t.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	m := &Broker{Dir: dir}
	m.proc = startRetrying(t, func() *process {
		port := freePort(t)
		if err := os.WriteFile(conf, []byte(mosquittoConfig(dir, port)+extra), 0o644); err != nil {
			t.Fatalf("write mosquitto config: %v", err)
		}
		m.URL, m.Port = fmt.Sprintf("tcp://127.0.0.1:%d", port), port
		p := &process{
			name:    "mosquitto",
			bin:     bin,
			args:    []string{"-c", conf},
			logPath: filepath.Join(dir, "mosquitto.log"),
		}
		// Mosquitto says it is running once every listener is open.
		p.ready = p.logReady(" running", dialReady("127.0.0.1:"+strconv.Itoa(port)))
		return p
	})
	t.Cleanup(func() { m.proc.stop(t) })
	return m
}

func mosquittoConfig(dir string, port int) string {
	conf := fmt.Sprintf(`listener %d 127.0.0.1
allow_anonymous true
persistence true
persistence_location %s/
log_dest stderr
log_type error
log_type warning
log_type notice
log_type information
connection_messages true
max_inflight_messages 1000
max_queued_messages 0
`, port, dir)
	// Run as root, mosquitto would switch to the mosquitto user, who cannot
	// write the persistence file in the test's directory.
	if os.Geteuid() == 0 {
		conf += "user root\n"
	}
	return conf
}

// Start starts the broker again after Stop, on the same port and with the
// sessions it saved, and waits until it accepts connections.
func (m *Broker) Start(t testing.TB) {
	t.Helper()
	m.proc.start(t)
}

// Stop stops the broker gracefully, so that it saves its persistent
// sessions, and waits for it to exit.
func (m *Broker) Stop(t testing.TB) {
	t.Helper()
	m.proc.stop(t)
}

// Kill kills the broker with SIGKILL, as a crash would, and waits for it to
// exit. Unlike Stop, it gives the broker no chance to save anything; Start
// brings it back with what its persistence file held.
func (m *Broker) Kill(t testing.TB) {
	t.Helper()
	m.proc.mu.Lock()
	defer m.proc.mu.Unlock()
	if m.proc.cmd != nil {
		m.proc.kill()
	}
}
