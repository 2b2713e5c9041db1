package public

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/envmon/envmon/quality"
)

// aqiBody is /api/v1/aqi as a client reads it.
type aqiBody struct {
	Standard struct{ Key string }
	Stations []struct {
		Station struct{ ID string }
		Status  struct{ State string }
		AQI     *int
		Level   *int
		Color   *string
		Reason  *string
		Primary []string `json:"primary_pollutants"`
		Period  struct{ Start, End string }
		IAQI    map[string]*int
		Values  []struct {
			Key           string
			Concentration *float64
			IAQI          *int
			Reason        *string
			Period        struct{ Start, End string }
			Completeness  struct {
				Basis          string
				Have, Need, Of int
			}
		}
	}
}

func getAQI(t *testing.T, url string) aqiBody {
	t.Helper()
	res := mustGet(t, url)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, res.StatusCode, b)
	}
	var out aqiBody
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// expectedHourly computes, with quality alone, the hourly report of st-1
// at reportEnd under s from the values the fixture fed.
func expectedHourly(t *testing.T, s quality.Standard) quality.Result {
	t.Helper()
	var ser quality.Series
	for p := range quality.Pollutant(quality.NumPollutants) {
		for i := range 24 {
			v := hourlyValue(p, i)
			if u := s.Unit(p); s == quality.EPA2024 && u != readingUnit(p) {
				var err error
				if v, err = quality.Convert(p, v, readingUnit(p), u); err != nil {
					t.Fatal(err)
				}
			}
			ser[p] = append(ser[p], quality.Mean{Value: v, Valid: true})
		}
	}
	var c quality.Concentrations
	if s.China() {
		var err error
		if c, err = s.RealTime(&ser, 23); err != nil {
			t.Fatal(err)
		}
	} else {
		// EPA-454/B-24-002 real-time: NowCast for particulates, 8 h O3 and
		// CO, 1 h O3, SO2 and NO2.
		for _, p := range []quality.Pollutant{quality.PM25, quality.PM10} {
			nc, err := quality.NowCast(p, ser[p][12:])
			if err != nil {
				t.Fatal(err)
			}
			c.Set(p, quality.Hour24, nc.Value)
		}
		c.Set(quality.O3, quality.Hour8, quality.Mean8h(ser[quality.O3], 23).Value)
		c.Set(quality.O3, quality.Hour1, ser[quality.O3][23].Value)
		c.Set(quality.CO, quality.Hour8, quality.Mean8h(ser[quality.CO], 23).Value)
		c.Set(quality.SO2, quality.Hour1, ser[quality.SO2][23].Value)
		c.Set(quality.NO2, quality.Hour1, ser[quality.NO2][23].Value)
	}
	r, err := s.AQI(&c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestAQIMatchesQuality is Must-show 2: st-1, fed 24 known hours, gives
// under each standard exactly the AQI and IAQI quality computes for that
// standard's hourly report.
func TestAQIMatchesQuality(t *testing.T) {
	f := newFixture(t, nil)
	srv := f.server(t)
	results := map[quality.Standard]int{}
	for _, s := range []quality.Standard{quality.HJ633v2026, quality.HJ633v2012, quality.EPA2024} {
		t.Run(s.String(), func(t *testing.T) {
			want := expectedHourly(t, s)
			results[s] = want.AQI
			body := getAQI(t, srv.URL+"/api/v1/aqi?standard="+s.String())
			if body.Standard.Key != s.String() {
				t.Fatalf("standard %q, want %q", body.Standard.Key, s)
			}
			st := body.Stations[0]
			if st.Station.ID != "st-1" {
				t.Fatalf("first station %q", st.Station.ID)
			}
			if st.AQI == nil || *st.AQI != want.AQI {
				t.Fatalf("aqi = %v, want %d", ptr(st.AQI), want.AQI)
			}
			if st.Level == nil || *st.Level != int(want.Level) || st.Color == nil || *st.Color != want.Info().Color {
				t.Errorf("level %v colour %v, want %d %s", ptr(st.Level), st.Color, want.Level, want.Info().Color)
			}
			if got, wantP := st.Primary, want.Primary.Strings(); len(got) != len(wantP) || (len(got) > 0 && got[0] != wantP[0]) {
				t.Errorf("primary %v, want %v", got, wantP)
			}
			if st.Period.End != "2026-11-22T10:00:00+08:00" || st.Period.Start != "2026-11-22T09:00:00+08:00" {
				t.Errorf("period %+v, want 09:00-10:00 labelled 10:00", st.Period)
			}
			n := 0
			for k, iaqi := range want.All() {
				n++
				found := false
				for _, v := range st.Values {
					if v.Key == k.String() {
						found = true
						if v.IAQI == nil || *v.IAQI != iaqi {
							t.Errorf("%s: iaqi %v, want %d", k, ptr(v.IAQI), iaqi)
						}
					}
				}
				if !found {
					t.Errorf("%s: not in the response", k)
				}
			}
			if n == 0 {
				t.Fatal("quality computed no sub-index")
			}
			for p := range quality.Pollutant(quality.NumPollutants) {
				w, ok := want.PollutantIAQI(p)
				got := st.IAQI[p.String()]
				if ok != (got != nil) || (ok && *got != w) {
					t.Errorf("iaqi.%s = %v, want %d (%v)", p, ptr(got), w, ok)
				}
			}
			for _, v := range st.Values {
				if v.Key == "pm25_1h" && (v.Completeness.Basis != "minutes" || v.Completeness.Have != 60 || v.Completeness.Need != 45) {
					t.Errorf("pm25_1h completeness %+v", v.Completeness)
				}
				if v.Key == "o3_8h" && (v.Period.Start != "2026-11-22T02:00:00+08:00" || v.Completeness.Have != 8) {
					t.Errorf("o3_8h period %+v completeness %+v", v.Period, v.Completeness)
				}
			}
		})
	}
	if results[quality.HJ633v2026] == results[quality.HJ633v2012] && results[quality.HJ633v2012] == results[quality.EPA2024] {
		t.Errorf("every standard gives AQI %d: the fixture does not tell them apart", results[quality.EPA2024])
	}
}

// TestMissingValuesHaveReasons: a station without data has null numbers
// and reason codes, offline when it says so, and no placeholder strings.
func TestMissingValuesHaveReasons(t *testing.T) {
	f := newFixture(t, nil)
	body := getAQI(t, f.server(t).URL+"/api/v1/aqi")
	if body.Standard.Key != "hj633-2026" {
		t.Fatalf("default standard %q", body.Standard.Key)
	}
	byID := map[string]int{}
	for i, s := range body.Stations {
		byID[s.Station.ID] = i
	}
	st2 := body.Stations[byID["st-2"]]
	if st2.AQI != nil || st2.Reason == nil || *st2.Reason != "offline" {
		t.Errorf("st-2 (offline, no data): aqi %v reason %v", ptr(st2.AQI), st2.Reason)
	}
	st3 := body.Stations[byID["st-3"]]
	if st3.AQI != nil || st3.Reason == nil || *st3.Reason != "no_data" {
		t.Errorf("st-3 (no data): aqi %v reason %v", ptr(st3.AQI), st3.Reason)
	}
	for _, v := range st3.Values {
		if v.Concentration != nil || v.IAQI != nil || v.Reason == nil || *v.Reason != "no_data" {
			t.Errorf("st-3 %s: %v %v %v", v.Key, v.Concentration, v.IAQI, v.Reason)
		}
	}
	if len(st3.Values) != 6 {
		t.Errorf("st-3 has %d values, want the six of HJ 633-2026's hourly report", len(st3.Values))
	}
}

func ptr[T any](p *T) any {
	if p == nil {
		return "null"
	}
	return *p
}
