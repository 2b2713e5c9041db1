package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/envmon/envmon/ingest/spool"
	"github.com/envmon/envmon/internal/broker"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/station"
	"github.com/envmon/envmon/store"
	"github.com/envmon/envmon/store/mem"
)

// flakyStore fails its first n writes, then passes them to a mem store.
type flakyStore struct {
	*mem.Store
	failures atomic.Int64
	writes   atomic.Int64
}

func (f *flakyStore) Write(ctx context.Context, rs []reading.Reading) error {
	f.writes.Add(1)
	if f.failures.Add(-1) >= 0 {
		return errors.New("store is down")
	}
	return f.Store.Write(ctx, rs)
}

type harness struct {
	spoolDir  string
	broker    *broker.Broker
	store     *flakyStore
	stations  *station.Registry
	reg       *prometheus.Registry
	collector *Collector
	cancel    context.CancelFunc
	done      chan struct{}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startBroker starts an embedded broker for the test.
func startBroker(t *testing.T) *broker.Broker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.Start(broker.Config{Listener: ln, AllowAll: true, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func startHarness(t *testing.T, failures int64, fixed []station.Station) *harness {
	t.Helper()
	b := startBroker(t)
	var err error
	h := &harness{broker: b, store: &flakyStore{Store: mem.New()}, reg: prometheus.NewRegistry(), done: make(chan struct{})}
	h.store.failures.Store(failures)
	h.stations = station.New(fixed, fixed != nil, quietLogger())
	h.spoolDir = t.TempDir()
	sp := openSpool(t, h.spoolDir)
	h.collector, err = New(Config{
		Broker: b.URL(), ClientID: "test-collector", BatchSize: 50,
		Store: h.store, Stations: h.stations, Registerer: h.reg, Logger: quietLogger(), Spool: sp, DrainTimeout: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { defer close(h.done); h.collector.Run(ctx) }()
	t.Cleanup(h.stop)
	waitFor(t, "collector connected", h.collector.Connected)
	return h
}

func openSpool(t *testing.T, dir string) *spool.Spool {
	t.Helper()
	sp, err := spool.Open(dir, spool.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	return sp
}

// runCollector starts a collector that runs until the test ends.
func runCollector(t *testing.T, cfg Config) *Collector {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return c
}

func (h *harness) stop() {
	h.cancel()
	<-h.done
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func publisher(t *testing.T, url string) paho.Client {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("pub-%d", time.Now().UnixNano())))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect publisher: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func publish(t *testing.T, c paho.Client, topic, payload string) {
	t.Helper()
	if tok := c.Publish(topic, 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
}

func count(t *testing.T, s store.Store, stationID, metric string) int {
	t.Helper()
	got, err := s.Query(context.Background(), store.Query{Station: stationID, Metric: metric, From: time.Unix(0, 0), To: time.Now().Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return len(got)
}

func TestCollectorStoresAndRejects(t *testing.T) {
	h := startHarness(t, 0, nil)
	pub := publisher(t, h.broker.URL())
	now := time.Now().UnixMilli()
	cases := []struct {
		topic, payload, reason string
	}{
		{"envmon/p1/st-1/air", fmt.Sprintf(`{"ts":%d,"values":{"pm25":42.5,"pm10":70}}`, now), ""},
		{"envmon/p1/st-1/air", fmt.Sprintf(`{"ts":%q,"values":{"pm25":40}}`, time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)), ""},
		{"envmon/p1/st-1/air", `{"ts":`, ReasonMalformed},
		{"envmon/p1/st-1/air", `not json`, ReasonMalformed},
		{"envmon/p1/st-1/air", fmt.Sprintf(`{"ts":%d,"values":{"pm25":"high"}}`, now), ReasonBadValue},
		{"envmon/p1/st-1/air", fmt.Sprintf(`{"ts":%d,"values":{"ph":7}}`, now), ReasonUnknownMetric},
		{"envmon/p1/st-1/air", fmt.Sprintf(`{"ts":%d,"values":{}}`, now), ReasonNoValues},
		{"envmon/p1/st-1/air", `{"values":{"pm25":1}}`, ReasonBadTimestamp},
		{"envmon/p1/st-1/air", `{"ts":1700000000,"values":{"pm25":1}}`, ReasonBadTimestamp}, // seconds, not ms
		{"envmon/p1/st-1/soil", fmt.Sprintf(`{"ts":%d,"values":{"pm25":1}}`, now), ReasonBadTopic},
		{"envmon/p1/st 1/air", fmt.Sprintf(`{"ts":%d,"values":{"pm25":1}}`, now), ReasonBadTopic},
		{"envmon/p2/st-1/air", fmt.Sprintf(`{"ts":%d,"values":{"pm25":1}}`, now), ReasonUnknownStation}, // station moved point
		{"envmon/p1/st-1/status", "sleeping", ReasonBadStatus},
		{"envmon/p1/st-1/status", "online", ""},
	}
	want := map[string]float64{}
	for _, c := range cases {
		publish(t, pub, c.topic, c.payload)
		if c.reason != "" {
			want[c.reason]++
		}
	}
	waitFor(t, "two readings stored", func() bool { return count(t, h.store, "st-1", "pm25") == 2 })
	waitFor(t, "rejections counted", func() bool {
		return testutil.ToFloat64(h.collector.m.messages.WithLabelValues("air", "rejected"))+
			testutil.ToFloat64(h.collector.m.messages.WithLabelValues("status", "rejected"))+
			testutil.ToFloat64(h.collector.m.messages.WithLabelValues("unknown", "rejected")) == float64(len(cases)-3)
	})
	for reason, n := range want {
		if got := testutil.ToFloat64(h.collector.m.rejected.WithLabelValues(reason)); got != n {
			t.Errorf("rejected{reason=%q} = %v, want %v", reason, got, n)
		}
	}
	// The store holds the readings before the collector records them (two
	// writers may finish in either order), and the status came last: wait
	// for both before reading the registry.
	waitFor(t, "readings recorded", func() bool {
		return testutil.ToFloat64(h.collector.m.readings.WithLabelValues("air")) == 2
	})
	waitFor(t, "station online", func() bool {
		v, ok := h.stations.Get("st-1")
		return ok && v.Status == station.Online && !v.StatusAt.IsZero()
	})
	// The latest values come from the stream's registry sink.
	waitFor(t, "the registry's sink took the readings", func() bool {
		return testutil.ToFloat64(h.collector.m.sinkRecords.WithLabelValues("live")) == 2
	})
	latest, _ := h.stations.Latest("st-1")
	if len(latest) != 2 || latest[1].Metric != "pm25" || latest[1].Value != 42.5 {
		t.Errorf("latest = %+v, want pm10 and pm25=42.5", latest)
	}
}

func TestCollectorRetriesUntilStored(t *testing.T) {
	h := startHarness(t, 3, nil)
	pub := publisher(t, h.broker.URL())
	base := time.Now().Add(-time.Hour)
	const n = 120
	for i := range n {
		publish(t, pub, "envmon/p1/st-2/noise", fmt.Sprintf(`{"ts":%d,"values":{"laeq":%d}}`, base.Add(time.Duration(i)*time.Second).UnixMilli(), 40+i%20))
	}
	waitFor(t, "all readings stored after failures", func() bool { return count(t, h.store, "st-2", "laeq") == n })
	if got := testutil.ToFloat64(h.collector.m.writeErrors); got != 3 {
		t.Errorf("write errors = %v, want 3", got)
	}
}

func TestCollectorFixedRegistry(t *testing.T) {
	h := startHarness(t, 0, []station.Station{{ID: "w-1", Point: "p1", Media: []reading.Medium{reading.Water}}})
	pub := publisher(t, h.broker.URL())
	now := time.Now().UnixMilli()
	publish(t, pub, "envmon/p1/w-9/water", fmt.Sprintf(`{"ts":%d,"values":{"ph":7.1}}`, now))
	publish(t, pub, "envmon/p1/w-1/water", fmt.Sprintf(`{"ts":%d,"values":{"ph":7.2}}`, now))
	waitFor(t, "registered station stored", func() bool { return count(t, h.store, "w-1", "ph") == 1 })
	waitFor(t, "unknown station counted", func() bool {
		return testutil.ToFloat64(h.collector.m.rejected.WithLabelValues(ReasonUnknownStation)) == 1
	})
	if _, ok := h.stations.Get("w-9"); ok {
		t.Error("unknown station was registered on a fixed registry")
	}
}

// TestSpooledReadingsSurviveRestart stops the collector while the store is
// down: the messages were acknowledged once spooled, so a new collector on
// the same spool writes them when the store is back.
func TestSpooledReadingsSurviveRestart(t *testing.T) {
	h := startHarness(t, 1<<30, nil) // the store never recovers in this collector's life
	pub := publisher(t, h.broker.URL())
	now := time.Now()
	const n = 10
	for i := range n {
		publish(t, pub, "envmon/p1/st-3/air", fmt.Sprintf(`{"ts":%d,"values":{"pm25":%d}}`, now.Add(time.Duration(i)*time.Second).UnixMilli(), i))
	}
	waitFor(t, "a failed write", func() bool { return h.store.writes.Load() > 0 })
	waitFor(t, "all spooled", func() bool {
		return testutil.ToFloat64(h.collector.m.messages.WithLabelValues("air", "accepted")) == n
	})
	h.stop()
	h.collector.cfg.Spool.Close()

	healthy := mem.New()
	runCollector(t, Config{
		Broker: h.broker.URL(), ClientID: "test-collector-2", BatchSize: 50,
		Store: healthy, Stations: h.stations, Logger: quietLogger(), Spool: openSpool(t, h.spoolDir),
	})
	waitFor(t, "spooled readings stored", func() bool { return count(t, healthy, "st-3", "pm25") == n })
}

func TestParseTopic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		topic   string
		want    Topic
		wantErr string
	}{
		{"envmon/p1/st-1/air", Topic{Point: "p1", Station: "st-1", Medium: reading.Air}, ""},
		{"envmon/p1/st-1/status", Topic{Point: "p1", Station: "st-1", Status: true}, ""},
		{"envmon/p1/st-1", Topic{}, "is not envmon/"},
		{"other/p1/st-1/air", Topic{}, "is not envmon/"},
		{"envmon/p1/st-1/air/extra", Topic{}, "is not envmon/"},
		{"envmon//st-1/air", Topic{}, "point"},
		{"envmon/p1/-x/air", Topic{}, "station"},
		{"envmon/p1/st-1/soil", Topic{}, "unknown medium"},
	}
	for _, tt := range tests {
		t.Run(tt.topic, func(t *testing.T) {
			got, rj := ParseTopic(tt.topic)
			if tt.wantErr != "" {
				if rj == nil || rj.Reason != ReasonBadTopic || !strings.Contains(rj.Detail, tt.wantErr) {
					t.Fatalf("ParseTopic = %v, want %q", rj, tt.wantErr)
				}
				return
			}
			if rj != nil || got != tt.want {
				t.Fatalf("ParseTopic = %+v, %v", got, rj)
			}
		})
	}
}
