package spool

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Errors returned by a Spool.
var (
	// ErrClosed is returned by calls on a closed Spool.
	ErrClosed = errors.New("spool: closed")
	// ErrTooLarge is returned by Append for a batch that could never fit
	// within Options.MaxBytes.
	ErrTooLarge = errors.New("spool: batch larger than the spool")
)

// MaxRecordBytes is the largest record the spool can frame.
const MaxRecordBytes = 1<<31 - 1

// SyncPolicy says when a Spool fsyncs what it appends; the package
// documentation says what each policy guarantees.
type SyncPolicy int

// The sync policies.
const (
	// SyncAlways fsyncs before Append returns, sharing one fsync among
	// concurrent Appends. It is the zero value.
	SyncAlways SyncPolicy = iota
	// SyncInterval fsyncs every Options.Interval; Append returns once the
	// batch is written to the kernel. A process crash loses nothing; a power
	// failure loses up to the last Interval of Appends.
	SyncInterval
	// SyncNever never fsyncs. For tests and benchmarks only.
	SyncNever
)

var syncPolicyNames = [...]string{SyncAlways: "always", SyncInterval: "interval", SyncNever: "never"}

// String returns "always", "interval" or "never".
func (p SyncPolicy) String() string {
	if p < 0 || int(p) >= len(syncPolicyNames) {
		return fmt.Sprintf("SyncPolicy(%d)", int(p))
	}
	return syncPolicyNames[p]
}

// MarshalText encodes p as its String.
func (p SyncPolicy) MarshalText() ([]byte, error) {
	if p < 0 || int(p) >= len(syncPolicyNames) {
		return nil, fmt.Errorf("spool: unknown sync policy %d", int(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText parses "always", "interval" or "never", so that a policy can
// be set from YAML or a flag.
func (p *SyncPolicy) UnmarshalText(b []byte) error {
	if i := slices.Index(syncPolicyNames[:], string(b)); i >= 0 {
		*p = SyncPolicy(i)
		return nil
	}
	return fmt.Errorf("spool: unknown sync policy %q (want always, interval or never)", b)
}

// Options configures a Spool. The zero value is usable: 1 GiB, 64 MiB
// segments, SyncAlways.
type Options struct {
	// MaxBytes bounds the framed records kept on disk (delivered or not,
	// until their segment is deleted). Append blocks while the spool is
	// full. Default 1 GiB.
	MaxBytes int64
	// SegmentBytes is the size at which a new segment file starts. Default
	// 64 MiB, or MaxBytes/4 if that is smaller.
	SegmentBytes int64
	// Sync is the fsync policy; the zero value is SyncAlways.
	Sync SyncPolicy
	// Interval is how often SyncInterval fsyncs. Default 1s.
	Interval time.Duration
	// Logger receives recovery and corruption reports; default
	// slog.Default().
	Logger *slog.Logger
	// Registerer, if set, receives the spool's metrics, named
	// envmon_spool_*: records and bytes not yet delivered, blocked Appends,
	// fsync durations, and bytes cut as torn tails or skipped as damaged.
	Registerer prometheus.Registerer
}

// Validate reports the first option that is out of range.
func (o Options) Validate() error {
	switch {
	case o.MaxBytes < 0:
		return fmt.Errorf("spool: MaxBytes %d is negative", o.MaxBytes)
	case o.SegmentBytes < 0:
		return fmt.Errorf("spool: SegmentBytes %d is negative", o.SegmentBytes)
	case o.Sync < SyncAlways || o.Sync > SyncNever:
		return fmt.Errorf("spool: Sync %d is not a SyncPolicy", int(o.Sync))
	case o.Interval < 0:
		return fmt.Errorf("spool: Interval %v is negative", o.Interval)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.MaxBytes == 0 {
		o.MaxBytes = 1 << 30
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = max(min(64<<20, o.MaxBytes/4), 1)
	}
	if o.Interval == 0 {
		o.Interval = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Position is a point in the spool: the end of the records that a Read
// returned. Its zero value is before every record.
type Position struct {
	seg uint64 // base sequence number of the segment
	off int64  // byte offset in the segment just after the last record
	seq uint64 // sequence number of the next record
}

// before reports whether p comes before q.
func (p Position) before(q Position) bool {
	if p.seq != q.seq {
		return p.seq < q.seq
	}
	if p.seg != q.seg {
		return p.seg < q.seg
	}
	return p.off < q.off
}

// String describes p for logs.
func (p Position) String() string {
	return fmt.Sprintf("record %d (segment %s offset %d)", p.seq, segName(p.seg), p.off)
}

// segment is a segment file as the Spool knows it. The last one in
// Spool.segs is the one being appended to; the others are sealed.
type segment struct {
	base uint64 // sequence number of its first record
	size int64  // bytes in the file that Read may read
}

// request is one Append's batch on its way to the writer.
type request struct {
	records [][]byte
	bytes   int64 // framed size
	done    chan error
}

// Spool is a durable, bounded FIFO of records in a directory. It is safe
// for concurrent use, though records are meant to have one consumer.
type Spool struct {
	dir    string
	opts   Options
	log    *slog.Logger
	m      *metrics
	unlock func() error

	reqs     chan *request
	reclaim  chan struct{} // asks the writer to delete delivered segments, the last one included
	closing  chan struct{} // closed by Close; wakes blocked Appends and Reads
	stop     chan struct{} // closed by Close once no Append is running; stops the writer
	stopped  chan struct{} // closed by the writer when it returns
	appends  sync.WaitGroup
	w        writer // the writer goroutine's own state
	writeErr error  // the writer's error from closing, read after stopped

	// main is the default consumer's cursor (Read, Commit); others are
	// the named cursors (Cursor), those of earlier runs included.
	main    *reader
	readers map[string]*reader

	mu           sync.Mutex
	closed       bool
	err          error // sticky writer failure
	segs         []segment
	nextSeq      uint64 // sequence number of the next record to become readable
	used         int64  // framed bytes in segs
	reserved     int64  // framed bytes of Appends admitted but not yet readable
	spaceCh      chan struct{}
	spaceWaiters int
	dataCh       chan struct{}
	dataWaiters  int

	// testBlocked, if set, is called when an Append starts waiting for space.
	testBlocked func()
}

// Open opens the spool in dir, creating dir if needed, and recovers it: it
// truncates a torn tail left by a crash and positions Read at the first
// record not committed. Only one Spool at a time may have dir open.
func Open(dir string, opts Options) (*Spool, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &Spool{
		main:    &reader{holding: true},
		readers: map[string]*reader{},
		dir:     dir,
		opts:    opts,
		log:     opts.Logger.With("component", "spool", "dir", dir),
		unlock:  unlock,
		reqs:    make(chan *request, 64),
		reclaim: make(chan struct{}, 1),
		closing: make(chan struct{}),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
		spaceCh: make(chan struct{}),
		dataCh:  make(chan struct{}),
	}
	s.m = newMetrics(opts.Registerer, s)
	if err := s.recover(); err != nil {
		if s.w.f != nil {
			s.w.f.Close()
		}
		unlock()
		return nil, fmt.Errorf("spool: open %s: %w", dir, err)
	}
	go s.writeLoop()
	return s, nil
}

// recover rebuilds the Spool's state from dir.
func (s *Spool) recover() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	var bases []uint64
	var cursorNames []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") && strings.HasPrefix(e.Name(), commitName) {
			// A Commit that did not finish; the old commit file stands.
			os.Remove(filepath.Join(s.dir, e.Name()))
			continue
		}
		if name, ok := strings.CutPrefix(e.Name(), commitName+"."); ok && validCursorName(name) {
			cursorNames = append(cursorNames, name)
		}
		if base, ok := parseSegName(e.Name()); ok && e.Type().IsRegular() {
			bases = append(bases, base)
		}
	}
	slices.Sort(bases)

	c, haveCommit, err := s.readCommit("")
	if err != nil {
		return err
	}
	if !haveCommit && len(bases) > 0 {
		c = Position{seg: bases[0], off: segHeaderLen, seq: bases[0]}
	}
	// The named cursors of earlier runs: until their consumers ask for
	// them again (Cursor), they keep their segments only while there is
	// room.
	oldest := c
	for _, name := range cursorNames {
		p, ok, err := s.readCommit(name)
		if err != nil {
			return err
		}
		if !ok {
			// Damaged (readCommit logged it): the cursor replays every
			// record there is, since the default consumer's commit point
			// says nothing of what this one consumed.
			p = c
			if len(bases) > 0 {
				p = Position{seg: bases[0], off: segHeaderLen, seq: bases[0]}
			}
		}
		s.readers[name] = &reader{name: name, commit: p}
		if p.before(oldest) {
			oldest = p
		}
	}
	// Segments wholly before every commit point: a Commit deleted all but
	// these before a crash.
	for len(bases) > 0 && bases[0] < oldest.seg {
		if err := os.Remove(s.path(bases[0])); err != nil {
			return err
		}
		s.log.Info("deleted delivered segment", "segment", segName(bases[0]))
		bases = bases[1:]
	}

	// The last segment: check its header and cut a torn tail.
	for len(bases) > 0 {
		last := bases[len(bases)-1]
		ok, err := s.recoverLast(last)
		if err != nil {
			return err
		}
		if ok {
			break
		}
		bases = bases[:len(bases)-1]
	}
	for _, base := range bases {
		size := s.w.size
		if base != s.w.base || s.w.f == nil {
			fi, err := os.Stat(s.path(base))
			if err != nil {
				return err
			}
			size = fi.Size()
		}
		s.segs = append(s.segs, segment{base: base, size: size})
		s.used += max(size-segHeaderLen, 0)
	}

	s.nextSeq = s.w.seq
	if len(s.segs) == 0 {
		s.nextSeq = c.seq
		for _, r := range s.readers {
			s.nextSeq = max(s.nextSeq, r.commit.seq)
		}
		s.w.seq = s.nextSeq
	}
	c = s.clamp(c)
	s.main.commit, s.main.cursor = c, c
	for _, r := range s.readers {
		r.commit = s.clamp(r.commit)
		r.cursor = r.commit
	}
	// A crash between persisting a commit point at the end of a segment and
	// deleting that segment leaves it behind.
	for _, seg := range s.takeDeliveredLocked(false) {
		if err := os.Remove(s.path(seg.base)); err != nil {
			return err
		}
		s.log.Info("deleted delivered segment", "segment", segName(seg.base))
		s.used -= seg.size - segHeaderLen
	}
	s.log.Info("opened spool", "segments", len(s.segs), "records", s.nextSeq-c.seq, "next", c, "cursors", len(s.readers))
	return nil
}

// clamp moves a commit point read from disk onto the segments there are:
// into the first segment after its own if that is gone (it was delivered
// in full), and back to its segment's end if it lies past it.
func (s *Spool) clamp(c Position) Position {
	if len(s.segs) == 0 {
		return Position{seg: s.nextSeq, off: segHeaderLen, seq: s.nextSeq}
	}
	i, found := s.segIndexLocked(c.seg)
	switch {
	case i == len(s.segs):
		last := s.segs[len(s.segs)-1]
		return Position{seg: last.base, off: last.size, seq: s.nextSeq}
	case !found:
		// The commit point's segment is gone: it was delivered in full.
		return Position{seg: s.segs[i].base, off: segHeaderLen, seq: s.segs[i].base}
	case c.off < segHeaderLen:
		c.off = segHeaderLen
	case c.off > s.segs[i].size:
		// Only after a power failure without SyncAlways: records were
		// delivered, then lost from the segment.
		end := Position{seg: s.segs[i].base, off: s.segs[i].size, seq: s.nextSeq}
		if i+1 < len(s.segs) {
			end.seq = s.segs[i+1].base
		}
		s.log.Warn("commit point is past the end of its segment; records appended before a power failure were lost", "commit", c, "end", end)
		c = end
	}
	return c
}

// recoverLast prepares the last segment for appending: it checks its header
// and truncates a torn tail. It reports false if the segment was removed
// because it had not been created in full.
func (s *Spool) recoverLast(base uint64) (bool, error) {
	name := s.path(base)
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return false, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return false, err
	}
	hdr := make([]byte, segHeaderLen)
	n, err := f.ReadAt(hdr, 0)
	if n < segHeaderLen {
		// A crash while the segment was created: it holds nothing.
		f.Close()
		s.log.Warn("removed partly created segment", "segment", segName(base), "bytes", fi.Size(), "err", err)
		s.m.tornBytes.Add(float64(fi.Size()))
		return false, os.Remove(name)
	}
	ver, err := checkSegHeader(hdr, base)
	if err != nil {
		f.Close()
		return false, fmt.Errorf("segment %s: %w; move it out of the way to go on without it", segName(base), err)
	}
	res, err := scanSegment(f, ver, base, fi.Size())
	if err != nil {
		f.Close()
		return false, fmt.Errorf("scan segment %s: %w", segName(base), err)
	}
	if res.damaged > 0 {
		// Read reports and counts the damage if it lies past the commit
		// point, where records are lost.
		s.log.Warn("last segment has damaged records followed by intact ones; Read will skip them",
			"segment", segName(base), "damaged_stretches", res.damaged)
	}
	if dropped := fi.Size() - res.end; dropped > 0 {
		s.log.Warn("truncated torn tail of last segment, left by a crash during appends that had not returned",
			"segment", segName(base), "offset", res.end, "bytes_dropped", dropped, "why", res.bad)
		s.m.tornBytes.Add(float64(dropped))
		if err := f.Truncate(res.end); err != nil {
			f.Close()
			return false, err
		}
		if err := s.sync(f); err != nil {
			f.Close()
			return false, err
		}
	}
	if ver != segVersion {
		// Frames of this version cannot be appended to it: the next Append
		// starts a new segment, and this one is read as sealed.
		if err := f.Close(); err != nil {
			return false, err
		}
		if res.records == 0 {
			s.log.Info("removed empty segment of an older version", "segment", segName(base), "version", ver)
			return false, os.Remove(name)
		}
		s.w = writer{base: base, size: res.end, seq: base + res.records}
		return true, nil
	}
	s.w = writer{f: f, base: base, size: res.end, seq: base + res.records}
	return true, nil
}

// readCommit reads the commit file. A damaged one is logged and ignored:
// reading then starts from the oldest record, which repeats records but
// loses none.
func (s *Spool) readCommit(cursor string) (Position, bool, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, commitFile(cursor)))
	if errors.Is(err, os.ErrNotExist) {
		return Position{}, false, nil
	}
	if err != nil {
		return Position{}, false, err
	}
	p, err := decodeCommit(b)
	if err != nil {
		s.log.Error("commit file is damaged; replaying every record in the spool", "cursor", cursor, "err", err)
		s.m.corruptBytes.Add(float64(len(b)))
		return Position{}, false, nil
	}
	return p, true, nil
}

func (s *Spool) path(base uint64) string { return filepath.Join(s.dir, segName(base)) }

// sync fsyncs f unless the policy is SyncNever.
func (s *Spool) sync(f *os.File) error {
	if s.opts.Sync == SyncNever {
		return nil
	}
	start := time.Now()
	err := f.Sync()
	s.m.fsync.Observe(time.Since(start).Seconds())
	return err
}

// syncDir fsyncs the spool's directory unless the policy is SyncNever.
func (s *Spool) syncDir() error {
	if s.opts.Sync == SyncNever {
		return nil
	}
	return syncDir(s.dir)
}

// Len returns the number of records not yet committed.
func (s *Spool) Len() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.main.lagLocked(s.nextSeq)
}

// Size returns the framed bytes of the records not yet committed.
func (s *Spool) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.used
	if len(s.segs) > 0 && s.segs[0].base == s.main.commit.seg {
		n -= s.main.commit.off - segHeaderLen
	}
	return n
}

// Close waits for running Appends, fsyncs (unless SyncNever) and closes the
// spool. Blocked Appends and Reads return ErrClosed. Records read but not
// committed are read again after the next Open.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	close(s.closing)
	s.mu.Unlock()

	s.appends.Wait()
	close(s.stop)
	<-s.stopped

	var rerr error
	for _, r := range append([]*reader{s.main}, s.allNamed()...) {
		rerr = errors.Join(rerr, r.close())
	}
	return errors.Join(s.writeErr, rerr, s.unlock())
}

// wakeSpaceLocked wakes Appends waiting for space.
func (s *Spool) wakeSpaceLocked() {
	if s.spaceWaiters > 0 {
		close(s.spaceCh)
		s.spaceCh = make(chan struct{})
	}
}

// wakeDataLocked wakes a Read waiting for records.
func (s *Spool) wakeDataLocked() {
	if s.dataWaiters > 0 {
		close(s.dataCh)
		s.dataCh = make(chan struct{})
	}
}

// deliveredLocked reports whether segment i holds no record that has not
// been committed, and could be deleted. An empty last segment does not
// count: deleting it frees nothing.
func (s *Spool) deliveredLocked(i int) bool {
	seg := s.segs[i]
	if i == len(s.segs)-1 && seg.size <= segHeaderLen {
		return false
	}
	past := func(c Position) bool { return seg.base < c.seg || seg.base == c.seg && c.off >= seg.size }
	if !past(s.main.commit) {
		return false
	}
	for _, r := range s.readers {
		// A named cursor keeps its segments only while there is room:
		// a slow consumer holds only itself.
		if !past(r.commit) && (r.holding || s.spaceWaiters == 0) {
			return false
		}
	}
	return true
}

// takeDeliveredLocked removes the delivered segments from the front of
// s.segs and returns them for deleteSegments. It takes the last segment
// only if last is set, as only the writer may.
func (s *Spool) takeDeliveredLocked(last bool) []segment {
	var done []segment
	for len(s.segs) > 0 && (last || len(s.segs) > 1) && s.deliveredLocked(0) {
		done = append(done, s.segs[0])
		s.segs = s.segs[1:]
	}
	if len(done) > 0 {
		s.skipLaggardsLocked(done[len(done)-1])
	}
	return done
}

// deleteSegments deletes the files of segments taken by takeDeliveredLocked
// and gives their space back. Failures are logged: the records are delivered
// all the same, and Open deletes the files.
func (s *Spool) deleteSegments(done []segment) {
	if len(done) == 0 {
		return
	}
	var freed int64
	for _, seg := range done {
		if err := os.Remove(s.path(seg.base)); err != nil {
			s.log.Error("could not delete delivered segment", "segment", segName(seg.base), "err", err)
		}
		freed += seg.size - segHeaderLen
	}
	s.mu.Lock()
	s.used -= freed
	s.wakeSpaceLocked()
	s.mu.Unlock()
}

// askReclaimLocked asks the writer to delete delivered segments, the last
// one included, if there are any: an Append is waiting for their space.
func (s *Spool) askReclaimLocked() {
	if len(s.segs) > 0 && s.deliveredLocked(0) {
		select {
		case s.reclaim <- struct{}{}:
		default:
		}
	}
}
