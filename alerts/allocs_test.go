package alerts_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/envmon/envmon/alerts"
	"github.com/envmon/envmon/alerts/rules"
	"github.com/envmon/envmon/db"
	"github.com/envmon/envmon/db/dbtest"
	"github.com/envmon/envmon/ingest"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/windows"
)

// TestConsumeAllocs: once the engine knows a station, evaluating a reading
// of it that changes no episode allocates nothing (the default rules, air
// readings within their limits, between two saves of the arrivals).
func TestConsumeAllocs(t *testing.T) {
	c := &clock{t: at("08:00")}
	d, err := db.Open(context.Background(), dbtest.SQLite(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	w, _ := windows.New(windows.Config{Now: c.Now})
	eng, err := alerts.New(context.Background(), alerts.Config{DB: d, Rules: rules.Default(), Windows: w, Stations: alerts.StationsFunc(stations), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	batch := make([]ingest.Accepted, 100)
	fill := func(t0 time.Time) {
		for i := range batch {
			batch[i] = ingest.Accepted{Reading: reading.Reading{Station: fmt.Sprintf("st-%03d", i), Point: "p", Medium: reading.Air, Time: t0, Values: []reading.Value{
				{Metric: "pm25", Value: 40 + float64(i%7)}, {Metric: "pm10", Value: 70}, {Metric: "o3", Value: 90},
				{Metric: "no2", Value: 30}, {Metric: "so2", Value: 8}, {Metric: "co", Value: 0.7}}}, Arrived: t0, Owned: true}
		}
	}
	fill(at("08:00"))
	if err := eng.Consume(context.Background(), batch); err != nil { // meets the stations, and saves them
		t.Fatal(err)
	}
	fill(at("08:01"))
	allocs := testing.AllocsPerRun(20, func() {
		if err := eng.Consume(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Consume allocated %v times a batch of %d readings, want 0", allocs, len(batch))
	}
}
