// Command api serves the public AQI routes and /api/v1/stations/{id}/latest
// with synthetic air stations, for bench/api/run.sh to load with wrk.
//
//	go run ./bench/api -stations 1000 -addr 127.0.0.1:18080
package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
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

func main() {
	n := flag.Int("stations", 1000, "air stations")
	addr := flag.String("addr", "127.0.0.1:18080", "listen address")
	flag.Parse()
	if err := run(*n, *addr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(n int, addr string) error {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	now := time.Now()
	win, err := windows.New(windows.Config{Logger: logger})
	if err != nil {
		return err
	}
	reg := station.New(nil, false, logger, station.MaxUnregistered(n+1))
	infos := make([]public.StationInfo, n)
	end := now.Truncate(time.Hour)
	for i := range n {
		id := fmt.Sprintf("st-%04d", i)
		infos[i] = public.StationInfo{ID: id, Point: "p1", Medium: reading.Air, Name: public.Name{En: id},
			Coordinates: &public.Coordinates{Lat: 30 + float64(i%100)/50, Lon: 120 + float64(i/100)/5}}
		if err := reg.Admit("p1", id, reading.Air); err != nil {
			return err
		}
		// 24 hours of 5-minute samples of the six pollutants.
		for t := end.Add(-24 * time.Hour); t.Before(now); t = t.Add(5 * time.Minute) {
			r := reading.Reading{Point: "p1", Station: id, Medium: reading.Air, Time: t}
			for p := range quality.Pollutant(quality.NumPollutants) {
				v := 20 + float64((i+int(t.Unix()/300))%40)
				if p == quality.CO {
					v /= 40
				}
				r.Values = append(r.Values, reading.Value{Metric: p.String(), Value: v})
			}
			win.Add(r, nil)
			reg.Observe([]reading.Reading{r})
		}
	}
	svc, err := public.New(public.Config{Windows: win, Stations: public.StationsFunc(func() []public.StationInfo { return infos }),
		RateLimit: -1, Logger: logger})
	if err != nil {
		return err
	}
	t0 := time.Now()
	svc.Refresh()
	refresh := time.Since(t0)
	base := api.Handler(api.Config{Stations: reg, Readings: mem.New(), Logger: logger})
	pub := svc.Handler()
	r := chi.NewRouter()
	for _, p := range public.Paths {
		r.Handle(p, pub)
	}
	r.Mount("/", base)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("ready: %d stations, snapshot refresh %v, heap %d MiB\n", n, refresh.Round(time.Millisecond), ms.HeapAlloc>>20)
	return http.ListenAndServe(addr, r)
}
