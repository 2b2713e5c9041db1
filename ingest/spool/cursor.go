package spool

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sort"
	"sync"
)

// reader is one consumer's place in the spool: the default consumer's
// (Spool.Read and Commit) or a named Cursor's.
type reader struct {
	name    string // "" for the default consumer
	holding bool   // keeps its segments even when the spool is full

	rmu  sync.Mutex // serializes this reader's Reads; guards its file
	rf   *os.File
	rfb  uint64 // base of rf's segment
	rver uint32 // version of rf's segment
	fr   frameReader

	cmu sync.Mutex // serializes this reader's Commits

	// Guarded by Spool.mu.
	commit Position
	cursor Position // where Read goes on
	active bool     // a Cursor was asked for it in this run
}

// close closes the reader's file, after any Read or Commit in progress.
func (r *reader) close() error {
	r.rmu.Lock()
	defer r.rmu.Unlock()
	r.cmu.Lock() // wait for a running Commit
	defer r.cmu.Unlock()
	if r.rf == nil {
		return nil
	}
	err := r.rf.Close()
	r.rf = nil
	return err
}

// lagLocked is how many records follow r's commit point.
func (r *reader) lagLocked(nextSeq uint64) int64 {
	if r.commit.seq > nextSeq { // not expected; guards against a bad commit file
		return 0
	}
	return int64(nextSeq - r.commit.seq)
}

var cursorName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

func validCursorName(name string) bool { return cursorName.MatchString(name) }

// commitFile is the name of the commit file of the named cursor; "" is
// the default consumer's.
func commitFile(cursor string) string {
	if cursor == "" {
		return commitName
	}
	return commitName + "." + cursor
}

// allNamed returns the named readers, sorted by name.
func (s *Spool) allNamed() []*reader {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*reader, 0, len(s.readers))
	for _, r := range s.readers {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// skipLaggardsLocked moves the named cursors whose commit point lies in a
// segment up to last, which is being deleted to make room, to the segment
// after it: the records between, if any, are lost to them, and counted.
func (s *Spool) skipLaggardsLocked(last segment) {
	next := Position{seg: s.nextSeq, off: segHeaderLen, seq: s.nextSeq}
	if len(s.segs) > 0 {
		next = Position{seg: s.segs[0].base, off: segHeaderLen, seq: s.segs[0].base}
	}
	for _, r := range s.readers {
		if r.commit.seg > last.base {
			continue
		}
		skipped := next.seq - min(r.commit.seq, next.seq)
		// None skipped: its commit point was at the end of the deleted
		// segments, which it had consumed in full; it only moves on.
		if skipped > 0 {
			s.log.Warn("a cursor fell behind by more than the spool holds; it skips what was deleted to make room",
				"cursor", r.name, "records_skipped", skipped)
			s.m.cursorSkipped.WithLabelValues(r.name).Add(float64(skipped))
		}
		r.commit = next
		if r.cursor.before(next) {
			r.cursor = next
		}
	}
}

// CursorOptions configure a Cursor.
type CursorOptions struct {
	// FromDefault starts the cursor at the default consumer's commit point,
	// whatever it committed in an earlier run: for a consumer whose state
	// is in memory, rebuilt at start from what the default consumer has
	// delivered (the store), which must be given everything since.
	FromDefault bool
	// Holding makes the spool keep the cursor's records even when it is
	// full, so that Appends wait for it as for the default consumer.
	// Otherwise a cursor that falls behind by more than the spool holds
	// skips what is deleted to make room, and counts it.
	Holding bool
}

// Cursor is a named consumer's own position in the spool, with its own
// durable commit point: every consumer reads every record, at its own
// pace. The spool keeps a segment until every cursor has committed past it
// (within its size bound; see CursorOptions.Holding).
type Cursor struct {
	s        *Spool
	r        *reader
	released bool // guarded by s.mu
}

// Cursor returns the cursor called name (lower-case letters, digits, '_'
// and '-', at most 32), resuming at its commit point of an earlier run; a
// new one starts at the default consumer's commit point. Ask for each name
// once per Open, or again after Release.
func (s *Spool) Cursor(name string, opts CursorOptions) (*Cursor, error) {
	if !validCursorName(name) {
		return nil, fmt.Errorf("spool: cursor name %q: want 1 to 32 of a-z, 0-9, _ and -, starting with a letter or digit", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	r, ok := s.readers[name]
	switch {
	case ok && r.active:
		return nil, fmt.Errorf("spool: cursor %q is already in use", name)
	case !ok:
		// Persisted at once, so that the records it has yet to read are
		// kept across a restart, before it commits anything.
		if err := writeCommit(s.dir, commitFile(name), s.main.commit, s.opts.Sync != SyncNever); err != nil {
			return nil, fmt.Errorf("spool: create cursor %q: %w", name, err)
		}
		r = &reader{name: name, commit: s.main.commit, cursor: s.main.commit}
		s.readers[name] = r
	case opts.FromDefault:
		r.commit, r.cursor = s.main.commit, s.main.commit
	}
	r.active, r.holding = true, opts.Holding
	return &Cursor{s: s, r: r}, nil
}

// Read is Spool.Read for this cursor.
func (c *Cursor) Read(ctx context.Context, n int) ([][]byte, Position, error) {
	return c.s.read(ctx, c.r, n)
}

// Commit is Spool.Commit for this cursor.
func (c *Cursor) Commit(pos Position) error { return c.s.commit(c.r, pos) }

// Lag returns how many records follow the cursor's commit point.
func (c *Cursor) Lag() int64 {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.r.lagLocked(c.s.nextSeq)
}

// Release gives the cursor's name back, after any Read or Commit in
// progress: Spool.Cursor may hand it out again in this run, resuming at the
// commit point, so that records read but not committed are read again. The
// cursor must not be used after; releasing it again does nothing.
func (c *Cursor) Release() error {
	err := c.r.close()
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if !c.released {
		c.released = true
		c.r.active, c.r.cursor = false, c.r.commit
	}
	return err
}

// Name returns the cursor's name.
func (c *Cursor) Name() string { return c.r.name }
