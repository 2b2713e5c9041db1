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
// After Open, Read starts at the first record not committed.
//
// The records are the caller's to keep. A Read may return fewer than n
// records even when more are waiting, for instance at the end of a segment.
// Damaged records are skipped, logged and counted; see the package
// documentation.
func (s *Spool) Read(ctx context.Context, n int) ([][]byte, Position, error) {
	if n <= 0 {
		return nil, Position{}, fmt.Errorf("spool: read %d records: want at least 1", n)
	}
	s.rmu.Lock()
	defer s.rmu.Unlock()
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, Position{}, ErrClosed
		}
		i, ok := s.advanceLocked()
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
		start, seg := s.cursor, s.segs[i]
		endSeq := s.nextSeq
		if i+1 < len(s.segs) {
			endSeq = s.segs[i+1].base
		}
		s.mu.Unlock()

		records, pos, err := s.readFrames(start, seg.size, n)
		var ce *corruptError
		switch {
		case errors.As(err, &ce) && len(records) == 0:
			if err := s.skipDamage(seg, start, endSeq, ce); err != nil {
				return nil, Position{}, fmt.Errorf("spool: read %s: %w", segName(seg.base), err)
			}
			continue
		case errors.As(err, &ce):
			// Deliver what came before the damage; the next Read skips it.
		case err != nil:
			return nil, Position{}, fmt.Errorf("spool: read %s: %w", segName(seg.base), err)
		}
		s.mu.Lock()
		s.cursor = pos
		s.mu.Unlock()
		return records, pos, nil
	}
}

// skipDamage moves the read cursor from at, where the damage ce is, in
// seg, whose records end before endSeq, to the next intact frame, and logs
// and counts what it skipped. In a version 2 segment the next intact frame
// is found by its marker, index and CRC; in a version 1 segment, or when
// the segment's header is damaged, the rest of the segment is lost.
func (s *Spool) skipDamage(seg segment, at Position, endSeq uint64, ce *corruptError) error {
	next := Position{seg: seg.base, off: seg.size, seq: endSeq}
	if !ce.whole {
		p, ok, err := s.fr.resync(ce.off)
		if err != nil {
			return err
		}
		if ok {
			next = p
		}
	}
	bytesLost, recordsLost := next.off-ce.off, next.seq-at.seq
	s.log.Error("skipped damaged records in the spool: they are lost",
		"segment", segName(seg.base), "offset", ce.off, "bytes_lost", bytesLost, "records_lost", recordsLost,
		"resumed_at", next.off, "err", ce)
	s.m.corruptBytes.Add(float64(bytesLost))
	s.m.corruptRecords.Add(float64(recordsLost))
	s.mu.Lock()
	s.cursor = next
	s.mu.Unlock()
	return nil
}

// advanceLocked moves the read cursor past the ends of sealed or deleted
// segments and returns the index of the segment that has records at it, if
// any.
func (s *Spool) advanceLocked() (int, bool) {
	for {
		i, found := s.segIndexLocked(s.cursor.seg)
		switch {
		case i == len(s.segs):
			return 0, false
		case !found:
			// The cursor's segment has gone (its records were all
			// delivered); go on with the next.
			next := s.segs[i].base
			s.cursor = Position{seg: next, off: segHeaderLen, seq: next}
		case s.cursor.off < s.segs[i].size:
			return i, true
		case i == len(s.segs)-1:
			return 0, false
		default:
			next := s.segs[i+1].base
			s.cursor = Position{seg: next, off: segHeaderLen, seq: next}
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
func (s *Spool) readFrames(start Position, end int64, n int) ([][]byte, Position, error) {
	if s.rf == nil || s.rfb != start.seg {
		if s.rf != nil {
			s.rf.Close()
			s.rf = nil
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
		s.rf, s.rfb, s.rver = f, start.seg, ver
	}
	s.fr.reset(s.rf, s.rver, start, end)
	var (
		pos  = start
		buf  = make([]byte, 0, min(end-start.off, 32<<10))
		ends []int
		err  error
	)
	for len(ends) < n {
		if buf, _, err = s.fr.next(buf); err != nil {
			break
		}
		ends = append(ends, len(buf))
		pos = s.fr.pos()
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
func (s *Spool) Commit(pos Position) error {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return ErrClosed
	case !s.commit.before(pos):
		s.mu.Unlock()
		return nil
	case s.cursor.before(pos):
		s.mu.Unlock()
		return fmt.Errorf("spool: commit %v: Read has not got there yet (it is at %v)", pos, s.cursor)
	}
	// Only a commit that lets segments go must be durable before they do
	// (see the package doc): one that leaves pos's segment, or one an
	// Append waiting for space will reclaim after.
	durable := s.opts.Sync != SyncNever && (pos.seg != s.commit.seg || s.spaceWaiters > 0)
	s.mu.Unlock()

	if err := writeCommit(s.dir, pos, durable); err != nil {
		return fmt.Errorf("spool: persist commit point: %w", err)
	}

	s.mu.Lock()
	s.commit = pos
	done := s.takeDeliveredLocked(false)
	if s.spaceWaiters > 0 {
		s.askReclaimLocked()
	}
	s.mu.Unlock()
	s.deleteSegments(done)
	return nil
}
