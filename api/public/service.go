package public

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"hash/fnv"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/httprate"

	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/windows"
)

// standards are the standards a snapshot is kept for.
var standards = [...]quality.Standard{quality.HJ633v2026, quality.HJ633v2012, quality.EPA2024}

// Service holds the computed snapshots and serves the public routes.
type Service struct {
	cfg   Config
	snaps [quality.EPA2024 + 1]atomic.Pointer[snapshot]
	// refreshMu serializes Refresh.
	refreshMu sync.Mutex
	dirty     chan struct{}
	version   atomic.Uint64

	streamMu sync.Mutex
	streams  map[*streamSub]struct{}

	noiseMu    sync.Mutex
	noiseCache cachedBody

	// limit is the one per-client rate limiter of every Handler.
	limit func(http.Handler) http.Handler
}

// snapshot is the current report of every air station under one standard,
// with its JSON encodings.
type snapshot struct {
	standard     quality.Standard
	version      uint64
	generated    time.Time
	lastModified time.Time
	next         time.Time
	etag         string // of body; gz has etag with "-gzip"
	body, gz     []byte
	entries      []stationAQIJSON
	raw          [][]byte // entries[i] as JSON
	byID         map[string]int
	stations     map[string]StationInfo
}

// New returns the public resources configured by cfg. Call Run to keep
// the snapshots current; until it runs, the first request computes them.
func New(cfg Config) (*Service, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, dirty: make(chan struct{}, 1), streams: map[*streamSub]struct{}{}}
	if cfg.RateLimit > 0 {
		s.limit = httprate.Limit(cfg.RateLimit, cfg.RateWindow,
			httprate.WithKeyFuncs(s.ClientKey),
			httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
				writeProblem(w, http.StatusTooManyRequests, "", nil,
					"too many requests from this client: at most %d per %v; retry after the Retry-After seconds", cfg.RateLimit, cfg.RateWindow)
			}))
	}
	return s, nil
}

// Run keeps the snapshots current until ctx is done: it recomputes them at
// every hour's end, and Config.Debounce after a late reading changed an
// hour that has ended. It returns nil.
func (s *Service) Run(ctx context.Context) error {
	if s.cfg.Changes != nil {
		cancel := s.cfg.Changes.Subscribe(s.onChange)
		defer cancel()
	}
	s.Refresh()
	for {
		wait := time.Until(time.Now().Add(s.untilNext()))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		case <-s.dirty:
			t.Stop()
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(s.cfg.Debounce):
			}
		}
		s.Refresh()
	}
}

// untilNext is the time until the next scheduled update, at least a second.
func (s *Service) untilNext() time.Duration {
	snap := s.snaps[standards[0]].Load()
	if snap == nil {
		return time.Second
	}
	return max(snap.next.Sub(s.cfg.Now()), time.Second)
}

// onChange marks the snapshot dirty when an hour that has ended changes:
// the hour in progress is in no current report.
func (s *Service) onChange(c windows.Change) {
	if c.Hour.End.After(s.cfg.Now()) {
		return
	}
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

// Refresh recomputes the snapshots now, and sends stream subscribers the
// stations whose report changed.
func (s *Service) Refresh() {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	now := s.cfg.Now()
	var air []StationInfo
	for _, st := range s.cfg.Stations.Stations() {
		if st.Medium == reading.Air {
			air = append(air, st)
		}
	}
	for _, std := range standards {
		s.refreshStandard(std, air, now)
	}
}

func (s *Service) refreshStandard(std quality.Standard, air []StationInfo, now time.Time) {
	old := s.snaps[std].Load()
	snap := &snapshot{standard: std, generated: now.UTC(), byID: make(map[string]int, len(air)),
		stations: make(map[string]StationInfo, len(air)), entries: make([]stationAQIJSON, 0, len(air)),
		raw: make([][]byte, 0, len(air))}
	h := fnv.New64a()
	for _, st := range air {
		loc := zoneOf(st)
		end := hourStart(now, loc)
		next := end.Add(time.Hour)
		status, offline := statusOf(s.cfg.Statuses, st.ID)
		e := stationAQIJSON{Station: stationRef(st), Status: status,
			reportJSON: currentReport(s.cfg.Windows, st, std, end, offline), NextUpdateAt: next}
		raw, _ := json.Marshal(e)
		snap.byID[st.ID] = len(snap.entries)
		snap.stations[st.ID] = st
		snap.entries = append(snap.entries, e)
		snap.raw = append(snap.raw, raw)
		h.Write(raw)
		if snap.next.IsZero() || next.Before(snap.next) {
			snap.next = next
		}
	}
	if snap.next.IsZero() {
		snap.next = hourStart(now, shanghai).Add(time.Hour)
	}
	snap.next = snap.next.UTC()
	h.Write([]byte(snap.next.Format(time.RFC3339)))
	snap.etag = `"` + strconv.FormatUint(h.Sum64(), 36) + `"`
	if old != nil && old.etag == snap.etag {
		return // nothing changed
	}
	snap.version = s.version.Add(1)
	snap.lastModified = now.UTC().Truncate(time.Second)
	if old != nil && !snap.lastModified.After(old.lastModified) {
		snap.lastModified = old.lastModified.Add(time.Second) // Last-Modified must move when the body does
	}
	snap.body = snap.encode()
	snap.gz = gzipBytes(snap.body)
	s.snaps[std].Store(snap)
	s.publish(old, snap)
}

// encode writes the snapshot's body from its station entries.
func (snap *snapshot) encode() []byte {
	head, _ := json.Marshal(struct {
		Standard     standardJSON `json:"standard"`
		Report       string       `json:"report"`
		GeneratedAt  time.Time    `json:"generated_at"`
		NextUpdateAt time.Time    `json:"next_update_at"`
		Count        int          `json:"count"`
	}{standardJSON{snap.standard.String(), snap.standard.Title()}, "hourly", snap.generated, snap.next, len(snap.entries)})
	n := len(head) + 16
	for _, r := range snap.raw {
		n += len(r) + 1
	}
	var b bytes.Buffer
	b.Grow(n)
	b.Write(head[:len(head)-1])
	b.WriteString(`,"stations":[`)
	for i, r := range snap.raw {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(r)
	}
	b.WriteString("]}\n")
	return b.Bytes()
}

func gzipBytes(b []byte) []byte {
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

// current returns the snapshot of std, computing it if there is none yet.
func (s *Service) current(std quality.Standard) *snapshot {
	if snap := s.snaps[std].Load(); snap != nil {
		return snap
	}
	s.Refresh()
	return s.snaps[std].Load()
}

// defaultStandard is the standard of a request that names none, for data
// whose period ends at t.
func (s *Service) defaultStandard(t time.Time) quality.Standard {
	if s.cfg.Standard != 0 {
		return s.cfg.Standard
	}
	return quality.StandardAt(t)
}
