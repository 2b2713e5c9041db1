package quality

import (
	"fmt"
	"math/big"
	"math/bits"
)

// An epaRow is one band of the EPA breakpoint table: sub-indices ilo-ihi
// for concentrations clo-chi, counted in the table's truncation steps.
type epaRow struct {
	ilo, ihi int16
	clo, chi int32
}

// An epaTable is the EPA breakpoint table of one pollutant and averaging
// period. Concentrations are truncated to step micro-units before indexing,
// so the breakpoints are whole numbers of steps: O3 in 0.001 ppm, PM2.5 and
// CO in 0.1 (µg/m³, ppm), PM10, SO2 and NO2 in 1 (µg/m³, ppb).
type epaTable struct {
	key  Key
	step int64
	rows []epaRow
}

// epaTables is the AQI breakpoint table of EPA-454/B-24-002 (May 2024),
// with each breakpoint in truncation steps (0.054 ppm is 54 steps of
// 0.001 ppm; 9.0 µg/m³ is 90 steps of 0.1). The 2024 revision set PM2.5
// "good" at 0-9.0 µg/m³ and merged the 301-400 and 401-500 bands into one
// 301-500 band. Read-only.
var epaTables = [8]epaTable{
	// O3 8 h, ppm. The table stops at 0.200: 8 h values do not define
	// indices of 301 and above (footnote to the table).
	{Key{O3, Hour8}, micro / 1000, []epaRow{
		{0, 50, 0, 54}, {51, 100, 55, 70}, {101, 150, 71, 85},
		{151, 200, 86, 105}, {201, 300, 106, 200}}},
	// O3 1 h, ppm. Used only from 0.125 ppm (footnote to the table).
	{Key{O3, Hour1}, micro / 1000, []epaRow{
		{101, 150, 125, 164}, {151, 200, 165, 204},
		{201, 300, 205, 404}, {301, 500, 405, 604}}},
	// PM2.5 24 h, µg/m³.
	{Key{PM25, Hour24}, micro / 10, []epaRow{
		{0, 50, 0, 90}, {51, 100, 91, 354}, {101, 150, 355, 554},
		{151, 200, 555, 1254}, {201, 300, 1255, 2254}, {301, 500, 2255, 3254}}},
	// PM10 24 h, µg/m³.
	{Key{PM10, Hour24}, micro, []epaRow{
		{0, 50, 0, 54}, {51, 100, 55, 154}, {101, 150, 155, 254},
		{151, 200, 255, 354}, {201, 300, 355, 424}, {301, 500, 425, 604}}},
	// CO 8 h, ppm.
	{Key{CO, Hour8}, micro / 10, []epaRow{
		{0, 50, 0, 44}, {51, 100, 45, 94}, {101, 150, 95, 124},
		{151, 200, 125, 154}, {201, 300, 155, 304}, {301, 500, 305, 504}}},
	// SO2 1 h, ppb. 1 h values do not define indices above 200: from
	// 305 ppb the 24 h mean is used (footnote to the table).
	{Key{SO2, Hour1}, micro, []epaRow{
		{0, 50, 0, 35}, {51, 100, 36, 75}, {101, 150, 76, 185}, {151, 200, 186, 304}}},
	// SO2 24 h, ppb, from 305 ppb only.
	{Key{SO2, Hour24}, micro, []epaRow{
		{201, 300, 305, 604}, {301, 500, 605, 1004}}},
	// NO2 1 h, ppb.
	{Key{NO2, Hour1}, micro, []epaRow{
		{0, 50, 0, 53}, {51, 100, 54, 100}, {101, 150, 101, 360},
		{151, 200, 361, 649}, {201, 300, 650, 1249}, {301, 500, 1250, 2049}}},
}

// epaTableFor returns the EPA table for k, or nil if there is none.
func epaTableFor(k Key) *epaTable {
	for i := range epaTables {
		if epaTables[i].key == k {
			return &epaTables[i]
		}
	}
	return nil
}

// Thresholds of the EPA's special rules, in truncation steps.
const (
	epaO31hFrom  = 125 // O3 1 h is indexed from 0.125 ppm
	epaO38hTop   = 200 // O3 8 h is indexed up to 0.200 ppm
	epaSO2Switch = 305 // SO2 is indexed on 1 h below 305 ppb, on 24 h from it
)

// epaIndexValue returns the EPA sub-index of one value, or why it has none.
//
// EPA-454/B-24-002: truncate the concentration to the table's resolution
// (O3 0.001 ppm, PM2.5 0.1 µg/m³, PM10 1 µg/m³, CO 0.1 ppm, SO2 and NO2
// 1 ppb), find the band holding it, apply the equation
// I = (Ihi−Ilo)/(BPhi−BPlo)×(C−BPlo)+Ilo and round to the nearest integer,
// halves up.
func epaIndexValue(k Key, v float64) (int, status) {
	if !checkValue(v) {
		return 0, stInvalid
	}
	t := epaTableFor(k)
	if t == nil {
		return 0, stNoTable
	}
	c := int64(-1) // -1: too large to convert, above every table
	if v <= maxValue {
		c = micros(v) / t.step // truncation: exact, on the decimal value
	}
	switch k {
	case Key{O3, Hour1}:
		if c >= 0 && c < epaO31hFrom {
			return 0, stSetAside
		}
	case Key{O3, Hour8}:
		if c < 0 || c > epaO38hTop {
			return 0, stNeedOther
		}
	case Key{SO2, Hour1}:
		if c < 0 || c >= epaSO2Switch {
			return 0, stNeedOther
		}
	case Key{SO2, Hour24}:
		if c >= 0 && c < epaSO2Switch {
			return 0, stSetAside
		}
	}
	if c < 0 {
		return 0, stBeyond
	}
	for _, row := range t.rows {
		if c > int64(row.chi) {
			continue
		}
		ilo, ihi := int64(row.ilo), int64(row.ihi)
		clo, chi := int64(row.clo), int64(row.chi)
		return int(ilo + roundHalfUpDiv((ihi-ilo)*(c-clo), chi-clo)), stOK
	}
	return 0, stBeyond
}

// aqiEPA is Standard.AQI for EPA2024. Besides the breakpoints, it applies
// the table's footnotes:
//   - O3: the 8 h index is the norm; a 1 h value is indexed only from
//     0.125 ppm, and then the higher of the two indices counts. Indices of
//     301 and above come from the 1 h value only, so an 8 h value above
//     0.200 ppm needs o3_1h.
//   - SO2: a 1 h value below 305 ppb is indexed on the 1 h table; from
//     305 ppb the index comes from the 24 h mean (so2_24h), which the 24 h
//     table indexes from 305 ppb. If the 24 h mean is given but below
//     305 ppb, the 1 h value counts as the top of its table, 200.
func aqiEPA(c *Concentrations) (Result, error) {
	const s = EPA2024
	r := Result{Standard: s}
	var pending, aside uint32
	for m := c.mask; m != 0; m &= m - 1 {
		k := keyOfBit(bits.TrailingZeros32(m))
		v := c.v[k.Pollutant][k.Period]
		iaqi, st := epaIndexValue(k, v)
		switch st {
		case stOK:
			r.set(k, iaqi)
		case stNeedOther:
			pending |= k.bit()
		case stSetAside:
			aside |= k.bit()
		default:
			return Result{}, s.keyError(k, v, st)
		}
	}
	for m := pending; m != 0; m &= m - 1 {
		k := keyOfBit(bits.TrailingZeros32(m))
		switch {
		case k.Pollutant == O3 && r.has(Key{O3, Hour1}):
		case k.Pollutant == SO2 && r.has(Key{SO2, Hour24}):
		case k.Pollutant == SO2 && aside&(Key{SO2, Hour24}).bit() != 0:
			r.set(k, 200)
		default:
			return Result{}, s.keyError(k, c.v[k.Pollutant][k.Period], stNeedOther)
		}
	}
	if r.indexed == 0 {
		return Result{}, noData(s, c, aside)
	}
	r.finish()
	return r, nil
}

// setAsideDetail explains why the EPA does not index value k.
func setAsideDetail(k Key) string {
	if k.Pollutant == O3 {
		return "below 0.125 ppm, where the EPA gives 1 h ozone no index; the 8 h mean (o3_8h) sets the ozone index"
	}
	return "below 305 ppb, where the EPA gives the SO2 24 h mean no index; the 1 h mean (so2_1h) sets the SO2 index"
}

// NowCastResult is a NowCast concentration.
type NowCastResult struct {
	// Value is the NowCast, truncated as the EPA table requires before
	// indexing (PM2.5 to 0.1 µg/m³, PM10 to 1 µg/m³), so it can be passed
	// to EPA2024.IAQI(p, Hour24, Value).
	Value float64
	// Weight is the weight factor w used, between 0.5 and 1.
	Weight float64
	// Hours is the number of valid hourly means among the 12 used.
	Hours int
}

// NowCast returns the EPA NowCast of particulate p (PM25 or PM10) from its
// hourly means, oldest first; only the last 12 are used, and an invalid
// hour is missing.
//
// The EPA's NowCast: with c1 the newest hourly mean and c12 the oldest, the
// weight factor is w* = min/max of the valid means, w = max(w*, 0.5), and
// NowCast = Σ w^(i−1)·ci / Σ w^(i−1) over the valid hours only (a missing
// hour is left out of both sums, keeping the others' exponents). It needs
// valid means for at least 2 of the 3 newest hours.
//
// The result is exact: w is the rational min/max, and the sums are
// evaluated in integers (math/big when they outgrow int64) before the
// truncation, so a NowCast of exactly 17.4 is never truncated to 17.3.
func NowCast(p Pollutant, hourly []Mean) (NowCastResult, error) {
	var step int64
	switch p {
	case PM25:
		step = micro / 10
	case PM10:
		step = micro
	default:
		return NowCastResult{}, fmt.Errorf("nowcast: %v: NowCast here is for pm25 and pm10 only", p)
	}
	if len(hourly) > 12 {
		hourly = hourly[len(hourly)-12:]
	}
	// c[i] is hour i+1 in the EPA's numbering: c[0] is the newest.
	var c [12]int64
	var valid [12]bool
	n, recent := 0, 0
	lo, hi := int64(-1), int64(-1)
	for i := range hourly {
		h := hourly[len(hourly)-1-i]
		if !h.Valid {
			continue
		}
		if !checkValue(h.Value) || h.Value > maxValue {
			return NowCastResult{}, fmt.Errorf("nowcast: hourly mean %s is %w", formatValue(h.Value), ErrInvalid)
		}
		c[i], valid[i] = micros(h.Value), true
		n++
		if i < 3 {
			recent++
		}
		if lo < 0 || c[i] < lo {
			lo = c[i]
		}
		hi = max(hi, c[i])
	}
	if recent < 2 {
		return NowCastResult{}, fmt.Errorf("nowcast needs valid means for at least 2 of the 3 newest hours; has %d (%w)", recent, ErrMissing)
	}
	// w = max(lo/hi, 1/2) as the fraction a/b.
	a, b := lo, hi
	if hi == 0 {
		a, b = 1, 1 // every mean is zero; any weight gives 0
	} else if 2*lo < hi {
		a, b = 1, 2
	}
	g := gcd(a, b) // 30/40 is 3/4: small terms keep the sums in int64
	a, b = a/g, b/g
	steps := nowcastSteps(&c, &valid, a, b, step)
	return NowCastResult{
		Value:  float64(steps*step) / micro,
		Weight: float64(a) / float64(b),
		Hours:  n,
	}, nil
}

// nowcastSteps returns ⌊Σ w^(i)·c[i] / Σ w^(i) / step⌋ over the valid
// hours, for w = a/b with 0 < a ≤ b. Multiplying numerator and denominator
// by b^11 makes every term an integer: c[i]·a^i·b^(11−i).
func nowcastSteps(c *[12]int64, valid *[12]bool, a, b, step int64) int64 {
	var cmax int64
	for i := range c {
		cmax = max(cmax, c[i])
	}
	// Each term is at most cmax·b^11; twelve of them need 4 more bits.
	if 11*bits.Len64(uint64(b-1))+bits.Len64(uint64(cmax))+4 < 63 {
		var num, den int64
		for i := range c {
			if !valid[i] {
				continue
			}
			w := int64(1)
			for j := 0; j < 11; j++ {
				if j < i {
					w *= a
				} else {
					w *= b
				}
			}
			num += c[i] * w
			den += w
		}
		return num / den / step // ⌊⌊n/d⌋/s⌋ = ⌊n/(d·s)⌋, without overflowing d·s
	}
	num, den, w, t := new(big.Int), new(big.Int), new(big.Int), new(big.Int)
	ba, bb := big.NewInt(a), big.NewInt(b)
	for i := range c {
		if !valid[i] {
			continue
		}
		w.SetInt64(1)
		for j := 0; j < 11; j++ {
			if j < i {
				w.Mul(w, ba)
			} else {
				w.Mul(w, bb)
			}
		}
		num.Add(num, t.Mul(w, big.NewInt(c[i])))
		den.Add(den, w)
	}
	den.Mul(den, big.NewInt(step))
	return num.Quo(num, den).Int64()
}

// gcd returns the greatest common divisor of a, b > 0.
func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
