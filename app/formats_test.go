package app

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/envmon/envmon/internal/secret"
	"github.com/envmon/envmon/quality"
)

func mosquittoPub(t *testing.T) string {
	t.Helper()
	pub, err := exec.LookPath("mosquitto_pub")
	if err != nil {
		if testing.Short() {
			t.Skip("mosquitto_pub not installed")
		}
		t.Fatal("mosquitto_pub not installed: run make test, which installs it")
	}
	return pub
}

func getJSON(t *testing.T, url, token string, into any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(body, into); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, body)
	}
	return res.StatusCode
}

// TestThirdPartyFormats: mosquitto_pub sends SenML and native JSON, in
// canonical and other units, and bad input of every kind. Good readings are
// stored in canonical units; bad ones are counted, listed with a reason, and
// never stop the service.
func TestThirdPartyFormats(t *testing.T) {
	pub := mosquittoPub(t)
	cfg := embeddedConfig(t, t.TempDir())
	cfg.API.AdminToken = secret.New("ops-token")
	cfg.Stations.File = "testdata/stations.yaml"
	r := start(t, cfg)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(r.app.BrokerURL(), "tcp://"))
	send := func(topic, payload string) {
		t.Helper()
		if out, err := exec.Command(pub, "-h", "127.0.0.1", "-p", port, "-q", "1", "-t", topic, "-m", payload).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_pub: %v: %s", err, out)
		}
	}
	ts := time.Now().Add(-time.Minute).Truncate(time.Second)
	send("envmon/p1/st-1/air", fmt.Sprintf(`{"ts":%d,"values":{"pm25":35.5,"so2":10},"units":{"so2":"ppb"}}`, ts.UnixMilli()))
	send("envmon/p1/st-2/air", fmt.Sprintf(`[{"bn":"urn:dev:envmon:st-2:","bt":%d,"bu":"ug/m3","n":"pm25","v":41},{"n":"co","u":"ppm","v":1.0},{"n":"temp","u":"Cel","v":12.5}]`, ts.Unix()))
	send("envmon/p1/st-2/air", fmt.Sprintf(`{"ts":%d,"values":{"pm25":-999}}`, ts.Add(time.Minute).UnixMilli())) // out of range: stored, flagged

	bad := map[string][2]string{ // reason → topic, payload
		"malformed":       {"envmon/p1/st-1/air", `{"ts":`},
		"too_large":       {"envmon/p1/st-1/air", `{"ts":1,"values":{"pm25":1},"pad":"` + strings.Repeat("x", 70<<10) + `"}`},
		"unknown_station": {"envmon/p1/st-99/air", fmt.Sprintf(`{"ts":%d,"values":{"pm25":1}}`, ts.UnixMilli())},
		"bad_unit":        {"envmon/p1/st-1/air", fmt.Sprintf(`{"ts":%d,"values":{"pm25":1},"units":{"pm25":"ppm"}}`, ts.UnixMilli())},
		"bad_topic":       {"envmon/p1/st-1/soil", `{}`},
	}
	for _, b := range bad {
		send(b[0], b[1])
	}

	base := r.app.HTTPURL()
	type value struct {
		Value float64  `json:"value"`
		Unit  string   `json:"unit"`
		QC    []string `json:"qc"`
	}
	var latest struct {
		Values map[string]value `json:"values"`
	}
	waitFor(t, 10*time.Second, "both formats stored", func() bool {
		getJSON(t, base+"/api/v1/stations/st-2/latest", "", &latest)
		_, ok := latest.Values["temp"]
		return ok && len(latest.Values["pm25"].QC) > 0
	})
	// Converted gas values keep 4 significant digits (ingest/units.go).
	sig4 := func(v float64) float64 { f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 4, 64), 64); return f }
	co, _ := quality.Convert(quality.CO, 1, quality.PPM, quality.MgM3)
	co = sig4(co)
	if v := latest.Values["co"]; math.Abs(v.Value-co) > 1e-9 || v.Unit != "mg/m³" {
		t.Errorf("SenML co 1 ppm stored as %+v, want %v mg/m³", v, co)
	}
	if v := latest.Values["pm25"]; v.Value != -999 || strings.Join(v.QC, ",") != "sentinel" {
		t.Errorf("sentinel pm25 = %+v, want -999 flagged sentinel", v)
	}
	getJSON(t, base+"/api/v1/stations/st-1/latest", "", &latest)
	so2, _ := quality.Convert(quality.SO2, 10, quality.PPB, quality.UgM3)
	so2 = sig4(so2)
	if v := latest.Values["so2"]; math.Abs(v.Value-so2) > 1e-9 || v.Unit != "µg/m³" || len(v.QC) != 0 {
		t.Errorf("native so2 10 ppb stored as %+v, want %v µg/m³", v, so2)
	}

	var rejected struct {
		Total    int64 `json:"total_rejected"`
		Rejected []struct {
			Reason, Topic, Detail string
		} `json:"rejected"`
	}
	waitFor(t, 10*time.Second, "rejections listed", func() bool {
		getJSON(t, base+"/api/v1/ingest/rejected", "ops-token", &rejected)
		return rejected.Total == int64(len(bad))
	})
	for _, rj := range rejected.Rejected {
		if bad[rj.Reason][0] != rj.Topic || rj.Detail == "" {
			t.Errorf("listed %+v, which was not sent with that reason", rj)
		}
		delete(bad, rj.Reason)
	}
	if len(bad) > 0 {
		t.Errorf("not listed: %v", bad)
	}
	var problem map[string]any
	if code := getJSON(t, base+"/api/v1/ingest/rejected", "wrong", &problem); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d %v", code, problem)
	}
	// The latest values come from the stream, which may be ahead of the
	// store; the flag is counted once the store has the reading.
	var metrics []byte
	waitFor(t, 10*time.Second, "the flagged value counted", func() bool {
		res, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		metrics, _ = io.ReadAll(res.Body)
		res.Body.Close()
		return strings.Contains(string(metrics), `envmon_ingest_flagged_values_total{flag="sentinel"} 1`)
	})
	for _, want := range []string{
		`envmon_ingest_rejected_total{reason="too_large"} 1`,
		`envmon_ingest_rejected_total{reason="unknown_station"} 1`,
		`envmon_ingest_flagged_values_total{flag="sentinel"} 1`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
