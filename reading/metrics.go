package reading

// Metric describes one canonical metric of docs/MQTT.md.
type Metric struct {
	Name   string
	Medium Medium
	Unit   string
	Title  string
}

// Metrics is the catalogue of canonical metrics and their units. Stations
// must report these names in these units.
var Metrics = []Metric{
	// Air: particulates and gases in µg/m³ at the reference state, CO in mg/m³
	// (HJ 633 units), plus the meteorology micro-stations commonly report.
	{"pm25", Air, "µg/m³", "PM2.5"},
	{"pm10", Air, "µg/m³", "PM10"},
	{"o3", Air, "µg/m³", "Ozone"},
	{"no2", Air, "µg/m³", "Nitrogen dioxide"},
	{"so2", Air, "µg/m³", "Sulphur dioxide"},
	{"co", Air, "mg/m³", "Carbon monoxide"},
	{"temp", Air, "°C", "Air temperature"},
	{"rh", Air, "%", "Relative humidity"},
	{"pressure", Air, "hPa", "Air pressure"},
	{"wind_speed", Air, "m/s", "Wind speed"},
	{"wind_dir", Air, "°", "Wind direction"},

	// Water: GB 3838-2002 parameters in mg/L, plus the physical ones.
	{"ph", Water, "pH", "pH"},
	{"do", Water, "mg/L", "Dissolved oxygen"},
	{"codmn", Water, "mg/L", "Permanganate index"},
	{"nh3n", Water, "mg/L", "Ammonia nitrogen"},
	{"tp", Water, "mg/L", "Total phosphorus"},
	{"tn", Water, "mg/L", "Total nitrogen"},
	{"turbidity", Water, "NTU", "Turbidity"},
	{"water_temp", Water, "°C", "Water temperature"},
	{"conductivity", Water, "µS/cm", "Conductivity"},

	// Noise: A-weighted sound levels in dB(A) (GB 3096-2008).
	{"laeq", Noise, "dB(A)", "Equivalent continuous sound level"},
	{"lmax", Noise, "dB(A)", "Maximum sound level"},
	{"lmin", Noise, "dB(A)", "Minimum sound level"},
	{"l10", Noise, "dB(A)", "Level exceeded 10% of the time"},
	{"l50", Noise, "dB(A)", "Level exceeded 50% of the time"},
	{"l90", Noise, "dB(A)", "Level exceeded 90% of the time"},

	// Position of a mobile station at its stop, in any medium.
	{"lat", AnyMedium, "°", "Latitude (WGS 84)"},
	{"lon", AnyMedium, "°", "Longitude (WGS 84)"},
}

// AnyMedium marks a metric every medium may report.
const AnyMedium Medium = ""

// Reports says whether a station of medium m may report metric.
func (mt Metric) Reports(m Medium) bool { return mt.Medium == AnyMedium || mt.Medium == m }

// LookupMetric returns the canonical metric called name.
func LookupMetric(name string) (Metric, bool) {
	for _, m := range Metrics {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}
