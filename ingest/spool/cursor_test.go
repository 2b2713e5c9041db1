package spool

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// cursorReadN is readN for a Cursor.
func cursorReadN(t testing.TB, c *Cursor, n int) ([][]byte, Position) {
	t.Helper()
	var got [][]byte
	var pos Position
	for len(got) < n {
		ctx, cancel := context.WithTimeoutCause(t.Context(), 30*time.Second, errors.New("no record came within 30s: lost?"))
		rs, p, err := c.Read(ctx, n-len(got))
		cancel()
		if err != nil {
			t.Fatalf("cursor %s: Read after %d of %d: %v", c.Name(), len(got), n, err)
		}
		got, pos = append(got, rs...), p
	}
	return got, pos
}

func mustCursor(t testing.TB, s *Spool, name string, o CursorOptions) *Cursor {
	t.Helper()
	c, err := s.Cursor(name, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCursorsReadEverything: the default consumer and two named cursors
// each read every record, at their own pace, and each resumes at its own
// commit point after the spool is opened again.
func TestCursorsReadEverything(t *testing.T) {
	dir := t.TempDir()
	o := Options{SegmentBytes: segHeaderLen + 10*frameBytes([][]byte{rec(0)})}
	s := open(t, dir, o)
	a, b := mustCursor(t, s, "alerts", CursorOptions{}), mustCursor(t, s, "windows", CursorOptions{})
	for i := range 100 {
		appendAll(t, s, rec(i))
	}

	got, pos := readN(t, s, 100, 7)
	equalRecords(t, got, recs(0, 100))
	if err := s.Commit(pos); err != nil {
		t.Fatal(err)
	}
	got, pa := cursorReadN(t, a, 40)
	equalRecords(t, got, recs(0, 40))
	if err := a.Commit(pa); err != nil {
		t.Fatal(err)
	}
	got, _ = cursorReadN(t, b, 100) // read, never committed
	equalRecords(t, got, recs(0, 100))
	if a.Lag() != 60 || b.Lag() != 100 || s.Len() != 0 {
		t.Fatalf("lags: alerts %d, windows %d, default %d; want 60, 100, 0", a.Lag(), b.Lag(), s.Len())
	}
	// The slowest cursor keeps the segments: none of its records is gone.
	if n := len(segFiles(t, dir)); n < 10 {
		t.Fatalf("%d segment files left; the uncommitted cursor needs all 10", n)
	}

	closeSpool(t, s)
	s = open(t, dir, o)
	a, b = mustCursor(t, s, "alerts", CursorOptions{}), mustCursor(t, s, "windows", CursorOptions{})
	got, pa = cursorReadN(t, a, 60)
	equalRecords(t, got, recs(40, 100))
	got, pb := cursorReadN(t, b, 100)
	equalRecords(t, got, recs(0, 100))
	if err := errors.Join(a.Commit(pa), b.Commit(pb)); err != nil {
		t.Fatal(err)
	}
	// Every cursor is past the sealed segments: they are deleted.
	if n := len(segFiles(t, dir)); n > 1 {
		t.Fatalf("%d segment files left after every cursor committed everything", n)
	}
	if _, err := s.Cursor("alerts", CursorOptions{}); err == nil {
		t.Fatal("the same cursor was handed out twice")
	}
	if _, err := s.Cursor("Bad Name", CursorOptions{}); err == nil {
		t.Fatal("a bad cursor name was taken")
	}
}

// TestCursorFromDefault: a cursor of in-memory state starts where the
// default consumer is, whatever it had committed.
func TestCursorFromDefault(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	w := mustCursor(t, s, "windows", CursorOptions{})
	appendAll(t, s, recs(0, 30)...)
	_, pw := cursorReadN(t, w, 30)
	if err := w.Commit(pw); err != nil {
		t.Fatal(err)
	}
	_, pos := readN(t, s, 10, 10)
	if err := s.Commit(pos); err != nil {
		t.Fatal(err)
	}
	closeSpool(t, s)

	s = open(t, dir, Options{})
	w = mustCursor(t, s, "windows", CursorOptions{FromDefault: true})
	got, _ := cursorReadN(t, w, 20)
	equalRecords(t, got, recs(10, 30))
}

// TestSlowCursorDoesNotHold: a named cursor that does not hold gives way
// when the spool is full: the Append goes through, the cursor skips what
// was deleted and counts it. A holding cursor makes Appends wait as the
// default consumer does.
func TestSlowCursorDoesNotHold(t *testing.T) {
	r := rec(0)
	n := frameBytes([][]byte{r})
	o := Options{MaxBytes: 12 * n, SegmentBytes: segHeaderLen + 4*n}
	for _, tc := range []struct {
		name    string
		holding bool
	}{{"skips", false}, {"holds", true}} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			o := o
			o.Registerer = reg
			s, blocked := blockedSpool(t, o)
			slow := mustCursor(t, s, "slow", CursorOptions{Holding: tc.holding})
			for i := range 12 {
				appendAll(t, s, rec(i))
			}
			// The default consumer has everything; the slow cursor nothing.
			_, pos := readN(t, s, 12, 100)
			if err := s.Commit(pos); err != nil {
				t.Fatal(err)
			}
			done := appendAsync(t.Context(), s, rec(12))
			if tc.holding {
				<-blocked
				select {
				case err := <-done:
					t.Fatalf("Append returned %v while a holding cursor had committed nothing", err)
				default:
				}
				_, p := cursorReadN(t, slow, 12)
				if err := slow.Commit(p); err != nil {
					t.Fatal(err)
				}
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				return
			}
			if err := <-done; err != nil {
				t.Fatalf("Append held up by a slow cursor: %v", err)
			}
			skipped := testutil.ToFloat64(s.m.cursorSkipped.WithLabelValues("slow"))
			if skipped == 0 {
				t.Fatal("the slow cursor skipped nothing, yet its segments went")
			}
			got, _ := cursorReadN(t, slow, 13-int(skipped))
			equalRecords(t, got, recs(int(skipped), 13))
		})
	}
}

// TestCursorBadCommitFile: a named cursor whose commit file is damaged
// replays every record in the spool, not only those after the default
// consumer's commit point, which says nothing of what it consumed.
func TestCursorBadCommitFile(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	a := mustCursor(t, s, "a", CursorOptions{})
	appendAll(t, s, recs(0, 5)...)
	_, pa := cursorReadN(t, a, 1)
	if err := a.Commit(pa); err != nil {
		t.Fatal(err)
	}
	_, pos := readN(t, s, 5, 5)
	if err := s.Commit(pos); err != nil {
		t.Fatal(err)
	}
	closeSpool(t, s)
	if err := os.Truncate(filepath.Join(dir, commitFile("a")), 0); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir, Options{})
	a = mustCursor(t, s, "a", CursorOptions{})
	if lag := a.Lag(); lag != 5 {
		t.Fatalf("cursor a lags by %d records after its commit file was damaged; want all 5 again", lag)
	}
	got, _ := cursorReadN(t, a, 5)
	equalRecords(t, got, recs(0, 5))
}

// TestSkipAtSegmentEnd: a cursor whose commit point is at the end of a
// segment when the segment is deleted has lost nothing: it moves on to the
// next segment without a warning and without counting skipped records.
func TestSkipAtSegmentEnd(t *testing.T) {
	n := frameBytes([][]byte{rec(0)})
	o, logs := loggedOptions(t, Options{SegmentBytes: segHeaderLen + 4*n, Registerer: prometheus.NewRegistry()})
	s := open(t, t.TempDir(), o)
	c := mustCursor(t, s, "c", CursorOptions{})
	for i := range 12 {
		appendAll(t, s, rec(i))
	}
	_, pos := readN(t, s, 12, 100)
	if err := s.Commit(pos); err != nil {
		t.Fatal(err)
	}
	// The cursor has the first segment in full: its commit point is at
	// that segment's end, and the segment is deleted.
	_, pc := cursorReadN(t, c, 4)
	if pc.seg != 0 || pc.off != segHeaderLen+4*n {
		t.Fatalf("commit point %+v; the test wants it at the end of the first segment", pc)
	}
	if err := c.Commit(pc); err != nil {
		t.Fatal(err)
	}
	appendAll(t, s, rec(12))
	if skipped := testutil.ToFloat64(s.m.cursorSkipped.WithLabelValues("c")); skipped != 0 {
		t.Fatalf("%v records counted as skipped; the cursor had consumed the deleted segment", skipped)
	}
	if strings.Contains(logs.String(), "fell behind") {
		t.Fatal("warned of a cursor that fell behind, yet it had lost nothing")
	}
	got, _ := cursorReadN(t, c, 9)
	equalRecords(t, got, recs(4, 13))
}

// TestCursorRelease: a released cursor's name is handed out again, and
// the new cursor resumes at the commit point: what was read but not
// committed is read again.
func TestCursorRelease(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	c := mustCursor(t, s, "c", CursorOptions{})
	appendAll(t, s, recs(0, 5)...)
	_, p := cursorReadN(t, c, 2)
	if err := c.Commit(p); err != nil {
		t.Fatal(err)
	}
	cursorReadN(t, c, 2) // read, not committed
	if _, err := s.Cursor("c", CursorOptions{}); err == nil {
		t.Fatal("a cursor in use was handed out again")
	}
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	c2 := mustCursor(t, s, "c", CursorOptions{})
	if err := c.Release(); err != nil { // again: leaves c2 alone
		t.Fatal(err)
	}
	if _, err := s.Cursor("c", CursorOptions{}); err == nil {
		t.Fatal("releasing an old cursor again freed the name of the new one")
	}
	got, _ := cursorReadN(t, c2, 3)
	equalRecords(t, got, recs(2, 5))
}
