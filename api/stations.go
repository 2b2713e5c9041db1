package api

import (
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/station"
	"github.com/envmon/envmon/store"
)

// stationsResource serves /api/v1/stations.
type stationsResource struct {
	stations Stations
	readings Readings
	now      func() time.Time
	log      *slog.Logger
}

func (s stationsResource) Routes() chi.Router {
	r := chi.NewRouter()
	r.Get("/", s.list)
	r.Route("/{id}", func(r chi.Router) {
		r.Get("/", s.get)
		r.Get("/latest", s.latest)
		r.Get("/readings", s.history)
	})
	return r
}

// stationJSON is the public view of a station with its latest values. It
// is built field by field from the registry's internal types, so that what
// the registry adds (teams, contacts, password hashes) never shows here
// unless it is added on purpose.
type stationJSON struct {
	ID    string           `json:"id"`
	Point string           `json:"point"`
	Name  *nameJSON        `json:"name,omitempty"`
	Media []reading.Medium `json:"media"`
	// Coordinates are absent, not 0,0, for a station without them.
	Coordinates *coordinatesJSON `json:"coordinates,omitempty"`
	TimeZone    string           `json:"time_zone"`
	NoiseZone   string           `json:"noise_zone,omitempty"`
	WaterTarget string           `json:"water_target,omitempty"`
	WaterBody   string           `json:"water_body,omitempty"`
	Metrics     []string         `json:"metrics,omitempty"`
	// ServicePoint is the station's point: its name, type, address and
	// grid cell.
	ServicePoint pointJSON            `json:"service_point"`
	Registered   bool                 `json:"registered"` // listed in the registry file
	Status       string               `json:"status"`
	StatusAt     time.Time            `json:"status_at,omitzero"` // when the status message arrived
	LastSeen     time.Time            `json:"last_seen,omitzero"`
	Latest       map[string]valueJSON `json:"latest"`
}

type nameJSON struct {
	Zh string `json:"zh"`
	En string `json:"en"`
}

type coordinatesJSON struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

type pointJSON struct {
	ID      string    `json:"id"`
	Name    *nameJSON `json:"name,omitempty"`
	Type    string    `json:"type,omitempty"`
	Address string    `json:"address,omitempty"`
	Grid    gridJSON  `json:"grid"`
}

type gridJSON struct {
	County   string `json:"county,omitempty"`
	Township string `json:"township,omitempty"`
	Village  string `json:"village,omitempty"`
}

func publicName(n station.Name) *nameJSON {
	if n.IsZero() {
		return nil
	}
	return &nameJSON{Zh: n.Zh, En: n.En}
}

// publicStation maps the registry's view of a station to its public JSON.
func publicStation(v station.View) stationJSON {
	out := stationJSON{
		ID: v.ID, Point: v.Point, Name: publicName(v.Name), Media: v.Media, Metrics: v.Metrics,
		ServicePoint: pointJSON{ID: v.ServicePoint.ID, Name: publicName(v.ServicePoint.Name), Type: string(v.ServicePoint.Type),
			Address: v.ServicePoint.Address, Grid: gridJSON(v.ServicePoint.Grid)},
		Registered: v.Registered, Status: string(v.Status), StatusAt: v.StatusAt, LastSeen: v.LastSeen,
	}
	if v.Coordinates != nil {
		out.Coordinates = &coordinatesJSON{Lat: v.Coordinates.Lat, Lon: v.Coordinates.Lon}
	}
	if v.TimeZone != nil {
		out.TimeZone = v.TimeZone.String()
	}
	if v.NoiseZone != 0 {
		out.NoiseZone = v.NoiseZone.String()
	}
	if v.WaterTarget != quality.Unclassed {
		out.WaterTarget = v.WaterTarget.String()
	}
	if v.Registered && slices.Contains(v.Media, reading.Water) {
		out.WaterBody = v.WaterBody.String()
	}
	return out
}

type valueJSON struct {
	Value  float64        `json:"value"`
	Unit   string         `json:"unit"`
	Time   time.Time      `json:"time"`
	Medium reading.Medium `json:"medium"`
	// QC lists the value's quality-control flags; empty when it is clean.
	QC []string `json:"qc"`
}

func (s stationsResource) withLatest(v station.View) stationJSON {
	out := publicStation(v)
	out.Latest = map[string]valueJSON{}
	ls, _ := s.stations.Latest(v.ID)
	for _, l := range ls {
		m, _ := reading.LookupMetric(l.Metric)
		out.Latest[l.Metric] = valueJSON{Value: l.Value, Unit: m.Unit, Time: l.Time, Medium: l.Medium, QC: l.QC.Names()}
	}
	return out
}

// Pages of /api/v1/stations: DefaultPage stations unless limit asks for
// up to MaxPage.
const (
	DefaultPage = 100
	MaxPage     = 1000
)

// list serves one page of stations, in point and id order. A page that is
// not the last has next, the URL of the following page (also in a Link
// header, RFC 8288); cursor is opaque to clients. Pages are bounded, so
// that a response's size — and the memory a client that stops reading can
// hold — does not grow with the number of stations.
func (s stationsResource) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := intParam(w, q.Get("limit"), "limit", DefaultPage, MaxPage)
	if !ok {
		return
	}
	var after stationKey
	if c := q.Get("cursor"); c != "" {
		var err error
		if after, err = parseCursor(c); err != nil {
			writeProblem(w, http.StatusBadRequest, "cursor %q is not one of this API's cursors: use the next link of a previous page", clip(c))
			return
		}
	}
	page, total := s.stations.Page(after.point, after.id, limit+1)
	more := len(page) > limit
	page = page[:min(limit, len(page))]
	out := make([]stationJSON, 0, len(page))
	for _, v := range page {
		out = append(out, s.withLatest(v))
	}
	body := map[string]any{"stations": out, "total": total, "limit": limit, "next": nil}
	if more {
		last := page[len(page)-1]
		next := url.Values{"limit": {strconv.Itoa(limit)}, "cursor": {stationKey{last.Point, last.ID}.cursor()}}
		link := "/api/v1/stations?" + next.Encode()
		body["next"] = link
		w.Header().Set("Link", "<"+link+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, body)
}

// storeFailed answers a failed store query, if err is one: 400 for a
// query the store refuses, 503 when it does not answer. The store's own
// error (which may name its address or its SQL) goes to the log, not to
// the public.
func (s stationsResource) storeFailed(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case errors.Is(err, store.ErrBadQuery):
		writeProblem(w, http.StatusBadRequest, "%v", err)
	case err != nil:
		s.log.Warn("readings query failed", "path", r.URL.Path, "err", err)
		writeProblem(w, http.StatusServiceUnavailable, "the readings store did not answer; try again later")
	default:
		return false
	}
	return true
}

// stationKey is the order of stations in the list: point, then id.
type stationKey struct{ point, id string }

func (k stationKey) compare(o stationKey) int {
	return cmp.Or(strings.Compare(k.point, o.point), strings.Compare(k.id, o.id))
}

// cursor encodes k for a next link.
func (k stationKey) cursor() string {
	return base64.RawURLEncoding.EncodeToString([]byte(k.point + "/" + k.id))
}

func parseCursor(c string) (stationKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return stationKey{}, err
	}
	point, id, ok := strings.Cut(string(b), "/")
	if !ok || !station.ValidID(point) || !station.ValidID(id) {
		return stationKey{}, errors.New("not a station key")
	}
	return stationKey{point, id}, nil
}

// intParam parses an optional whole-number query parameter from 1 to max;
// empty gives def. It answers 400 itself when the value is bad.
func intParam(w http.ResponseWriter, s, name string, def, max int) (int, bool) {
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		writeProblem(w, http.StatusBadRequest, "%s %q is not a whole number from 1 to %d", name, clip(s), max)
		return 0, false
	}
	return n, true
}

func (s stationsResource) find(w http.ResponseWriter, r *http.Request) (station.View, bool) {
	id := chi.URLParam(r, "id")
	v, ok := s.stations.Get(id)
	if !ok {
		writeProblem(w, http.StatusNotFound, "station %q is not known", id)
	}
	return v, ok
}

func (s stationsResource) get(w http.ResponseWriter, r *http.Request) {
	if v, ok := s.find(w, r); ok {
		writeJSON(w, http.StatusOK, s.withLatest(v))
	}
}

func (s stationsResource) latest(w http.ResponseWriter, r *http.Request) {
	v, ok := s.find(w, r)
	if !ok {
		return
	}
	sj := s.withLatest(v)
	writeJSON(w, http.StatusOK, map[string]any{"station": v.ID, "point": v.Point, "status": v.Status, "values": sj.Latest})
}

func (s stationsResource) history(w http.ResponseWriter, r *http.Request) {
	v, ok := s.find(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	metric := q.Get("metric")
	if metric == "" {
		writeProblem(w, http.StatusBadRequest, "query parameter metric is required, e.g. ?metric=pm25")
		return
	}
	m, known := reading.LookupMetric(metric)
	if !known {
		writeProblem(w, http.StatusBadRequest, "metric %q is not a metric of docs/MQTT.md", metric)
		return
	}
	to, err := parseTimeParam(q.Get("to"), s.now())
	if err != nil {
		writeProblem(w, http.StatusBadRequest, "to: %v", err)
		return
	}
	from, err := parseTimeParam(q.Get("from"), to.Add(-24*time.Hour))
	if err != nil {
		if q.Get("from") == "" {
			err = fmt.Errorf("the default, 24 h before to: %w; give from", err)
		}
		writeProblem(w, http.StatusBadRequest, "from: %v", err)
		return
	}
	if q.Get("every") != "" || q.Get("fn") != "" {
		s.downsample(w, r, v, m, from, to)
		return
	}
	limit := 0
	if l := q.Get("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 {
			writeProblem(w, http.StatusBadRequest, "limit %q is not a positive whole number", clip(l))
			return
		}
	}
	sq := store.Query{Station: v.ID, Metric: metric, From: from, To: to, Limit: limit}
	if err := sq.Validate(); err != nil {
		writeProblem(w, http.StatusBadRequest, "%v", err)
		return
	}
	samples, err := s.readings.Query(r.Context(), sq)
	// A full answer may have left older samples out: ask whether one is
	// there, so that the response can say so and link to them.
	truncated := false
	if err == nil && len(samples) == sq.Limit {
		var older []reading.Sample
		older, err = s.readings.Query(r.Context(), store.Query{Station: v.ID, Metric: metric, From: from, To: samples[0].Time, Limit: 1})
		truncated = len(older) > 0
	}
	if s.storeFailed(w, r, err) {
		return
	}
	type sampleJSON struct {
		Time  time.Time `json:"time"`
		Value float64   `json:"value"`
		QC    []string  `json:"qc"`
	}
	out := make([]sampleJSON, len(samples))
	for i, sm := range samples {
		out[i] = sampleJSON{Time: sm.Time, Value: sm.Value, QC: sm.QC.Names()}
	}
	body := map[string]any{
		"station": v.ID, "metric": metric, "unit": m.Unit, "medium": m.Medium,
		"from": from, "to": to, "limit": sq.Limit, "truncated": truncated, "next": nil, "samples": out,
	}
	if truncated {
		// The samples are the newest limit of the window; the next page is
		// the older ones, up to (excluding) the oldest shown.
		next := url.Values{"metric": {metric}, "from": {from.Format(time.RFC3339Nano)},
			"to": {samples[0].Time.UTC().Format(time.RFC3339Nano)}, "limit": {strconv.Itoa(sq.Limit)}}
		link := "/api/v1/stations/" + url.PathEscape(v.ID) + "/readings?" + next.Encode()
		body["next"] = link
		w.Header().Set("Link", "<"+link+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, body)
}

// parseTimeParam parses RFC 3339 or Unix milliseconds; empty gives def.
// A time outside the years 0 to 9999 (UTC), which RFC 3339 cannot write,
// is an error.
func parseTimeParam(s string, def time.Time) (time.Time, error) {
	t := def
	if s != "" {
		var err error
		if t, err = time.Parse(time.RFC3339Nano, s); err != nil {
			ms, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return time.Time{}, errors.New("want an RFC 3339 time (2026-11-22T10:00:00Z) or Unix milliseconds, got " + strconv.Quote(clip(s)))
			}
			t = time.UnixMilli(ms)
		}
	}
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return time.Time{}, fmt.Errorf("a time in the year %d is outside the years 0 to 9999 that RFC 3339 can write", y)
	}
	return t, nil
}

// downsample serves readings with every= (a Go duration) and fn=
// (mean, min, max or last; mean by default): buckets [start, end) aligned
// to from, each labelled by its end, from the store's aggregated query
// (store.Aggregator) over QC-clean samples. A bucket without clean
// samples has value null and a reason: qc_flagged if it had flagged ones,
// else no_data.
func (s stationsResource) downsample(w http.ResponseWriter, r *http.Request, v station.View, m reading.Metric, from, to time.Time) {
	q := r.URL.Query()
	agg, ok := s.readings.(store.Aggregator)
	if !ok {
		writeProblem(w, http.StatusNotImplemented, "this deployment's readings store has no aggregated queries: leave out every and fn")
		return
	}
	every, err := time.ParseDuration(q.Get("every"))
	if q.Get("every") == "" {
		writeProblem(w, http.StatusBadRequest, "every is required with fn: a duration such as 5m, 1h or 24h")
		return
	}
	if err != nil || every < time.Second {
		writeProblem(w, http.StatusBadRequest, "every %q is not a duration of at least 1s, such as 5m, 1h or 24h", clip(q.Get("every")))
		return
	}
	fn := store.FnMean
	if f := q.Get("fn"); f != "" {
		if fn, err = store.ParseFn(f); err != nil {
			writeProblem(w, http.StatusBadRequest, "fn %q: want mean, min, max or last", clip(f))
			return
		}
	}
	aq := store.AggregateQuery{Station: v.ID, Metric: m.Name, From: from, To: to, Every: every, Fn: fn}
	if err := aq.Validate(); err != nil {
		writeProblem(w, http.StatusBadRequest, "%v", err)
		return
	}
	buckets, err := agg.Aggregate(r.Context(), aq)
	if s.storeFailed(w, r, err) {
		return
	}
	type bucketJSON struct {
		Start   time.Time `json:"start"`
		End     time.Time `json:"end"`
		Value   *float64  `json:"value"`
		Count   int       `json:"count"`
		Flagged int       `json:"flagged"`
		Reason  *string   `json:"reason"`
	}
	out := make([]bucketJSON, len(buckets))
	for i, b := range buckets {
		out[i] = bucketJSON{Start: b.Start, End: b.End, Count: b.Count, Flagged: b.Flagged}
		if b.Count > 0 {
			val := b.Value
			out[i].Value = &val
			continue
		}
		why := "no_data"
		if b.Flagged > 0 {
			why = "qc_flagged"
		}
		out[i].Reason = &why
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"station": v.ID, "metric": m.Name, "unit": m.Unit, "medium": m.Medium, "from": from, "to": to,
		"every": every.String(), "fn": fn, "count": len(out), "buckets": out,
	})
}
