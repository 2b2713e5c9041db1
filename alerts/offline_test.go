package alerts_test

import (
	"strings"
	"testing"
	"time"

	"github.com/envmon/envmon/alerts"
	"github.com/envmon/envmon/alerts/rules"
	"github.com/envmon/envmon/reading"
)

const testRules = `
rules:
  - name: pm25_raw_high
    kind: threshold
    metric: pm25
    above: 100
    clear: 60
    for: 30m
  - name: pm25_1h_high
    kind: threshold
    metric: pm25
    window: 1h
    above: 115
    clear: 75
    for: 1h
  - name: station_offline
    kind: offline
    after: 15m
` + sensorFaultRule

// sensorFaultRule is the sensor-fault rule of testRules, as a rules list
// entry.
const sensorFaultRule = `  - name: sensor_fault
    kind: sensor_fault
    flags: [range, sentinel, stuck, spike]
    for: 20m
    stuck_for: 2h
    clear_for: 10m
`

func mustRules(t *testing.T, y string) *rules.Set {
	t.Helper()
	s, err := rules.Parse("test.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func one(t *testing.T, e *env, rule, station string) *alerts.Episode {
	t.Helper()
	eps := e.episodes(alerts.Query{Rule: rule, Station: station})
	if len(eps) != 1 {
		t.Fatalf("%d episodes of %s at %s, want 1", len(eps), rule, station)
	}
	return eps[0]
}

// TestOffline is Must-show 2: a station that stops publishing fires
// offline by the (controllable) clock, keeps counting from its last
// arrival across a restart, resolves when data returns, and inhibits its
// threshold alerts meanwhile.
func TestOffline(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			c := &clock{t: at("08:00")}
			rc := newReceiver(t, c)
			e := newEnv(t, eng.fresh(t), c, mustRules(t, testRules), rc, "a")
			// High readings from 08:00: the raw rule goes pending.
			for _, r := range series("st-2", at("08:00"), at("08:20"), time.Minute, func(t time.Time) any { return 150 + jitter(t) }) {
				e.feed(r)
			}
			if ep := one(t, e, "pm25_raw_high", "st-2"); ep.State != alerts.Pending {
				t.Fatalf("raw rule %s, want pending", ep.State)
			}
			// Silence. 14 minutes after the last arrival: nothing.
			c.Set(at("08:19").Add(14 * time.Minute))
			e.tick()
			if eps := e.episodes(alerts.Query{Rule: "station_offline"}); len(eps) != 0 {
				t.Fatalf("offline after 14 min: %+v", eps[0])
			}
			// A restart: the engine is dropped and made again on the same
			// database; it must count from the last arrival, not from now.
			e.start()
			c.Set(at("08:19").Add(16 * time.Minute))
			e.tick()
			off := one(t, e, "station_offline", "st-2")
			if off.State != alerts.Firing {
				t.Fatalf("offline is %s 16 min after the last arrival, want firing", off.State)
			}
			if !off.StartedAt.Equal(at("08:34")) {
				t.Errorf("offline started %v, want last arrival + 15m = 08:34", off.StartedAt)
			}
			// The pending threshold alert is inhibited: it ends without
			// firing, and the inhibiting alert is the one that notifies.
			raw := one(t, e, "pm25_raw_high", "st-2")
			if raw.State != alerts.Resolved || raw.Fired {
				t.Fatalf("raw rule %s (fired %v) while offline, want resolved unfired", raw.State, raw.Fired)
			}
			full, _ := e.eng.Get(t.Context(), raw.ID)
			if last := full.Transitions[len(full.Transitions)-1]; !strings.Contains(last.Note, "inhibited by station_offline") {
				t.Errorf("last transition %+v, want inhibited by station_offline", last)
			}
			e.dispatch()
			if rc.count("station_offline", "firing") != 1 || rc.count("pm25_raw_high", "firing") != 0 {
				t.Fatalf("notifications %+v", rc.keys)
			}
			// Data returns: offline resolves at its arrival, once.
			c.Set(at("09:00"))
			e.feed(air("st-2", at("09:00"), "pm25", 20))
			off = one(t, e, "station_offline", "st-2")
			if off.State != alerts.Resolved || !off.ResolvedAt.Equal(at("09:00")) {
				t.Fatalf("offline %s at %v after data, want resolved at 09:00", off.State, off.ResolvedAt)
			}
			e.tick()
			e.dispatch()
			if rc.count("station_offline", "resolved") != 1 {
				t.Fatalf("%d resolved notifications", rc.count("station_offline", "resolved"))
			}
		})
	}
}

// TestLastWill: a station whose connection ends fires offline at the next
// clock pass, without waiting for after.
func TestLastWill(t *testing.T) {
	c := &clock{t: at("08:00")}
	rc := newReceiver(t, c)
	e := newEnv(t, engines[0].fresh(t), c, mustRules(t, testRules), rc, "a")
	e.feed(air("st-3", at("08:00"), "pm25", 20))
	c.Set(at("08:01"))
	if err := e.eng.StationDisconnected(t.Context(), "p-st-3", "st-3", c.Now()); err != nil {
		t.Fatal(err)
	}
	e.tick()
	if off := one(t, e, "station_offline", "st-3"); off.State != alerts.Firing {
		t.Fatalf("offline %s after the last will", off.State)
	}
}

// TestQCFlagged is Must-show 3: -999 sentinels and a stuck sensor never fire
// a threshold alert, but fire the sensor-fault rule, which then inhibits
// the station's thresholds.
func TestQCFlagged(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			c := &clock{t: at("08:00")}
			rc := newReceiver(t, c)
			e := newEnv(t, eng.fresh(t), c, mustRules(t, testRules), rc, "a")
			// Two hours of -999 sentinels (and a flagged out-of-range 900).
			for _, r := range series("st-4", at("08:00"), at("10:00"), time.Minute, func(t time.Time) any {
				if t.Minute() == 30 {
					return flagged{900, reading.FlagRange}
				}
				return flagged{-999, reading.FlagSentinel}
			}) {
				e.feed(r)
			}
			for _, rule := range []string{"pm25_raw_high", "pm25_1h_high"} {
				if eps := e.episodes(alerts.Query{Rule: rule}); len(eps) != 0 {
					t.Errorf("%s raised by flagged readings: %+v", rule, eps[0])
				}
			}
			f := one(t, e, "sensor_fault", "st-4")
			if f.State != alerts.Firing || !f.FiringAt.Equal(at("08:20")) {
				t.Fatalf("sensor_fault %s at %v, want firing at 08:20", f.State, f.FiringAt)
			}
			// Clean readings: the fault clears after clear_for.
			for _, r := range series("st-4", at("10:00"), at("10:15"), time.Minute, func(t time.Time) any { return 30 + jitter(t) }) {
				e.feed(r)
			}
			if f := one(t, e, "sensor_fault", "st-4"); f.State != alerts.Resolved {
				t.Fatalf("sensor_fault %s after clean readings", f.State)
			}

			// A stuck PM10 beside a high PM2.5: the stuck sensor fires the
			// fault after stuck_for, and the PM2.5 breach that starts
			// during the fault is inhibited.
			for _, r := range series("st-5", at("08:00"), at("10:05"), 5*time.Minute, func(t time.Time) any { return 30 + jitter(t) }, "pm10", 55.0) {
				e.feed(r)
			}
			if f := one(t, e, "sensor_fault", "st-5"); f.State != alerts.Firing {
				t.Fatalf("stuck sensor_fault %s", f.State)
			}
			for _, r := range series("st-5", at("10:05"), at("11:00"), 5*time.Minute, func(t time.Time) any { return 200 + jitter(t) }, "pm10", 55.0) {
				e.feed(r)
			}
			if eps := e.episodes(alerts.Query{Rule: "pm25_raw_high", Station: "st-5"}); len(eps) != 0 {
				t.Fatalf("threshold raised at a faulty station: %+v", eps[0])
			}
			e.dispatch()
			if rc.count("sensor_fault", "firing") != 2 {
				t.Errorf("%d sensor_fault notifications, want 2", rc.count("sensor_fault", "firing"))
			}
		})
	}
}
