package station

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// StatusRecord is what a station last said on its status topic, and when.
type StatusRecord struct {
	Point   string    `json:"point"`
	Station string    `json:"station"`
	Status  Status    `json:"status"`
	At      time.Time `json:"at"`
}

// StatusLog keeps the stations' statuses on disk, so that a restart shows
// what each station last said instead of "unknown". It is an append-only
// file of JSON lines, one per status change, compacted to one line per
// station when it is opened. Append syncs before it returns: the collector
// acknowledges a status message only after that.
type StatusLog struct {
	mu    sync.Mutex
	path  string
	f     *os.File
	lines int
	last  map[string]StatusRecord
}

// maxStatusLine bounds a line of the log: ids are at most 64 bytes.
const maxStatusLine = 4 << 10

// OpenStatusLog opens (or creates) the log at path and returns it with the
// statuses it holds, the latest per station. A line cut short by a crash
// is ignored: its message was never acknowledged.
func OpenStatusLog(path string) (*StatusLog, []StatusRecord, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, err
	}
	l := &StatusLog{path: path, last: map[string]StatusRecord{}}
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("read station status log: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, maxStatusLine), maxStatusLine)
	for sc.Scan() {
		var r StatusRecord
		if json.Unmarshal(sc.Bytes(), &r) != nil || !ValidID(r.Station) {
			continue
		}
		l.keep(r)
	}
	if err := l.compact(); err != nil {
		return nil, nil, err
	}
	return l, l.records(), nil
}

// keep makes r its station's latest status unless the one held is newer:
// two writers (a status message, and a connection's end) may append in the
// other order from the one they happened in.
func (l *StatusLog) keep(r StatusRecord) {
	if prev, ok := l.last[r.Station]; ok && r.At.Before(prev.At) {
		return
	}
	l.last[r.Station] = r
}

func (l *StatusLog) records() []StatusRecord {
	out := make([]StatusRecord, 0, len(l.last))
	for _, r := range l.last {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Station < out[j].Station })
	return out
}

// compact rewrites the log with one line per station, atomically.
func (l *StatusLog) compact() error {
	tmp := l.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("compact station status log: %w", err)
	}
	w := bufio.NewWriter(f)
	for _, r := range l.records() {
		b, _ := json.Marshal(r)
		w.Write(append(b, '\n'))
	}
	err = errors.Join(w.Flush(), f.Sync(), f.Close())
	if err == nil {
		err = os.Rename(tmp, l.path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(l.path))
	}
	if err != nil {
		return fmt.Errorf("compact station status log: %w", err)
	}
	if l.f != nil {
		l.f.Close()
	}
	if l.f, err = os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		return fmt.Errorf("open station status log: %w", err)
	}
	l.lines = len(l.last)
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Append writes the records and syncs them to disk.
func (l *StatusLog) Append(rs []StatusRecord) error {
	if len(rs) == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("station status log is closed")
	}
	var buf bytes.Buffer
	for _, r := range rs {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if _, err := l.f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("append to station status log: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("sync station status log: %w", err)
	}
	for _, r := range rs {
		l.keep(r)
	}
	l.lines += len(rs)
	if l.lines > 4*len(l.last)+1024 {
		return l.compact()
	}
	return nil
}

// Close closes the log.
func (l *StatusLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
