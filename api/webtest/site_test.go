package webtest

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/envmon/envmon/api"
	"github.com/envmon/envmon/api/public"
	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/station"
	"github.com/envmon/envmon/store/mem"
	"github.com/envmon/envmon/windows"
)

// site is envmon's HTTP handler, with the public resources of package
// public over real windows fed with synthetic readings: air stations at
// every AQI level, one offline and one that starts reporting when the test
// calls feedLive, a station without coordinates, water and noise stations.
type site struct {
	URL   string
	now   time.Time
	end   time.Time // the end of the last hour that ended: the current report's label
	win   *windows.Windows
	svc   *public.Service
	store *mem.Store
}

var cst = func() *time.Location {
	l, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return l
}()

// airStation is one synthetic air station; pm25 is its PM2.5 level in
// µg/m³ (0: it never reported).
type airStation struct {
	info public.StationInfo
	pm25 float64
}

// liveStation is the station feedLive brings online.
const liveStation = "a-live"

func coords(lat, lon float64) *public.Coordinates { return &public.Coordinates{Lat: lat, Lon: lon} }

var airStations = []airStation{
	{public.StationInfo{ID: "a-good", Point: "p-civic", Name: public.Name{Zh: "市民广场空气站", En: "Civic Square air"},
		PointName: public.Name{Zh: "市民中心", En: "Civic Centre"}, Address: "清水市河西区市民大道1号", Coordinates: coords(30.6571, 104.0658)}, 12},
	{public.StationInfo{ID: "a-moderate", Point: "p-civic", Name: public.Name{Zh: "图书馆空气站", En: "City Library air"},
		PointName: public.Name{Zh: "市民中心", En: "Civic Centre"}, Address: "清水市河西区图书馆路2号", Coordinates: coords(30.6590, 104.0702)}, 48},
	{public.StationInfo{ID: "a-light", Point: "p-park", Name: public.Name{Zh: "园区北门空气站", En: "Park north gate air"},
		PointName: public.Name{Zh: "工业园区", En: "Industrial Park"}, Address: "清水市东山区园区路16号", Coordinates: coords(30.6302, 104.1203)}, 95},
	{public.StationInfo{ID: "a-medium", Point: "p-park", Name: public.Name{Zh: "兴福社区空气站", En: "Xingfu Community air"},
		PointName: public.Name{Zh: "工业园区", En: "Industrial Park"}, Address: "清水市东山区兴福路3号", Coordinates: coords(30.6275, 104.1150)}, 130},
	{public.StationInfo{ID: "a-heavy", Point: "p-park", Name: public.Name{Zh: "园区南区空气站", En: "Park south air"},
		PointName: public.Name{Zh: "工业园区", En: "Industrial Park"}, Address: "清水市东山区南环路8号", Coordinates: coords(30.6241, 104.1228)}, 190},
	{public.StationInfo{ID: "a-severe", Point: "p-park", Name: public.Name{Zh: "园区东区空气站", En: "Park east air"},
		PointName: public.Name{Zh: "工业园区", En: "Industrial Park"}, Address: "清水市东山区东环路1号", Coordinates: coords(30.6290, 104.1310)}, 280},
	{public.StationInfo{ID: "a-nocoords", Point: "p-mobile", Name: public.Name{Zh: "流动监测车一号", En: "Monitoring van 1"},
		PointName: public.Name{Zh: "流动监测", En: "Mobile monitoring"}}, 30},
	{public.StationInfo{ID: "a-offline", Point: "p-civic", Name: public.Name{Zh: "体育中心空气站", En: "Sports Centre air"},
		PointName: public.Name{Zh: "市民中心", En: "Civic Centre"}, Coordinates: coords(30.6522, 104.0712)}, 0},
	{public.StationInfo{ID: liveStation, Point: "p-river", Name: public.Name{Zh: "滨河公园空气站", En: "Riverside Park air"},
		PointName: public.Name{Zh: "滨江", En: "Riverside"}, Address: "清水市河西区滨江路88号", Coordinates: coords(30.6655, 104.0533)}, 0},
}

// livePM25 is the PM2.5 level feedLive sends.
const livePM25 = 160

// values are the six pollutants of an air station whose PM2.5 is pm25,
// varying over the day so that the charts have a shape.
func values(pm25 float64, hour int) []reading.Value {
	f := 1 + 0.15*math.Sin(float64(hour)/3)
	return []reading.Value{
		{Metric: "pm25", Value: pm25 * f}, {Metric: "pm10", Value: pm25 * 1.2 * f},
		{Metric: "so2", Value: 8 * f}, {Metric: "no2", Value: 22 * f},
		{Metric: "co", Value: 0.6 * f}, {Metric: "o3", Value: 55 * (2 - f)},
	}
}

type fakeLatest map[string][]reading.Latest

func (f fakeLatest) Latest(id string) ([]reading.Latest, bool) { v, ok := f[id]; return v, ok }

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newSite starts the site; its clock stands still twenty minutes after
// the last hour ended, so that no hour ends during the test.
func newSite(t *testing.T) *site {
	t.Helper()
	real := time.Now().In(cst)
	s := &site{end: real.Truncate(time.Hour), store: mem.New()}
	s.now = s.end.Add(20 * time.Minute)
	clock := func() time.Time { return s.now }
	var err error
	if s.win, err = windows.New(windows.Config{Now: clock, Logger: discard()}); err != nil {
		t.Fatal(err)
	}
	infos := []public.StationInfo{}
	for _, a := range airStations {
		in := a.info
		in.Medium, in.Location = reading.Air, cst
		infos = append(infos, in)
	}
	infos = append(infos,
		public.StationInfo{ID: "w-upstream", Point: "p-river", Name: public.Name{Zh: "清河上游断面", En: "Qing River upstream"}, Medium: reading.Water,
			PointName: public.Name{Zh: "滨江", En: "Riverside"}, WaterTarget: quality.ClassIII, WaterBody: quality.River, Location: cst, Coordinates: coords(30.6702, 104.0421)},
		public.StationInfo{ID: "w-outflow", Point: "p-river", Name: public.Name{Zh: "清河出城断面", En: "Qing River outflow"}, Medium: reading.Water,
			PointName: public.Name{Zh: "滨江", En: "Riverside"}, WaterTarget: quality.ClassIII, WaterBody: quality.River, Location: cst, Coordinates: coords(30.6580, 104.0811)},
		public.StationInfo{ID: "n-lantern", Point: "p-civic", Name: public.Name{Zh: "灯笼社区噪声站", En: "Lantern Community noise"}, Medium: reading.Noise,
			PointName: public.Name{Zh: "市民中心", En: "Civic Centre"}, NoiseZone: quality.Zone1, Location: cst, Coordinates: coords(30.6552, 104.0631)},
	)
	status := map[string]public.StationStatus{"a-offline": {State: public.StateOffline, Since: s.now.Add(-5 * time.Hour)}}
	for _, a := range airStations {
		if a.pm25 > 0 {
			status[a.info.ID] = public.StationStatus{State: public.StateOnline, Since: s.now.Add(-30 * time.Hour)}
		}
	}
	var mu sync.Mutex

	var rs []reading.Reading
	for i := range 24 {
		start := s.end.Add(time.Duration(i-24) * time.Hour)
		for m := range 60 {
			at := start.Add(time.Duration(m)*time.Minute + 30*time.Second)
			for _, a := range airStations {
				if a.pm25 > 0 {
					rs = append(rs, reading.Reading{Point: a.info.Point, Station: a.info.ID, Medium: reading.Air, Time: at, Values: values(a.pm25, i)})
				}
			}
			rs = append(rs, reading.Reading{Point: "p-civic", Station: "n-lantern", Medium: reading.Noise, Time: at,
				Values: []reading.Value{{Metric: "laeq", Value: 48 + float64(i%6)}, {Metric: "lmax", Value: 58 + float64(m%9)}}})
		}
	}
	for _, r := range rs {
		s.win.Add(r, cst)
	}
	if err := s.store.Write(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	latest := fakeLatest{
		"w-upstream": {
			{Station: "w-upstream", Metric: "do", Value: 7.1, Time: s.now.Add(-40 * time.Minute)},
			{Station: "w-upstream", Metric: "nh3n", Value: 0.4, Time: s.now.Add(-40 * time.Minute)},
		},
		"w-outflow": {
			{Station: "w-outflow", Metric: "do", Value: 4.2, Time: s.now.Add(-40 * time.Minute)},
			{Station: "w-outflow", Metric: "nh3n", Value: 1.7, Time: s.now.Add(-40 * time.Minute)},
		},
	}
	s.svc, err = public.New(public.Config{
		Windows:  s.win,
		Stations: public.StationsFunc(func() []public.StationInfo { return infos }),
		Statuses: public.StatusFunc(func(id string) (public.StationStatus, bool) {
			mu.Lock()
			defer mu.Unlock()
			st, ok := status[id]
			return st, ok
		}),
		Latest:     latest,
		Aggregates: s.store,
		Standard:   quality.HJ633v2026,
		RateLimit:  -1,
		Debounce:   200 * time.Millisecond,
		Now:        clock,
		Logger:     discard(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	// Mount the public routes beside api's own, as the service does.
	reg := station.New(nil, false, discard())
	base := api.Handler(api.Config{Stations: reg, Readings: s.store, Logger: discard(), Now: clock})
	pub := s.svc.Handler()
	r := chi.NewRouter()
	for _, p := range public.Paths {
		r.Handle(p, pub)
	}
	r.Mount("/", base)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// feedLive sends the live station's readings of the last hour that ended,
// as a station that has just come online does: the windows tell the
// public service, which recomputes the report and streams it.
func (s *site) feedLive() {
	start := s.end.Add(-time.Hour)
	for m := range 60 {
		s.win.Add(reading.Reading{Point: "p-river", Station: liveStation, Medium: reading.Air,
			Time: start.Add(time.Duration(m)*time.Minute + 30*time.Second), Values: values(livePM25, 23)}, cst)
	}
}
