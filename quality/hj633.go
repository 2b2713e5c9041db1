package quality

import "math/bits"

// hjIndex is the IAQI column of HJ 633 Table 1: the sub-index at each
// breakpoint row.
var hjIndex = [8]int16{0, 50, 100, 150, 200, 300, 400, 500}

// An hjColumn is one concentration column of HJ 633 Table 1: the
// breakpoints at IAQI 0, 50, 100, 150, 200, 300, 400 and 500, in µg/m³
// (CO in mg/m³). The standard gives no breakpoint where the entry is -1;
// the column ends at its last breakpoint.
type hjColumn struct {
	key Key
	bp  [8]int32
}

// top returns the index of the column's last breakpoint.
func (c *hjColumn) top() int {
	i := len(c.bp) - 1
	for c.bp[i] < 0 {
		i--
	}
	return i
}

// hj633v2012Table is HJ 633-2012 Table 1 ("空气质量分指数及对应的污染物项目
// 浓度限值"), in the column order of the standard. Read-only.
var hj633v2012Table = [10]hjColumn{
	{Key{SO2, Hour24}, [8]int32{0, 50, 150, 475, 800, 1600, 2100, 2620}},
	// Table 1 note (3): SO2 1 h above 800 is not indexed; use the 24 h mean.
	{Key{SO2, Hour1}, [8]int32{0, 150, 500, 650, 800, -1, -1, -1}},
	{Key{NO2, Hour24}, [8]int32{0, 40, 80, 180, 280, 565, 750, 940}},
	{Key{NO2, Hour1}, [8]int32{0, 100, 200, 700, 1200, 2340, 3090, 3840}},
	{Key{PM10, Hour24}, [8]int32{0, 50, 150, 250, 350, 420, 500, 600}},
	{Key{CO, Hour24}, [8]int32{0, 2, 4, 14, 24, 36, 48, 60}},
	{Key{CO, Hour1}, [8]int32{0, 5, 10, 35, 60, 90, 120, 150}},
	{Key{O3, Hour1}, [8]int32{0, 160, 200, 300, 400, 800, 1000, 1200}},
	// Table 1 note (4): O3 8 h above 800 is not indexed; use the 1 h mean.
	{Key{O3, Hour8}, [8]int32{0, 100, 160, 215, 265, 800, -1, -1}},
	{Key{PM25, Hour24}, [8]int32{0, 35, 75, 115, 150, 250, 350, 500}},
}

// hj633v2026Table is HJ 633-2026 Table 1. It changes only the IAQI 100
// breakpoints of PM10 (150 → 120) and PM2.5 (75 → 60), which match the
// grade 2 24 h limits of GB 3095-2026. Read-only.
var hj633v2026Table = [10]hjColumn{
	{Key{SO2, Hour24}, [8]int32{0, 50, 150, 475, 800, 1600, 2100, 2620}},
	// SO2 1 h above 800 counts as IAQI 200.
	{Key{SO2, Hour1}, [8]int32{0, 150, 500, 650, 800, -1, -1, -1}},
	{Key{NO2, Hour24}, [8]int32{0, 40, 80, 180, 280, 565, 750, 940}},
	{Key{NO2, Hour1}, [8]int32{0, 100, 200, 700, 1200, 2340, 3090, 3840}},
	{Key{PM10, Hour24}, [8]int32{0, 50, 120, 250, 350, 420, 500, 600}},
	{Key{CO, Hour24}, [8]int32{0, 2, 4, 14, 24, 36, 48, 60}},
	{Key{CO, Hour1}, [8]int32{0, 5, 10, 35, 60, 90, 120, 150}},
	{Key{O3, Hour1}, [8]int32{0, 160, 200, 300, 400, 800, 1000, 1200}},
	// O3 8 h above 800 counts as IAQI 300.
	{Key{O3, Hour8}, [8]int32{0, 100, 160, 215, 265, 800, -1, -1}},
	{Key{PM25, Hour24}, [8]int32{0, 35, 60, 115, 150, 250, 350, 500}},
}

// hjColumnFor returns the column of s's Table 1 on which key k is indexed,
// or nil if there is none. Under HJ 633-2026 the PM 1 h means of the
// real-time report are indexed on the 24 h columns.
func (s Standard) hjColumnFor(k Key) *hjColumn {
	t := &hj633v2012Table
	if s == HJ633v2026 {
		t = &hj633v2026Table
		if k.Period == Hour1 && (k.Pollutant == PM25 || k.Pollutant == PM10) {
			k.Period = Hour24
		}
	}
	for i := range t {
		if t[i].key == k {
			return &t[i]
		}
	}
	return nil
}

// hjSpecialLimit is the 800 µg/m³ above which HJ 633 Table 1's notes
// replace the SO2 1 h and O3 8 h sub-indices, in micro-units.
const hjSpecialLimit = 800 * micro

// hjIndexValue returns the sub-index of one value under HJ 633, or why it
// has none.
func (s Standard) hjIndexValue(k Key, v float64) (int, status) {
	if !checkValue(v) {
		return 0, stInvalid
	}
	col := s.hjColumnFor(k)
	if col == nil {
		return 0, stNoTable
	}
	special := k == Key{SO2, Hour1} || k == Key{O3, Hour8}
	if v > maxValue {
		if special {
			return s.hjSpecial(k)
		}
		return 0, stBeyond
	}
	m := micros(v)
	if s == HJ633v2026 {
		// HJ 633-2026: concentrations are rounded (GB/T 8170, half to
		// even) to whole µg/m³, CO to 0.1 mg/m³, before indexing.
		step := int64(micro)
		if k.Pollutant == CO {
			step = micro / 10
		}
		m = roundHalfEven(m, step)
	}
	if special && m > hjSpecialLimit {
		return s.hjSpecial(k)
	}
	return hjIAQI(col, m)
}

// hjSpecial applies the notes of HJ 633 Table 1 to an SO2 1 h or O3 8 h
// mean above 800 µg/m³.
func (s Standard) hjSpecial(k Key) (int, status) {
	if s == HJ633v2012 {
		// HJ 633-2012 Table 1 notes (3) and (4): no sub-index; SO2 is
		// indexed on its 24 h mean, O3 on its 1 h mean.
		return 0, stNeedOther
	}
	// HJ 633-2026: SO2 1 h above 800 counts as IAQI 200, O3 8 h above 800
	// as IAQI 300.
	if k.Pollutant == SO2 {
		return 200, stOK
	}
	return 300, stOK
}

// hjIAQI returns the sub-index of m micro-units on column col: formula (1)
// of HJ 633, rounded up, in exact integer arithmetic.
func hjIAQI(col *hjColumn, m int64) (int, status) {
	for i := 1; i < len(col.bp) && col.bp[i] >= 0; i++ {
		hi := int64(col.bp[i]) * micro
		if m > hi {
			continue
		}
		lo := int64(col.bp[i-1]) * micro
		ilo, ihi := int64(hjIndex[i-1]), int64(hjIndex[i])
		return int(ilo + ceilDiv((ihi-ilo)*(m-lo), hi-lo)), stOK
	}
	return 0, stBeyond
}

// hjNeed returns the key HJ 633-2012 indexes pollutant k.Pollutant on when
// k's value is set aside by the Table 1 notes.
func hjNeed(k Key) Key {
	if k.Pollutant == SO2 {
		return Key{SO2, Hour24}
	}
	return Key{O3, Hour1}
}

// aqiChina is Standard.AQI for HJ 633.
func (s Standard) aqiChina(c *Concentrations) (Result, error) {
	r := Result{Standard: s}
	var pending uint32
	for m := c.mask; m != 0; m &= m - 1 {
		k := keyOfBit(bits.TrailingZeros32(m))
		v := c.v[k.Pollutant][k.Period]
		iaqi, st := s.hjIndexValue(k, v)
		switch st {
		case stOK:
			r.set(k, iaqi)
		case stNeedOther:
			pending |= k.bit()
		default:
			return Result{}, s.keyError(k, v, st)
		}
	}
	for m := pending; m != 0; m &= m - 1 {
		k := keyOfBit(bits.TrailingZeros32(m))
		if !r.has(hjNeed(k)) {
			return Result{}, s.keyError(k, c.v[k.Pollutant][k.Period], stNeedOther)
		}
	}
	if r.indexed == 0 {
		return Result{}, noData(s, c, 0)
	}
	r.finish()
	return r, nil
}

// keyError builds the error for value v of key k with status st.
func (s Standard) keyError(k Key, v float64, st status) error {
	e := &ConcentrationError{Standard: s, Key: k, Value: v}
	switch st {
	case stInvalid:
		e.Err = ErrInvalid
	case stNoTable:
		e.Err = ErrNoTable
		e.Detail = s.noTableDetail(k)
	case stBeyond:
		e.Err = ErrBeyondTable
		e.Top = s.top(k)
	case stSetAside:
		e.Err = ErrNoData
		e.Detail = setAsideDetail(k)
	case stNeedOther:
		e.Err = ErrMissing
		e.Detail = s.needDetail(k)
	}
	return e
}

// top returns the top breakpoint of k's table under s.
func (s Standard) top(k Key) float64 {
	if s.China() {
		if col := s.hjColumnFor(k); col != nil {
			return float64(col.bp[col.top()])
		}
		return 0
	}
	if t := epaTableFor(k); t != nil {
		return float64(t.rows[len(t.rows)-1].chi) * float64(t.step) / micro
	}
	return 0
}

// noTableDetail explains a missing table where there is a usual cause.
func (s Standard) noTableDetail(k Key) string {
	switch {
	case s == HJ633v2012 && k.Period == Hour1 && (k.Pollutant == PM25 || k.Pollutant == PM10):
		return "HJ 633-2012 indexes particulates on 24 h means only; its real-time report uses the 24 h moving average (" +
			Key{k.Pollutant, Hour24}.String() + ")"
	case s == HJ633v2026:
		return "HJ 633-2026 indexes so2_1h, so2_24h, no2_1h, no2_24h, co_1h, co_24h, o3_1h, o3_8h, pm10_24h, pm25_24h, and pm10_1h and pm25_1h on the 24 h breakpoints"
	case s == HJ633v2012:
		return "HJ 633-2012 indexes so2_1h, so2_24h, no2_1h, no2_24h, co_1h, co_24h, o3_1h, o3_8h, pm10_24h and pm25_24h"
	}
	return "the EPA table has o3_8h, o3_1h, pm25_24h, pm10_24h, co_8h, so2_1h, so2_24h and no2_1h"
}

// needDetail explains which value a set-aside value's pollutant needs.
func (s Standard) needDetail(k Key) string {
	switch s {
	case HJ633v2012:
		return "above 800 µg/m³, where HJ 633-2012 gives no " + k.Period.prose() +
			" sub-index (Table 1 notes) and indexes " + k.Pollutant.Title() + " on " +
			hjNeed(k).String() + ", which is missing"
	case EPA2024:
		if k.Pollutant == O3 {
			return "above 0.200 ppm, where the EPA takes the ozone index (301 and above) from the 1 h mean, o3_1h, which is missing"
		}
		return "305 ppb or more, where the EPA takes the SO2 index from the 24 h mean, so2_24h, which is missing"
	}
	return ErrMissing.Error()
}
