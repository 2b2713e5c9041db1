package ingest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/envmon/envmon/ingest/spool"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/station"
	"github.com/envmon/envmon/store/mem"
)

// fakeMessage is a message as the embedded broker delivers it: it records
// how it was acknowledged, and what the spool held at that moment.
type fakeMessage struct {
	topic, payload string
	sp             *spool.Spool
	acks           *ackLog
}

type ack struct {
	topic    string
	code     byte  // 0: Ack
	spooled  int64 // spool.Len() when acknowledged
	acked    bool
	rejected bool
}

type ackLog struct {
	mu   sync.Mutex
	acks []ack
}

func (l *ackLog) add(a ack) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acks = append(l.acks, a)
}

func (l *ackLog) list() []ack {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ack(nil), l.acks...)
}

func (m *fakeMessage) Topic() string   { return m.topic }
func (m *fakeMessage) Payload() []byte { return []byte(m.payload) }
func (m *fakeMessage) Ack() {
	m.acks.add(ack{topic: m.topic, acked: true, spooled: m.sp.Len()})
}
func (m *fakeMessage) Reject(code byte) {
	m.acks.add(ack{topic: m.topic, code: code, rejected: true, spooled: m.sp.Len()})
}

// TestDeliverAcknowledgesOnlyWhatIsSpooled runs the collector without an
// MQTT client, as the embedded broker does, and checks that each message
// is acknowledged in the order delivered, an accepted one only once its
// reading is in the spool (the writer is held off by a store that is down),
// and a rejected one with its MQTT 5 reason code.
func TestDeliverAcknowledgesOnlyWhatIsSpooled(t *testing.T) {
	sp := openSpool(t, t.TempDir())
	fs := &flakyStore{Store: mem.New()}
	fs.failures.Store(1 << 30) // the store never takes anything: all stays spooled
	reg := station.New([]station.Station{{ID: "st-1", Point: "p1", Media: []reading.Medium{reading.Air}}}, true, quietLogger())
	c := runCollector(t, Config{Spool: sp, Store: fs, Stations: reg, Logger: quietLogger(), BatchSize: 10, DrainTimeout: time.Millisecond})
	waitFor(t, "a collector fed by the embedded broker connected", c.Connected)
	ts := time.Now().Add(-time.Minute).UnixMilli()
	msgs := []struct {
		topic, payload string
		code           byte
	}{
		{"envmon/p1/st-1/air", fmt.Sprintf(`{"ts":%d,"values":{"pm25":12}}`, ts), 0},
		{"envmon/p1/st-1/air", `{"ts":`, CodePayloadFormatInvalid},
		{"envmon/p1/st-9/air", fmt.Sprintf(`{"ts":%d,"values":{"pm25":12}}`, ts), CodeNotAuthorized},
		{"envmon/p1/st-1", `{}`, CodeTopicNameInvalid},
		{"envmon/p1/st-1/air/extra", `{}`, CodeTopicNameInvalid},
		{"envmon/p1/st-1/air", fmt.Sprintf(`{"ts":%d,"values":{"pm25":13}}`, ts+1000), 0},
	}
	acks := &ackLog{}
	for _, m := range msgs {
		c.Deliver(&fakeMessage{topic: m.topic, payload: m.payload, sp: sp, acks: acks})
	}
	waitFor(t, "every message acknowledged", func() bool { return len(acks.list()) == len(msgs) })
	got := acks.list()
	var spooled int64
	for i, m := range msgs {
		a := got[i]
		if a.topic != m.topic {
			t.Fatalf("acknowledgement %d is for %s, want %s: out of order", i, a.topic, m.topic)
		}
		if m.code == 0 {
			spooled++
			if !a.acked || a.spooled < spooled {
				t.Errorf("message %d acknowledged with %+v; want Ack with at least %d readings spooled", i, a, spooled)
			}
			continue
		}
		if !a.rejected || a.code != m.code {
			t.Errorf("message %d (%s) acknowledged with %+v; want Reject(%#x)", i, m.topic, a, m.code)
		}
	}

	// Once stopping, a delivered message is left unacknowledged, for the
	// client to send again.
	c.Stop()
	c.Deliver(&fakeMessage{topic: msgs[0].topic, payload: msgs[0].payload, sp: sp, acks: acks})
	time.Sleep(20 * time.Millisecond)
	if n := len(acks.list()); n != len(msgs) {
		t.Fatalf("a message delivered while stopping was acknowledged (%d acknowledgements)", n)
	}
}
