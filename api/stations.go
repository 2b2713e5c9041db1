package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/station"
	"github.com/envmon/envmon/store"
)

// stationsResource serves /api/v1/stations.
type stationsResource struct {
	stations Stations
	readings Readings
	now      func() time.Time
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

// stationJSON is a station with its latest values.
type stationJSON struct {
	station.View
	Latest map[string]valueJSON `json:"latest"`
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
	out := stationJSON{View: v, Latest: map[string]valueJSON{}}
	ls, _ := s.stations.Latest(v.ID)
	for _, l := range ls {
		m, _ := reading.LookupMetric(l.Metric)
		out.Latest[l.Metric] = valueJSON{Value: l.Value, Unit: m.Unit, Time: l.Time, Medium: l.Medium, QC: l.QC.Names()}
	}
	return out
}

func (s stationsResource) list(w http.ResponseWriter, _ *http.Request) {
	views := s.stations.List()
	out := make([]stationJSON, 0, len(views))
	for _, v := range views {
		out = append(out, s.withLatest(v))
	}
	writeJSON(w, http.StatusOK, map[string]any{"stations": out})
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
		writeProblem(w, http.StatusBadRequest, "from: %v", err)
		return
	}
	limit := 0
	if l := q.Get("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 {
			writeProblem(w, http.StatusBadRequest, "limit %q is not a positive whole number", l)
			return
		}
	}
	sq := store.Query{Station: v.ID, Metric: metric, From: from, To: to, Limit: limit}
	if err := sq.Validate(); err != nil {
		writeProblem(w, http.StatusBadRequest, "%v", err)
		return
	}
	samples, err := s.readings.Query(r.Context(), sq)
	switch {
	case errors.Is(err, store.ErrBadQuery):
		writeProblem(w, http.StatusBadRequest, "%v", err)
		return
	case err != nil:
		writeProblem(w, http.StatusServiceUnavailable, "the readings store did not answer: %v", err)
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
	writeJSON(w, http.StatusOK, map[string]any{
		"station": v.ID, "metric": metric, "unit": m.Unit, "medium": m.Medium,
		"from": from, "to": to, "samples": out,
	})
}

// parseTimeParam parses RFC 3339 or Unix milliseconds; empty gives def.
func parseTimeParam(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	return time.Time{}, errors.New("want an RFC 3339 time (2026-11-22T10:00:00Z) or Unix milliseconds, got " + strconv.Quote(s))
}
