package ingest

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/envmon/envmon/station"
	"github.com/envmon/envmon/store/mem"
)

// TestBatching: messages gather for AckLinger before one spool append, and
// the writer waits up to FlushInterval for a full batch; a full batch goes
// at once in both places. The linger and the interval are an hour, longer
// than the test may run, so only the full-batch path can store the batch:
// the test fails if that path waits for its timer.
func TestBatching(t *testing.T) {
	const forever = time.Hour
	tests := []struct {
		name                 string
		ackLinger, flush     time.Duration
		heldAck, heldStore   bool // the first messages wait, unacknowledged or unstored
		wantWritesOfTheBatch int64
	}{
		{"ack linger", forever, 0, true, false, 0},
		{"flush interval", 0, forever, false, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := startBroker(t)
			store := &flakyStore{Store: mem.New()}
			c := runCollector(t, Config{
				Broker: b.URL(), ClientID: "batch-test", BatchSize: 5, AckLinger: tt.ackLinger, FlushInterval: tt.flush,
				Store: store, Stations: station.New(nil, false, quietLogger()), Logger: quietLogger(), Spool: openSpool(t, t.TempDir()),
			})
			waitFor(t, "connected", c.Connected)
			pub := publisher(t, b.URL())
			base := time.Now().Add(-time.Hour)
			send := func(from, to int) {
				for i := from; i < to; i++ {
					publish(t, pub, "envmon/p1/st-b/air", fmt.Sprintf(`{"ts":%d,"values":{"pm25":%d}}`, base.Add(time.Duration(i)*time.Minute).UnixMilli(), 30+i))
				}
			}
			accepted := func() float64 { return testutil.ToFloat64(c.m.messages.WithLabelValues("air", "accepted")) }

			send(0, 3)
			if !tt.heldAck {
				waitFor(t, "three accepted", func() bool { return accepted() == 3 })
			}
			time.Sleep(300 * time.Millisecond) // time for a mistaken early flush to show
			if tt.heldAck && accepted() != 0 {
				t.Fatalf("%v messages accepted before the linger ended or the group filled", accepted())
			}
			if tt.heldStore && count(t, store, "st-b", "pm25") != 0 {
				t.Fatalf("readings stored before the interval ended or the batch filled")
			}
			writes := store.writes.Load()
			send(3, 5) // the batch is full now: it goes at once
			waitFor(t, "five stored", func() bool { return count(t, store, "st-b", "pm25") == 5 })
			if tt.wantWritesOfTheBatch > 0 {
				if got := store.writes.Load() - writes; got != tt.wantWritesOfTheBatch {
					t.Errorf("%d store writes for the batch, want %d", got, tt.wantWritesOfTheBatch)
				}
			}
		})
	}
}
