package webtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/envmon/envmon/internal/testenv"
)

// TestPageEnvmon walks the page against a real "envmon demo" process: its
// registry's stations and simulated fleet, its embedded broker, its
// windows and its public API. The simulators have not yet filled an hour
// when the test starts, so the test publishes the last hour's readings of
// a few stations over MQTT, as stations catching up after an outage do;
// then it publishes another station's hour while the page is open and
// watches the stream bring it in.
func TestPageEnvmon(t *testing.T) {
	chromium(t)
	// The current report is the last hour's: do not start so close to the
	// hour's end that the hour changes under the test.
	if left := time.Until(time.Now().Truncate(time.Hour).Add(time.Hour)); left < 3*time.Minute {
		t.Logf("waiting %v for the next hour", left.Round(time.Second))
		time.Sleep(left + 5*time.Second)
	}
	e := testenv.StartEnvmonCommand(t, "demo", "--data-dir", t.TempDir())
	base := e.HTTP
	res, err := http.Get(base + "/api/v1/aqi")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("envmon demo answers /api/v1/aqi with %s: the public routes (package api/public) must be mounted", res.Status)
	}
	mq := connect(t, e.MQTT)
	// The demo registry's air stations (station/demo/registry.yaml).
	levels := map[string]float64{"st-1": 20, "st-2": 60, "st-11": 120, "st-12": 210}
	points := map[string]string{"st-1": "p-civic", "st-2": "p-civic", "st-11": "p-industrial", "st-12": "p-industrial", "st-13": "p-industrial"}
	for id, pm := range levels {
		backfill(t, mq, points[id], id, pm)
	}
	waitAQI(t, base, "st-1", "st-2", "st-11", "st-12")
	ctx := newBrowser(t)
	checkHeaders(t, base)
	runPage(t, ctx, walk{base: base, dir: artifacts(t), live: "st-13", station: "st-11", minLevels: 3,
		feed: func() { backfill(t, mq, points["st-13"], "st-13", 160) }, lat: 30.6575, lon: 104.0660})
}

func connect(t *testing.T, broker string) paho.Client {
	t.Helper()
	opts := paho.NewClientOptions().AddBroker(broker).SetClientID("webtest-backfill").SetCleanSession(true).
		SetAutoReconnect(false).SetConnectTimeout(10 * time.Second)
	cl := paho.NewClient(opts)
	if tok := cl.Connect(); !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
		t.Fatalf("connect to %s: %v", broker, tok.Error())
	}
	t.Cleanup(func() { cl.Disconnect(0) })
	return cl
}

// backfill publishes a reading a minute for the last hour that ended, in
// the native JSON format of docs/MQTT.md, and waits for every PUBACK.
func backfill(t *testing.T, cl paho.Client, point, station string, pm25 float64) {
	t.Helper()
	start := time.Now().Truncate(time.Hour).Add(-time.Hour)
	topic := fmt.Sprintf("envmon/%s/%s/air", point, station)
	var toks []paho.Token
	for m := range 60 {
		vals := map[string]float64{}
		for _, v := range values(pm25, 23) {
			vals[v.Metric] = v.Value
		}
		body, _ := json.Marshal(map[string]any{"ts": start.Add(time.Duration(m)*time.Minute + 30*time.Second).UnixMilli(), "values": vals})
		toks = append(toks, cl.Publish(topic, 1, false, body))
	}
	for _, tok := range toks {
		if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatalf("publish to %s: %v", topic, tok.Error())
		}
	}
}

// waitAQI waits until /api/v1/aqi gives each station an AQI.
func waitAQI(t *testing.T, base string, ids ...string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var l aqiList
		getJSON(t, base+"/api/v1/aqi", &l)
		missing := []string{}
		for _, id := range ids {
			ok := false
			for _, e := range l.Stations {
				if e.Station.ID == id && e.AQI != nil {
					ok = true
				}
			}
			if !ok {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s /api/v1/aqi has no AQI for %v", missing)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
