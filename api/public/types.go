package public

import (
	"time"

	"github.com/envmon/envmon/windows"
)

// Reason says why a value is null. It is a stable code of the public API;
// the OpenAPI document lists every one.
type Reason string

// The reasons. The first seven are those of package windows.
const (
	ReasonNoData     Reason = Reason(windows.ReasonNoData)     // no sample in the period
	ReasonCoverage   Reason = Reason(windows.ReasonCoverage)   // too little data: < 45 min in an hour, too few valid hours
	ReasonFlagged    Reason = Reason(windows.ReasonFlagged)    // the data there is failed quality control
	ReasonInProgress Reason = Reason(windows.ReasonInProgress) // the period has not ended
	ReasonRetention  Reason = Reason(windows.ReasonRetention)  // older than the windows hold
	ReasonUndefined  Reason = Reason(windows.ReasonUndefined)  // not defined for this metric or day
	// ReasonOffline: the station says it is offline, and the value is
	// missing.
	ReasonOffline Reason = "offline"
	// ReasonBeyondTable: the concentration is above the top of the
	// standard's breakpoint table; no index is made up.
	ReasonBeyondTable Reason = "beyond_table"
	// ReasonNotIndexed: the standard does not index this value (such as an
	// EPA O3 1 h mean below 0.125 ppm), or indexes the pollutant from a
	// value that is missing.
	ReasonNotIndexed Reason = "not_indexed"
	// ReasonInvalid: the mean is not a concentration (negative).
	ReasonInvalid Reason = "invalid_value"
)

// reasons lists every Reason, for the OpenAPI document's test.
var reasons = []Reason{ReasonNoData, ReasonCoverage, ReasonFlagged, ReasonInProgress, ReasonRetention,
	ReasonUndefined, ReasonOffline, ReasonBeyondTable, ReasonNotIndexed, ReasonInvalid}

// The public JSON types. They are this package's own: internal types never
// reach a response.

// textJSON is a text in Chinese and English; either is null where the
// source gives none.
type textJSON struct {
	Zh *string `json:"zh"`
	En *string `json:"en"`
}

func text(zh, en string) textJSON {
	return textJSON{Zh: strOrNil(zh), En: strOrNil(en)}
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

type coordinatesJSON struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// stationRefJSON names a station and where it is.
type stationRefJSON struct {
	ID          string           `json:"id"`
	Point       string           `json:"point"`
	Name        textJSON         `json:"name"`
	PointName   textJSON         `json:"point_name"`
	Address     *string          `json:"address"`
	Coordinates *coordinatesJSON `json:"coordinates"`
	TimeZone    string           `json:"time_zone"`
}

type statusJSON struct {
	State string     `json:"state"`
	Since *time.Time `json:"since"`
}

// periodJSON is the period a value averages, labelled by its end.
type periodJSON struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// completenessJSON says how much data a value rests on: minutes of an hour
// (basis "minutes": have of of, need to be valid) or valid hours of a
// window (basis "hours").
type completenessJSON struct {
	Basis   string `json:"basis"`
	Have    int    `json:"have"`
	Need    int    `json:"need"`
	Of      int    `json:"of"`
	Flagged int    `json:"flagged"`
}

type nowcastJSON struct {
	Weight float64 `json:"weight"`
	Hours  int     `json:"hours"`
}

// valueJSON is one concentration of a report, with its sub-index.
type valueJSON struct {
	Key           string           `json:"key"`
	Pollutant     string           `json:"pollutant"`
	Averaging     string           `json:"averaging"` // 1h, 8h, 24h, nowcast
	Concentration *float64         `json:"concentration"`
	Unit          string           `json:"unit"`
	IAQI          *int             `json:"iaqi"`
	Period        periodJSON       `json:"period"`
	Completeness  completenessJSON `json:"completeness"`
	Reason        *Reason          `json:"reason"`
	NowCast       *nowcastJSON     `json:"nowcast"`
}

type stationCompletenessJSON struct {
	Valid    int `json:"valid"`
	Expected int `json:"expected"`
}

// iaqiJSON is each pollutant's sub-index: the largest of its values'.
type iaqiJSON struct {
	PM25 *int `json:"pm25"`
	PM10 *int `json:"pm10"`
	SO2  *int `json:"so2"`
	NO2  *int `json:"no2"`
	CO   *int `json:"co"`
	O3   *int `json:"o3"`
}

// reportJSON is one AQI report of one station: hourly or daily.
type reportJSON struct {
	Standard      string                  `json:"standard"`
	Report        string                  `json:"report"`
	Period        periodJSON              `json:"period"`
	AQI           *int                    `json:"aqi"`
	Level         *int                    `json:"level"`
	Category      *textJSON               `json:"category"`
	Color         *string                 `json:"color"`
	Primary       []string                `json:"primary_pollutants"`
	Exceeding     []string                `json:"exceeding_pollutants"`
	HealthEffects *textJSON               `json:"health_effects"`
	Measures      *textJSON               `json:"measures"`
	Reason        *Reason                 `json:"reason"`
	Completeness  stationCompletenessJSON `json:"completeness"`
	IAQI          iaqiJSON                `json:"iaqi"`
	Values        []valueJSON             `json:"values"`
}

// stationAQIJSON is a station's current report, in /api/v1/aqi.
type stationAQIJSON struct {
	Station stationRefJSON `json:"station"`
	Status  statusJSON     `json:"status"`
	reportJSON
	NextUpdateAt time.Time `json:"next_update_at"`
}

type standardJSON struct {
	Key   string `json:"key"`
	Title string `json:"title"`
}

// aqiListJSON is the body of /api/v1/aqi.
type aqiListJSON struct {
	Standard     standardJSON     `json:"standard"`
	Report       string           `json:"report"`
	GeneratedAt  time.Time        `json:"generated_at"`
	NextUpdateAt time.Time        `json:"next_update_at"`
	Count        int              `json:"count"`
	Stations     []stationAQIJSON `json:"stations"`
}
