package simulators

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a Conn that keeps what is published.
type recorder struct {
	mu   sync.Mutex
	msgs []received
}

func (r *recorder) Publish(_ context.Context, topic string, _ byte, _ bool, payload []byte) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, received{topic, string(payload)})
	r.mu.Unlock()
	return nil
}
func (r *recorder) Drop()  {}
func (r *recorder) Close() {}

func (r *recorder) dial(context.Context, string, string, string) (Conn, error) { return r, nil }

func TestReplay(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/replay.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rec recorder
	stats, err := Replay(context.Background(), f, ReplayConfig{Dial: rec.dial, Speed: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	want := []received{
		{"envmon/p1/st-1/air", `{"ts":1740794400000,"values":{"no2":41,"pm10":61,"pm25":35.2},"seq":1}`},
		{"envmon/p2/st-2/water", `{"ts":1740794400000,"values":{"ph":7.4},"seq":1}`},
		{"envmon/replay/st-3/water", `{"ts":1740794400000,"values":{"ph":7.1},"seq":1}`},
		{"envmon/p2/st-2/noise", `{"ts":1740794700000,"values":{"laeq":55.1},"seq":2}`},
		{"envmon/p1/st-1/air", `{"ts":1740795000000,"values":{"pm25":40.1,"temp":12.5},"seq":2}`},
	}
	if stats.Rows != 8 || stats.Messages != 5 || stats.Published != 5 {
		t.Errorf("stats %+v", stats)
	}
	if len(rec.msgs) != len(want) {
		t.Fatalf("published %v", rec.msgs)
	}
	for i := range want {
		if rec.msgs[i] != want[i] {
			t.Errorf("message %d = %v, want %v", i, rec.msgs[i], want[i])
		}
	}

	// Rebased, the recording ends now (not after) and keeps its spacing.
	var rb recorder
	stats, err = Replay(context.Background(), strings.NewReader("station,time,metric,value\ns,2020-01-01T00:00:00Z,pm25,1\ns,2020-01-01T01:00:00Z,pm25,2\n"),
		ReplayConfig{Dial: rb.dial, Speed: 1e6, Rebase: true})
	if err != nil {
		t.Fatal(err)
	}
	if gap := stats.To.Sub(stats.From); gap != time.Hour || stats.To.After(time.Now()) || time.Since(stats.To) > time.Minute {
		t.Errorf("rebased replay from %s to %s", stats.From, stats.To)
	}
}

func TestReplayErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, csv, want string }{
		{"no header column", "station,time,value\n", `no "metric" column`},
		{"bad time", "station,time,metric,value\ns,yesterday,pm25,1\n", `line 2: time "yesterday"`},
		{"bad value", "station,time,metric,value\ns,1740794400000,pm25,high\n", `line 2: value "high"`},
		{"unknown metric", "station,time,metric,value\ns,1740794400000,colour,1\n", "give the medium column"},
		{"empty", "station,time,metric,value\n", "no readings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var rec recorder
			_, err := Replay(context.Background(), strings.NewReader(tt.csv), ReplayConfig{Dial: rec.dial})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}
