package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// Read returns up to n records that follow the ones Read returned before,
// oldest first, blocking until there is at least one or ctx ends. It returns
// with them the Position to pass to Commit once they have been delivered.
// After Open, Read starts at the first record not committed. Records that
// are there are returned even when ctx has ended: a Read with an ended ctx
// returns those waiting, or ctx's error at once if there are none.
//
// The records are the caller's to keep. A Read may return fewer than n
// records even when more are waiting, for instance at the end of a segment.
// Damaged records are skipped, logged and counted; see the package
// documentation.
func (s *Spool) Read(ctx context.Context, n int) ([][]byte, Position, error) {
	return s.read(ctx, s.main, n)
}

func (s *Spool) read(ctx context.Context, r *reader, n int) ([][]byte, Position, error) {
	if n <= 0 {
		return nil, Position{}, fmt.Errorf("spool: read %d records: want at least 1", n)
	}
	r.rmu.Lock()
	defer r.rmu.Unlock()
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, Position{}, ErrClosed
		}
		i, ok := s.advanceLocked(r)
		if !ok {
			ch := s.dataCh
			s.dataWaiters++
			s.mu.Unlock()
			var err error
			select {
			case <-ch:
			case <-s.closing:
			case <-ctx.Done():
				err = fmt.Errorf("spool: read: %w", ctxErr(ctx))
			}
			s.mu.Lock()
			s.dataWaiters--
			s.mu.Unlock()
			if err != nil {
				return nil, Position{}, err
			}
			continue
		}
		start, seg := r.cursor, s.segs[i]
		endSeq := s.nextSeq
		if i+1 < len(s.segs) {
			endSeq = s.segs[i+1].base
		}
		s.mu.Unlock()

		records, pos, err := s.readFrames(r, start, seg.size, n)
		var ce *corruptError
		switch {
		case errors.As(err, &ce) && len(records) == 0:
			if err := s.skipDamage(r, seg, start, endSeq, ce); err != nil {
				return nil, Position{}, fmt.Errorf("spool: read %s: %w", segName(seg.base), err)
			}
			continue
		case errors.As(err, &ce):
			// Deliver what came before the damage; the next Read skips it.
		case err != nil:
			return nil, Position{}, fmt.Errorf("spool: read %s: %w", segName(seg.base), err)
		}
		s.mu.Lock()
		if r.cursor.before(pos) { // a cursor skipped ahead meanwhile stays ahead
			r.cursor = pos
		}
		s.mu.Unlock()
		return records, pos, nil
	}
}

// skipDamage moves the read cursor from at, where the damage ce is, in
// seg, whose records end before endSeq, to the next intact frame, and logs
// and counts what it skipped. In a version 2 segment the next intact frame
// is found by its marker, index and CRC; in a version 1 segment, or when
// the segment's header is damaged, the rest of the segment is lost.
func (s *Spool) skipDamage(r *reader, seg segment, at Position, endSeq uint64, ce *corruptError) error {
	next := Position{seg: seg.base, off: seg.size, seq: endSeq}
	if !ce.whole {
		p, ok, err := r.fr.resync(ce.off)
		if err != nil {
			return err
		}
		if ok {
			next = p
		}
	}
	bytesLost, recordsLost := next.off-ce.off, next.seq-at.seq
	if r == s.main {
		// Counted once, by the default consumer; every cursor skips them.
		s.log.Error("skipped damaged records in the spool: they are lost",
			"segment", segName(seg.base), "offset", ce.off, "bytes_lost", bytesLost, "records_lost", recordsLost,
			"resumed_at", next.off, "err", ce)
		s.m.corruptBytes.Add(float64(bytesLost))
		s.m.corruptRecords.Add(float64(recordsLost))
	} else {
		s.log.Warn("cursor skipped damaged records in the spool", "cursor", r.name,
			"segment", segName(seg.base), "offset", ce.off, "records_lost", recordsLost)
	}
	s.mu.Lock()
	r.cursor = next
	s.mu.Unlock()
	return nil
}

// advanceLocked moves the read cursor past the ends of sealed or deleted
// segments and returns the index of the segment that has records at it, if
// any.
func (s *Spool) advanceLocked(r *reader) (int, bool) {
	for {
		i, found := s.segIndexLocked(r.cursor.seg)
		switch {
		case i == len(s.segs):
			return 0, false
		case !found:
			// The cursor's segment has gone (its records were all
			// delivered); go on with the next.
			next := s.segs[i].base
			r.cursor = Position{seg: next, off: segHeaderLen, seq: next}
		case r.cursor.off < s.segs[i].size:
			return i, true
		case i == len(s.segs)-1:
			return 0, false
		default:
			next := s.segs[i+1].base
			r.cursor = Position{seg: next, off: segHeaderLen, seq: next}
		}
	}
}

// segIndexLocked returns the index of the first segment at or after base
// and whether it is base's.
func (s *Spool) segIndexLocked(base uint64) (int, bool) {
	for i, seg := range s.segs {
		if seg.base >= base {
			return i, seg.base == base
		}
	}
	return len(s.segs), false
}

// readFrames reads up to n records from start, not going past end. If it
// meets a damaged frame, it returns the records before it with a
// *corruptError.
func (s *Spool) readFrames(r *reader, start Position, end int64, n int) ([][]byte, Position, error) {
	if r.rf == nil || r.rfb != start.seg {
		if r.rf != nil {
			r.rf.Close()
			r.rf = nil
		}
		f, err := os.Open(s.path(start.seg))
		if err != nil {
			return nil, start, err
		}
		hdr := make([]byte, segHeaderLen)
		if _, err := f.ReadAt(hdr, 0); err != nil && !errors.Is(err, io.EOF) {
			f.Close()
			return nil, start, err
		}
		ver, err := checkSegHeader(hdr, start.seg)
		if err != nil {
			f.Close()
			return nil, start, &corruptError{off: start.off, reason: "segment header: " + err.Error(), whole: true}
		}
		r.rf, r.rfb, r.rver = f, start.seg, ver
	}
	r.fr.reset(r.rf, r.rver, start, end)
	var (
		pos  = start
		buf  = make([]byte, 0, min(end-start.off, 32<<10))
		ends []int
		err  error
	)
	for len(ends) < n {
		if buf, _, err = r.fr.next(buf); err != nil {
			break
		}
		ends = append(ends, len(buf))
		pos = r.fr.pos()
	}
	if err == io.EOF {
		err = nil
	}
	records := make([][]byte, len(ends))
	prev := 0
	for i, e := range ends {
		records[i] = buf[prev:e:e]
		prev = e
	}
	return records, pos, err
}

// Commit records that everything up to pos, which a Read returned, has been
// delivered. It persists the commit point (fsync'd unless SyncNever) before
// it returns, so that Read after a restart starts after pos, and then deletes
// the segments it has finished. Committing a position at or before the
// current commit point does nothing.
func (s *Spool) Commit(pos Position) error { return s.commit(s.main, pos) }

func (s *Spool) commit(r *reader, pos Position) error {
	r.cmu.Lock()
	defer r.cmu.Unlock()
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return ErrClosed
	case !r.commit.before(pos):
		s.mu.Unlock()
		return nil
	case r.cursor.before(pos):
		s.mu.Unlock()
		return fmt.Errorf("spool: commit %v: Read has not got there yet (it is at %v)", pos, r.cursor)
	}
	// Only a commit that lets segments go must be durable before they do
	// (see the package doc): one that leaves pos's segment, or one an
	// Append waiting for space will reclaim after.
	durable := s.opts.Sync != SyncNever && (pos.seg != r.commit.seg || s.spaceWaiters > 0)
	s.mu.Unlock()

	if err := writeCommit(s.dir, commitFile(r.name), pos, durable); err != nil {
		return fmt.Errorf("spool: persist commit point: %w", err)
	}

	s.mu.Lock()
	if r.commit.before(pos) { // a skip to make room may have moved it on
		r.commit = pos
	}
	done := s.takeDeliveredLocked(false)
	if s.spaceWaiters > 0 {
		s.askReclaimLocked()
	}
	s.mu.Unlock()
	s.deleteSegments(done)
	return nil
}
