package spool

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

const (
	segMagic = "envspool"
	// segVersion is the version of the segments the spool writes.
	segVersion = 2
	// segVersion1 segments, written before frames had a marker and an
	// index, are still read.
	segVersion1  = 1
	segHeaderLen = 24
	segSuffix    = ".seg"
	segNameLen   = 20 // decimal digits of the base sequence number

	// frameHeaderLen is the size of a frame's header in the segments the
	// spool writes: marker, length word, index and CRC.
	frameHeaderLen = 16
	// frameHeaderLen1 is the size of a frame header in a version 1
	// segment: length word and CRC.
	frameHeaderLen1 = 8
	// frameMarker starts every frame in a version 2 segment, so that a
	// reader can find the next frame after damage. Its first byte, 0xf5,
	// never occurs in UTF-8 text.
	frameMarker = "\xf5\x5c\x7e\xa1"
	// maxSegRecords bounds the records in one segment, so that a frame's
	// index fits its 32 bits with room for one more batch.
	maxSegRecords = 1 << 31
	// lastInBatch is set in a frame's length word on the last record of a
	// batch.
	lastInBatch = 1 << 31

	commitMagic = "envspcmt"
	commitName  = "commit"
	commitLen   = 36
	lockName    = "lock"
)

// castagnoli is the CRC-32C table; it is never written after initialisation.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frameCRC1 returns the CRC of a version 1 frame: its length word, then its
// payload.
func frameCRC1(lenWord, payload []byte) uint32 {
	return crc32.Update(crc32.Update(0, castagnoli, lenWord), castagnoli, payload)
}

// frameCRC returns the CRC of a frame in segment base: the base as a
// little-endian uint64, which is not stored in the frame, the first 12 bytes
// of the frame's header (marker, length word, index), then the payload.
// Covering the base binds a frame to its segment.
func frameCRC(base uint64, hdr, payload []byte) uint32 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], base)
	crc := crc32.Update(0, castagnoli, b[:])
	crc = crc32.Update(crc, castagnoli, hdr[:12])
	return crc32.Update(crc, castagnoli, payload)
}

// appendFrameHeader appends the header of the frame of payload, the
// record with index idx in segment base, to b.
func appendFrameHeader(b []byte, base uint64, idx uint64, payload []byte, last bool) []byte {
	word := uint32(len(payload))
	if last {
		word |= lastInBatch
	}
	h := len(b)
	b = append(b, frameMarker...)
	b = binary.LittleEndian.AppendUint32(b, word)
	b = binary.LittleEndian.AppendUint32(b, uint32(idx))
	return binary.LittleEndian.AppendUint32(b, frameCRC(base, b[h:], payload))
}

// frameBytes returns the framed size of records.
func frameBytes(records [][]byte) int64 {
	n := int64(len(records)) * frameHeaderLen
	for _, r := range records {
		n += int64(len(r))
	}
	return n
}

func segName(base uint64) string {
	return fmt.Sprintf("%0*d%s", segNameLen, base, segSuffix)
}

// parseSegName returns the base sequence number of a segment file name.
func parseSegName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(digits) != segNameLen {
		return 0, false
	}
	base, err := strconv.ParseUint(digits, 10, 64)
	return base, err == nil
}

func segHeader(base uint64) []byte {
	b := make([]byte, segHeaderLen)
	copy(b, segMagic)
	binary.LittleEndian.PutUint32(b[8:], segVersion)
	binary.LittleEndian.PutUint64(b[16:], base)
	return b
}

// checkSegHeader returns the version in the header b of segment base, or
// what is wrong with it.
func checkSegHeader(b []byte, base uint64) (uint32, error) {
	if len(b) < segHeaderLen {
		return 0, fmt.Errorf("header is %d bytes, want %d", len(b), segHeaderLen)
	}
	ver := binary.LittleEndian.Uint32(b[8:])
	switch {
	case string(b[:8]) != segMagic:
		return 0, fmt.Errorf("bad magic %q", b[:8])
	case ver != segVersion && ver != segVersion1:
		return 0, fmt.Errorf("unknown version %d", ver)
	case binary.LittleEndian.Uint64(b[16:]) != base:
		return 0, fmt.Errorf("header says first record %d, name says %d", binary.LittleEndian.Uint64(b[16:]), base)
	}
	return ver, nil
}

// corruptError says that a segment's content is damaged at an offset.
type corruptError struct {
	off    int64
	reason string
	whole  bool // the segment's header is damaged: none of it can be read
}

func (e *corruptError) Error() string {
	return fmt.Sprintf("corrupt record at offset %d: %s", e.off, e.reason)
}

// frameReader reads frames from a segment. It is the one place that parses
// them, for both recovery and Read.
type frameReader struct {
	br   *bufio.Reader
	f    *os.File
	ver  uint32 // the segment's version
	base uint64 // the segment's base sequence number
	off  int64  // offset in the segment of the next byte br returns
	idx  uint64 // index in the segment of the next record (its sequence number less base)
	end  int64  // offset in the segment where the readable data ends
	hdr  [frameHeaderLen]byte
}

// reset makes fr read f, a segment of version ver, from at up to end.
func (fr *frameReader) reset(f *os.File, ver uint32, at Position, end int64) {
	sr := io.NewSectionReader(f, at.off, end-at.off)
	if fr.br == nil {
		fr.br = bufio.NewReaderSize(sr, 64<<10)
	} else {
		fr.br.Reset(sr)
	}
	fr.f, fr.ver, fr.base = f, ver, at.seg
	fr.off, fr.idx, fr.end = at.off, at.seq-at.seg, end
}

// pos returns the Position of the next frame.
func (fr *frameReader) pos() Position {
	return Position{seg: fr.base, off: fr.off, seq: fr.base + fr.idx}
}

// next reads one frame and appends its payload to buf. It returns io.EOF at
// end, a *corruptError if the frame is incomplete or damaged, and any other
// error if reading failed.
func (fr *frameReader) next(buf []byte) (_ []byte, last bool, err error) {
	if fr.off == fr.end {
		return buf, false, io.EOF
	}
	start := fr.off
	hl := int64(frameHeaderLen)
	if fr.ver == segVersion1 {
		hl = frameHeaderLen1
	}
	if fr.end-start < hl {
		return buf, false, &corruptError{off: start, reason: fmt.Sprintf("%d bytes left, too few for a frame header", fr.end-start)}
	}
	hdr := fr.hdr[:hl]
	if _, err := io.ReadFull(fr.br, hdr); err != nil {
		return buf, false, short(start, err)
	}
	var word, crc uint32
	if fr.ver == segVersion1 {
		word, crc = binary.LittleEndian.Uint32(hdr[0:4]), binary.LittleEndian.Uint32(hdr[4:8])
	} else {
		if string(hdr[:4]) != frameMarker {
			return buf, false, &corruptError{off: start, reason: fmt.Sprintf("frame marker %x, want %x", hdr[:4], frameMarker)}
		}
		word, crc = binary.LittleEndian.Uint32(hdr[4:8]), binary.LittleEndian.Uint32(hdr[12:16])
	}
	n := int64(word &^ lastInBatch)
	if n > fr.end-start-hl {
		return buf, false, &corruptError{off: start, reason: fmt.Sprintf("length %d runs past the end (%d bytes left)", n, fr.end-start-hl)}
	}
	l := len(buf)
	buf = grow(buf, int(n))
	if _, err := io.ReadFull(fr.br, buf[l:]); err != nil {
		return buf[:l], false, short(start, err)
	}
	got := uint32(0)
	if fr.ver == segVersion1 {
		got = frameCRC1(hdr[0:4], buf[l:])
	} else {
		got = frameCRC(fr.base, hdr, buf[l:])
	}
	if got != crc {
		return buf[:l], false, &corruptError{off: start, reason: fmt.Sprintf("CRC %08x, want %08x", got, crc)}
	}
	if fr.ver != segVersion1 {
		if idx := binary.LittleEndian.Uint32(hdr[8:12]); uint64(idx) != fr.idx {
			return buf[:l], false, &corruptError{off: start, reason: fmt.Sprintf("record index %d, want %d", idx, fr.idx)}
		}
	}
	fr.off = start + hl + n
	fr.idx++
	return buf, word&lastInBatch != 0, nil
}

// resync finds the first intact frame at or after from, where a frame that
// next found damaged starts, in a version 2 segment. It returns that
// frame's Position, or false if no intact frame follows. It leaves fr as it
// was; reset fr to go on reading there.
//
// A frame counts as intact if it starts with the frame marker, its length
// fits, its CRC matches, and its index is one that can follow: the records
// lost between from and it take at least a frame header each. The CRC
// covers the segment's base, so that a frame copied from elsewhere does not
// count.
func (fr *frameReader) resync(from int64) (Position, bool, error) {
	if fr.ver == segVersion1 {
		return Position{}, false, nil
	}
	buf := make([]byte, min(64<<10, max(fr.end-from, 0)))
	for pos := from; fr.end-pos >= frameHeaderLen; {
		w := buf[:min(int64(len(buf)), fr.end-pos)]
		if _, err := fr.f.ReadAt(w, pos); errors.Is(err, io.EOF) {
			return Position{}, false, nil // the file is shorter than end: nothing more follows
		} else if err != nil {
			return Position{}, false, err
		}
		lim := len(w) - frameHeaderLen // a frame starting at w[lim] has its whole header in w
		for i := 0; i <= lim; i++ {
			j := bytes.Index(w[i:lim+len(frameMarker)], []byte(frameMarker))
			if j < 0 {
				break
			}
			i += j
			p, ok, err := fr.candidate(from, pos+int64(i), w[i:i+frameHeaderLen])
			if err != nil || ok {
				return p, ok, err
			}
		}
		pos += int64(lim + 1)
	}
	return Position{}, false, nil
}

// candidate reports whether the frame whose header hdr is at off is intact
// and can follow the damage at from; see resync.
func (fr *frameReader) candidate(from, off int64, hdr []byte) (Position, bool, error) {
	n := int64(binary.LittleEndian.Uint32(hdr[4:8]) &^ lastInBatch)
	idx := uint64(binary.LittleEndian.Uint32(hdr[8:12]))
	if n > fr.end-off-frameHeaderLen || idx < fr.idx {
		return Position{}, false, nil
	}
	// Records fr.idx … idx-1 lie in [from, off).
	if lost := idx - fr.idx; off == from && lost != 0 || off > from && (lost == 0 || lost > uint64(off-from)/frameHeaderLen) {
		return Position{}, false, nil
	}
	h := crc32.New(castagnoli)
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], fr.base)
	h.Write(b[:])
	h.Write(hdr[:12])
	if _, err := io.Copy(h, io.NewSectionReader(fr.f, off+frameHeaderLen, n)); err != nil {
		return Position{}, false, err
	}
	if h.Sum32() != binary.LittleEndian.Uint32(hdr[12:16]) {
		return Position{}, false, nil
	}
	return Position{seg: fr.base, off: off, seq: fr.base + idx}, true, nil
}

// short turns an EOF inside the section, which means that the file is
// shorter than the spool knew it to be, into damage at off.
func short(off int64, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &corruptError{off: off, reason: "the file ends early"}
	}
	return err
}

// grow extends b by n bytes, reallocating if it must.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), max(2*cap(b), len(b)+n))
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

// scanResult is what scanning a segment found.
type scanResult struct {
	end     int64  // offset just after the last complete batch
	records uint64 // records before end
	damaged int    // damaged stretches skipped before end (version 2 only)
	bad     error  // why the scan stopped before the end of the file, if it did
}

// scanSegment checks every frame of segment base, of version ver and size
// bytes, whose header has been checked. In a version 2 segment it skips
// damage that intact frames follow, as Read does. Only an I/O error is
// returned as an error; damage is reported in the result.
func scanSegment(f *os.File, ver uint32, base uint64, size int64) (scanResult, error) {
	var (
		fr      frameReader
		res     = scanResult{end: segHeaderLen}
		buf     []byte
		damaged int
	)
	fr.reset(f, ver, Position{seg: base, off: segHeaderLen, seq: base}, size)
	for {
		var (
			last bool
			err  error
		)
		buf, last, err = fr.next(buf[:0])
		var ce *corruptError
		switch {
		case err == io.EOF:
			return res, nil
		case errors.As(err, &ce):
			at, ok, rerr := fr.resync(ce.off)
			if rerr != nil {
				return res, rerr
			}
			if !ok {
				res.bad = err
				return res, nil
			}
			damaged++
			fr.reset(f, ver, at, size)
			continue
		case err != nil:
			return res, err
		}
		if last {
			res.end, res.records, res.damaged = fr.off, fr.idx, damaged
		}
	}
}

// encodeCommit returns the commit file's content for p.
func encodeCommit(p Position) []byte {
	b := make([]byte, commitLen)
	copy(b, commitMagic)
	binary.LittleEndian.PutUint64(b[8:], p.seg)
	binary.LittleEndian.PutUint64(b[16:], uint64(p.off))
	binary.LittleEndian.PutUint64(b[24:], p.seq)
	binary.LittleEndian.PutUint32(b[32:], crc32.Checksum(b[:32], castagnoli))
	return b
}

// decodeCommit parses a commit file.
func decodeCommit(b []byte) (Position, error) {
	if len(b) != commitLen || string(b[:8]) != commitMagic {
		return Position{}, fmt.Errorf("not a commit file (%d bytes)", len(b))
	}
	if got, want := crc32.Checksum(b[:32], castagnoli), binary.LittleEndian.Uint32(b[32:]); got != want {
		return Position{}, fmt.Errorf("CRC %08x, want %08x", got, want)
	}
	p := Position{
		seg: binary.LittleEndian.Uint64(b[8:]),
		off: int64(binary.LittleEndian.Uint64(b[16:])),
		seq: binary.LittleEndian.Uint64(b[24:]),
	}
	if p.off < 0 {
		return Position{}, fmt.Errorf("negative offset %d", p.off)
	}
	return p, nil
}

// writeCommit durably replaces the commit file in dir with p.
func writeCommit(dir, name string, p Position, sync bool) error {
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(encodeCommit(p))
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err == nil && sync {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// syncDir fsyncs a directory, so that files created, renamed or removed in
// it stay so after a power failure.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
