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

// TestLoadSustainsRate publishes 2000 messages a second for a few seconds,
// to the embedded broker and to a real Mosquitto, and checks that the run
// reached its target within 5% (or said why it could not), that every
// message was acknowledged, and that a subscriber received them all.
func TestLoadSustainsRate(t *testing.T) {
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
			sum, err := Load(context.Background(), LoadConfig{
				Transport: Transport{Broker: url, QoS: 1},
				Stations:  500, Rate: 2000, Duration: 3 * time.Second, Connections: 4,
			}, func(p Progress) { mu.Lock(); progress = append(progress, p); mu.Unlock() })
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s", sum)
			ratio := sum.Rate / sum.Target
			if !sum.Sustained {
				t.Fatalf("did not sustain 2000/s (achieved/target %.3f): %s", ratio, sum.Shortfall)
			}
			if math.Abs(ratio-1) > 0.05 || sum.Shortfall != "" {
				t.Errorf("achieved/target = %.3f, want within 5%% of 1", ratio)
			}
			if sum.Errors != 0 || sum.Latency.P50 <= 0 || sum.Latency.P50 > sum.Latency.P99 || sum.Latency.P99 > sum.Latency.Max {
				t.Errorf("errors %d, latency %+v", sum.Errors, sum.Latency)
			}
			scheduled := int64(2000 * 3)
			if sum.Messages < scheduled*95/100 || sum.Messages > scheduled+1 {
				t.Errorf("%d messages acknowledged, want about %d", sum.Messages, scheduled)
			}
			mu.Lock()
			if len(progress) < 2 || progress[1].Published == 0 {
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

// TestLoadRamp: with a ramp, the target rate rises linearly, and the run
// still tracks its (lower) mean target.
func TestLoadRamp(t *testing.T) {
	url := startBroker(t)
	sum, err := Load(context.Background(), LoadConfig{
		Transport: Transport{Broker: url, QoS: 0}, Stations: 100, Rate: 2000, Ramp: 2 * time.Second, Duration: 3 * time.Second,
		Format: SenML, Values: 11,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 2000·2/2 in the ramp plus 2000 after: 4000 over 3 s.
	if math.Abs(sum.Target-4000.0/3) > 30 || !sum.Sustained {
		t.Errorf("ramped run: %s", sum)
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
