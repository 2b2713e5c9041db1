package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/envmon/envmon/internal/testenv"
)

// hourCoverage returns, for each hour ending in (from, to], the minutes
// of PM2.5 the hourly report of station id counts, from the windows.
func hourCoverage(t *testing.T, base, id string, from, to time.Time) map[time.Time]int {
	t.Helper()
	q := url.Values{"report": {"hourly"}, "from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}
	res, err := http.Get(base + "/api/v1/stations/" + id + "/aqi?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var h struct {
		Items []struct {
			Period struct {
				End time.Time `json:"end"`
			} `json:"period"`
			Values []struct {
				Pollutant    string `json:"pollutant"`
				Averaging    string `json:"averaging"`
				Completeness struct {
					Have int `json:"have"`
				} `json:"completeness"`
			} `json:"values"`
		} `json:"items"`
	}
	if err := json.NewDecoder(res.Body).Decode(&h); err != nil {
		t.Fatalf("decode %s: %v", res.Request.URL, err)
	}
	out := map[time.Time]int{}
	for _, it := range h.Items {
		for _, v := range it.Values {
			if v.Pollutant == "pm25" && v.Averaging == "1h" {
				out[it.Period.End.UTC()] = v.Completeness.Have
			}
		}
	}
	return out
}

// sinkReadings returns envmon_stream_sink_readings_total{sink}.
func sinkReadings(t *testing.T, base, sink string) int {
	n, _ := metricValue(t, base, `envmon_stream_sink_readings_total{sink="`+sink+`"}`)
	return int(n)
}

// cursorLag returns envmon_spool_cursor_lag_records of the named cursor.
func cursorLag(t *testing.T, base, cursor string) (int, bool) {
	n, ok := metricValue(t, base, `envmon_spool_cursor_lag_records{cursor="`+cursor+`"}`)
	return int(n), ok
}

// metricValue returns the value of one series of envmon's /metrics, given
// as it is written there.
func metricValue(t *testing.T, base, series string) (float64, bool) {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		return 0, false
	}
	n, _ := strconv.ParseFloat(string(m[1]), 64)
	return n, true
}

// TestStreamMovesWhileStoreIsDown is issue 9's first proof. With InfluxDB
// stopped, the latest values, the station's status and the hourly windows
// keep moving, fed by the stream. envmon is then killed with SIGKILL, and
// restarted while InfluxDB is still down; when InfluxDB returns the store
// catches up. In the end InfluxDB holds every reading exactly once, the
// windows count each minute once, and the alerts sink, whose cursor is its
// own, was not given again what it had taken before the kill.
func TestStreamMovesWhileStoreIsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs InfluxDB and envmon processes")
	}
	influx := testenv.Influxd(t)
	dir := t.TempDir()
	args := []string{"--data-dir", dir, "--mqtt-open-registration", "--log-level", "info",
		"--influx-url", influx.URL, "--influx-bucket", influx.Bucket, "--influx-org", "-"}
	e := testenv.StartEnvmon(t, args...)

	// Two whole hours of a reading a minute, ending an hour ago: the first
	// hour goes in while InfluxDB is up, the second while it is down.
	hourB := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	hourA := hourB.Add(-time.Hour)
	pub := paho.NewClient(paho.NewClientOptions().AddBroker(e.MQTT).SetClientID("stream-test").SetAutoReconnect(false))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	publish := func(c paho.Client, from time.Time, n int) {
		t.Helper()
		var last paho.Token
		for i := range n {
			ts := from.Add(time.Duration(i) * time.Minute)
			last = c.Publish("envmon/p1/st-1/air", 1, false, fmt.Sprintf(`{"ts":%d,"values":{"pm25":%d}}`, ts.UnixMilli(), 30+i%20))
		}
		if !last.WaitTimeout(30*time.Second) || last.Error() != nil {
			t.Fatalf("publish: %v", last.Error())
		}
	}
	publish(pub, hourA, 60)
	client := influxdb2.NewClient(influx.URL, influx.Token)
	defer client.Close()
	from, to := hourA.Add(-time.Minute), hourB.Add(2*time.Hour)
	waitFor(t, time.Minute, "hour A in InfluxDB", func() bool {
		n, err := countPoints(t, client, influx.Bucket, from, to)
		return err == nil && n == 60
	})

	influx.Stop(t)
	publish(pub, hourB, 60)
	if tok := pub.Publish("envmon/p1/st-1/status", 1, true, "online"); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish status: %v", tok.Error())
	}
	newest := hourB.Add(59 * time.Minute)
	waitFor(t, 30*time.Second, "latest, status and windows moved with InfluxDB down", func() bool {
		v, ok := latest(t, e.HTTP, "st-1", "pm25")
		cov := hourCoverage(t, e.HTTP, "st-1", hourA, hourB.Add(time.Hour))
		return ok && v.Time.Equal(newest) && getStation(t, e.HTTP, "st-1").Status == "online" && cov[hourB.Add(time.Hour)] == 60
	})
	alertsBefore := sinkReadings(t, e.HTTP, "alerts")
	if alertsBefore < 120 {
		t.Fatalf("the alerts sink took %d readings, want all 120", alertsBefore)
	}
	// A sink commits once the stream has been quiet for a moment (250 ms):
	// wait for the alerts' commit, which the kill must not undo.
	waitFor(t, 30*time.Second, "the alerts cursor committed", func() bool {
		lag, ok := cursorLag(t, e.HTTP, "alerts")
		return ok && lag == 0
	})
	pub.Disconnect(0)

	e.Kill()
	e = testenv.StartEnvmon(t, args...)
	// The windows are in memory: rebuilt from the store (not answering)
	// and given again what the store lacks, hour B. The alerts keep theirs
	// in the database, and their cursor is past everything.
	waitFor(t, 30*time.Second, "hour B back in the windows", func() bool {
		return hourCoverage(t, e.HTTP, "st-1", hourA, hourB.Add(time.Hour))[hourB.Add(time.Hour)] == 60
	})
	if n := sinkReadings(t, e.HTTP, "alerts"); n != 0 {
		t.Errorf("after the restart the alerts sink was given %d readings again; its cursor was past them", n)
	}
	if v, ok := latest(t, e.HTTP, "st-1", "pm25"); !ok || !v.Time.Equal(newest) {
		t.Errorf("after the restart latest = %+v, %v; want the reading of %s", v, ok, newest)
	}

	influx.Start(t)
	waitFor(t, 2*time.Minute, "the store caught up", func() bool {
		n, err := countPoints(t, client, influx.Bucket, from, to)
		return err == nil && n >= 120
	})
	waitFor(t, time.Minute, "hour A rebuilt into the windows", func() bool {
		return hourCoverage(t, e.HTTP, "st-1", hourA, hourB.Add(time.Hour))[hourA.Add(time.Hour)] == 60
	})
	if n, err := countPoints(t, client, influx.Bucket, from, to); err != nil || n != 120 {
		t.Fatalf("InfluxDB holds %d points (%v), want exactly 120", n, err)
	}
	cov := hourCoverage(t, e.HTTP, "st-1", hourA, hourB.Add(time.Hour))
	if cov[hourA.Add(time.Hour)] != 60 || cov[hourB.Add(time.Hour)] != 60 {
		t.Fatalf("windows count %v minutes per hour, want 60 each (none twice)", cov)
	}
}
