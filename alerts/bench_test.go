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

// BenchmarkConsume10kStations is the cost per reading of the default rules
// at 10,000 air stations, each reading six pollutants, in batches of 1,000,
// on SQLite, with the windows fed beside it (not counted).
func BenchmarkConsume10kStations(b *testing.B) {
	c := &clock{t: at("08:00")}
	eng := defaultEngine(b, c)
	const n = 10000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("st-%05d", i)
	}
	batch := make([]ingest.Accepted, 1000)
	b.ResetTimer()
	for i := 0; i < b.N; {
		t := at("08:00").Add(time.Duration(i/n) * time.Minute)
		c.Set(t)
		k := 0
		for ; k < len(batch) && i < b.N; k, i = k+1, i+1 {
			batch[k] = airReading(ids[i%n], t, i)
		}
		if err := eng.Consume(context.Background(), batch[:k]); err != nil {
			b.Fatal(err)
		}
	}
}

// defaultEngine returns an engine of the default rules on SQLite, with
// windows, on clock c; it is closed when the test ends.
func defaultEngine(tb testing.TB, c *clock) *alerts.Engine {
	tb.Helper()
	d, err := db.Open(context.Background(), dbtest.SQLite(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	w, _ := windows.New(windows.Config{Now: c.Now})
	eng, err := alerts.New(context.Background(), alerts.Config{DB: d, Rules: rules.Default(), Windows: w, Stations: alerts.StationsFunc(stations), Now: c.Now})
	if err != nil {
		tb.Fatal(err)
	}
	return eng
}

// airReading is an owned six-pollutant reading of station at t, within
// the default rules' limits; i varies the values.
func airReading(station string, t time.Time, i int) ingest.Accepted {
	r := reading.Reading{Station: station, Point: "p", Medium: reading.Air, Time: t, Values: []reading.Value{
		{Metric: "pm25", Value: 40 + float64(i%7)}, {Metric: "pm10", Value: 70 + float64(i%5)}, {Metric: "o3", Value: 90},
		{Metric: "no2", Value: 30 + float64(i%3)}, {Metric: "so2", Value: 8}, {Metric: "co", Value: 0.7 + float64(i%4)/10}}}
	return ingest.Accepted{Reading: r, Arrived: t, Owned: true}
}
