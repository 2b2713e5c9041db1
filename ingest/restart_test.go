package ingest

import (
	"fmt"
	"testing"
	"time"

	"github.com/envmon/envmon/internal/testenv"
	"github.com/envmon/envmon/station"
)

// TestBrokerRestart: the collector reconnects to a restarted Mosquitto,
// resumes its persistent session, and stores what is published before,
// during (queued for its session) and after the restart.
func TestBrokerRestart(t *testing.T) {
	broker := testenv.Mosquitto(t)
	store := newCountingStore()
	c := runCollector(t, Config{Broker: broker.URL, ClientID: "restart-test", Store: store,
		Stations: station.New(nil, false, quietLogger()), Spool: openSpool(t, t.TempDir()), Logger: quietLogger()})
	waitFor(t, "connected", c.Connected)
	base := time.Now().Add(-time.Hour)
	send := func(from, to int) {
		pub := publisher(t, broker.URL)
		for i := from; i < to; i++ {
			publish(t, pub, "envmon/p1/st-1/noise", fmt.Sprintf(`{"ts":%d,"values":{"laeq":%d}}`, base.Add(time.Duration(i)*time.Second).UnixMilli(), 40+i%20))
		}
		pub.Disconnect(100)
	}
	send(0, 50)
	waitFor(t, "first half stored", func() bool { return count(t, store, "st-1", "laeq") == 50 })

	broker.Stop(t)
	waitFor(t, "disconnect noticed", func() bool { return !c.Connected() })
	broker.Start(t)
	send(50, 100) // the collector may not be back yet: its session queues these
	waitFor(t, "reconnected", c.Connected)
	waitFor(t, "everything stored", func() bool { return count(t, store, "st-1", "laeq") == 100 })
}
