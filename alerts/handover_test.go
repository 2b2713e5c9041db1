package alerts_test

import (
	"testing"
	"time"

	"github.com/envmon/envmon/alerts"
	"github.com/envmon/envmon/reading"
)

// stuckRules are the rules of the stuck-sensor restart tests: the sensor
// fault of testRules, and in the damped variant with min_resolved, so that
// a stuck sensor's second episode waits pending.
const (
	stuckRules       = "rules:\n" + sensorFaultRule
	stuckDampedRules = stuckRules + `    min_resolved: 3h
`
)

// TestStuckAcrossRestart: a sensor-fault episode of a stuck metric goes on
// across a restart while the metric stays stuck (the restarted engine
// knows since when from the episode), and ends once when it changes; no
// second episode is raised for the same incident.
func TestStuckAcrossRestart(t *testing.T) {
	const st = "st-s1"
	type phase struct {
		from, to time.Time
		pm10     func(time.Time) any
		pm25     func(time.Time) any // 30 and a jitter if nil
		restart  bool                // before the phase
		want     alerts.State        // of the newest episode after it
	}
	stuck := func(time.Time) any { return 55.0 }
	moving := func(ts time.Time) any { return 55 + jitter(ts) }
	flaggedPM10 := func(time.Time) any { return flagged{-999, reading.FlagSentinel} }
	for _, tc := range []struct {
		name     string
		rules    string
		phases   []phase
		episodes int // in the end
		fired    int // firing (and resolved) notifications
	}{{
		name:  "firing",
		rules: stuckRules,
		phases: []phase{
			{from: at("08:00"), to: at("10:05"), pm10: stuck, want: alerts.Firing}, // stuck for 2 h at 10:00
			// Restarted, still stuck: past clear_for and past 2 h from the
			// restart, one episode, firing.
			{from: at("10:05"), to: at("12:30"), pm10: stuck, restart: true, want: alerts.Firing},
			{from: at("12:30"), to: at("12:50"), pm10: moving, want: alerts.Resolved},
		},
		episodes: 1, fired: 1,
	}, {
		// The second episode of the day waits pending for min_resolved;
		// after the restart it must not end as cleared, and fires once
		// min_resolved has passed.
		name:  "pending",
		rules: stuckDampedRules,
		phases: []phase{
			{from: at("08:00"), to: at("08:25"), pm10: flaggedPM10, want: alerts.Firing}, // flagged for 20 m at 08:20
			{from: at("08:25"), to: at("08:40"), pm10: moving, want: alerts.Resolved},    // resolved at 08:35
			{from: at("08:40"), to: at("10:45"), pm10: stuck, want: alerts.Pending},      // stuck from 08:40; held until 11:35
			{from: at("10:45"), to: at("11:30"), pm10: stuck, restart: true, want: alerts.Pending},
			{from: at("11:30"), to: at("11:45"), pm10: stuck, want: alerts.Firing},
			{from: at("11:45"), to: at("12:05"), pm10: moving, want: alerts.Resolved},
		},
		episodes: 2, fired: 2,
	}, {
		// The episode fired on flagged PM10, so its evidence names PM10;
		// PM2.5 has been stuck since 08:00 and is the fault at the
		// restart. The restarted engine cannot know since when: it must
		// not count PM2.5 clear until it changes or 2 h have passed.
		name:  "unknown",
		rules: stuckRules,
		phases: []phase{
			{from: at("08:00"), to: at("10:30"), pm10: flaggedPM10, pm25: stuck, want: alerts.Firing}, // flagged for 20 m at 08:20
			{from: at("10:30"), to: at("12:45"), pm10: moving, pm25: stuck, restart: true, want: alerts.Firing},
			{from: at("12:45"), to: at("13:05"), pm10: moving, pm25: moving, want: alerts.Resolved},
		},
		episodes: 1, fired: 1,
	}} {
		for _, eng := range engines {
			t.Run(tc.name+"/"+eng.name, func(t *testing.T) {
				c := &clock{t: at("08:00")}
				rc := newReceiver(t, c)
				e := newEnv(t, eng.fresh(t), c, mustRules(t, tc.rules), rc, "a")
				for i, p := range tc.phases {
					if p.restart {
						e.start()
					}
					for ts := p.from; ts.Before(p.to); ts = ts.Add(5 * time.Minute) {
						pm25 := any(30 + jitter(ts))
						if p.pm25 != nil {
							pm25 = p.pm25(ts)
						}
						e.feed(air(st, ts, "pm25", pm25, "pm10", p.pm10(ts)))
					}
					eps := e.episodes(alerts.Query{Rule: "sensor_fault", Station: st})
					if len(eps) == 0 {
						t.Fatalf("phase %d: no episode", i)
					}
					newest := eps[0]
					for _, ep := range eps {
						if ep.StartedAt.After(newest.StartedAt) {
							newest = ep
						}
					}
					if newest.State != p.want {
						t.Fatalf("phase %d (to %s): newest of %d episodes %s, want %s", i, p.to.Format("15:04"), len(eps), newest.State, p.want)
					}
				}
				if eps := e.episodes(alerts.Query{Rule: "sensor_fault", Station: st}); len(eps) != tc.episodes {
					t.Fatalf("%d episodes, want %d", len(eps), tc.episodes)
				}
				e.dispatch()
				if f, r := rc.count("sensor_fault", "firing"), rc.count("sensor_fault", "resolved"); f != tc.fired || r != tc.fired {
					t.Errorf("%d firing and %d resolved notifications, want %d and %d", f, r, tc.fired, tc.fired)
				}
			})
		}
	}
}

// TestOwnershipMoves: when a station's readings move to another replica,
// that replica takes over the station's open episodes and resolves them
// when the data says so, once; and a replica that gets a station back
// does not hold an episode another replica resolved meanwhile.
func TestOwnershipMoves(t *testing.T) {
	const st = "st-m1"
	for _, tc := range []struct {
		name string
		// run feeds the readings; to(x, y, r) gives r to x as owned and to
		// y as not owned.
		run              func(t *testing.T, c *clock, a, b *env, to func(x, y *env, r reading.Reading))
		rule             string
		episodes, firing int
	}{{
		name: "threshold",
		run: func(t *testing.T, c *clock, a, b *env, to func(x, y *env, r reading.Reading)) {
			for ts := at("08:00"); !ts.After(at("08:10")); ts = ts.Add(time.Minute) {
				to(a, b, air(st, ts, "pm25", 150)) // fires at 08:05
			}
			for ts := at("08:11"); !ts.After(at("08:20")); ts = ts.Add(time.Minute) {
				to(b, a, air(st, ts, "pm25", 30))
			}
		},
		rule: "pm25_flap", episodes: 1, firing: 1,
	}, {
		name: "offline",
		run: func(t *testing.T, c *clock, a, b *env, to func(x, y *env, r reading.Reading)) {
			to(a, b, air(st, at("08:00"), "pm25", 20))
			c.Set(at("08:20"))
			a.tick() // offline fires
			to(b, a, air(st, at("08:25"), "pm25", 20))
			to(b, a, air(st, at("08:30"), "pm25", 20))
		},
		rule: "station_offline", episodes: 1, firing: 1,
	}, {
		name: "back",
		run: func(t *testing.T, c *clock, a, b *env, to func(x, y *env, r reading.Reading)) {
			for ts := at("08:00"); !ts.After(at("08:10")); ts = ts.Add(time.Minute) {
				to(a, b, air(st, ts, "pm25", 150))
			}
			for ts := at("08:11"); !ts.After(at("08:20")); ts = ts.Add(time.Minute) {
				to(b, a, air(st, ts, "pm25", 30)) // b resolves at 08:11
			}
			// Back to a, past min_resolved (2 h): a second incident.
			for ts := at("10:30"); !ts.After(at("10:40")); ts = ts.Add(time.Minute) {
				to(a, b, air(st, ts, "pm25", 150))
			}
		},
		rule: "pm25_flap", episodes: 2, firing: 2,
	}} {
		for _, eng := range engines {
			t.Run(tc.name+"/"+eng.name, func(t *testing.T) {
				c, rc, a, b := twoReplicas(t, eng.fresh(t), loadRules)
				to := func(x, y *env, r reading.Reading) { x.feed(r); y.feedUnowned(r) }
				tc.run(t, c, a, b, to)
				eps := a.episodes(alerts.Query{Rule: tc.rule, Station: st})
				if len(eps) != tc.episodes {
					t.Fatalf("%d episodes of %s, want %d", len(eps), tc.rule, tc.episodes)
				}
				for _, ep := range eps {
					want := alerts.Resolved
					if tc.episodes == 2 && ep.StartedAt.After(at("10:00")) {
						want = alerts.Firing
					}
					if ep.State != want {
						t.Errorf("episode started %s is %s, want %s", ep.StartedAt.In(shanghai).Format("15:04"), ep.State, want)
					}
				}
				a.dispatch()
				b.dispatch()
				if f, r := rc.count(tc.rule, "firing"), rc.count(tc.rule, "resolved"); f != tc.firing || r != 1 {
					t.Errorf("%d firing and %d resolved notifications, want %d and 1", f, r, tc.firing)
				}
			})
		}
	}
}
