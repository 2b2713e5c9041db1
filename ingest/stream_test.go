package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/envmon/envmon/ingest/spool"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/station"
)

// commitLog is a Cursor that records what it read and committed.
type commitLog struct {
	cur *spool.Cursor

	mu        sync.Mutex
	lastRead  spool.Position
	committed []spool.Position
}

func (l *commitLog) Read(ctx context.Context, n int) ([][]byte, spool.Position, error) {
	recs, pos, err := l.cur.Read(ctx, n)
	if err == nil {
		l.mu.Lock()
		l.lastRead = pos
		l.mu.Unlock()
	}
	return recs, pos, err
}

func (l *commitLog) Commit(pos spool.Position) error {
	l.mu.Lock()
	l.committed = append(l.committed, pos)
	l.mu.Unlock()
	return l.cur.Commit(pos)
}

func (l *commitLog) last() (read, committed spool.Position, commits int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.committed) > 0 {
		committed = l.committed[len(l.committed)-1]
	}
	return l.lastRead, committed, len(l.committed)
}

// countingSink takes batches, failing those that hold a reading of station
// fail, and says on got how many readings it has taken.
type countingSink struct {
	fail string
	got  chan int
	n    int
}

func (s *countingSink) Name() string { return "counting" }
func (s *countingSink) Consume(_ context.Context, batch []Accepted) error {
	for _, a := range batch {
		if a.Station == s.fail {
			return errors.New("refused")
		}
	}
	s.n += len(batch)
	s.got <- s.n
	return nil
}

func appendReadings(t *testing.T, sp *spool.Spool, station string, n int) {
	t.Helper()
	recs := make([][]byte, n)
	for i := range recs {
		a := Accepted{Reading: reading.Reading{Station: station, Point: "p", Medium: reading.Air,
			Time: time.Date(2026, 12, 1, 0, 0, i, 0, time.UTC), Values: []reading.Value{{Metric: "pm25", Value: float64(i)}}}}
		recs[i] = appendRecord(nil, &a)
	}
	if err := sp.Append(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
}

// TestSinkCommits checks when a sink's cursor is committed: once a
// sinkCommitEvery while records keep coming, once none has come for as
// long, when the sink stops, and never for a batch the sink did not take. The
// spool holds every record before the sink starts, and batches are 2
// records, so the batches are known in advance.
func TestSinkCommits(t *testing.T) {
	for _, tc := range []struct {
		name    string
		records []string      // the stations of the spooled readings, in order
		step    time.Duration // how far the clock moves at each reading of it
		want    []int         // the records committed at each commit
	}{
		// The first batch is committed (none was before); the second is
		// not, as the clock has not moved; the third is, once nothing
		// more comes.
		{name: "steady then quiet", records: []string{"a", "a", "a", "a", "a", "a"}, want: []int{2, 6}},
		{name: "slow clock", records: []string{"a", "a", "a", "a", "a", "a"}, step: sinkCommitEvery, want: []int{2, 4, 6}},
		// The third batch is refused until the sink stops: the stop commits
		// the second, and nothing after it.
		{name: "refused batch", records: []string{"a", "a", "a", "a", "refused"}, want: []int{2, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := openSpool(t, t.TempDir())
			cur, err := sp.Cursor("counting", spool.CursorOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var seqs []spool.Position // the position after each record
			for _, st := range tc.records {
				appendReadings(t, sp, st, 1)
			}
			probe, err := sp.Cursor("probe", spool.CursorOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for range tc.records {
				_, p, err := probe.Read(context.Background(), 1)
				if err != nil {
					t.Fatal(err)
				}
				seqs = append(seqs, p)
			}
			clock := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
			var clockMu sync.Mutex
			now := func() time.Time {
				clockMu.Lock()
				defer clockMu.Unlock()
				clock = clock.Add(tc.step)
				return clock
			}
			log := &commitLog{cur: cur}
			c, err := New(Config{Store: newCountingStore(), Stations: station.New(nil, false, quietLogger()), Spool: sp,
				Logger: quietLogger(), BatchSize: 2, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			sink := &countingSink{fail: "refused", got: make(chan int, 10)}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); c.runSink(ctx, sink, log) }()
			good := 0
			for _, st := range tc.records {
				if st != "refused" {
					good++
				}
			}
			for got := range sink.got {
				if got == good {
					break
				}
			}
			want := make([]spool.Position, len(tc.want))
			for i, n := range tc.want {
				want[i] = seqs[n-1]
			}
			if good == len(tc.records) {
				// Wait for the last commit, then stop: the stop commits
				// nothing more.
				deadline := time.Now().Add(10 * time.Second)
				for _, last, _ := log.last(); last != want[len(want)-1]; _, last, _ = log.last() {
					if time.Now().After(deadline) {
						cancel()
						<-done
						t.Fatalf("the sink caught up but its cursor stayed at %v; want %v", last, want[len(want)-1])
					}
					time.Sleep(time.Millisecond)
				}
			} else {
				// Wait until the refused batch has been read.
				for r, _, _ := log.last(); r != seqs[len(seqs)-1]; r, _, _ = log.last() {
					time.Sleep(time.Millisecond)
				}
			}
			cancel()
			<-done
			log.mu.Lock()
			defer log.mu.Unlock()
			if fmt.Sprint(log.committed) != fmt.Sprint(want) {
				t.Errorf("committed %v; want %v (records end at %v)", log.committed, want, seqs)
			}
		})
	}
}

// spooledPositions returns the position after each of the n records in sp,
// read by a cursor of its own.
func spooledPositions(t *testing.T, sp *spool.Spool, n int) []spool.Position {
	t.Helper()
	probe, err := sp.Cursor("probe", spool.CursorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ps []spool.Position
	for range n {
		_, p, err := probe.Read(context.Background(), 1)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return ps
}

// failingCommits is a commitLog whose commits of position fail fail fail
// times, and which says on failed when one has.
type failingCommits struct {
	commitLog
	fail   spool.Position
	times  int
	failed chan struct{}
}

func (f *failingCommits) Commit(pos spool.Position) error {
	f.mu.Lock()
	if pos == f.fail && f.times > 0 {
		f.times--
		f.mu.Unlock()
		f.failed <- struct{}{}
		return errors.New("disk full")
	}
	f.mu.Unlock()
	return f.commitLog.Commit(pos)
}

// sinkWithBacklog returns a collector (batches of 2, a clock that stands
// still) whose spool holds n readings, the cursor called name on it, and
// the readings' positions.
func sinkWithBacklog(t *testing.T, name string, n int) (*Collector, *spool.Cursor, []spool.Position) {
	t.Helper()
	sp := openSpool(t, t.TempDir())
	cur, err := sp.Cursor(name, spool.CursorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	appendReadings(t, sp, "a", n)
	seqs := spooledPositions(t, sp, n)
	clock := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	c, err := New(Config{Store: newCountingStore(), Stations: station.New(nil, false, quietLogger()), Spool: sp,
		Logger: quietLogger(), BatchSize: 2, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	return c, cur, seqs
}

// TestSinkCommitRetried: a commit that fails is tried again, even when no
// record comes after it: at the latest when the sink stops.
func TestSinkCommitRetried(t *testing.T) {
	c, cur, seqs := sinkWithBacklog(t, "counting", 2)
	// The only batch is committed at once (none was before), and that
	// commit fails.
	log := &failingCommits{commitLog: commitLog{cur: cur}, fail: seqs[1], times: 1, failed: make(chan struct{}, 1)}
	sink := &countingSink{got: make(chan int, 10)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.runSink(ctx, sink, log) }()
	<-log.failed
	cancel()
	<-done
	if _, committed, _ := log.last(); committed != seqs[1] {
		t.Fatalf("the sink stopped with its cursor committed at %v after a failed commit; want %v", committed, seqs[1])
	}
}

// TestSinkStopsWithBacklog: a sink stops once its context ends, with the
// backlog still spooled, and commits what it took.
func TestSinkStopsWithBacklog(t *testing.T) {
	c, cur, seqs := sinkWithBacklog(t, "stopping", 6)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	consumed := 0
	// The first batch is taken, and the stop comes while it is consumed.
	sink := SinkFunc{SinkName: "stopping", ConsumeFunc: func(_ context.Context, batch []Accepted) error {
		consumed += len(batch)
		cancel()
		return nil
	}}
	log := &commitLog{cur: cur}
	c.runSink(ctx, sink, log)
	if consumed != 2 {
		t.Errorf("the sink consumed %d readings after its context ended; want only the batch of 2 it had", consumed)
	}
	if _, committed, _ := log.last(); committed != seqs[1] {
		t.Errorf("the stopped sink's cursor is committed at %v; want %v, after the batch it took", committed, seqs[1])
	}
}

// TestRunSinkCursorFails: when a sink's cursor cannot be opened, Run
// returns the error having started nothing, and the cursors it opened are
// free again: a Run with a fixed Config works on the same spool.
func TestRunSinkCursorFails(t *testing.T) {
	sp := openSpool(t, t.TempDir())
	appendReadings(t, sp, "a", 3)
	sink := func(got chan<- int) StreamSink {
		return StreamSink{Sink: SinkFunc{SinkName: "dup", ConsumeFunc: func(_ context.Context, batch []Accepted) error {
			got <- len(batch)
			return nil
		}}}
	}
	cfg := func(sinks ...StreamSink) Config {
		return Config{Store: newCountingStore(), Stations: station.New(nil, false, quietLogger()), Spool: sp,
			Logger: quietLogger(), Sinks: sinks}
	}
	first := make(chan int, 10)
	c, err := New(cfg(sink(first), sink(first))) // the same name twice
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background()); err == nil {
		t.Fatal("Run returned nil with two sinks of the same name")
	}

	second := make(chan int, 10)
	c, err = New(cfg(sink(second)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(ctx) }()
	for n := 0; n < 3; {
		select {
		case k := <-second:
			n += k
		case err := <-runErr:
			cancel()
			t.Fatalf("the second Run returned %v before its sink had the 3 readings", err)
		}
	}
	cancel()
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	if n := len(first); n != 0 {
		t.Fatalf("the failed Run's sink consumed %d batches", n)
	}
}
