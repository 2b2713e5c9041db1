package public

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/reading"
)

// feed gives station id the fixture's 24 hours, scaled by k.
func (f *fixture) feed(id string, k float64) {
	for i := range 24 {
		start := reportEnd.Add(time.Duration(i-24) * time.Hour)
		for m := range 60 {
			r := reading.Reading{Point: "p9", Station: id, Medium: reading.Air, Time: start.Add(time.Duration(m)*time.Minute + 30*time.Second)}
			for p := range quality.Pollutant(quality.NumPollutants) {
				r.Values = append(r.Values, reading.Value{Metric: p.String(), Value: hourlyValue(p, i) * k})
			}
			f.win.Add(r, cst)
		}
	}
	f.mu.Lock()
	f.stations = append(f.stations, StationInfo{ID: id, Point: "p9", Medium: reading.Air,
		Coordinates: &Coordinates{Lat: 31.2304 + k/100, Lon: 121.4737}})
	f.mu.Unlock()
}

// TestRankingTies: equal AQIs share a rank, the next rank skips, and
// stations without an AQI come last without a rank.
func TestRankingTies(t *testing.T) {
	f := newFixture(t, nil)
	f.feed("st-4", 1) // the same as st-1
	f.feed("st-5", 2) // worse
	f.feed("st-0", 0.5)
	res := mustGet(t, f.server(t).URL+"/api/v1/ranking?metric=aqi")
	defer res.Body.Close()
	var body struct {
		Ranking []struct {
			Rank    *int
			Station struct{ ID string }
			Value   *int
			Reason  *string
		}
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range body.Ranking {
		r := "-"
		if e.Rank != nil {
			r = string(rune('0' + *e.Rank))
		}
		got = append(got, e.Station.ID+":"+r)
	}
	want := []string{"st-0:1", "st-1:2", "st-4:2", "st-5:4", "st-2:-", "st-3:-"}
	if len(got) != len(want) {
		t.Fatalf("ranking %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ranking %v, want %v", got, want)
		}
	}
	if *body.Ranking[1].Value != *body.Ranking[2].Value || body.Ranking[4].Reason == nil {
		t.Errorf("tie values %v %v", *body.Ranking[1].Value, *body.Ranking[2].Value)
	}
}

func TestNear(t *testing.T) {
	f := newFixture(t, nil)
	res := mustGet(t, f.server(t).URL+"/api/v1/near?lat=31.2304&lon=121.4737&n=2")
	defer res.Body.Close()
	var body struct {
		Stations []struct {
			DistanceM float64 `json:"distance_m"`
			Station   struct{ ID string }
			AQI       *int
		}
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if len(body.Stations) != 2 || body.Stations[0].Station.ID != "st-1" || body.Stations[0].DistanceM != 0 || body.Stations[0].AQI == nil {
		t.Fatalf("near: %+v", body.Stations)
	}
	// st-2 at 31.30, 121.50: haversine ≈ 8.1 km.
	want := haversine(31.2304, 121.4737, 31.30, 121.50)
	if body.Stations[1].Station.ID != "st-2" || math.Abs(body.Stations[1].DistanceM-want) > 0.1 || want < 8000 || want > 8200 {
		t.Errorf("second: %+v, want st-2 at %.1f m", body.Stations[1], want)
	}
}

func TestHistoryHourly(t *testing.T) {
	f := newFixture(t, nil)
	res := mustGet(t, f.server(t).URL+"/api/v1/stations/st-1/aqi?from=2026-11-22T07:00:00%2B08:00&to=2026-11-22T10:00:00%2B08:00")
	defer res.Body.Close()
	var body struct {
		Count int
		Items []struct {
			AQI    *int
			Period struct{ End string }
		}
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.Count != 3 || body.Items[0].Period.End != "2026-11-22T08:00:00+08:00" || body.Items[2].Period.End != "2026-11-22T10:00:00+08:00" {
		t.Fatalf("history %+v", body)
	}
	want := expectedHourly(t, quality.HJ633v2026)
	if body.Items[2].AQI == nil || *body.Items[2].AQI != want.AQI {
		t.Errorf("last hour's AQI %v, want %d", ptr(body.Items[2].AQI), want.AQI)
	}
}
