package ingest

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/envmon/envmon/station"
	"github.com/envmon/envmon/store/mem"
)

// connMsg is a message of the embedded broker as the collector sees it:
// one client id, and the connection it came on.
type connMsg struct {
	topic, payload string
	client         string
	conn           *int // a connection's identity
	acked          chan struct{}
	once           sync.Once
}

func (m *connMsg) Topic() string    { return m.topic }
func (m *connMsg) Payload() []byte  { return []byte(m.payload) }
func (m *connMsg) ClientID() string { return m.client }
func (m *connMsg) Conn() any        { return m.conn }
func (m *connMsg) Ack()             { m.once.Do(func() { close(m.acked) }) }

// TestConnectionOrder: a client's connections are taken in the order the
// broker established them. An older connection's end, or its last will,
// heard after a newer connection of the client has published, leaves the
// station as the newer one says; heard before, it shows the station
// offline until the newer one speaks. A station whose session is taken
// over by a connection that says nothing is shown offline.
func TestConnectionOrder(t *testing.T) {
	tests := []struct {
		name  string
		steps []string // "start A", "A online", "A offline" (its will), "A reading", "gone A", "want S"
	}{
		{"a client leaves", []string{"start A", "A online", "want online", "gone A", "want offline"}},
		{"a takeover by a silent connection", []string{"start A", "A online", "start B", "gone A", "want offline"}},
		{"the new connection speaks first", []string{"start A", "A online", "start B", "B online", "gone A", "want online"}},
		{"the old connection's will comes late", []string{"start A", "A online", "start B", "B online", "A offline", "gone A", "want online"}},
		{"the new connection's reading counts as speaking", []string{"start A", "A online", "start B", "B reading", "gone A", "want online"}},
		{"the old end comes first", []string{"start A", "A online", "start B", "gone A", "want offline", "B online", "want online"}},
		{"a reconnect after the end", []string{"start A", "A online", "gone A", "start B", "B online", "want online", "gone A", "want online", "gone B", "want offline"}},
		{"the new connection leaves too", []string{"start A", "A online", "start B", "B online", "gone B", "want offline", "gone A", "want offline"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := station.New(nil, false, quietLogger())
			var offline []string
			var mu sync.Mutex
			c := runCollector(t, Config{
				Store: mem.New(), Stations: reg, Logger: quietLogger(), Spool: openSpool(t, t.TempDir()),
				OnOffline: func(_, id string, _ time.Time) { mu.Lock(); offline = append(offline, id); mu.Unlock() },
			})
			waitFor(t, "collector running", c.Connected)
			conns := map[string]*int{"A": new(int), "B": new(int)}
			for i, step := range tt.steps {
				f := strings.Fields(step)
				switch {
				case f[0] == "start":
					c.ConnectionStarted("device-1", conns[f[1]])
				case f[0] == "gone":
					c.ConnectionGone("device-1", conns[f[1]])
				case f[0] == "want":
					v, _ := reg.Get("st-1")
					if string(v.Status) != f[1] {
						t.Fatalf("after step %d (%s): st-1 is %q, want %s", i, strings.Join(tt.steps[:i], ", "), v.Status, f[1])
					}
				default:
					m := &connMsg{client: "device-1", conn: conns[f[0]], acked: make(chan struct{})}
					switch f[1] {
					case "reading":
						m.topic, m.payload = "envmon/p1/st-1/air", `{"ts":1764576000000,"values":{"pm25":12}}`
					default:
						m.topic, m.payload = "envmon/p1/st-1/status", f[1]
					}
					c.Deliver(m)
					select {
					case <-m.acked:
					case <-time.After(10 * time.Second):
						t.Fatalf("step %q not acknowledged", step)
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for _, id := range offline {
				if id != "st-1" {
					t.Errorf("OnOffline told of %q", id)
				}
			}
		})
	}
}
