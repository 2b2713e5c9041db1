package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/envmon/envmon/internal/testenv"
)

func countPoints(t *testing.T, client influxdb2.Client, bucket string, from, to time.Time) (int64, error) {
	t.Helper()
	q := fmt.Sprintf(`from(bucket: %q)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == "air" and r._field == "pm25")
  |> group()
  |> count()`, bucket, from.Format(time.RFC3339), to.Format(time.RFC3339))
	res, err := client.QueryAPI("-").Query(context.Background(), q)
	if err != nil {
		return 0, err
	}
	var n int64
	for res.Next() {
		if v, ok := res.Record().Value().(int64); ok {
			n += v
		}
	}
	return n, res.Err()
}

// shortStations says which stations have fewer than want points, for a
// failing test's message.
func shortStations(client influxdb2.Client, bucket string, from, to time.Time, want int64) string {
	q := fmt.Sprintf(`from(bucket: %q)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == "air" and r._field == "pm25")
  |> group(columns: ["station"])
  |> count()`, bucket, from.Format(time.RFC3339), to.Format(time.RFC3339))
	res, err := client.QueryAPI("-").Query(context.Background(), q)
	if err != nil {
		return "stations short: " + err.Error()
	}
	var short []string
	for res.Next() {
		if v, ok := res.Record().Value().(int64); ok && v < want {
			short = append(short, fmt.Sprintf("%v has %d", res.Record().ValueByKey("station"), v))
		}
	}
	return fmt.Sprintf("stations short: %v", short)
}

// ingestMetrics returns envmon's ingest and spool metrics, for a failing
// test's message.
func ingestMetrics(e *testenv.Envmon) string {
	res, err := http.Get(e.HTTP + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out []string
	for l := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(l, "envmon_ingest_") && !strings.Contains(l, "_bucket") || strings.HasPrefix(l, "envmon_spool_") || strings.HasPrefix(l, "envmon_store_") && !strings.Contains(l, "_bucket") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestFaultsLoseNothing publishes 20,000 readings at QoS 1 while InfluxDB
// is stopped for 30 s and restarted, and envmon is killed with SIGKILL once
// and restarted. Afterwards InfluxDB holds exactly 20,000 points.
func TestFaultsLoseNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test starts Mosquitto, InfluxDB and envmon processes")
	}
	broker := testenv.Mosquitto(t)
	influx := testenv.Influxd(t)
	dataDir := t.TempDir()
	args := []string{"--mqtt-broker", broker.URL, "--mqtt-client-id", "envmon-fault", "--data-dir", dataDir,
		"--influx-url", influx.URL, "--influx-bucket", influx.Bucket, "--influx-org", "-", "--log-level", "info"}
	proc := testenv.StartEnvmon(t, args...)

	const stations, perStation = 20, 1000
	const total = stations * perStation
	pub := paho.NewClient(paho.NewClientOptions().AddBroker(broker.URL).SetClientID("fault-publisher").SetCleanSession(false))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect publisher: %v", tok.Error())
	}
	defer pub.Disconnect(100)

	base := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	var published atomic.Int64
	var pubErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // about 400 messages a second: some 50 s of publishing
		defer wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		var last paho.Token
		for i := 0; i < perStation; {
			<-tick.C
			for range 1 {
				for s := range stations {
					body := fmt.Sprintf(`{"ts":%d,"values":{"pm25":%d,"pm10":%d}}`, base.Add(time.Duration(i)*time.Second).UnixMilli(), 20+i%50, 40+i%70)
					last = pub.Publish(fmt.Sprintf("envmon/p%d/st-%d/air", s%4, s), 1, false, body)
					published.Add(1)
				}
				i++
			}
		}
		if !last.WaitTimeout(time.Minute) {
			pubErr = fmt.Errorf("last publish not acknowledged")
		}
	}()

	waitFor(t, time.Minute, "publishing under way", func() bool { return published.Load() > total/10 })
	t.Logf("stopping InfluxDB after %d published", published.Load())
	influx.Stop(t)
	outage := time.Now()

	time.Sleep(8 * time.Second)
	t.Logf("SIGKILL envmon after %d published", published.Load())
	proc.Kill()
	time.Sleep(2 * time.Second)
	proc = testenv.StartEnvmon(t, args...)

	time.Sleep(30*time.Second - time.Since(outage))
	t.Logf("starting InfluxDB after %s down, %d published", time.Since(outage).Round(time.Second), published.Load())
	influx.Start(t)

	wg.Wait()
	if pubErr != nil {
		t.Fatal(pubErr)
	}
	client := influxdb2.NewClient(influx.URL, influx.Token)
	defer client.Close()
	from, to := base.Add(-time.Minute), base.Add(time.Hour)
	var n int64
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(time.Second) {
		var err error
		n, err = countPoints(t, client, influx.Bucket, from, to)
		if err == nil && n >= total {
			break
		}
		if time.Now().After(deadline) {
			logs := proc.LogTail()
			t.Fatalf("after 3 min InfluxDB holds %d of %d points (last error %v); %s\nenvmon's metrics:\n%s\nenvmon's log ends:\n%s",
				n, total, err, shortStations(client, influx.Bucket, from, to, perStation), ingestMetrics(proc), logs)
		}
	}
	time.Sleep(2 * time.Second) // anything still replaying lands now
	if n, err := countPoints(t, client, influx.Bucket, from, to); err != nil || n != total {
		t.Fatalf("InfluxDB holds %d points (err %v), want exactly %d", n, err, total)
	}
	logs, _ := os.ReadFile(proc.LogPath)
	if !strings.Contains(string(logs), "store write failed") {
		t.Errorf("envmon never saw InfluxDB down; the fault did not happen:\n%s", logs)
	}
}
