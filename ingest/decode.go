package ingest

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/envmon/envmon/internal/logx"
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
		rs, rj = decodeNative(t, trimmed, lim)
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
		sortValues(rs[i].Values)
		for j := 1; j < len(rs[i].Values); j++ {
			if rs[i].Values[j].Metric == rs[i].Values[j-1].Metric {
				return nil, reject(ReasonMalformed, "metric %s appears twice at %s", rs[i].Values[j].Metric, rs[i].Time.Format(time.RFC3339Nano))
			}
		}
	}
	return rs, nil
}

// sortValues sorts vs by metric. A message's few values are sorted by
// insertion, which moves each at most once per place; many values, by
// slices.SortFunc.
func sortValues(vs []reading.Value) {
	if len(vs) > 12 {
		slices.SortFunc(vs, func(a, b reading.Value) int { return strings.Compare(a.Metric, b.Metric) })
		return
	}
	for i := 1; i < len(vs); i++ {
		if vs[i].Metric >= vs[i-1].Metric {
			continue
		}
		v, j := vs[i], i
		for ; j > 0 && v.Metric < vs[j-1].Metric; j-- {
			vs[j] = vs[j-1]
		}
		vs[j] = v
	}
}

// parsers parse payloads. A parsed document points into its parser's
// memory, so nothing from it may outlive the parser's return to the pool:
// strings kept from it are copied or canonical.
var parsers fastjson.ParserPool

// parse parses data with p as strict JSON (RFC 8259: no NaN, no trailing
// data), with the result and the error fastjson's validator followed by its
// parser would give (but see validate).
//
// The parser alone accepts more than JSON: NaN, Inf and numbers such as 01
// or 1.2.3, raw control characters in strings, and unknown escapes. Most
// payloads have none of these nor a backslash, as plainJSON tells in one
// quick pass; such a payload the parser alone parses as the validator and
// the parser would. Any other is validated first.
func parse(p *fastjson.Parser, data []byte) (*fastjson.Value, error) {
	if plainJSON(data) {
		if v, err := p.ParseBytes(data); err == nil {
			return v, nil
		}
	}
	if err := validate(data); err != nil {
		return nil, err
	}
	return p.ParseBytes(data)
}

// validate is fastjson.ValidateBytes, except that it passes data nested
// deeper than fastjson.MaxDepth, which the parser then rejects: the
// validator's error for such data takes time quadratic in the depth to
// build (seconds for a few KB of '[').
func validate(data []byte) error {
	if nestedDeeperThan(data, fastjson.MaxDepth) {
		return nil
	}
	return fastjson.ValidateBytes(data)
}

// nestedDeeperThan reports whether more than n arrays and objects are open
// at some point of data, counting brackets outside strings. Where it
// reports true, fastjson's parser fails: a document it parses has its
// brackets where they are counted here, and it parses no deeper than
// fastjson.MaxDepth.
func nestedDeeperThan(data []byte, n int) bool {
	depth, inString := 0, false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case inString && c == '\\':
			i++ // the escaped byte
		case inString:
			inString = c != '"'
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			if depth++; depth > n {
				return true
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return false
}

// plainJSON reports whether data has no backslash or control character in
// a string (RFC 8259 §7), and outside strings no word but true, false, null
// and numbers by the grammar of RFC 8259 §6, a word being a run of letters,
// digits, '.', '+' and '-'. Where fastjson's parser accepts such data, so
// does its validator: they differ only in what this excludes.
func plainJSON(data []byte) bool {
	for i := 0; i < len(data); i++ {
		switch jsonByte[data[i]] {
		case jsonQuote:
			i++
			for i < len(data) && data[i] != '"' {
				if data[i] < 0x20 || data[i] == '\\' {
					return false
				}
				i++
			}
		case jsonWord:
			j := i + 1
			for j < len(data) && jsonByte[data[j]] == jsonWord {
				j++
			}
			if w := data[i:j]; !isNumber(w) && string(w) != "true" && string(w) != "false" && string(w) != "null" {
				return false
			}
			i = j - 1
		}
	}
	return true
}

// jsonByte classifies bytes for plainJSON.
var jsonByte = func() (t [256]byte) {
	for c := range t {
		switch {
		case c == '"':
			t[c] = jsonQuote
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '.', c == '+', c == '-':
			t[c] = jsonWord
		}
	}
	return t
}()

const (
	jsonQuote = 1 + iota
	jsonWord
)

// isNumber reports whether s is a number by the grammar of RFC 8259 §6:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func isNumber(s []byte) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		i = digits(s, i+1)
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		j := digits(s, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := digits(s, i)
		if j == i {
			return false
		}
		i = j
	}
	return i == len(s)
}

// digits returns the index of the first byte of s from i on that is not a
// decimal digit.
func digits(s []byte, i int) int {
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i
}

// nativeFields are the members of the JSON object of docs/MQTT.md.
var nativeFields = [...]string{"ts", "values", "units", "seq", "station", "lat", "lon"}

// nativeObject holds the members of a native payload, in nativeFields'
// order; nil means absent or null.
type nativeObject [len(nativeFields)]*fastjson.Value

// read fills o from obj in one pass, rejecting an unknown or repeated
// member.
func (o *nativeObject) read(obj *fastjson.Object) *Rejection {
	return visitFields(obj, nativeField, "payload", -1, func(field int, _ []byte, v *fastjson.Value) *Rejection {
		o[field] = present(v)
		return nil
	})
}

// nativeField returns key's index in nativeFields, or -1.
func nativeField(key []byte) int {
	switch string(key) { // compiled to a search, without allocating
	case "ts":
		return 0
	case "values":
		return 1
	case "units":
		return 2
	case "seq":
		return 3
	case "station":
		return 4
	case "lat":
		return 5
	case "lon":
		return 6
	}
	return -1
}

// visitFields calls each, in order, for every member of obj with the
// member's index as index gives it, and stops at the first rejection. A
// member index does not know (-1), or one given twice, is rejected as
// malformed; what names obj in the message, followed by record if that is
// not negative.
func visitFields(obj *fastjson.Object, index func(key []byte) int, what string, record int,
	each func(field int, key []byte, v *fastjson.Value) *Rejection) *Rejection {
	var (
		rj   *Rejection
		seen uint64
	)
	obj.Visit(func(key []byte, v *fastjson.Value) {
		if rj != nil {
			return
		}
		field := index(key)
		switch {
		case field < 0 && record >= 0:
			rj = reject(ReasonMalformed, "%s %d has unknown field %q", what, record, clip(string(key), 64))
		case field < 0:
			rj = reject(ReasonMalformed, "%s has unknown field %q", what, clip(string(key), 64))
		case seen&(1<<field) != 0 && record >= 0:
			rj = reject(ReasonMalformed, "%s %d has field %q twice", what, record, clip(string(key), 64))
		case seen&(1<<field) != 0:
			rj = reject(ReasonMalformed, "%s has field %q twice", what, clip(string(key), 64))
		default:
			seen |= 1 << field
			rj = each(field, key, v)
		}
	})
	return rj
}

func decodeNative(t Topic, data []byte, lim Limits) ([]reading.Reading, *Rejection) {
	p := parsers.Get()
	defer parsers.Put(p)
	doc, err := parse(p, data)
	if err != nil {
		return nil, reject(ReasonMalformed, "payload is not the JSON object of docs/MQTT.md: %v", err)
	}
	obj, err := doc.Object()
	if err != nil {
		return nil, reject(ReasonMalformed, "payload is not the JSON object of docs/MQTT.md: %v", err)
	}
	var o nativeObject
	if rj := o.read(obj); rj != nil {
		return nil, rj
	}
	ts, values, units, seq, station, lat, lon := o[0], o[1], o[2], o[3], o[4], o[5], o[6]
	if station != nil {
		name, err := station.StringBytes()
		if err != nil {
			return nil, reject(ReasonMalformed, "station is not a string")
		}
		if string(name) != t.Station {
			return nil, reject(ReasonMismatch, "payload names station %q but the topic names %q", clip(string(name), maxQuoted), t.Station)
		}
	}
	if seq != nil {
		if _, err := seq.Int64(); err != nil {
			return nil, reject(ReasonMalformed, "seq is not an integer: %s", clip(string(seq.MarshalTo(nil)), maxQuoted))
		}
	}
	when, rj := parseTime(ts)
	if rj != nil {
		return nil, rj
	}
	var valueObj, unitObj *fastjson.Object
	if values != nil {
		if valueObj, err = values.Object(); err != nil {
			return nil, reject(ReasonMalformed, "values is not an object")
		}
	}
	if units != nil {
		if unitObj, err = units.Object(); err != nil {
			return nil, reject(ReasonMalformed, "units is not an object")
		}
	}
	if valueObj == nil || valueObj.Len() == 0 {
		return nil, reject(ReasonNoValues, "payload has no values")
	}
	if valueObj.Len()+2 > lim.MaxValues {
		return nil, reject(ReasonTooLarge, "payload has %d values; the limit is %d", valueObj.Len(), lim.MaxValues)
	}
	rs, vs := newReading(valueObj.Len() + 2)
	r := &rs[0]
	*r = reading.Reading{Point: t.Point, Station: t.Station, Medium: t.Medium, Time: when, Values: vs}
	if unitObj != nil {
		// A repeated member is malformed (RFC 8259 §4 leaves its meaning
		// open, and fastjson's Get would take the first).
		var room [8][]byte
		names := room[:0]
		unitObj.Visit(func(name []byte, u *fastjson.Value) {
			switch {
			case rj != nil:
			case slices.ContainsFunc(names, func(n []byte) bool { return bytes.Equal(n, name) }):
				rj = reject(ReasonMalformed, "units names %q twice", clip(string(name), maxQuoted))
			case valueObj.Get(string(name)) == nil:
				rj = reject(ReasonMalformed, "units names %q, which has no value", clip(string(name), maxQuoted))
			case u.Type() != fastjson.TypeString:
				rj = reject(ReasonMalformed, "unit of %q is not a string", clip(string(name), maxQuoted))
			default:
				names = append(names, name)
			}
		})
		if rj != nil {
			return nil, rj
		}
	}
	valueObj.Visit(func(name []byte, raw *fastjson.Value) {
		if rj != nil {
			return
		}
		v, err := raw.Float64()
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			text := raw.MarshalTo(nil)
			if len(text) > 40 {
				text = append(text[:40:40], "…"...)
			}
			rj = reject(ReasonBadValue, "value of %s is not a finite number: %s", clip(string(name), lim.MaxName), text)
			return
		}
		var unit []byte
		if unitObj != nil {
			unit = unitObj.Get(string(name)).GetStringBytes()
		}
		var val reading.Value
		if val, rj = value(t.Medium, name, v, unit, lim); rj == nil {
			r.Values = append(r.Values, val)
		}
	})
	if rj != nil {
		return nil, rj
	}
	if (lat == nil) != (lon == nil) {
		return nil, reject(ReasonMalformed, "lat and lon come together")
	}
	if lat != nil {
		la, err1 := lat.Float64()
		lo, err2 := lon.Float64()
		if err1 != nil || err2 != nil {
			return nil, reject(ReasonMalformed, "lat and lon are numbers")
		}
		if rj := checkPosition("lat", la); rj != nil {
			return nil, rj
		}
		if rj := checkPosition("lon", lo); rj != nil {
			return nil, rj
		}
		r.Values = append(r.Values, reading.Value{Metric: "lat", Value: la}, reading.Value{Metric: "lon", Value: lo})
	}
	return rs, nil
}

// smallReading is the most values newReading makes room for in the
// allocation of the reading itself: six, and a position.
const smallReading = 8

// newReading returns a slice of one reading, and an empty slice with room
// for n values; for n up to smallReading, in one allocation.
func newReading(n int) ([]reading.Reading, []reading.Value) {
	if n > smallReading {
		return make([]reading.Reading, 1), make([]reading.Value, 0, n)
	}
	a := new(struct {
		r [1]reading.Reading
		v [smallReading]reading.Value
	})
	return a.r[:], a.v[:0:n]
}

// present returns v, or nil for JSON null: a member set to null counts as
// absent, as encoding/json has it.
func present(v *fastjson.Value) *fastjson.Value {
	if v == nil || v.Type() == fastjson.TypeNull {
		return nil
	}
	return v
}

// catalogue indexes reading.Metrics, as it is at start, by name.
var catalogue = newMetricIndex(reading.Metrics)

// metricIndex finds metrics by name without allocating, and in a fraction
// of a map's time: a name's hash is of its length and three of its bytes,
// and its slot is probed linearly from there, which for the catalogue's
// few short names takes one comparison or two.
type metricIndex struct {
	metrics []reading.Metric
	units   []string // each metric's unit, as canonicalUnit spells it
	slots   []uint16 // 1 + an index into metrics; 0 for none
}

func newMetricIndex(catalogue []reading.Metric) *metricIndex {
	x := &metricIndex{slots: make([]uint16, 16)}
	for len(x.slots) < 4*len(catalogue) {
		x.slots = make([]uint16, 2*len(x.slots))
	}
	for _, mt := range catalogue {
		unit := canonicalUnit([]byte(mt.Unit))
		if i, ok := find(x, mt.Name); ok {
			x.metrics[i], x.units[i] = mt, unit // the last of a name, as a map has it
			continue
		}
		x.metrics = append(x.metrics, mt)
		x.units = append(x.units, unit)
		h := hash(x, mt.Name)
		for x.slots[h] != 0 {
			h = (h + 1) & (len(x.slots) - 1)
		}
		x.slots[h] = uint16(len(x.metrics))
	}
	return x
}

// lookup returns the metric called name.
func (x *metricIndex) lookup(name []byte) (*reading.Metric, bool) {
	i, ok := find(x, name)
	if !ok {
		return nil, false
	}
	return &x.metrics[i], true
}

// unit returns the unit of the metric called name as canonicalUnit spells
// it, or "" if there is no such metric.
func (x *metricIndex) unit(name string) string {
	i, ok := find(x, name)
	if !ok {
		return ""
	}
	return x.units[i]
}

// find returns the index in x.metrics of the metric called name.
func find[T string | []byte](x *metricIndex, name T) (int, bool) {
	// The table is at most a quarter full, so a free slot ends the probe.
	for h := hash(x, name); x.slots[h] != 0; h = (h + 1) & (len(x.slots) - 1) {
		if i := int(x.slots[h]) - 1; x.metrics[i].Name == string(name) {
			return i, true
		}
	}
	return 0, false
}

// hash returns the slot of x where the probe for name starts.
func hash[T string | []byte](x *metricIndex, name T) int {
	n := len(name)
	if n == 0 {
		return 0
	}
	h := uint(n)*0x9e3779b1 ^ uint(name[0])*0x85ebca6b ^ uint(name[n/2])*0xc2b2ae35 ^ uint(name[n-1])*0x27d4eb2f
	return int(h>>16^h) & (len(x.slots) - 1)
}

// value checks one named value and converts it to its canonical unit. The
// value keeps the catalogue's copy of the name, not name itself.
func value(m reading.Medium, name []byte, v float64, unit []byte, lim Limits) (reading.Value, *Rejection) {
	if len(name) > lim.MaxName {
		return reading.Value{}, reject(ReasonTooLarge, "metric name %q is longer than %d bytes", clip(string(name), lim.MaxName), lim.MaxName)
	}
	mt, ok := catalogue.lookup(name)
	if !ok || !mt.Reports(m) {
		return reading.Value{}, reject(ReasonUnknownMetric, "%q is not a %s metric of docs/MQTT.md", clip(string(name), maxQuoted), m)
	}
	if len(unit) > 0 {
		var rj *Rejection
		if v, rj = normalise(*mt, v, unit); rj != nil {
			return reading.Value{}, rj
		}
	}
	if rj := checkPosition(mt.Name, v); rj != nil {
		return reading.Value{}, rj
	}
	return reading.Value{Metric: mt.Name, Value: v}, nil
}

// checkPosition rejects a latitude outside ±90° or a longitude outside
// ±180° (WGS 84), and any non-finite one; other metrics pass.
func checkPosition(metric string, v float64) *Rejection {
	var limit float64
	var what string
	switch metric {
	case "lat":
		limit, what = 90, "latitude"
	case "lon":
		limit, what = 180, "longitude"
	default:
		return nil
	}
	if !(math.Abs(v) <= limit) { // NaN fails too
		return reject(ReasonBadValue, "%s %v is not a WGS 84 %s (|%s| ≤ %v)", metric, v, what, metric, limit)
	}
	return nil
}

// clip bounds text from a message that a rejection quotes to n bytes, with
// control bytes shown compactly (logx.Bound), so that %q of it stays
// small: a 60 KB topic of control bytes would be 240 KB quoted whole.
func clip(s string, n int) string { return logx.Bound(s, n) }

// maxQuoted bounds what a rejection's detail quotes of a message, in bytes.
const maxQuoted = 128

// senmlFields are the SenML fields (RFC 8428 §4) envmon reads. It ignores
// none silently: a record with another field is rejected, and so is one
// with a string, boolean or data value, since every metric is numeric.
var senmlFields = [...]string{"bn", "bt", "bu", "bv", "bver", "n", "u", "v", "vs", "vb", "vd", "s", "t", "ut"}

// senmlRelative is RFC 8428 §4.5.3's boundary: times below 2^28 seconds are
// relative to now.
const senmlRelative = 1 << 28

func decodeSenML(t Topic, data []byte, lim Limits, now time.Time) ([]reading.Reading, *Rejection) {
	p := parsers.Get()
	defer parsers.Put(p)
	doc, err := parse(p, data)
	if err != nil {
		return nil, reject(ReasonMalformed, "payload is not a SenML pack (RFC 8428): %v", err)
	}
	pack, err := doc.Array()
	if err != nil {
		return nil, reject(ReasonMalformed, "payload is not a SenML pack (RFC 8428): %v", err)
	}
	if len(pack) == 0 {
		return nil, reject(ReasonNoValues, "SenML pack is empty")
	}
	if len(pack) > lim.MaxValues {
		return nil, reject(ReasonTooLarge, "SenML pack has %d records; the limit is %d", len(pack), lim.MaxValues)
	}
	var (
		bn, bu []byte
		bt, bv float64
		out    []reading.Reading
		room   [64]byte // for name, as long as most are
		name   = room[:0]
	)
	for i, recv := range pack {
		rec, err := recv.Object()
		if err != nil {
			return nil, reject(ReasonMalformed, "SenML record %d is not an object", i)
		}
		var f senmlRecord
		if rj := f.read(rec, i); rj != nil {
			return nil, rj
		}
		if f.str[fieldBN] != nil {
			bn = f.str[fieldBN]
		}
		if f.num[fieldBT].ok {
			bt = f.num[fieldBT].x
		}
		if f.str[fieldBU] != nil {
			bu = f.str[fieldBU]
		}
		if f.num[fieldBV].ok {
			bv = f.num[fieldBV].x
		}
		if f.hasOther {
			return nil, reject(ReasonBadValue, "SenML record %d has a string, boolean or data value; envmon metrics are numbers", i)
		}
		if !f.num[fieldV].ok && !f.num[fieldS].ok {
			if f.str[fieldN] == nil {
				continue // a record of base fields only
			}
			return nil, reject(ReasonBadValue, "SenML record %d (%s) has no numeric value", i, clip(string(f.str[fieldN]), lim.MaxName))
		}
		if !f.num[fieldV].ok {
			return nil, reject(ReasonBadValue, "SenML record %d has a sum but no value; envmon stores values", i)
		}
		name = append(append(name[:0], bn...), f.str[fieldN]...)
		station, metric := splitSenMLName(name)
		if station != nil && string(station) != t.Station {
			return nil, reject(ReasonMismatch, "SenML name %q names station %q but the topic names %q", clip(string(name), 2*lim.MaxName), clip(string(station), maxQuoted), t.Station)
		}
		unit := bu
		if f.str[fieldU] != nil {
			unit = f.str[fieldU]
		}
		secs := bt
		if f.num[fieldT].ok {
			secs += f.num[fieldT].x
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
		v, rj := value(t.Medium, metric, bv+f.num[fieldV].x, unit, lim)
		if rj != nil {
			return nil, rj
		}
		// Records of one time make one reading; packs hold one or a few
		// times, so a linear search beats a map.
		j := slices.IndexFunc(out, func(r reading.Reading) bool { return r.Time.Equal(ts) })
		if j < 0 {
			j = len(out)
			r := reading.Reading{Point: t.Point, Station: t.Station, Medium: t.Medium, Time: ts}
			if out == nil {
				out, r.Values = newReading(len(pack))
				out[0] = r
			} else {
				r.Values = make([]reading.Value, 0, len(pack))
				out = append(out, r)
			}
		}
		out[j].Values = append(out[j].Values, v)
	}
	if len(out) == 0 {
		return nil, reject(ReasonNoValues, "SenML pack has no values")
	}
	return out, nil
}

// senmlRecord holds one record's fields, indexed by their place in
// senmlFields: the string fields in str (nil when absent or null), the
// numeric ones in num.
type senmlRecord struct {
	str      [len(senmlFields)][]byte
	num      [len(senmlFields)]number
	hasOther bool // vs, vb or vd
}

// number is an optional JSON number.
type number struct {
	x  float64
	ok bool
}

// read fills f from rec in one pass over its members, checking each
// field's JSON type as RFC 8428 §4 gives it. A member set to null counts as
// absent.
func (f *senmlRecord) read(rec *fastjson.Object, i int) *Rejection {
	return visitFields(rec, senmlField, "SenML record", i, func(field int, key []byte, v *fastjson.Value) *Rejection {
		if v.Type() == fastjson.TypeNull {
			return nil
		}
		var err error
		switch field {
		case fieldBN, fieldBU, fieldN, fieldU:
			var b []byte
			if b, err = v.StringBytes(); err == nil && b == nil {
				b = []byte{} // "" is given, not absent
			}
			f.str[field] = b
		case fieldVS, fieldVB, fieldVD:
			f.hasOther = true
		default:
			var x float64
			x, err = v.Float64()
			f.num[field] = number{x, true}
		}
		if err != nil {
			return reject(ReasonMalformed, "SenML record %d: %s is not a %s", i, key, senmlType(field))
		}
		return nil
	})
}

// The SenML fields, as indexes into senmlFields.
const (
	fieldBN = iota
	fieldBT
	fieldBU
	fieldBV
	fieldBVer
	fieldN
	fieldU
	fieldV
	fieldVS
	fieldVB
	fieldVD
	fieldS
	fieldT
	fieldUT
)

// senmlField returns key's index in senmlFields, or -1.
func senmlField(key []byte) int {
	switch string(key) { // compiled to a search, without allocating
	case "bn":
		return fieldBN
	case "bt":
		return fieldBT
	case "bu":
		return fieldBU
	case "bv":
		return fieldBV
	case "bver":
		return fieldBVer
	case "n":
		return fieldN
	case "u":
		return fieldU
	case "v":
		return fieldV
	case "vs":
		return fieldVS
	case "vb":
		return fieldVB
	case "vd":
		return fieldVD
	case "s":
		return fieldS
	case "t":
		return fieldT
	case "ut":
		return fieldUT
	}
	return -1
}

// senmlType names the JSON type of a SenML field, for messages.
func senmlType(field int) string {
	switch field {
	case fieldBN, fieldBU, fieldN, fieldU:
		return "string"
	}
	return "number"
}

// splitSenMLName splits a resolved SenML name into the station it names, if
// any, and the metric: "urn:dev:envmon:st-1:pm25" and "st-1/pm25" name
// station st-1; "pm25" names none (nil).
func splitSenMLName(name []byte) (station, metric []byte) {
	i := lastSeparator(name)
	if i < 0 {
		return nil, name
	}
	rest := name[:i]
	return rest[lastSeparator(rest)+1:], name[i+1:]
}

// lastSeparator is the index of the last ':' or '/' in b, or -1.
func lastSeparator(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ':' || b[i] == '/' {
			return i
		}
	}
	return -1
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

// parseTime accepts an RFC 3339 string or Unix milliseconds; nil means the
// payload has no ts.
func parseTime(v *fastjson.Value) (time.Time, *Rejection) {
	switch {
	case v == nil:
		return time.Time{}, reject(ReasonBadTimestamp, "ts is required (RFC 3339 string or Unix milliseconds)")
	case v.Type() == fastjson.TypeString:
		s, _ := v.StringBytes()
		t, err := time.Parse(time.RFC3339Nano, string(s))
		if err != nil {
			return time.Time{}, reject(ReasonBadTimestamp, "ts %q is not RFC 3339", clip(string(s), maxQuoted))
		}
		return t.UTC(), nil
	case v.Type() == fastjson.TypeNumber:
		if ms, err := v.Int64(); err == nil {
			return time.UnixMilli(ms).UTC(), nil
		}
		if f, err := v.Float64(); err == nil && math.Abs(f) < 1e15 {
			return time.Unix(0, int64(f*1e6)).UTC(), nil
		}
	}
	return time.Time{}, reject(ReasonBadTimestamp, "ts %s is neither an RFC 3339 string nor Unix milliseconds", clip(string(v.MarshalTo(nil)), maxQuoted))
}
