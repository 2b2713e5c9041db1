package public

import (
	"net/http"
	"slices"
	"time"

	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/reading"
)

type waterClassJSON struct {
	Code string `json:"code"` // I, II, III, IV, V, worse-than-V
	Zh   string `json:"zh"`   // III类, 劣V类
	En   string `json:"en"`   // Class III, worse than Class V
}

func waterClass(c quality.WaterClass) *waterClassJSON {
	if c == quality.Unclassed {
		return nil
	}
	code, en := c.String(), "Class "+c.String()
	if c == quality.WorseThanV {
		code, en = "worse-than-V", "worse than Class V"
	}
	return &waterClassJSON{Code: code, Zh: c.String() + "类", En: en}
}

type waterParamJSON struct {
	Key   string   `json:"key"`
	Name  string   `json:"name"`
	Value *float64 `json:"value"`
	Unit  string   `json:"unit"`
	// Averaging is "sample": the latest value, at Period.End (= Start).
	Averaging   string          `json:"averaging"`
	Period      *periodJSON     `json:"period"`
	Class       *waterClassJSON `json:"class"`
	MeetsTarget *bool           `json:"meets_target"`
	Note        *string         `json:"note"`
	Reason      *Reason         `json:"reason"`
}

type waterStationJSON struct {
	Station     stationRefJSON   `json:"station"`
	Status      statusJSON       `json:"status"`
	Body        string           `json:"body"`
	Target      *waterClassJSON  `json:"target"`
	Class       *waterClassJSON  `json:"class"`
	MeetsTarget *bool            `json:"meets_target"`
	Determining []string         `json:"determining"`
	Reason      *Reason          `json:"reason"`
	Parameters  []waterParamJSON `json:"parameters"`
}

type waterJSON struct {
	Standard    string             `json:"standard"`
	GeneratedAt time.Time          `json:"generated_at"`
	Count       int                `json:"count"`
	Stations    []waterStationJSON `json:"stations"`
}

// water serves /api/v1/water: each water station's class from its latest
// values (GB 3838-2002, single-factor assessment: the worst class of its
// classed parameters), against its target class.
func (s *Service) water(w http.ResponseWriter, r *http.Request) {
	now := s.cfg.Now()
	out := waterJSON{Standard: "GB 3838-2002", GeneratedAt: now.UTC(), Stations: []waterStationJSON{}}
	var newest time.Time
	for _, st := range s.cfg.Stations.Stations() {
		if st.Medium != reading.Water {
			continue
		}
		e := s.waterStation(st)
		for _, p := range e.Parameters {
			if p.Period != nil && p.Period.End.After(newest) {
				newest = p.Period.End
			}
		}
		out.Stations = append(out.Stations, e)
	}
	out.Count = len(out.Stations)
	s.writeJSON(w, r, out, newest, now.Add(s.cfg.MaxAge))
}

func (s *Service) waterStation(st StationInfo) waterStationJSON {
	status, _ := statusOf(s.cfg.Statuses, st.ID)
	e := waterStationJSON{Station: stationRef(st), Status: status, Body: st.WaterBody.String(),
		Target: waterClass(st.WaterTarget), Determining: []string{}, Parameters: []waterParamJSON{}}
	var latest map[string]reading.Latest
	if s.cfg.Latest != nil {
		ls, _ := s.cfg.Latest.Latest(st.ID)
		latest = make(map[string]reading.Latest, len(ls))
		for _, l := range ls {
			latest[l.Metric] = l
		}
	}
	var rs []quality.WaterReading
	for _, wp := range quality.WaterParameters() {
		if _, known := reading.LookupMetric(wp.Key); !known {
			continue // a table row that no station reports (tp_lake is tp at a lake)
		}
		l, ok := latest[wp.Key]
		if !ok {
			continue
		}
		p := waterParamJSON{Key: wp.Key, Name: wp.Name, Unit: wp.Unit, Averaging: "sample",
			Period: &periodJSON{Start: l.Time.In(zoneOf(st)), End: l.Time.In(zoneOf(st))}}
		why := Reason("")
		if l.QC != 0 {
			why = ReasonFlagged
		} else if c, err := quality.WaterParameterClass(st.WaterBody, wp.Key, l.Value); err != nil {
			why = ReasonInvalid
		} else {
			v := l.Value
			p.Value = &v
			rs = append(rs, quality.WaterReading{Key: wp.Key, Value: v})
			p.Class = waterClass(c)
			if c != quality.Unclassed && st.WaterTarget != quality.Unclassed {
				m := c.Meets(st.WaterTarget)
				p.MeetsTarget = &m
			}
		}
		if why != "" {
			p.Reason = &why
		}
		e.Parameters = append(e.Parameters, p)
	}
	a, err := quality.ClassifyWater(st.WaterBody, rs)
	if err == nil {
		for i := range e.Parameters {
			if k := slices.IndexFunc(a.Parameters, func(pc quality.ParameterClass) bool { return pc.Key == e.Parameters[i].Key }); k >= 0 {
				e.Parameters[i].Note = strOrNil(a.Parameters[k].Note)
			}
		}
		e.Class = waterClass(a.Class)
		e.Determining = append(e.Determining, a.Determining...)
		if a.Class != quality.Unclassed && st.WaterTarget != quality.Unclassed {
			m := a.Meets(st.WaterTarget)
			e.MeetsTarget = &m
		}
	}
	if e.Class == nil {
		why := ReasonNoData
		if len(e.Parameters) > 0 {
			why = ReasonFlagged
			for _, p := range e.Parameters {
				if p.Reason == nil || *p.Reason != ReasonFlagged {
					why = ReasonInvalid
				}
				if p.Value != nil { // values there, none classed
					why = ReasonUndefined
					break
				}
			}
		}
		if status.State == StateOffline && why == ReasonNoData {
			why = ReasonOffline
		}
		e.Reason = &why
	}
	return e
}
