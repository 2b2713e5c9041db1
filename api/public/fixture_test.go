package public

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/store/mem"
	"github.com/envmon/envmon/windows"
)

// cst is China Standard Time.
var cst = mustZone("Asia/Shanghai")

// now is the fixture's clock: five minutes after the hour 09:00-10:00
// CST ended, so the current hourly report is labelled 10:00.
var now0 = time.Date(2026, 11, 22, 10, 5, 0, 0, cst)

// reportEnd is the label of the current hourly report at now0.
var reportEnd = time.Date(2026, 11, 22, 10, 0, 0, 0, cst)

// hourlyValue is the value every sample of pollutant p has in hour i of
// the 24 hours ending at reportEnd (i = 23 is the last): each hour is
// constant, so its mean is exact.
func hourlyValue(p quality.Pollutant, i int) float64 {
	base := map[quality.Pollutant]float64{quality.PM25: 30, quality.PM10: 60, quality.SO2: 8, quality.NO2: 25, quality.CO: 0.6, quality.O3: 70}[p]
	step := map[quality.Pollutant]float64{quality.PM25: 1.5, quality.PM10: 2, quality.SO2: 0.5, quality.NO2: 1, quality.CO: 0.05, quality.O3: 3}[p]
	return base + step*float64(i%12) + 0.25*float64(i/12)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

type fakeLatest map[string][]reading.Latest

func (f fakeLatest) Latest(id string) ([]reading.Latest, bool) { v, ok := f[id]; return v, ok }

type fixture struct {
	clock    *clock
	win      *windows.Windows
	store    *mem.Store
	svc      *Service
	stations []StationInfo
	status   map[string]StationStatus
	mu       sync.Mutex
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newFixture has air stations st-1 (fed 24 full hours of all six
// pollutants) and st-2 (never reported, offline), water station w-1 and
// noise station n-1.
func newFixture(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	f := &fixture{clock: &clock{t: now0}, store: mem.New(), status: map[string]StationStatus{}}
	var err error
	f.win, err = windows.New(windows.Config{Now: f.clock.Now, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	f.stations = []StationInfo{
		{ID: "st-1", Point: "p1", Name: Name{Zh: "人民广场", En: "People's Square"}, PointName: Name{Zh: "市中心", En: "City centre"},
			Address: "1 Renmin Road", Medium: reading.Air, Coordinates: &Coordinates{Lat: 31.2304, Lon: 121.4737}, Location: cst},
		{ID: "st-2", Point: "p1", Name: Name{En: "Harbour"}, Medium: reading.Air, Coordinates: &Coordinates{Lat: 31.30, Lon: 121.50}},
		{ID: "st-3", Point: "p2", Medium: reading.Air}, // no coordinates
		{ID: "w-1", Point: "p3", Medium: reading.Water, WaterTarget: quality.ClassIII, WaterBody: quality.River},
		{ID: "n-1", Point: "p4", Medium: reading.Noise, NoiseZone: quality.Zone2},
	}
	f.status["st-2"] = StationStatus{State: StateOffline, Since: now0.Add(-3 * time.Hour)}
	f.status["st-1"] = StationStatus{State: StateOnline, Since: now0.Add(-30 * time.Hour)}
	var rs []reading.Reading
	for i := range 24 {
		start := reportEnd.Add(time.Duration(i-24) * time.Hour)
		for m := range 60 {
			r := reading.Reading{Point: "p1", Station: "st-1", Medium: reading.Air, Time: start.Add(time.Duration(m)*time.Minute + 30*time.Second)}
			for p := range quality.Pollutant(quality.NumPollutants) {
				r.Values = append(r.Values, reading.Value{Metric: p.String(), Value: hourlyValue(p, i)})
			}
			rs = append(rs, r)
			nr := reading.Reading{Point: "p4", Station: "n-1", Medium: reading.Noise, Time: r.Time,
				Values: []reading.Value{{Metric: "laeq", Value: 50 + float64(i%5)}, {Metric: "lmax", Value: 60 + float64(m%7)}}}
			rs = append(rs, nr)
		}
	}
	for _, r := range rs {
		f.win.Add(r, cst)
	}
	if err := f.store.Write(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	latest := fakeLatest{"w-1": {
		{Station: "w-1", Metric: "do", Value: 6.2, Time: now0.Add(-time.Hour)},
		{Station: "w-1", Metric: "nh3n", Value: 1.2, Time: now0.Add(-time.Hour)},
		{Station: "w-1", Metric: "tp", Value: 0.1, Time: now0.Add(-time.Hour), QC: 1},
	}}
	cfg := Config{
		Windows: f.win,
		Stations: StationsFunc(func() []StationInfo {
			f.mu.Lock()
			defer f.mu.Unlock()
			return append([]StationInfo(nil), f.stations...)
		}),
		Statuses: StatusFunc(func(id string) (StationStatus, bool) {
			f.mu.Lock()
			defer f.mu.Unlock()
			s, ok := f.status[id]
			return s, ok
		}),
		Latest:     latest,
		Aggregates: f.store,
		Standard:   quality.HJ633v2026,
		RateLimit:  -1,
		Now:        f.clock.Now,
		Logger:     discard(),
	}
	if mod != nil {
		mod(&cfg)
	}
	if f.svc, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) server(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(f.svc.Handler())
	t.Cleanup(srv.Close)
	return srv
}

func mustGet(t *testing.T, url string, hdr ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
