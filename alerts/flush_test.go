package alerts_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/envmon/envmon/alerts"
	"github.com/envmon/envmon/ingest"
)

// stationFlushWait is more than the engine waits between saves of the
// stations' arrivals while readings come.
const stationFlushWait = 2 * time.Second

// TestStationArrivalsSaved: Consume saves the arrivals of many stations
// (several statements' worth, and a part of one), a later save keeps the
// greatest arrival and event time of each, a last will is saved and
// cleared, and a restarted engine counts offline from the saved arrivals.
func TestStationArrivalsSaved(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			c := &clock{t: at("08:00")}
			rc := newReceiver(t, c)
			e := newEnv(t, eng.fresh(t), c, mustRules(t, testRules), rc, "a")
			const n = 257
			id := func(i int) string { return fmt.Sprintf("st-%03d", i) }
			consume := func(from, to int, event, arrived time.Time) {
				t.Helper()
				var batch []ingest.Accepted
				for i := from; i < to; i++ {
					batch = append(batch, ingest.Accepted{Reading: air(id(i), event, "pm25", 20+i%5), Arrived: arrived, Owned: true})
				}
				if err := e.eng.Consume(context.Background(), batch); err != nil {
					t.Fatal(err)
				}
			}
			consume(0, n, at("08:00"), at("08:00"))
			// Later for some, and a replay older than what is saved for
			// others: the saved times only move forward.
			c.Set(at("08:05"))
			consume(0, 150, at("08:04"), at("08:05"))
			if err := e.eng.StationDisconnected(context.Background(), "p-"+id(3), id(3), at("08:06")); err != nil {
				t.Fatal(err)
			}
			if err := e.eng.StationDisconnected(context.Background(), "p-"+id(4), id(4), at("08:06")); err != nil {
				t.Fatal(err)
			}
			c.Set(at("08:07"))
			consume(100, n, at("07:30"), at("07:31"))
			c.Set(at("08:07").Add(stationFlushWait))
			consume(4, 5, at("08:07"), at("08:07")) // back after its last will

			type saved struct{ arrival, event, will int64 }
			rows, err := e.db.SQL().Query(`SELECT station, point, medium, last_arrival, last_event, will_at FROM alerts_stations`)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]saved{}
			for rows.Next() {
				var st, point, medium string
				var s saved
				var will sql.NullInt64
				if err := rows.Scan(&st, &point, &medium, &s.arrival, &s.event, &will); err != nil {
					t.Fatal(err)
				}
				if point != "p-"+st || medium != "air" {
					t.Errorf("%s: point %q, medium %q", st, point, medium)
				}
				s.will = will.Int64
				got[st] = s
			}
			rows.Close()
			if len(got) != n {
				t.Fatalf("%d stations saved, want %d", len(got), n)
			}
			msOf := func(hhmm string) int64 { return at(hhmm).UnixMilli() }
			for i := range n {
				want := saved{msOf("08:00"), msOf("08:00"), 0}
				if i < 150 {
					want = saved{msOf("08:05"), msOf("08:04"), 0}
				}
				switch i {
				case 3:
					want.will = msOf("08:06")
				case 4:
					want = saved{msOf("08:07"), msOf("08:07"), 0}
				}
				if got[id(i)] != want {
					t.Errorf("%s saved %+v, want %+v", id(i), got[id(i)], want)
				}
			}

			// A restart: offline counts from the saved arrivals.
			e.start()
			c.Set(at("08:21"))
			e.tick()
			for i := range n {
				eps := e.episodes(alerts.Query{Rule: "station_offline", Station: id(i)})
				firing := len(eps) == 1 && eps[0].State == alerts.Firing
				// Silent for more than 15 min by 08:21: those last heard at
				// 08:00 and 08:05 (not 08:07), and st-003 by its last will.
				if want := i != 4; firing != want {
					t.Errorf("%s offline firing = %v, want %v", id(i), firing, want)
				}
			}
		})
	}
}
