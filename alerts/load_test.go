package alerts_test

import (
	"database/sql"
	"testing"
	"time"

	"github.com/envmon/envmon/alerts"
	"github.com/envmon/envmon/reading"
)

// loadRules are the rules of the load and repeat tests: a raw threshold
// with flap damping and repeats, and offline.
const loadRules = `
rules:
  - name: pm25_flap
    kind: threshold
    metric: pm25
    above: 100
    clear: 60
    for: 5m
    min_resolved: 2h
    repeat_interval: 1h
  - name: station_offline
    kind: offline
    after: 15m
`

// moveLast deletes the episode and inserts it again, so that a scan of
// the table (in rowid order on SQLite, heap order on PostgreSQL) meets it
// after the others.
func moveLast(t *testing.T, e *env, id string) {
	t.Helper()
	err := e.db.Tx(t.Context(), func(tx *sql.Tx) error {
		for _, s := range []struct {
			q    string
			args []any
		}{
			{`CREATE TEMP TABLE ep_copy AS SELECT * FROM alerts_episodes WHERE id = $1`, []any{id}},
			{`DELETE FROM alerts_episodes WHERE id = $1`, []any{id}},
			{`INSERT INTO alerts_episodes SELECT * FROM ep_copy`, nil},
			{`DROP TABLE ep_copy`, nil},
		} {
			if _, err := tx.ExecContext(t.Context(), s.q, s.args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLoadOpenBesideResolved: a restart loads the open episode of a rule
// and station and the newest resolved one in no fixed order; the resolved
// one, met last, must not clear the open one, which resolves afterwards.
func TestLoadOpenBesideResolved(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			c := &clock{t: at("08:00")}
			rc := newReceiver(t, c)
			e := newEnv(t, eng.fresh(t), c, mustRules(t, loadRules), rc, "a")
			const st = "st-l1"
			e.feed(air(st, at("08:00"), "pm25", 20))
			c.Set(at("08:20"))
			e.tick() // offline fires
			e.feed(air(st, at("08:25"), "pm25", 20))
			first := one(t, e, "station_offline", st)
			if first.State != alerts.Resolved {
				t.Fatalf("first offline %s, want resolved", first.State)
			}
			c.Set(at("08:45"))
			e.tick() // offline fires again: open beside the resolved one
			moveLast(t, e, first.ID)
			e.start()
			e.feed(air(st, at("09:00"), "pm25", 20))
			eps := e.episodes(alerts.Query{Rule: "station_offline", Station: st})
			if len(eps) != 2 {
				t.Fatalf("%d offline episodes, want 2", len(eps))
			}
			for _, ep := range eps {
				if ep.State != alerts.Resolved {
					t.Fatalf("offline episode %s started %v is %s after data returned, want resolved", ep.ID, ep.StartedAt, ep.State)
				}
			}
			e.dispatch()
			if got := rc.count("station_offline", "resolved"); got != 2 {
				t.Errorf("%d resolved notifications, want 2", got)
			}
		})
	}
}

// TestLoadMinResolved: min_resolved counts from the newest resolution of
// an episode that fired, also when a pending episode that never fired
// resolved after it; a restart in between changes nothing.
func TestLoadMinResolved(t *testing.T) {
	for _, eng := range engines {
		for _, restart := range []bool{false, true} {
			name := eng.name
			if restart {
				name += "/restart"
			}
			t.Run(name, func(t *testing.T) {
				c := &clock{t: at("08:00")}
				rc := newReceiver(t, c)
				e := newEnv(t, eng.fresh(t), c, mustRules(t, loadRules), rc, "a")
				const st = "st-l2"
				feed := func(from, to time.Time, v float64) {
					for ts := from; !ts.After(to); ts = ts.Add(time.Minute) {
						e.feed(air(st, ts, "pm25", v))
					}
				}
				feed(at("08:00"), at("08:06"), 150) // fires at 08:05
				feed(at("08:07"), at("08:07"), 30)  // resolves at 08:07
				feed(at("08:20"), at("08:21"), 150) // pending
				feed(at("08:22"), at("08:22"), 30)  // ends unfired
				eps := e.episodes(alerts.Query{Rule: "pm25_flap", Station: st})
				if len(eps) != 2 {
					t.Fatalf("%d episodes before, want 2", len(eps))
				}
				if restart {
					e.start()
				}
				// 08:45 is past for, but within min_resolved (2h) of 08:07.
				feed(at("08:40"), at("08:50"), 150)
				var open []*alerts.Episode
				for _, ep := range e.episodes(alerts.Query{Rule: "pm25_flap", Station: st}) {
					if ep.State != alerts.Resolved {
						open = append(open, ep)
					}
				}
				if len(open) != 1 || open[0].State != alerts.Pending {
					states := make([]alerts.State, len(open))
					for i, ep := range open {
						states[i] = ep.State
					}
					t.Fatalf("open episodes %v, want one pending: min_resolved holds back the firing", states)
				}
			})
		}
	}
}

// TestRepeatInhibitedOnOtherReplica: a replica that does not own a station
// holds none of its episodes in memory; its clock pass must still not send
// a repeat of an episode that the station's firing offline alert inhibits,
// and must send the repeat of one that nothing inhibits.
func TestRepeatInhibitedOnOtherReplica(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			c, rc, a, b := twoReplicas(t, eng.fresh(t), loadRules)
			// feed gives a reading to a, which owns the station, and to b,
			// which does not.
			feed := func(r reading.Reading) { a.feed(r); b.feedUnowned(r) }
			// st-r1 fires, then falls silent; st-r2 fires and stays online.
			for ts := at("08:00"); ts.Before(at("08:11")); ts = ts.Add(time.Minute) {
				feed(air("st-r1", ts, "pm25", 150))
			}
			for ts := at("08:00"); !ts.After(at("09:10")); ts = ts.Add(5 * time.Minute) {
				feed(air("st-r2", ts, "pm25", 150))
				if ts.Equal(at("08:30")) {
					a.tick() // st-r1 goes offline
				}
			}
			if off := one(t, a, "station_offline", "st-r1"); off.State != alerts.Firing {
				t.Fatalf("st-r1 offline %s, want firing", off.State)
			}
			for _, st := range []string{"st-r1", "st-r2"} {
				if ep := one(t, a, "pm25_flap", st); ep.State != alerts.Firing {
					t.Fatalf("pm25_flap at %s %s, want firing", st, ep.State)
				}
			}
			// Past the repeat interval, only b runs its clock pass.
			c.Set(at("09:10"))
			b.tick()
			b.dispatch()
			got := map[string]int{}
			for _, m := range rc.messages() {
				if m.Envmon.Rule == "pm25_flap" && m.Envmon.Kind == "repeat" {
					got[m.Envmon.Station]++
				}
			}
			if got["st-r1"] != 0 {
				t.Errorf("%d repeats of the inhibited episode at st-r1, want 0", got["st-r1"])
			}
			if got["st-r2"] != 1 {
				t.Errorf("%d repeats at st-r2, want 1", got["st-r2"])
			}
		})
	}
}
