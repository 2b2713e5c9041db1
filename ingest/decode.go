package ingest

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	json "github.com/goccy/go-json"

	"github.com/envmon/envmon/reading"
)

// Limits bound what a message may carry and when it may be timed.
type Limits struct {
	// MaxPayload is the largest payload in bytes.
	MaxPayload int
	// MaxValues is the most values one message may carry.
	MaxValues int
	// MaxName is the longest metric or SenML name.
	MaxName int
	// MaxFuture and MaxPast bound a reading's timestamp relative to the time
	// it is received; beyond them the message is rejected. (Smaller skews are
	// stored with a QC flag: see package qc.)
	MaxFuture time.Duration
	MaxPast   time.Duration
}

// DefaultLimits returns the documented defaults: 64 KiB, 256 values, 64-byte
// names, a day of clock skew ahead and a year of backlog.
func DefaultLimits() Limits {
	return Limits{MaxPayload: 64 << 10, MaxValues: 256, MaxName: 64, MaxFuture: 24 * time.Hour, MaxPast: 366 * 24 * time.Hour}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxPayload <= 0 {
		l.MaxPayload = d.MaxPayload
	}
	if l.MaxValues <= 0 {
		l.MaxValues = d.MaxValues
	}
	if l.MaxName <= 0 {
		l.MaxName = d.MaxName
	}
	if l.MaxFuture <= 0 {
		l.MaxFuture = d.MaxFuture
	}
	if l.MaxPast <= 0 {
		l.MaxPast = d.MaxPast
	}
	return l
}

// Decode turns a payload on topic t into validated readings in canonical
// units. The format is told by content: a JSON array is SenML (RFC 8428),
// a JSON object the native format of docs/MQTT.md. now is the time of
// receipt. A message is accepted or rejected whole.
func Decode(t Topic, data []byte, lim Limits, now time.Time) ([]reading.Reading, *Rejection) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxPayload {
		return nil, reject(ReasonTooLarge, "payload of %d bytes exceeds the limit of %d", len(data), lim.MaxPayload)
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	var (
		rs []reading.Reading
		rj *Rejection
	)
	switch {
	case len(trimmed) > 0 && trimmed[0] == '[':
		rs, rj = decodeSenML(t, trimmed, lim, now)
	case len(trimmed) > 0 && trimmed[0] == '{':
		var r reading.Reading
		r, rj = decodeNative(t, trimmed, lim)
		rs = []reading.Reading{r}
	default:
		return nil, reject(ReasonMalformed, "payload is neither a JSON object (docs/MQTT.md) nor a SenML array (RFC 8428)")
	}
	if rj != nil {
		return nil, rj
	}
	for i := range rs {
		if rj := checkTime(rs[i].Time, lim, now); rj != nil {
			return nil, rj
		}
		slices.SortFunc(rs[i].Values, func(a, b reading.Value) int { return strings.Compare(a.Metric, b.Metric) })
		for j := 1; j < len(rs[i].Values); j++ {
			if rs[i].Values[j].Metric == rs[i].Values[j-1].Metric {
				return nil, reject(ReasonMalformed, "metric %s appears twice at %s", rs[i].Values[j].Metric, rs[i].Time.Format(time.RFC3339Nano))
			}
		}
	}
	return rs, nil
}

// native is the JSON object of docs/MQTT.md.
type native struct {
	TS      json.RawMessage            `json:"ts"`
	Values  map[string]json.RawMessage `json:"values"`
	Units   map[string]string          `json:"units"`
	Seq     *int64                     `json:"seq"`
	Station *string                    `json:"station"`
	Lat     *float64                   `json:"lat"`
	Lon     *float64                   `json:"lon"`
}

func decodeNative(t Topic, data []byte, lim Limits) (reading.Reading, *Rejection) {
	var p native
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return reading.Reading{}, reject(ReasonMalformed, "payload is not the JSON object of docs/MQTT.md: %v", err)
	}
	if _, err := dec.Token(); err == nil {
		return reading.Reading{}, reject(ReasonMalformed, "payload has data after the JSON object")
	}
	if p.Station != nil && *p.Station != t.Station {
		return reading.Reading{}, reject(ReasonMismatch, "payload names station %q but the topic names %q", *p.Station, t.Station)
	}
	ts, rj := parseTime(p.TS)
	if rj != nil {
		return reading.Reading{}, rj
	}
	if len(p.Values) == 0 {
		return reading.Reading{}, reject(ReasonNoValues, "payload has no values")
	}
	if len(p.Values)+2 > lim.MaxValues {
		return reading.Reading{}, reject(ReasonTooLarge, "payload has %d values; the limit is %d", len(p.Values), lim.MaxValues)
	}
	for name := range p.Units {
		if _, ok := p.Values[name]; !ok {
			return reading.Reading{}, reject(ReasonMalformed, "units names %q, which has no value", name)
		}
	}
	r := reading.Reading{Point: t.Point, Station: t.Station, Medium: t.Medium, Time: ts, Values: make([]reading.Value, 0, len(p.Values)+2)}
	for name, raw := range p.Values {
		v, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			if len(raw) > 40 {
				raw = append(raw[:40:40], "…"...)
			}
			return reading.Reading{}, reject(ReasonBadValue, "value of %s is not a finite number: %s", clip(name, lim.MaxName), raw)
		}
		val, rj := value(t.Medium, name, v, p.Units[name], lim)
		if rj != nil {
			return reading.Reading{}, rj
		}
		r.Values = append(r.Values, val)
	}
	if (p.Lat == nil) != (p.Lon == nil) {
		return reading.Reading{}, reject(ReasonMalformed, "lat and lon come together")
	}
	if p.Lat != nil {
		r.Values = append(r.Values, reading.Value{Metric: "lat", Value: *p.Lat}, reading.Value{Metric: "lon", Value: *p.Lon})
	}
	return r, nil
}

// value checks one named value and converts it to its canonical unit.
func value(m reading.Medium, name string, v float64, unit string, lim Limits) (reading.Value, *Rejection) {
	if len(name) > lim.MaxName {
		return reading.Value{}, reject(ReasonTooLarge, "metric name %q is longer than %d bytes", clip(name, lim.MaxName), lim.MaxName)
	}
	mt, ok := reading.LookupMetric(name)
	if !ok || !mt.Reports(m) {
		return reading.Value{}, reject(ReasonUnknownMetric, "%q is not a %s metric of docs/MQTT.md", name, m)
	}
	v, rj := normalise(name, v, unit)
	if rj != nil {
		return reading.Value{}, rj
	}
	return reading.Value{Metric: name, Value: v}, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// senmlRecord is one record of a SenML pack (RFC 8428 §4); envmon reads
// the fields below and ignores none silently: a record with a string, boolean
// or data value is rejected, since every metric is numeric.
type senmlRecord struct {
	BN   *string  `json:"bn"`
	BT   *float64 `json:"bt"`
	BU   *string  `json:"bu"`
	BV   *float64 `json:"bv"`
	BVer *int     `json:"bver"`
	N    *string  `json:"n"`
	U    *string  `json:"u"`
	V    *float64 `json:"v"`
	VS   *string  `json:"vs"`
	VB   *bool    `json:"vb"`
	VD   *string  `json:"vd"`
	S    *float64 `json:"s"`
	T    *float64 `json:"t"`
	UT   *float64 `json:"ut"`
}

// senmlRelative is RFC 8428 §4.5.3's boundary: times below 2^28 seconds are
// relative to now.
const senmlRelative = 1 << 28

func decodeSenML(t Topic, data []byte, lim Limits, now time.Time) ([]reading.Reading, *Rejection) {
	var pack []senmlRecord
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pack); err != nil {
		return nil, reject(ReasonMalformed, "payload is not a SenML pack (RFC 8428): %v", err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, reject(ReasonMalformed, "payload has data after the SenML pack")
	}
	if len(pack) == 0 {
		return nil, reject(ReasonNoValues, "SenML pack is empty")
	}
	if len(pack) > lim.MaxValues {
		return nil, reject(ReasonTooLarge, "SenML pack has %d records; the limit is %d", len(pack), lim.MaxValues)
	}
	var (
		bn, bu string
		bt, bv float64
		out    []reading.Reading
		byTime = map[int64]int{}
	)
	for i, rec := range pack {
		if rec.BN != nil {
			bn = *rec.BN
		}
		if rec.BT != nil {
			bt = *rec.BT
		}
		if rec.BU != nil {
			bu = *rec.BU
		}
		if rec.BV != nil {
			bv = *rec.BV
		}
		if rec.VS != nil || rec.VB != nil || rec.VD != nil {
			return nil, reject(ReasonBadValue, "SenML record %d has a string, boolean or data value; envmon metrics are numbers", i)
		}
		if rec.V == nil && rec.S == nil {
			if rec.N == nil {
				continue // a record of base fields only
			}
			return nil, reject(ReasonBadValue, "SenML record %d (%s) has no numeric value", i, clip(*rec.N, lim.MaxName))
		}
		if rec.V == nil {
			return nil, reject(ReasonBadValue, "SenML record %d has a sum but no value; envmon stores values", i)
		}
		name := bn
		if rec.N != nil {
			name += *rec.N
		}
		station, metric := splitSenMLName(name)
		if station != "" && station != t.Station {
			return nil, reject(ReasonMismatch, "SenML name %q names station %q but the topic names %q", clip(name, 2*lim.MaxName), station, t.Station)
		}
		unit := bu
		if rec.U != nil {
			unit = *rec.U
		}
		secs := bt
		if rec.T != nil {
			secs += *rec.T
		}
		if math.IsNaN(secs) || math.IsInf(secs, 0) || math.Abs(secs) > 1e13 {
			return nil, reject(ReasonBadTimestamp, "SenML record %d has time %v", i, secs)
		}
		var ts time.Time
		if secs < senmlRelative {
			ts = now.Add(time.Duration(secs * float64(time.Second)))
		} else {
			whole, frac := math.Modf(secs)
			ts = time.Unix(int64(whole), int64(math.Round(frac*1e6))*1e3).UTC()
		}
		v, rj := value(t.Medium, metric, bv+*rec.V, unit, lim)
		if rj != nil {
			return nil, rj
		}
		k := ts.UnixNano()
		j, ok := byTime[k]
		if !ok {
			j = len(out)
			byTime[k] = j
			out = append(out, reading.Reading{Point: t.Point, Station: t.Station, Medium: t.Medium, Time: ts})
		}
		out[j].Values = append(out[j].Values, v)
	}
	if len(out) == 0 {
		return nil, reject(ReasonNoValues, "SenML pack has no values")
	}
	return out, nil
}

// splitSenMLName splits a resolved SenML name into the station it names, if
// any, and the metric: "urn:dev:envmon:st-1:pm25" and "st-1/pm25" name
// station st-1; "pm25" names none.
func splitSenMLName(name string) (station, metric string) {
	i := strings.LastIndexAny(name, ":/")
	if i < 0 {
		return "", name
	}
	metric = name[i+1:]
	rest := name[:i]
	j := strings.LastIndexAny(rest, ":/")
	return rest[j+1:], metric
}

// earliest is the oldest timestamp any station can honestly report.
var earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func checkTime(ts time.Time, lim Limits, now time.Time) *Rejection {
	switch {
	case ts.Before(earliest):
		return reject(ReasonBadTimestamp, "ts %s is before 2000 (seconds given where milliseconds are expected?)", ts.UTC().Format(time.RFC3339))
	case ts.After(now.Add(lim.MaxFuture)):
		return reject(ReasonBadTimestamp, "ts %s is more than %s ahead of the time received", ts.Format(time.RFC3339Nano), lim.MaxFuture)
	case ts.Before(now.Add(-lim.MaxPast)):
		return reject(ReasonBadTimestamp, "ts %s is more than %s before the time received", ts.Format(time.RFC3339Nano), lim.MaxPast)
	}
	return nil
}

// parseTime accepts an RFC 3339 string or Unix milliseconds.
func parseTime(raw json.RawMessage) (time.Time, *Rejection) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, reject(ReasonBadTimestamp, "ts is required (RFC 3339 string or Unix milliseconds)")
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, reject(ReasonBadTimestamp, "ts %s is not a string", raw)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, reject(ReasonBadTimestamp, "ts %q is not RFC 3339", s)
		}
		return t.UTC(), nil
	}
	if ms, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	if f, err := strconv.ParseFloat(string(raw), 64); err == nil && math.Abs(f) < 1e15 {
		return time.Unix(0, int64(f*1e6)).UTC(), nil
	}
	return time.Time{}, reject(ReasonBadTimestamp, "ts %s is neither an RFC 3339 string nor Unix milliseconds", raw)
}
