package alerts_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/envmon/envmon/ingest"
)

// TestConsumeAllocs: once the engine knows a station, evaluating a reading
// of it that changes no episode allocates nothing (the default rules, air
// readings within their limits, between two saves of the arrivals).
func TestConsumeAllocs(t *testing.T) {
	c := &clock{t: at("08:00")}
	eng := defaultEngine(t, c)
	batch := make([]ingest.Accepted, 100)
	fill := func(t0 time.Time) {
		for i := range batch {
			batch[i] = airReading(fmt.Sprintf("st-%03d", i), t0, i)
		}
	}
	fill(at("08:00"))
	if err := eng.Consume(context.Background(), batch); err != nil { // meets the stations, and saves them
		t.Fatal(err)
	}
	fill(at("08:01"))
	allocs := testing.AllocsPerRun(20, func() {
		if err := eng.Consume(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Consume allocated %v times a batch of %d readings, want 0", allocs, len(batch))
	}
}
