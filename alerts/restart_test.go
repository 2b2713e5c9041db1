package alerts_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/envmon/envmon/alerts"
	"github.com/envmon/envmon/alerts/rules"
	"github.com/envmon/envmon/db"
	"github.com/envmon/envmon/db/dbtest"
)

// TestRestartMidEpisode is Must-show 4: the engine is killed (dropped
// without a word, its database handle closed) right after the firing was
// committed and before the dispatcher delivered it, and again after a
// dispatcher claimed the row but before it sent it. The restarted engine
// is given the readings again, as the spool replays them: the firing is
// delivered exactly once, no episode is raised twice, and the resolved
// notification comes once.
func TestRestartMidEpisode(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			cfg := eng.fresh(t)
			c := &clock{t: at("08:00")}
			rc := newReceiver(t, c)
			e := newEnv(t, cfg, c, rules.Default(), rc, "a")
			rs := pm25Episode("st-6", at("17:00"))
			cut := 0
			for i, r := range rs {
				e.feed(asReading(r))
				if ep := e.episodes(alerts.Query{Rule: "pm25_1h_high", State: "firing"}); len(ep) == 1 {
					cut = i
					break
				}
			}
			if cut == 0 {
				t.Fatal("never fired")
			}
			// kill -9: no dispatch, no close of the engine.
			e.db.Close()
			e = newEnv(t, cfg, c, rules.Default(), rc, "b")
			// The spool replays the last batches.
			for _, r := range rs[cut-20 : cut+1] {
				e.feed(asReading(r))
			}
			// A dispatcher of replica "c" claims the row and dies before
			// sending: its lease holds the row until it ends.
			d2, err := db.Open(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer d2.Close()
			ids, err := d2.ClaimDue(t.Context(), db.Lease{Table: "alerts_outbox", Key: "id", Due: "due", Owner: "owner", Until: "lease_until"}, "c", c.Now(), 30*time.Second, 10)
			if err != nil || len(ids) == 0 {
				t.Fatalf("claim: %v %v", ids, err)
			}
			if n := e.dispatch(); n != 0 || len(rc.messages()) != 0 {
				t.Fatalf("sent %d while another replica held the lease", n)
			}
			c.Add(31 * time.Second)
			e.dispatch()
			if got := rc.count("pm25_1h_high", "firing"); got != 1 {
				t.Fatalf("%d firing notifications after the restart, want 1", got)
			}
			// A second restart, then the rest of the day.
			e.start()
			for _, r := range rs[cut+1:] {
				e.feed(asReading(r))
				e.dispatch()
			}
			if eps := e.episodes(alerts.Query{Rule: "pm25_1h_high"}); len(eps) != 1 || eps[0].State != alerts.Resolved {
				t.Fatalf("episodes %+v, want one, resolved", eps)
			}
			if f, r := rc.count("pm25_1h_high", "firing"), rc.count("pm25_1h_high", "resolved"); f != 1 || r != 1 {
				t.Fatalf("%d firing and %d resolved notifications, want 1 and 1", f, r)
			}
		})
	}
}

// TestRetryThenDeadLetter: a receiver that fails is retried with backoff,
// every attempt is recorded, and after Attempts the row is dead.
func TestRetryThenDeadLetter(t *testing.T) {
	c := &clock{t: at("08:00")}
	rc := newReceiver(t, c)
	rc.fails = 100
	e := newEnv(t, dbtest.SQLite(t), c, mustRules(t, testRules), rc, "a")
	e.feed(air("st-7", at("08:00"), "pm25", 20))
	c.Set(at("08:20"))
	e.tick()
	off := one(t, e, "station_offline", "st-7")
	e.dispatch() // attempt 1
	if n := e.dispatch(); n != 0 {
		t.Fatalf("retried before the backoff: %d", n)
	}
	c.Add(time.Second)
	e.dispatch() // attempt 2, after 1 s
	c.Add(2 * time.Second)
	e.dispatch() // attempt 3, after 2 s: the last
	c.Add(time.Hour)
	if n := e.dispatch(); n != 0 {
		t.Fatalf("a dead-lettered row was attempted again")
	}
	ds, err := e.eng.Deliveries(t.Context(), off.ID)
	if err != nil || len(ds) != 1 || ds[0].State != "dead" || ds[0].Attempts != 3 {
		t.Fatalf("deliveries %+v %v", ds, err)
	}
	var n int
	e.db.SQL().QueryRow(`SELECT COUNT(*) FROM alerts_attempts WHERE outbox_id = $1 AND ok = 0`, ds[0].Key).Scan(&n)
	if n != 3 {
		t.Fatalf("%d attempts recorded, want 3", n)
	}
}

// TestTwoReplicasOnePostgres is Must-show 5: two engines on one
// PostgreSQL, with the same rules and readings fed at the same time,
// produce one episode and one notification per incident.
func TestTwoReplicasOnePostgres(t *testing.T) {
	cfg := dbtest.Postgres(t)
	c := &clock{t: at("08:00")}
	rc := newReceiver(t, c)
	a := newEnv(t, cfg, c, rules.Default(), rc, "a")
	b := newEnv(t, cfg, c, rules.Default(), rc, "b")
	rs := pm25Episode("st-8", at("17:00"))
	for _, x := range rs {
		r := asReading(x)
		a.clock.Set(r.Time)
		a.win.Add(r, shanghai)
		b.win.Add(r, shanghai)
		var wg sync.WaitGroup
		for _, e := range []*env{a, b} {
			wg.Go(func() {
				if err := e.eng.Consume(context.Background(), batchOf(c, r)); err != nil {
					t.Error(err)
				}
				if _, err := e.disp.Once(context.Background()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	for _, rule := range []string{"pm25_1h_high", "aqi_heavy"} {
		eps := a.episodes(alerts.Query{Rule: rule, Station: "st-8"})
		fired := 0
		for _, ep := range eps {
			if ep.Fired {
				fired++
			}
		}
		if fired != 1 {
			t.Errorf("%s: %d fired episodes, want 1 (%d episodes)", rule, fired, len(eps))
		}
		if f, r := rc.count(rule, "firing"), rc.count(rule, "resolved"); f != 1 || r != 1 {
			t.Errorf("%s: %d firing and %d resolved notifications, want 1 and 1", rule, f, r)
		}
	}
	for k, n := range rc.keys {
		if n != 1 {
			t.Errorf("%s delivered %d times", k, n)
		}
	}
}
