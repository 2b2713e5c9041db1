package simulators

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/envmon/envmon/reading"
)

// Format is how a station encodes its readings.
type Format string

// The payload formats.
const (
	// JSON is the native payload of docs/MQTT.md:
	// {"ts": <Unix ms>, "values": {...}, "seq": n}, plus "lat" and "lon"
	// for a mobile station.
	JSON Format = "json"
	// SenML is a SenML pack (RFC 8428, JSON): a base name
	// "urn:dev:envmon:{station}:", a base time in seconds, and one record
	// per metric with the canonical name, SenML unit and value.
	SenML Format = "senml"
)

// ParseFormat parses "json" or "senml"; empty is JSON.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case "", JSON:
		return JSON, nil
	case SenML:
		return SenML, nil
	}
	return "", fmt.Errorf("format %q is not json or senml", s)
}

// Position is where a mobile station stands, WGS 84 degrees.
type Position struct{ Lat, Lon float64 }

// Message is one reading as a station sends it.
type Message struct {
	Station string
	// Time is the payload timestamp.
	Time   time.Time
	Values []reading.Value
	// Seq is the station's message counter; zero leaves it out.
	Seq int64
	// Position is set for a mobile station.
	Position *Position
}

// native is the JSON of docs/MQTT.md.
type native struct {
	TS     int64              `json:"ts"`
	Values map[string]float64 `json:"values"`
	Seq    int64              `json:"seq,omitempty"`
	Lat    *float64           `json:"lat,omitempty"`
	Lon    *float64           `json:"lon,omitempty"`
}

// senmlRecord is one record of a SenML pack.
type senmlRecord struct {
	BN string   `json:"bn,omitempty"`
	BT float64  `json:"bt,omitempty"`
	N  string   `json:"n"`
	U  string   `json:"u,omitempty"`
	V  *float64 `json:"v"`
}

// SenMLUnit returns the SenML (RFC 8428) spelling of a canonical unit of
// docs/MQTT.md, and whether it has one.
func SenMLUnit(canonical string) (string, bool) {
	u, ok := senmlUnits[canonical]
	return u, ok
}

var senmlUnits = map[string]string{
	"µg/m³": "ug/m3",
	"mg/m³": "mg/m3",
	"°C":    "Cel",
	"%":     "%RH",
	"hPa":   "hPa",
	"m/s":   "m/s",
	"°":     "deg",
	"pH":    "pH",
	"mg/L":  "mg/L",
	"NTU":   "NTU",
	"µS/cm": "uS/cm",
	"dB(A)": "dB",
}

// Encode returns m's payload in format f.
func Encode(f Format, m Message) ([]byte, error) {
	for _, v := range m.Values {
		if math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
			return nil, fmt.Errorf("encode %s: %s is %v", m.Station, v.Metric, v.Value)
		}
	}
	switch f {
	case "", JSON:
		p := native{TS: m.Time.UnixMilli(), Values: make(map[string]float64, len(m.Values)), Seq: m.Seq}
		for _, v := range m.Values {
			p.Values[v.Metric] = v.Value
		}
		if m.Position != nil {
			p.Lat, p.Lon = &m.Position.Lat, &m.Position.Lon
		}
		return json.Marshal(p)
	case SenML:
		pack := make([]senmlRecord, 0, len(m.Values)+2)
		for _, v := range m.Values {
			mt, ok := reading.LookupMetric(v.Metric)
			if !ok {
				return nil, fmt.Errorf("encode %s: %q is not a metric of docs/MQTT.md", m.Station, v.Metric)
			}
			u, _ := SenMLUnit(mt.Unit)
			pack = append(pack, senmlRecord{N: v.Metric, U: u, V: &v.Value})
		}
		if m.Position != nil {
			pack = append(pack,
				senmlRecord{N: "lat", U: "lat", V: &m.Position.Lat},
				senmlRecord{N: "lon", U: "lon", V: &m.Position.Lon})
		}
		if len(pack) == 0 {
			return nil, fmt.Errorf("encode %s: no values", m.Station)
		}
		pack[0].BN = "urn:dev:envmon:" + m.Station + ":"
		// Seconds with millisecond precision, exactly as the JSON shows it.
		pack[0].BT, _ = strconv.ParseFloat(strconv.FormatFloat(float64(m.Time.UnixMilli())/1000, 'f', 3, 64), 64)
		return json.Marshal(pack)
	}
	return nil, fmt.Errorf("format %q is not json or senml", f)
}

// malformed returns the n-th kind of broken payload for m, in turn: cut
// short, a value that is a string, an unknown field.
func malformed(f Format, m Message, n int) []byte {
	good, _ := Encode(f, m)
	switch n % 3 {
	case 0:
		return good[:len(good)/2]
	case 1:
		if f == SenML {
			return fmt.Appendf(nil, `[{"bn":"urn:dev:envmon:%s:","bt":%d,"n":"%s","vs":"n/a"}]`, m.Station, m.Time.Unix(), m.Values[0].Metric)
		}
		return fmt.Appendf(nil, `{"ts":%d,"values":{"%s":"n/a"}}`, m.Time.UnixMilli(), m.Values[0].Metric)
	default:
		if f == SenML {
			return fmt.Appendf(nil, `{"e":[{"n":"%s","v":1}]}`, m.Values[0].Metric) // a SenML-ish object, not a pack
		}
		return fmt.Appendf(nil, `{"ts":%d,"values":{"%s":%g},"firmware":"2.1.7"}`, m.Time.UnixMilli(), m.Values[0].Metric, m.Values[0].Value)
	}
}
