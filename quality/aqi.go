package quality

import (
	"fmt"
	"iter"
	"math"
	"math/bits"
)

// A Result is an air quality index and how it was reached.
type Result struct {
	Standard Standard
	// AQI is the air quality index: the largest sub-index (IAQI).
	AQI int
	// Level is the AQI level (HJ 633) or category (EPA), 1 to 6.
	Level Level
	// Primary holds the primary pollutants: those whose sub-index equals
	// the AQI. Under HJ 633 there is none while the AQI is 50 or less
	// (HJ 633-2012 §3, "首要污染物"); the EPA always names the pollutant
	// responsible for the index.
	Primary PollutantSet
	// Exceeding holds, for HJ 633, the pollutants whose sub-index is above
	// 100 ("超标污染物": above the GB 3095 grade 2 limit). It is empty for
	// the EPA, which defines no such term.
	Exceeding PollutantSet

	iaqi    [NumPollutants][NumPeriods]int16
	indexed uint32 // Key.bit of each value that received a sub-index
}

// IAQI returns the sub-index of pollutant p averaged over per, and false if
// that value was not given or the standard's rules set it aside (such as an
// HJ 633-2012 SO2 1 h mean above 800 µg/m³, indexed on its 24 h mean
// instead).
func (r *Result) IAQI(p Pollutant, per Period) (int, bool) {
	k := Key{Pollutant: p, Period: per}
	if !k.Valid() || r.indexed&k.bit() == 0 {
		return 0, false
	}
	return int(r.iaqi[p][per]), true
}

// PollutantIAQI returns the sub-index of pollutant p: the largest of its
// periods' sub-indices, and false if none was computed.
func (r *Result) PollutantIAQI(p Pollutant) (int, bool) {
	best, ok := 0, false
	for per := range Period(NumPeriods) {
		if v, has := r.IAQI(p, per); has && (!ok || v > best) {
			best, ok = v, true
		}
	}
	return best, ok
}

// All yields every computed sub-index with its key, in the order of
// pollutant, then period.
func (r *Result) All() iter.Seq2[Key, int] {
	return func(yield func(Key, int) bool) {
		for m := r.indexed; m != 0; m &= m - 1 {
			k := keyOfBit(bits.TrailingZeros32(m))
			if !yield(k, int(r.iaqi[k.Pollutant][k.Period])) {
				return
			}
		}
	}
}

// Info returns the description of the result's level under its standard.
func (r *Result) Info() LevelInfo {
	info, _ := r.Standard.LevelInfo(r.Level)
	return info
}

func (r *Result) set(k Key, iaqi int) {
	r.iaqi[k.Pollutant][k.Period] = int16(iaqi)
	r.indexed |= k.bit()
}

func (r *Result) has(k Key) bool { return r.indexed&k.bit() != 0 }

// finish sets the AQI, level, primary and exceeding pollutants from the
// sub-indices.
func (r *Result) finish() {
	var sub [NumPollutants]int
	r.AQI = -1
	for p := range Pollutant(NumPollutants) {
		v, ok := r.PollutantIAQI(p)
		sub[p] = -1
		if ok {
			sub[p] = v
			// HJ 633-2012 formula (2): AQI = max{IAQI1, ..., IAQIn}; the
			// EPA likewise reports the highest sub-index.
			r.AQI = max(r.AQI, v)
		}
	}
	r.Level = r.Standard.LevelOf(r.AQI)
	china := r.Standard.China()
	for p, v := range sub {
		if v < 0 {
			continue
		}
		// HJ 633-2012 §3 ("首要污染物"): the primary pollutant is the one with the
		// largest IAQI when the AQI is above 50; ties name them all.
		if v == r.AQI && (!china || r.AQI > 50) {
			r.Primary = r.Primary.Add(Pollutant(p))
		}
		// HJ 633-2012 §3 ("超标污染物"): a pollutant with IAQI above 100 exceeds the
		// standard ("超标污染物").
		if china && v > 100 {
			r.Exceeding = r.Exceeding.Add(Pollutant(p))
		}
	}
}

// status is the outcome of indexing one value. Failures are built into
// errors only when they are returned, so that the common path does not
// allocate.
type status uint8

const (
	stOK        status = iota
	stInvalid          // negative, NaN or infinite
	stNoTable          // the standard has no breakpoints for the key
	stBeyond           // above the table's top breakpoint
	stSetAside         // the standard does not index this value (EPA O3 1 h < 0.125 ppm, SO2 24 h < 305 ppb)
	stNeedOther        // the standard indexes this pollutant from another period
)

// AQI computes the air quality index of the concentrations c, given in the
// units of s (see [Standard.Unit]).
//
// Every value present is indexed on its own breakpoint table, and a
// pollutant with more than one period takes the largest of its sub-indices.
// To reproduce a standard's hourly or daily report, give exactly the values
// that report uses: [Standard.RealTime] and [Standard.Daily] build them from
// hourly means.
//
// Rules of HJ 633 (both versions):
//   - IAQI = (IAQIhi−IAQIlo)/(BPhi−BPlo)×(C−BPlo)+IAQIlo (formula 1),
//     rounded up to an integer ("全部进位取整数"), evaluated exactly (see
//     the package documentation);
//   - HJ 633-2012: an SO2 1 h mean above 800 µg/m³ gets no sub-index and
//     SO2 is indexed on so2_24h, which must then be present; an O3 8 h mean
//     above 800 µg/m³ gets none and O3 is indexed on o3_1h (Table 1 notes);
//   - HJ 633-2026: an SO2 1 h mean above 800 µg/m³ counts as IAQI 200, an
//     O3 8 h mean above 800 µg/m³ as IAQI 300; PM2.5 and PM10 1 h means are
//     indexed on the 24 h breakpoints; concentrations are first rounded
//     half to even (GB/T 8170) to whole µg/m³, CO to 0.1 mg/m³.
//
// Rules of the EPA (EPA-454/B-24-002):
//   - truncate the concentration (O3 to 0.001 ppm, PM2.5 to 0.1 µg/m³,
//     PM10 to 1 µg/m³, CO to 0.1 ppm, SO2 and NO2 to 1 ppb), apply the same
//     formula and round half up;
//   - O3: o3_1h is indexed only from 0.125 ppm (below, it is set aside) and
//     the higher of the 1 h and 8 h indices counts; an 8 h mean above
//     0.200 ppm is indexed on o3_1h, which must then be present;
//   - SO2: so2_1h is indexed below 305 ppb; from 305 ppb SO2 is indexed on
//     so2_24h, and if that is below 305 ppb (where the 24 h table starts)
//     the 1 h value counts as 200, the top of its table.
//
// A value above its table's top is an [ErrBeyondTable] error, never clamped
// to 500; a negative, NaN or infinite value is [ErrInvalid]; a key the
// standard has no table for is [ErrNoTable]. All are returned as
// [*ConcentrationError]. AQI does not allocate unless it returns an error.
func (s Standard) AQI(c *Concentrations) (Result, error) {
	switch {
	case s.China():
		return s.aqiChina(c)
	case s == EPA2024:
		return aqiEPA(c)
	}
	return Result{}, fmt.Errorf("quality: unknown standard %v", s)
}

// IAQI returns the sub-index of one concentration v of pollutant p averaged
// over per, in the units of s. It fails where the standard takes the
// pollutant's index from another value (see [Standard.AQI]).
func (s Standard) IAQI(p Pollutant, per Period, v float64) (int, error) {
	k := Key{Pollutant: p, Period: per}
	if !k.Valid() {
		return 0, fmt.Errorf("quality: no such pollutant or period: %v, %v", p, per)
	}
	var c Concentrations
	c.Set(p, per, v)
	r, err := s.AQI(&c)
	if err != nil {
		return 0, err
	}
	iaqi, _ := r.IAQI(p, per)
	return iaqi, nil
}

// checkValue reports whether v is a concentration: finite and not negative.
func checkValue(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0 }

// noData is the error for concentrations of which nothing was indexed.
func noData(s Standard, c *Concentrations, aside uint32) error {
	if aside == 0 {
		return fmt.Errorf("%s: %w", s.Title(), ErrNoData)
	}
	k := keyOfBit(bits.TrailingZeros32(aside)) // report the first value set aside
	return &ConcentrationError{Standard: s, Key: k, Value: c.v[k.Pollutant][k.Period],
		Err: ErrNoData, Detail: setAsideDetail(k)}
}
