package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// testOptions are Options for tests: logs go to the test's output.
func testOptions(t testing.TB, o Options) Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return o
}

// open opens a spool in dir and closes it when the test ends, unless the
// test has closed it.
func open(t testing.TB, dir string, o Options) *Spool {
	t.Helper()
	s, err := Open(dir, testOptions(t, o))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func closeSpool(t testing.TB, s *Spool) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// rec returns the i'th test record.
func rec(i int) []byte { return fmt.Appendf(nil, "record-%06d", i) }

// recs returns test records from, from+1, … to-1.
func recs(from, to int) [][]byte {
	var rs [][]byte
	for i := from; i < to; i++ {
		rs = append(rs, rec(i))
	}
	return rs
}

func appendAll(t testing.TB, s *Spool, records ...[]byte) {
	t.Helper()
	if err := s.Append(t.Context(), records...); err != nil {
		t.Fatalf("Append: %v", err)
	}
}

// readN reads exactly n records, in Reads of at most max, and returns them
// with the last Position.
func readN(t testing.TB, s *Spool, n, max int) ([][]byte, Position) {
	t.Helper()
	var (
		got [][]byte
		pos Position
	)
	for len(got) < n {
		rs, p, err := readWatched(t, s, min(max, n-len(got)))
		if err != nil {
			t.Fatalf("Read after %d of %d records: %v", len(got), n, err)
		}
		if len(rs) == 0 {
			t.Fatalf("Read returned no records and no error")
		}
		got, pos = append(got, rs...), p
	}
	return got, pos
}

// readWatched calls s.Read with a watchdog, so that a test whose records
// were lost fails instead of hanging. It is not a timing check: the tests
// read records that are there, or will be soon, and Read returns at once.
func readWatched(t testing.TB, s *Spool, n int) ([][]byte, Position, error) {
	ctx, cancel := context.WithTimeoutCause(t.Context(), 30*time.Second, errors.New("no record came within 30s: lost?"))
	defer cancel()
	return s.Read(ctx, n)
}

func equalRecords(t testing.TB, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("record %d is %.40q, want %.40q", i, got[i], want[i])
		}
	}
}

func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("0123456789abcdef"), writeBuf/16+3) // written past the buffer
	tests := []struct {
		name    string
		opts    Options
		batches [][][]byte
		readMax int
	}{
		{name: "one record", batches: [][][]byte{{[]byte("hello")}}, readMax: 10},
		{name: "empty record", batches: [][][]byte{{{}}, {[]byte("x"), {}}}, readMax: 10},
		{name: "batches", batches: [][][]byte{recs(0, 3), recs(3, 4), recs(4, 100)}, readMax: 7},
		{name: "read one at a time", batches: [][][]byte{recs(0, 20)}, readMax: 1},
		{name: "large record", batches: [][][]byte{{big}, {[]byte("after")}, {big, big}}, readMax: 2},
		{name: "interval", opts: Options{Sync: SyncInterval}, batches: [][][]byte{recs(0, 50), recs(50, 60)}, readMax: 16},
		{name: "never", opts: Options{Sync: SyncNever}, batches: [][][]byte{recs(0, 50), recs(50, 60)}, readMax: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t, t.TempDir(), tt.opts)
			var want [][]byte
			var size int64
			for _, b := range tt.batches {
				appendAll(t, s, b...)
				want = append(want, b...)
				size += frameBytes(b)
			}
			if got := s.Len(); got != int64(len(want)) {
				t.Errorf("Len = %d, want %d", got, len(want))
			}
			if got := s.Size(); got != size {
				t.Errorf("Size = %d, want %d", got, size)
			}
			got, pos := readN(t, s, len(want), tt.readMax)
			equalRecords(t, got, want)
			if err := s.Commit(pos); err != nil {
				t.Fatal(err)
			}
			if s.Len() != 0 || s.Size() != 0 {
				t.Errorf("after Commit: Len = %d, Size = %d, want 0, 0", s.Len(), s.Size())
			}
		})
	}
}

func TestSegmentRollover(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, Options{SegmentBytes: 256})
	const n = 200
	for i := 0; i < n; i += 3 {
		appendAll(t, s, recs(i, min(i+3, n))...)
	}
	files := segFiles(t, dir)
	if len(files) < 10 {
		t.Fatalf("%d segment files, want many: %v", len(files), files)
	}
	// Read in steps that do not line up with segments, committing as we go:
	// delivered segments go away, the order holds.
	var got [][]byte
	for len(got) < n {
		rs, pos := readN(t, s, min(13, n-len(got)), 13)
		got = append(got, rs...)
		if err := s.Commit(pos); err != nil {
			t.Fatal(err)
		}
		if left := len(segFiles(t, dir)); left > len(files) {
			t.Fatalf("%d segment files after commit, more than %d", left, len(files))
		}
	}
	equalRecords(t, got, recs(0, n))
	if left := segFiles(t, dir); len(left) != 1 {
		t.Errorf("segment files after committing everything: %v, want only the last", left)
	}

	// The next segment starts at the next sequence number after a restart too.
	closeSpool(t, s)
	s = open(t, dir, Options{SegmentBytes: 256})
	appendAll(t, s, recs(n, n+50)...)
	rs, _ := readN(t, s, 50, 100)
	equalRecords(t, rs, recs(n, n+50))
}

func TestRestart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		appended  int
		committed int // records read and committed
		read      int // further records read, not committed
	}{
		{name: "nothing read", appended: 10},
		{name: "read, not committed", appended: 10, read: 10},
		{name: "part committed", appended: 10, committed: 4, read: 3},
		{name: "all committed", appended: 10, committed: 10},
		{name: "across segments", appended: 100, committed: 37, read: 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			opts := Options{SegmentBytes: 200}
			s := open(t, dir, opts)
			appendAll(t, s, recs(0, tt.appended)...)
			if tt.committed > 0 {
				_, pos := readN(t, s, tt.committed, 5)
				if err := s.Commit(pos); err != nil {
					t.Fatal(err)
				}
			}
			if tt.read > 0 {
				readN(t, s, tt.read, 5)
			}
			closeSpool(t, s)

			s = open(t, dir, opts)
			left := tt.appended - tt.committed
			if got := s.Len(); got != int64(left) {
				t.Errorf("Len after reopen = %d, want %d", got, left)
			}
			got, _ := readN(t, s, left, 1000)
			equalRecords(t, got, recs(tt.committed, tt.appended))
			// And the spool goes on after them.
			appendAll(t, s, rec(tt.appended))
			got, _ = readN(t, s, 1, 1)
			equalRecords(t, got, [][]byte{rec(tt.appended)})
		})
	}
}

func TestCommit(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir(), Options{})
	appendAll(t, s, recs(0, 10)...)
	_, p5 := readN(t, s, 5, 5)
	if err := s.Commit(Position{}); err != nil {
		t.Errorf("Commit(zero Position) = %v, want nil", err)
	}
	if err := s.Commit(p5); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(p5); err != nil {
		t.Errorf("Commit again = %v, want nil", err)
	}
	_, p10 := readN(t, s, 5, 5)
	if err := s.Commit(p10); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(p5); err != nil || s.Len() != 0 {
		t.Errorf("Commit(older) = %v with Len %d, want nil and 0", err, s.Len())
	}

	// A position from further on than Read has got is refused.
	dir := t.TempDir()
	s2 := open(t, dir, Options{})
	appendAll(t, s2, recs(0, 10)...)
	if err := s2.Commit(p10); err == nil {
		t.Errorf("Commit beyond what was read = nil, want an error")
	}
}

// lastSegment returns the name of the last segment file in dir.
func lastSegment(t testing.TB, dir string) string {
	t.Helper()
	files := segFiles(t, dir)
	if len(files) == 0 {
		t.Fatal("no segment files")
	}
	return files[len(files)-1]
}

// frame returns the frame of payload as record idx of segment base.
func frame(base, idx uint64, payload []byte, last bool) []byte {
	return append(appendFrameHeader(nil, base, idx, payload, last), payload...)
}

func TestTornTail(t *testing.T) {
	t.Parallel()
	// The spool holds records 0 … 4 in segment 0; the tail's frames follow.
	whole := frame(0, 5, []byte("a torn record"), true)
	tests := []struct {
		name string
		tail []byte
		kept [][]byte // records at the start of tail that stay
	}{
		{name: "part of a header", tail: whole[:5]},
		{name: "header only", tail: whole[:frameHeaderLen]},
		{name: "part of a payload", tail: whole[:len(whole)-3]},
		{name: "bad CRC", tail: append(slices.Clone(whole[:len(whole)-1]), 'X')},
		{name: "zeros", tail: make([]byte, 4096)},
		{name: "half a batch", tail: slices.Concat(frame(0, 5, []byte("one"), false), frame(0, 6, []byte("two"), false))},
		{name: "half a batch, then torn", tail: slices.Concat(frame(0, 5, []byte("one"), false), whole[:9])},
		{
			// Intact frames after damage, but no whole batch: all torn.
			name: "damage, then half a batch",
			tail: slices.Concat(whole[:9], frame(0, 6, []byte("one"), false), frame(0, 7, []byte("two"), false)),
		},
		{
			name: "whole batch, then torn",
			tail: slices.Concat(frame(0, 5, []byte("one"), false), frame(0, 6, []byte("two"), true), frame(0, 7, []byte("x"), true)[:9]),
			kept: [][]byte{[]byte("one"), []byte("two")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := open(t, dir, Options{})
			appendAll(t, s, recs(0, 5)...)
			closeSpool(t, s)
			name := lastSegment(t, dir)
			fi, err := os.Stat(name)
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(tt.tail); err != nil {
				t.Fatal(err)
			}
			f.Close()
			good := fi.Size() + frameBytes(tt.kept)
			dropped := int64(len(tt.tail)) - frameBytes(tt.kept)

			var logs bytes.Buffer
			s = open(t, dir, Options{Logger: slog.New(slog.NewTextHandler(io.MultiWriter(&logs, t.Output()), nil))})
			if fi, err := os.Stat(name); err != nil || fi.Size() != good {
				t.Errorf("segment is %d bytes after Open (err %v), want %d", fi.Size(), err, good)
			}
			if !strings.Contains(logs.String(), fmt.Sprintf("bytes_dropped=%d", dropped)) {
				t.Errorf("log does not report bytes_dropped=%d:\n%s", dropped, logs.String())
			}
			if got := testutil.ToFloat64(s.m.tornBytes); got != float64(dropped) {
				t.Errorf("torn bytes = %v, want %d", got, dropped)
			}
			want := slices.Concat(recs(0, 5), tt.kept, [][]byte{[]byte("after")})
			if s.Len() != int64(len(want)-1) {
				t.Errorf("Len = %d, want %d", s.Len(), len(want)-1)
			}
			appendAll(t, s, []byte("after"))
			got, _ := readN(t, s, len(want), 100)
			equalRecords(t, got, want)
		})
	}
}

func TestPartlyCreatedSegment(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, Options{})
	appendAll(t, s, recs(0, 5)...)
	closeSpool(t, s)
	// A crash between creating the next segment and writing its header.
	if err := os.WriteFile(filepath.Join(dir, segName(5)), segHeader(5)[:10], 0o640); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir, Options{})
	appendAll(t, s, rec(5))
	got, _ := readN(t, s, 6, 100)
	equalRecords(t, got, recs(0, 6))
}

// flipByte flips a bit in the byte at off in name.
func flipByte(t testing.TB, name string, off int64) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x10
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestCorruption(t *testing.T) {
	t.Parallel()
	// Each batch of 4 records of 13 bytes takes 116 bytes; segments of 400
	// bytes hold 4 batches (16 records): 40 records make three segments.
	const (
		perSeg = 16
		frameN = frameHeaderLen + 13
	)
	tests := []struct {
		name    string
		segment int   // which segment file to damage
		off     int64 // where
		want    []int // the records Read returns
		lost    int64 // bytes counted as corrupt
		torn    int64 // bytes cut as a torn tail
	}{
		{
			name: "payload of a sealed segment", segment: 1, off: segHeaderLen + 2*frameN + 20,
			want: slices.Concat(seq(0, perSeg+2), seq(perSeg+3, 40)),
			lost: frameN,
		},
		{
			name: "length of a sealed segment", segment: 0, off: segHeaderLen + 5*frameN + 5,
			want: slices.Concat(seq(0, 5), seq(6, 40)),
			lost: frameN,
		},
		{
			name: "last record of a sealed segment", segment: 0, off: segHeaderLen + 15*frameN + 3,
			want: slices.Concat(seq(0, 15), seq(16, 40)),
			lost: frameN,
		},
		{
			name: "header of a sealed segment", segment: 1, off: 3,
			want: slices.Concat(seq(0, perSeg), seq(2*perSeg, 40)),
			lost: 16 * frameN,
		},
		{
			// Intact records follow the damage: it is not a torn tail.
			name: "last segment", segment: 2, off: segHeaderLen + 5*frameN + 3,
			want: slices.Concat(seq(0, 2*perSeg+5), seq(2*perSeg+6, 40)),
			lost: frameN,
		},
		{
			// Damage to the last record of the last segment looks like a
			// torn tail: its batch goes, as if its Append had not returned.
			name: "last record of the last segment", segment: 2, off: segHeaderLen + 7*frameN + 3,
			want: seq(0, 2*perSeg+4),
			torn: 4 * frameN,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			opts := Options{SegmentBytes: 400}
			s := open(t, dir, opts)
			for i := 0; i < 40; i += 4 {
				appendAll(t, s, recs(i, i+4)...)
			}
			closeSpool(t, s)
			files := segFiles(t, dir)
			if len(files) != 3 {
				t.Fatalf("segment files: %v, want 3", files)
			}
			flipByte(t, files[tt.segment], tt.off)

			s = open(t, dir, opts)
			appendAll(t, s, []byte("end"))
			var want [][]byte
			for _, i := range tt.want {
				want = append(want, rec(i))
			}
			want = append(want, []byte("end"))
			got, pos := readN(t, s, len(want), 10)
			equalRecords(t, got, want)
			if c := testutil.ToFloat64(s.m.corruptBytes); c != float64(tt.lost) {
				t.Errorf("corrupt bytes = %v, want %d", c, tt.lost)
			}
			if c, want := testutil.ToFloat64(s.m.corruptRecords), tt.lost/frameN; c != float64(want) {
				t.Errorf("corrupt records = %v, want %d", c, want)
			}
			if c := testutil.ToFloat64(s.m.tornBytes); c != float64(tt.torn) {
				t.Errorf("torn bytes = %v, want %d", c, tt.torn)
			}
			if err := s.Commit(pos); err != nil {
				t.Fatal(err)
			}
			if s.Len() != 0 {
				t.Errorf("Len after reading and committing everything = %d, want 0", s.Len())
			}
		})
	}
}

func seq(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func TestOpenDeletesDelivered(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := Options{SegmentBytes: 100}
	s := open(t, dir, opts)
	for i := range 10 {
		appendAll(t, s, rec(i))
	}
	closeSpool(t, s)
	files := segFiles(t, dir)
	if len(files) < 3 {
		t.Fatalf("segment files: %v, want 3 or more", files)
	}
	// A crash after a Commit to the end of the second segment was persisted
	// but before its segments were deleted.
	second, _ := parseSegName(filepath.Base(files[1]))
	third, _ := parseSegName(filepath.Base(files[2]))
	fi, err := os.Stat(files[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := writeCommit(dir, commitName, Position{seg: second, off: fi.Size(), seq: third}, true); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir, opts)
	if got := segFiles(t, dir); !slices.Equal(got, files[2:]) {
		t.Errorf("segment files after Open: %v, want %v", got, files[2:])
	}
	if got, want := s.Len(), int64(10-third); got != want {
		t.Errorf("Len = %d, want %d", got, want)
	}
	got, _ := readN(t, s, 10-int(third), 100)
	equalRecords(t, got, recs(int(third), 10))
}

func TestBadCommitFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, Options{})
	appendAll(t, s, recs(0, 10)...)
	_, pos := readN(t, s, 5, 5)
	if err := s.Commit(pos); err != nil {
		t.Fatal(err)
	}
	closeSpool(t, s)
	flipByte(t, filepath.Join(dir, commitName), 17)
	// A damaged commit point replays everything rather than lose anything.
	s = open(t, dir, Options{})
	got, _ := readN(t, s, 10, 100)
	equalRecords(t, got, recs(0, 10))
}

func TestOpenBadHeader(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, Options{})
	appendAll(t, s, recs(0, 10)...)
	closeSpool(t, s)
	flipByte(t, lastSegment(t, dir), 0)
	if s, err := Open(dir, testOptions(t, Options{})); err == nil {
		s.Close()
		t.Fatal("Open with a damaged last segment header succeeded, want an error")
	}
}

func TestLocked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, Options{})
	if s2, err := Open(dir, testOptions(t, Options{})); err == nil {
		s2.Close()
		t.Fatal("second Open of a directory in use succeeded")
	}
	closeSpool(t, s)
	open(t, dir, Options{})
}

func TestOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"zero", Options{}, true},
		{"negative MaxBytes", Options{MaxBytes: -1}, false},
		{"negative SegmentBytes", Options{SegmentBytes: -1}, false},
		{"unknown Sync", Options{Sync: 7}, false},
		{"negative Interval", Options{Interval: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.opts.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tt.ok)
			}
		})
	}
	for _, p := range []SyncPolicy{SyncAlways, SyncInterval, SyncNever} {
		b, err := p.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var q SyncPolicy
		if err := q.UnmarshalText(b); err != nil || q != p {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", b, q, err, p)
		}
	}
	var q SyncPolicy
	if err := q.UnmarshalText([]byte("sometimes")); err == nil {
		t.Error(`UnmarshalText("sometimes") succeeded`)
	}
}

// blockedSpool opens a spool whose Appends report on the returned channel
// when they start waiting for space.
func blockedSpool(t *testing.T, o Options) (*Spool, <-chan struct{}) {
	s := open(t, t.TempDir(), o)
	blocked := make(chan struct{}, 16)
	s.testBlocked = func() { blocked <- struct{}{} }
	return s, blocked
}

// appendAsync starts an Append and returns the channel its result arrives on.
func appendAsync(ctx context.Context, s *Spool, records ...[]byte) <-chan error {
	done := make(chan error, 1)
	go func() { done <- s.Append(ctx, records...) }()
	return done
}

func TestBackpressure(t *testing.T) {
	t.Parallel()
	r := rec(0)
	n := frameBytes([][]byte{r}) // every test record frames to n bytes

	t.Run("blocks until commit", func(t *testing.T) {
		t.Parallel()
		// Four records to a segment, twelve in the spool.
		s, blocked := blockedSpool(t, Options{MaxBytes: 12 * n, SegmentBytes: segHeaderLen + 4*n})
		for i := range 12 {
			appendAll(t, s, rec(i))
		}
		done := appendAsync(t.Context(), s, rec(12))
		<-blocked
		select {
		case err := <-done:
			t.Fatalf("Append to a full spool returned %v before anything was committed", err)
		default:
		}
		// Reading and committing part of a segment frees nothing yet.
		_, pos := readN(t, s, 2, 2)
		if err := s.Commit(pos); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			t.Fatalf("Append returned %v with no segment deleted", err)
		default:
		}
		_, pos = readN(t, s, 2, 2) // the first segment is all delivered

		if err := s.Commit(pos); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("Append after space freed: %v", err)
		}
		got, _ := readN(t, s, 9, 100)
		equalRecords(t, got, recs(4, 13))
	})

	t.Run("one segment", func(t *testing.T) {
		t.Parallel()
		// Everything is in the segment being appended to; committing all of
		// it must free it.
		s, blocked := blockedSpool(t, Options{MaxBytes: 5 * n, SegmentBytes: 1 << 20})
		appendAll(t, s, recs(0, 5)...)
		done := appendAsync(t.Context(), s, recs(5, 8)...)
		<-blocked
		_, pos := readN(t, s, 5, 100)
		if err := s.Commit(pos); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("Append after space freed: %v", err)
		}
		got, _ := readN(t, s, 3, 100)
		equalRecords(t, got, recs(5, 8))
		// It keeps working across a restart too.
		dir := s.dir
		closeSpool(t, s)
		s = open(t, dir, Options{MaxBytes: 5 * n})
		got, _ = readN(t, s, 3, 100)
		equalRecords(t, got, recs(5, 8))
	})

	t.Run("everything committed before the append", func(t *testing.T) {
		t.Parallel()
		s, blocked := blockedSpool(t, Options{MaxBytes: 5 * n, SegmentBytes: 1 << 20})
		appendAll(t, s, recs(0, 5)...)
		_, pos := readN(t, s, 5, 100)
		if err := s.Commit(pos); err != nil {
			t.Fatal(err)
		}
		appendAll(t, s, recs(5, 10)...) // frees the delivered segment itself
		select {
		case <-blocked:
		default:
			t.Error("Append did not wait")
		}
		got, _ := readN(t, s, 5, 100)
		equalRecords(t, got, recs(5, 10))
	})

	t.Run("context ends", func(t *testing.T) {
		t.Parallel()
		s, blocked := blockedSpool(t, Options{MaxBytes: 2 * n})
		appendAll(t, s, recs(0, 2)...)
		ctx, cancel := context.WithCancel(t.Context())
		done := appendAsync(ctx, s, rec(2))
		<-blocked
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Append = %v, want context.Canceled", err)
		}
		// The abandoned Append holds no space.
		_, pos := readN(t, s, 2, 100)
		if err := s.Commit(pos); err != nil {
			t.Fatal(err)
		}
		appendAll(t, s, recs(3, 5)...)
	})

	t.Run("close", func(t *testing.T) {
		t.Parallel()
		s, blocked := blockedSpool(t, Options{MaxBytes: 2 * n})
		appendAll(t, s, recs(0, 2)...)
		done := appendAsync(t.Context(), s, rec(2))
		<-blocked
		closeSpool(t, s)
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Fatalf("Append = %v, want ErrClosed", err)
		}
	})

	t.Run("too large", func(t *testing.T) {
		t.Parallel()
		s := open(t, t.TempDir(), Options{MaxBytes: 2 * n})
		if err := s.Append(t.Context(), recs(0, 3)...); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Append = %v, want ErrTooLarge", err)
		}
		appendAll(t, s, recs(0, 2)...) // exactly full is fine
	})
}

func TestReadBlocks(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir(), Options{})
	type result struct {
		records [][]byte
		err     error
	}
	got := make(chan result, 1)
	go func() {
		rs, _, err := s.Read(t.Context(), 10)
		got <- result{rs, err}
	}()
	appendAll(t, s, rec(0))
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	equalRecords(t, r.records, [][]byte{rec(0)})

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := s.Read(ctx, 10); !errors.Is(err, context.Canceled) {
		t.Errorf("Read with an ended context = %v, want context.Canceled", err)
	}
	if _, _, err := s.Read(t.Context(), 0); err == nil {
		t.Errorf("Read(0) succeeded, want an error")
	}

	go func() {
		_, _, err := s.Read(t.Context(), 10)
		got <- result{err: err}
	}()
	closeSpool(t, s)
	if r := <-got; !errors.Is(r.err, ErrClosed) {
		t.Errorf("Read during Close = %v, want ErrClosed", r.err)
	}
	if err := s.Append(t.Context(), rec(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if err := s.Commit(Position{seq: 1}); !errors.Is(err, ErrClosed) {
		t.Errorf("Commit after Close = %v, want ErrClosed", err)
	}
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
	}{
		// Small enough to block, and to roll segments often.
		{"always", Options{MaxBytes: 2000, SegmentBytes: 500}},
		{"interval", Options{Sync: SyncInterval, MaxBytes: 2000, SegmentBytes: 500}},
		// One segment at a time: space comes back only by deleting the
		// segment being appended to.
		{"one segment", Options{MaxBytes: 500, SegmentBytes: 1 << 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const (
				writers = 8
				batches = 50
				batch   = 3
			)
			s := open(t, t.TempDir(), tt.opts)
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for b := range batches {
						var rs [][]byte
						for i := range batch {
							rs = append(rs, fmt.Appendf(nil, "%d/%d", w, b*batch+i))
						}
						if err := s.Append(t.Context(), rs...); err != nil {
							t.Errorf("Append: %v", err)
							return
						}
					}
				})
			}
			// One consumer, reading and committing concurrently.
			next := make([]int, writers)
			for total := 0; total < writers*batches*batch; {
				rs, pos, err := s.Read(t.Context(), 7)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rs {
					var w, i int
					if _, err := fmt.Sscanf(string(r), "%d/%d", &w, &i); err != nil {
						t.Fatalf("record %q: %v", r, err)
					}
					if i != next[w] {
						t.Fatalf("writer %d: got record %d, want %d", w, i, next[w])
					}
					next[w]++
				}
				total += len(rs)
				if err := s.Commit(pos); err != nil {
					t.Fatal(err)
				}
			}
			wg.Wait()
			if s.Len() != 0 {
				t.Errorf("Len = %d after reading everything, want 0", s.Len())
			}
		})
	}
}

func TestWriteFailure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, Options{})
	appendAll(t, s, rec(0))
	// Swap the writer's file for one it cannot write to. The writer is idle
	// between Appends, and the next Append hands it the change.
	ro, err := os.Open(s.path(s.w.base))
	if err != nil {
		t.Fatal(err)
	}
	s.w.f.Close()
	s.w.f = ro
	err1 := s.Append(t.Context(), rec(1))
	if err1 == nil {
		t.Fatal("Append to an unwritable file succeeded")
	}
	if err2 := s.Append(t.Context(), rec(2)); err2 == nil || err2.Error() != err1.Error() {
		t.Errorf("Append after a failure = %v, want the first failure %v", err2, err1)
	}
	got, pos := readN(t, s, 1, 10)
	equalRecords(t, got, [][]byte{rec(0)})
	if err := s.Commit(pos); err != nil {
		t.Errorf("Commit after a write failure: %v", err)
	}
	s.Close()

	s = open(t, dir, Options{})
	appendAll(t, s, rec(3))
	got, _ = readN(t, s, 1, 10)
	equalRecords(t, got, [][]byte{rec(3)})
}
