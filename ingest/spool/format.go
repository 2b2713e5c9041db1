package spool

import (
	"bufio"
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
	segMagic     = "envspool"
	segVersion   = 1
	segHeaderLen = 24
	segSuffix    = ".seg"
	segNameLen   = 20 // decimal digits of the base sequence number

	frameHeaderLen = 8
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

// frameCRC returns the CRC of a frame: its length word, then its payload.
func frameCRC(lenWord, payload []byte) uint32 {
	return crc32.Update(crc32.Update(0, castagnoli, lenWord), castagnoli, payload)
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

// checkSegHeader reports what is wrong with the header b of segment base.
func checkSegHeader(b []byte, base uint64) error {
	switch {
	case len(b) < segHeaderLen:
		return fmt.Errorf("header is %d bytes, want %d", len(b), segHeaderLen)
	case string(b[:8]) != segMagic:
		return fmt.Errorf("bad magic %q", b[:8])
	case binary.LittleEndian.Uint32(b[8:]) != segVersion:
		return fmt.Errorf("unknown version %d", binary.LittleEndian.Uint32(b[8:]))
	case binary.LittleEndian.Uint64(b[16:]) != base:
		return fmt.Errorf("header says first record %d, name says %d", binary.LittleEndian.Uint64(b[16:]), base)
	}
	return nil
}

// corruptError says that a segment's content is damaged at an offset.
type corruptError struct {
	off    int64
	reason string
}

func (e *corruptError) Error() string {
	return fmt.Sprintf("corrupt record at offset %d: %s", e.off, e.reason)
}

// frameReader reads frames from a segment. It is the one place that parses
// them, for both recovery and Read.
type frameReader struct {
	br  *bufio.Reader
	off int64 // offset in the segment of the next byte br returns
	end int64 // offset in the segment where the readable data ends
	hdr [frameHeaderLen]byte
}

// reset makes fr read f from off up to end.
func (fr *frameReader) reset(f *os.File, off, end int64) {
	sr := io.NewSectionReader(f, off, end-off)
	if fr.br == nil {
		fr.br = bufio.NewReaderSize(sr, 64<<10)
	} else {
		fr.br.Reset(sr)
	}
	fr.off, fr.end = off, end
}

// next reads one frame and appends its payload to buf. It returns io.EOF at
// end, a *corruptError if the frame is incomplete or damaged, and any other
// error if reading failed.
func (fr *frameReader) next(buf []byte) (_ []byte, last bool, err error) {
	if fr.off == fr.end {
		return buf, false, io.EOF
	}
	start := fr.off
	if fr.end-start < frameHeaderLen {
		return buf, false, &corruptError{start, fmt.Sprintf("%d bytes left, too few for a frame header", fr.end-start)}
	}
	if _, err := io.ReadFull(fr.br, fr.hdr[:]); err != nil {
		return buf, false, short(start, err)
	}
	word := binary.LittleEndian.Uint32(fr.hdr[0:4])
	n := int64(word &^ lastInBatch)
	if n > fr.end-start-frameHeaderLen {
		return buf, false, &corruptError{start, fmt.Sprintf("length %d runs past the end (%d bytes left)", n, fr.end-start-frameHeaderLen)}
	}
	l := len(buf)
	buf = grow(buf, int(n))
	if _, err := io.ReadFull(fr.br, buf[l:]); err != nil {
		return buf[:l], false, short(start, err)
	}
	if got, want := frameCRC(fr.hdr[0:4], buf[l:]), binary.LittleEndian.Uint32(fr.hdr[4:8]); got != want {
		return buf[:l], false, &corruptError{start, fmt.Sprintf("CRC %08x, want %08x", got, want)}
	}
	fr.off = start + frameHeaderLen + n
	return buf, word&lastInBatch != 0, nil
}

// short turns an EOF inside the section, which means that the file is
// shorter than the spool knew it to be, into damage at off.
func short(off int64, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &corruptError{off, "the file ends early"}
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
	bad     error  // why the scan stopped before the end of the file, if it did
}

// scanSegment checks every frame of a segment of size bytes whose header
// has been checked. Only an I/O error is returned as an error; damage is
// reported in the result.
func scanSegment(f *os.File, size int64) (scanResult, error) {
	var (
		fr  frameReader
		res = scanResult{end: segHeaderLen}
		n   uint64
		buf []byte
	)
	fr.reset(f, segHeaderLen, size)
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
			res.bad = err
			return res, nil
		case err != nil:
			return res, err
		}
		n++
		if last {
			res.end, res.records = fr.off, n
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
func writeCommit(dir string, p Position, sync bool) error {
	tmp := filepath.Join(dir, commitName+".tmp")
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
		err = os.Rename(tmp, filepath.Join(dir, commitName))
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
