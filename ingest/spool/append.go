package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

const (
	// maxGroup bounds the Appends that share one write and fsync.
	maxGroup = 256
	// writeBuf is the size at which the writer's buffer is written out; a
	// record this large is written straight from the caller's slice.
	writeBuf = 256 << 10
)

// Append appends records to the spool as one batch and returns once they
// are durable under the sync policy. After a crash either the whole batch is
// in the spool or none of it; if Append returned nil, all of it is.
//
// If the spool is full, Append blocks until Commit frees space or ctx ends,
// and then returns ctx's error, wrapped; ctx does not interrupt the write
// itself once it has begun. A batch larger than Options.MaxBytes fails with
// ErrTooLarge. The records must not be modified until Append returns.
//
// After a write or fsync fails, Append keeps returning that error: what the
// kernel kept of the file is unknown, so the spool must be reopened, which
// recovers it as after a crash.
func (s *Spool) Append(ctx context.Context, records ...[]byte) error {
	if len(records) == 0 {
		return nil
	}
	for _, r := range records {
		if len(r) > MaxRecordBytes {
			return fmt.Errorf("spool: record of %d bytes: %w", len(r), ErrTooLarge)
		}
	}
	n := frameBytes(records)
	if n > s.opts.MaxBytes {
		return fmt.Errorf("spool: batch of %d bytes with a limit of %d: %w", n, s.opts.MaxBytes, ErrTooLarge)
	}
	if err := s.reserve(ctx, n); err != nil {
		return err
	}
	defer s.appends.Done()
	r := &request{records: records, bytes: n, done: make(chan error, 1)}
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		s.release(n)
		return fmt.Errorf("spool: append: %w", ctxErr(ctx))
	}
	return <-r.done
}

// reserve waits until n more bytes fit, then counts them as reserved and
// the Append as running.
func (s *Spool) reserve(ctx context.Context, n int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		switch {
		case s.closed:
			return ErrClosed
		case s.err != nil:
			return s.err
		case s.used+s.reserved+n <= s.opts.MaxBytes:
			s.reserved += n
			s.appends.Add(1)
			return nil
		}
		ch := s.spaceCh
		s.spaceWaiters++
		s.m.blocked.Inc()
		// Counted as waiting first: named cursors that do not hold then
		// give their segments up.
		s.askReclaimLocked()
		s.mu.Unlock()
		if s.testBlocked != nil {
			s.testBlocked()
		}
		var err error
		select {
		case <-ch:
		case <-s.closing:
		case <-ctx.Done():
			err = fmt.Errorf("spool: wait for space: %w", ctxErr(ctx))
		}
		s.mu.Lock()
		s.spaceWaiters--
		s.m.blocked.Dec()
		if err != nil {
			return err
		}
	}
}

// ctxErr returns ctx's error, and its cause if that says more.
func ctxErr(ctx context.Context) error {
	err := ctx.Err()
	if cause := context.Cause(ctx); cause != nil && cause != err {
		return fmt.Errorf("%w: %w", err, cause)
	}
	return err
}

// release gives back bytes reserved by Appends that did not write them.
func (s *Spool) release(n int64) {
	s.mu.Lock()
	s.reserved -= n
	s.wakeSpaceLocked()
	s.mu.Unlock()
}

// writer is the state of the writer goroutine, which alone appends to,
// creates, seals, fsyncs and deletes the last segment.
type writer struct {
	f    *os.File // the last segment, or nil before the next is created
	base uint64   // its first record's sequence number
	size int64    // bytes written to it
	seq  uint64   // sequence number of the next record to write
	// pending counts the records encoded since seq was last advanced: the
	// next record framed gets sequence number seq+pending.
	pending uint64
	dirty   bool // written since the last fsync
	buf     []byte
	group   []*request
}

// writeLoop is the writer goroutine.
func (s *Spool) writeLoop() {
	defer close(s.stopped)
	var tick <-chan time.Time
	if s.opts.Sync == SyncInterval {
		t := time.NewTicker(s.opts.Interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case r := <-s.reqs:
			s.w.group = append(s.w.group[:0], r)
		gather:
			for len(s.w.group) < maxGroup {
				select {
				case r := <-s.reqs:
					s.w.group = append(s.w.group, r)
				default:
					break gather
				}
			}
			group := s.w.group
			for len(group) > 0 {
				group = group[s.writeChunk(group):]
			}
			clear(s.w.group)
		case <-tick:
			if s.w.dirty {
				if err := s.sync(s.w.f); err != nil {
					s.fail(fmt.Errorf("spool: fsync %s: %w", segName(s.w.base), err))
				}
				s.w.dirty = false
			}
		case <-s.reclaim:
			s.reclaimSegments()
		case <-s.stop:
			if s.w.f != nil {
				var err error
				if s.w.dirty {
					err = s.sync(s.w.f)
				}
				s.writeErr = errors.Join(err, s.w.f.Close())
				s.w.f = nil
			}
			return
		}
	}
}

// writeChunk writes the first of group's requests that fit in the last
// segment, starting a new segment first if it is full, fsyncs them if the
// policy says so, makes them readable and answers them. It returns how many
// requests it answered.
func (s *Spool) writeChunk(group []*request) int {
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err == nil && s.w.f != nil && (s.w.size >= s.opts.SegmentBytes || s.w.seq-s.w.base >= maxSegRecords) {
		err = s.seal()
	}
	if err == nil && s.w.f == nil {
		err = s.create()
	}
	if err != nil {
		s.answer(group, err)
		return len(group)
	}

	start, k := s.w.size, 0
	s.w.pending = 0
	var records uint64
	for k < len(group) && (k == 0 || s.w.size+int64(len(s.w.buf)) < s.opts.SegmentBytes) {
		if err = s.encode(group[k]); err != nil {
			break
		}
		records += uint64(len(group[k].records))
		k++
	}
	if err == nil {
		err = s.flushBuf()
	}
	if err != nil {
		// Take back what was written, so the segment ends with a whole
		// batch; if even that fails, the spool is unusable.
		s.w.buf = s.w.buf[:0]
		err = fmt.Errorf("spool: write %s: %w", segName(s.w.base), err)
		if terr := s.w.f.Truncate(start); terr != nil {
			err = errors.Join(err, terr)
			s.fail(err)
		}
		s.w.size = start
		s.answer(group, err)
		return len(group)
	}
	if s.opts.Sync == SyncAlways {
		if err := s.sync(s.w.f); err != nil {
			err = fmt.Errorf("spool: fsync %s: %w", segName(s.w.base), err)
			s.fail(err)
			s.answer(group, err)
			return len(group)
		}
	} else {
		s.w.dirty = true
	}
	s.w.seq += records

	var n int64
	for _, r := range group[:k] {
		n += r.bytes
	}
	s.mu.Lock()
	s.segs[len(s.segs)-1].size = s.w.size
	s.nextSeq = s.w.seq
	s.used += s.w.size - start
	s.reserved -= n
	s.wakeDataLocked()
	s.mu.Unlock()
	s.m.appended.Add(float64(records))
	for _, r := range group[:k] {
		r.done <- nil
	}
	return k
}

// encode frames r's records into the writer's buffer, writing the buffer
// out as it fills.
func (s *Spool) encode(r *request) error {
	for i, rec := range r.records {
		s.w.buf = appendFrameHeader(s.w.buf, s.w.base, s.w.seq+s.w.pending-s.w.base, rec, i == len(r.records)-1)
		s.w.pending++
		if len(rec) >= writeBuf {
			if err := s.flushBuf(); err != nil {
				return err
			}
			if _, err := s.w.f.WriteAt(rec, s.w.size); err != nil {
				return err
			}
			s.w.size += int64(len(rec))
			continue
		}
		s.w.buf = append(s.w.buf, rec...)
		if len(s.w.buf) >= writeBuf {
			if err := s.flushBuf(); err != nil {
				return err
			}
		}
	}
	return nil
}

// flushBuf writes the writer's buffer to the end of the last segment.
func (s *Spool) flushBuf() error {
	if len(s.w.buf) == 0 {
		return nil
	}
	_, err := s.w.f.WriteAt(s.w.buf, s.w.size)
	if err == nil {
		s.w.size += int64(len(s.w.buf))
	}
	s.w.buf = s.w.buf[:0]
	return err
}

// answer fails every request in group with err and gives back their space.
func (s *Spool) answer(group []*request, err error) {
	var n int64
	for _, r := range group {
		n += r.bytes
		r.done <- err
	}
	s.release(n)
}

// seal finishes the last segment: it fsyncs and closes it. It stays last,
// and Read keeps treating it as growing, until create adds the next.
func (s *Spool) seal() error {
	if s.w.dirty {
		if err := s.sync(s.w.f); err != nil {
			err = fmt.Errorf("spool: fsync %s: %w", segName(s.w.base), err)
			s.fail(err)
			return err
		}
		s.w.dirty = false
	}
	err := s.w.f.Close()
	s.w.f = nil
	if err != nil {
		err = fmt.Errorf("spool: close %s: %w", segName(s.w.base), err)
		s.fail(err)
	}
	return err
}

// create starts a new last segment for the next record. The segment and its
// directory entry are fsync'd (unless SyncNever) before any record goes in.
func (s *Spool) create() error {
	base := s.w.seq
	name := s.path(base)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("spool: create segment: %w", err)
	}
	_, err = f.WriteAt(segHeader(base), 0)
	if err == nil {
		err = s.sync(f)
	}
	if err == nil {
		err = s.syncDir()
	}
	if err != nil {
		f.Close()
		os.Remove(name)
		return fmt.Errorf("spool: create segment %s: %w", segName(base), err)
	}
	s.w.f, s.w.base, s.w.size, s.w.dirty = f, base, segHeaderLen, false
	s.mu.Lock()
	s.segs = append(s.segs, segment{base: base, size: segHeaderLen})
	s.mu.Unlock()
	s.m.segments.Inc()
	return nil
}

// reclaimSegments deletes the delivered segments, the last one included, to free
// space for a blocked Append. The next Append starts a new segment.
func (s *Spool) reclaimSegments() {
	s.mu.Lock()
	done := s.takeDeliveredLocked(true)
	s.mu.Unlock()
	if len(done) > 0 && s.w.f != nil && done[len(done)-1].base == s.w.base {
		s.w.f.Close()
		s.w.f, s.w.dirty = nil, false
	}
	s.deleteSegments(done)
}

// fail makes err the spool's sticky write error.
func (s *Spool) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.log.Error("spool can no longer append; reopen it to recover", "err", err)
		s.err = err
	}
}
