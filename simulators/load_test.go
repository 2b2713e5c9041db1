package simulators

import (
	"context"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/envmon/envmon/internal/testenv"
)

// TestLoadDeliversEverything publishes 2000 messages a second for a few
// seconds, to the embedded broker and to a real Mosquitto, and checks what
// does not depend on how fast the machine is: every message was
// acknowledged, none was sent ahead of the schedule, a subscriber received
// them all, and progress was reported. Whether the rate was sustained is
// the machine's business; TestLoadSummary checks how it is judged.
func TestLoadDeliversEverything(t *testing.T) {
	brokers := map[string]func(t *testing.T) string{
		"embedded":  func(t *testing.T) string { return startBroker(t) },
		"mosquitto": func(t *testing.T) string { return testenv.Mosquitto(t).URL },
	}
	for name, start := range brokers {
		t.Run(name, func(t *testing.T) {
			url := start(t)
			sub := subscribe(t, url)
			var mu sync.Mutex
			var progress []Progress
			cfg := LoadConfig{
				Transport: Transport{Broker: url, QoS: 1},
				Stations:  500, Rate: 2000, Duration: 3 * time.Second, Connections: 4,
			}
			sum, err := Load(context.Background(), cfg, func(p Progress) { mu.Lock(); progress = append(progress, p); mu.Unlock() })
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s", sum)
			if sum.Errors != 0 || sum.Messages == 0 || sum.Latency.P50 <= 0 || sum.Latency.P50 > sum.Latency.P99 || sum.Latency.P99 > sum.Latency.Max {
				t.Errorf("messages %d, errors %d, latency %+v", sum.Messages, sum.Errors, sum.Latency)
			}
			// The pacer sends what is due and no more: at most the schedule
			// of the whole run, whatever the machine.
			if limit := int64(cfg.scheduled(sum.Elapsed)) + int64(cfg.Connections); sum.Messages > limit {
				t.Errorf("%d messages in %s, more than the %d scheduled", sum.Messages, sum.Elapsed, limit)
			}
			mu.Lock()
			if len(progress) == 0 || progress[len(progress)-1].Published == 0 {
				t.Errorf("progress reported %d times: %+v", len(progress), progress)
			}
			mu.Unlock()
			deadline := time.Now().Add(10 * time.Second)
			for {
				sub.mu.Lock()
				n := int64(len(sub.msgs))
				sub.mu.Unlock()
				if n == sum.Messages {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("subscriber received %d of %d messages", n, sum.Messages)
				}
				time.Sleep(20 * time.Millisecond)
			}
			sub.mu.Lock()
			first := sub.msgs[0]
			sub.mu.Unlock()
			if !strings.HasPrefix(first.topic, "envmon/lp") || !strings.Contains(first.payload, `"pm25"`) || strings.Contains(first.payload, `"temp"`) {
				t.Errorf("load message %s %s: want the six pollutants", first.topic, first.payload)
			}
		})
	}
}

// TestLoadSchedule: with a ramp, the target rate rises linearly, and the
// schedule is its integral.
func TestLoadSchedule(t *testing.T) {
	t.Parallel()
	c := LoadConfig{Rate: 2000, Ramp: 2 * time.Second}
	for _, tt := range []struct {
		at              time.Duration
		rate, scheduled float64
	}{
		{0, 0, 0},
		{time.Second, 1000, 500},
		{2 * time.Second, 2000, 2000},
		{3 * time.Second, 2000, 4000},
	} {
		if r, s := c.rateAt(tt.at), c.scheduled(tt.at); math.Abs(r-tt.rate) > 1e-9 || math.Abs(s-tt.scheduled) > 1e-9 {
			t.Errorf("at %s: rate %v, scheduled %v; want %v, %v", tt.at, r, s, tt.rate, tt.scheduled)
		}
	}
	if s := (LoadConfig{Rate: 100}).scheduled(1500 * time.Millisecond); s != 150 {
		t.Errorf("without a ramp, 1.5 s at 100/s schedules %v", s)
	}
}

// TestLoadRamp runs a ramped SenML load with all 11 values.
func TestLoadRamp(t *testing.T) {
	url := startBroker(t)
	sum, err := Load(context.Background(), LoadConfig{
		Transport: Transport{Broker: url, QoS: 0}, Stations: 100, Rate: 2000, Ramp: 2 * time.Second, Duration: 3 * time.Second,
		Format: SenML, Values: 11,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Errors != 0 || sum.Messages == 0 || sum.Target <= 0 || sum.Target > 2000 {
		t.Errorf("ramped run: %s", sum)
	}
}

// TestLoadSummary judges runs from their counts and times, which the test
// sets: the rate is sustained within 5%, and a shortfall names its cause.
func TestLoadSummary(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name          string
		acked, errors int64
		stopped, end  time.Duration // sending stopped; the last ack came
		blocked       time.Duration // per connection, waiting for a slot
		behind        int64
		sustained     bool
		why           string
	}{
		{"on target", 10_000, 0, 10 * time.Second, 10 * time.Second, 0, 0, true, ""},
		{"4.9% short", 9_510, 0, 10 * time.Second, 10 * time.Second, 0, 0, true, ""},
		{"5.1% short, CPU-bound", 9_490, 0, 10 * time.Second, 10 * time.Second, 0, 510, false, "fell behind its schedule by 510 messages"},
		{"slow acknowledgements", 5_000, 0, 10 * time.Second, 10 * time.Second, 5 * time.Second, 0, false, "acknowledged too slowly"},
		{"failed publishes", 8_000, 2_000, 10 * time.Second, 10 * time.Second, 0, 0, false, "2000 publishes failed"},
		{"long tail", 10_000, 0, 10 * time.Second, 12 * time.Second, 0, 0, false, "came 2s after sending stopped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &loadRun{cfg: LoadConfig{Rate: 1000, Connections: 4, MaxInFlight: 256}, start: start}
			l.acked.Store(tt.acked)
			l.errors.Store(tt.errors)
			l.stopped.Store(int64(tt.stopped))
			l.end.Store(start.Add(tt.end).UnixNano())
			l.blocked.Store(int64(tt.blocked) * 4)
			l.behind.Store(tt.behind)
			l.hist.add(time.Millisecond)
			s := l.summary()
			if s.Sustained != tt.sustained || !strings.Contains(s.Shortfall, tt.why) || (tt.why == "") != (s.Shortfall == "") {
				t.Errorf("sustained %v, shortfall %q; want %v, %q", s.Sustained, s.Shortfall, tt.sustained, tt.why)
			}
			if s.Target != 1000 {
				t.Errorf("target %v, want 1000", s.Target)
			}
		})
	}
}

// TestLoadSaysWhyItFellShort asks for far more than one connection with
// one message in flight can carry, and wants to be told why.
func TestLoadSaysWhyItFellShort(t *testing.T) {
	url := startBroker(t)
	sum, err := Load(context.Background(), LoadConfig{
		Transport: Transport{Broker: url, QoS: 2}, Stations: 10, Rate: 1e6, Duration: time.Second,
		Connections: 1, MaxInFlight: 1,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Sustained || !strings.Contains(sum.Shortfall, "acknowledged too slowly") {
		t.Errorf("summary %s", sum)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []LoadConfig{
		{Rate: 0},
		{Rate: 10, Values: 12},
		{Rate: 10, Format: "xml"},
		{Rate: 10, Transport: Transport{Broker: "nonsense"}},
		{Rate: 10, Transport: Transport{Broker: "tcp://localhost:1", TLSInsecure: true}},
	} {
		if _, err := Load(context.Background(), c, nil); err == nil {
			t.Errorf("Load(%+v) succeeded", c)
		}
	}
}

func TestHistogram(t *testing.T) {
	t.Parallel()
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	l := h.latency()
	near := func(got, want time.Duration) bool { return math.Abs(float64(got-want)) <= 0.05*float64(want) }
	if !near(l.P50, 500*time.Millisecond) || !near(l.P90, 900*time.Millisecond) || !near(l.P99, 990*time.Millisecond) || l.Max != time.Second {
		t.Errorf("latency %+v", l)
	}
}
