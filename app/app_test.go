package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/envmon/envmon/internal/config"
	"github.com/envmon/envmon/internal/testenv"
	"github.com/envmon/envmon/store"
)

type running struct {
	app    *App
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg config.Config) *running {
	t.Helper()
	return startWith(t, cfg, Options{})
}

func startWith(t *testing.T, cfg config.Config, opts Options) *running {
	t.Helper()
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	a, err := New(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{app: a, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	waitFor(t, 10*time.Second, "ready", func() bool {
		res, err := http.Get(a.HTTPURL() + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
	return r
}

func (r *running) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	if err := <-r.done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func embeddedConfig(t *testing.T, dataDir string) config.Config {
	cfg := config.Default()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.MQTT.Addr = "127.0.0.1:0"
	cfg.MQTT.OpenRegistration = true // mosquitto_pub and the simulators come without credentials
	cfg.DataDir = dataDir
	return cfg
}

type latestValue struct {
	Value float64   `json:"value"`
	Time  time.Time `json:"time"`
}

func latest(t *testing.T, base, station, metric string) (latestValue, bool) {
	res, err := http.Get(base + "/api/v1/stations/" + station + "/latest")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return latestValue{}, false
	}
	var body struct {
		Values map[string]latestValue `json:"values"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	v, ok := body.Values[metric]
	return v, ok
}

// TestThirdPartyPublisherAndRestart: a reading published with mosquitto_pub
// to the embedded broker shows in /latest, and is still there after a
// restart on the same data directory.
func TestThirdPartyPublisherAndRestart(t *testing.T) {
	pub, err := exec.LookPath("mosquitto_pub")
	if err != nil {
		if testing.Short() {
			t.Skip("mosquitto_pub not installed")
		}
		t.Fatal("mosquitto_pub not installed: run make test, which installs it")
	}
	dir := t.TempDir()
	cfg := embeddedConfig(t, dir)
	r := start(t, cfg)

	ts := time.Now().Add(-time.Second).UTC().Truncate(time.Millisecond)
	payload := fmt.Sprintf(`{"ts":%d,"values":{"pm25":42.5}}`, ts.UnixMilli())
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(r.app.BrokerURL(), "tcp://"))
	sent := time.Now()
	if out, err := exec.Command(pub, "-h", "127.0.0.1", "-p", port, "-q", "1", "-t", "envmon/p1/st-1/air", "-m", payload).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v: %s", err, out)
	}
	waitFor(t, 10*time.Second, "reading in /latest", func() bool {
		v, ok := latest(t, r.app.HTTPURL(), "st-1", "pm25")
		return ok && v.Value == 42.5 && v.Time.Equal(ts)
	})
	t.Logf("visible in /latest %s after publishing", time.Since(sent).Round(time.Millisecond))

	r.stop(t)
	cfg.HTTP.Addr = "127.0.0.1:0"
	r = start(t, cfg)
	if v, ok := latest(t, r.app.HTTPURL(), "st-1", "pm25"); !ok || v.Value != 42.5 || !v.Time.Equal(ts) {
		t.Fatalf("after restart latest = %+v, %v; want 42.5 at %s", v, ok, ts)
	}
}

// TestTenThousandReadingsToInfluxDB publishes 10,000 readings over a real
// Mosquitto to envmon writing to a real InfluxDB 1.8.10, and reads back
// exactly 10,000 points with Flux through influxdb-client-go.
func TestTenThousandReadingsToInfluxDB(t *testing.T) {
	broker := testenv.Mosquitto(t)
	influx := testenv.Influxd(t)

	cfg := config.Default()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.MQTT.Broker = broker.URL
	cfg.MQTT.ClientID = "envmon-it"
	cfg.DataDir = t.TempDir()
	cfg.Influx.URL = influx.URL
	cfg.Influx.Bucket = influx.Bucket
	cfg.Influx.Org = "-"
	cs := &countingStore{writes: map[string]int{}}
	startWith(t, cfg, Options{WrapStore: func(s store.Store) store.Store { cs.Store = s; return cs }})

	const stations, perStation = 10, 1000
	c := paho.NewClient(paho.NewClientOptions().AddBroker(broker.URL).SetClientID("it-publisher"))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	var last paho.Token
	for i := range perStation {
		for s := range stations {
			body := fmt.Sprintf(`{"ts":%d,"values":{"pm25":%d.5},"seq":%d}`, base.Add(time.Duration(i)*time.Second).UnixMilli(), i%300, i)
			last = c.Publish(fmt.Sprintf("envmon/p%d/st-%d/air", s%3, s), 1, false, body)
		}
	}
	if !last.WaitTimeout(60*time.Second) || last.Error() != nil {
		t.Fatalf("publish: %v", last.Error())
	}

	client := influxdb2.NewClient(influx.URL, influx.Token)
	defer client.Close()
	query := fmt.Sprintf(`from(bucket: %q)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == "air" and r._field == "pm25")
  |> group()
  |> count()`, influx.Bucket, base.Add(-time.Minute).Format(time.RFC3339), base.Add(2*time.Hour).Format(time.RFC3339))
	var n int64
	waitFor(t, 2*time.Minute, "10,000 points in InfluxDB", func() bool {
		res, err := client.QueryAPI("-").Query(context.Background(), query)
		if err != nil {
			t.Logf("query: %v", err)
			return false
		}
		n = 0
		for res.Next() {
			if v, ok := res.Record().Value().(int64); ok {
				n += v
			}
		}
		t.Logf("InfluxDB holds %d points", n)
		return n >= stations*perStation
	})
	// Let anything still in flight land before the exact check.
	time.Sleep(500 * time.Millisecond)
	res, err := client.QueryAPI("-").Query(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	n = 0
	for res.Next() {
		n += res.Record().Value().(int64)
	}
	if n != stations*perStation {
		t.Fatalf("InfluxDB holds %d points, want exactly %d", n, stations*perStation)
	}
	// InfluxDB overwrites a point written twice, so its count cannot show
	// a doubled write: the store's own count of writes per key does.
	if keys, doubled := cs.doubled(); keys != stations*perStation || doubled != 0 {
		t.Fatalf("the store was written %d keys, %d of them more than once; want %d, each once", keys, doubled, stations*perStation)
	}
}
