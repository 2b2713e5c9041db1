package quality

import (
	"encoding/csv"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// referenceDir holds the reference tables the Go tables are transcribed
// from, copied into the repository (see its README.md for their sources).
const referenceDir = "testdata/reference"

// readCSV returns the rows of a reference CSV file as maps from column name
// to cell, failing the test if the file is missing.
func readCSV(t *testing.T, name string) []map[string]string {
	t.Helper()
	path := filepath.Join(referenceDir, name)
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("reference table %s is missing from %s: %v", name, referenceDir, err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if len(records) < 2 {
		t.Fatalf("%s has no data rows", path)
	}
	var rows []map[string]string
	for _, rec := range records[1:] {
		row := make(map[string]string, len(rec))
		for i, h := range records[0] {
			row[h] = rec[i]
		}
		rows = append(rows, row)
	}
	return rows
}

// atoi parses a whole number cell.
func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("cell %q: %v", s, err)
	}
	return n
}

// parseFloat parses a decimal cell.
func parseFloat(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("cell %q: %v", s, err)
	}
	return v
}

// steps returns the decimal cell s as a whole number of steps of size
// step (also a decimal string), exactly, failing if it is not one.
func steps(t *testing.T, s, step string) int64 {
	t.Helper()
	v, ok1 := new(big.Rat).SetString(s)
	d, ok2 := new(big.Rat).SetString(step)
	if !ok1 || !ok2 {
		t.Fatalf("cells %q, %q: not decimals", s, step)
	}
	q := new(big.Rat).Quo(v, d)
	if !q.IsInt() {
		t.Fatalf("%s is not a whole number of steps of %s", s, step)
	}
	return q.Num().Int64()
}

func TestHJ633TablesMatchReference(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		file  string
		table *[10]hjColumn
	}{
		{"2012", "hj633_2012_iaqi.csv", &hj633v2012Table},
		{"2026", "hj633_2026_iaqi.csv", &hj633v2026Table},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rows := readCSV(t, tc.file)
			if len(rows) != len(hjIndex) {
				t.Fatalf("%s has %d rows, the Go table %d", tc.file, len(rows), len(hjIndex))
			}
			columns := 0
			for col := range rows[0] {
				if col == "iaqi" {
					continue
				}
				columns++
				k, err := ParseKey(col)
				if err != nil {
					t.Fatalf("column %q: %v", col, err)
				}
				var gocol *hjColumn
				for i := range tc.table {
					if tc.table[i].key == k {
						gocol = &tc.table[i]
					}
				}
				if gocol == nil {
					t.Errorf("column %s missing from the Go table", col)
					continue
				}
				for i, row := range rows {
					if got, want := int(hjIndex[i]), atoi(t, row["iaqi"]); got != want {
						t.Errorf("row %d: IAQI %d, reference %d", i, got, want)
					}
					want := -1
					if row[col] != "" {
						want = atoi(t, row[col])
					}
					if got := int(gocol.bp[i]); got != want {
						t.Errorf("%s at IAQI %s: Go table %d, reference %d (-1: empty)", col, row["iaqi"], got, want)
					}
				}
			}
			if columns != len(tc.table) {
				t.Errorf("reference has %d columns, the Go table %d", columns, len(tc.table))
			}
		})
	}
}

func TestLevelsMatchReference(t *testing.T) {
	t.Parallel()
	rgb := func(l LevelInfo) string {
		return strconv.Itoa(int(l.RGB[0])) + "/" + strconv.Itoa(int(l.RGB[1])) + "/" + strconv.Itoa(int(l.RGB[2]))
	}
	t.Run("hj633", func(t *testing.T) {
		t.Parallel()
		rows := readCSV(t, "hj633_levels.csv")
		if len(rows) != NumLevels {
			t.Fatalf("%d levels in the reference, want %d", len(rows), NumLevels)
		}
		for _, row := range rows {
			l := Level(atoi(t, row["level"]))
			for _, s := range []Standard{HJ633v2012, HJ633v2026} {
				got, ok := s.LevelInfo(l)
				if !ok {
					t.Fatalf("%v: no level %d", s, l)
				}
				want := LevelInfo{
					Level: l, AQILo: atoi(t, row["aqi_lo"]), AQIHi: atoi(t, row["aqi_hi"]),
					Name: row["category_en"], NameZH: row["category_zh"], Color: row["color_hex"],
					RGB: got.RGB, HealthEffects: row["health_effects_en"],
					HealthEffectsZH: row["health_effects_zh"], MeasuresZH: row["measures_zh"],
				}
				if got != want {
					t.Errorf("%v level %d:\n got  %+v\n want %+v", s, l, got, want)
				}
				if rgb(got) != row["rgb"] {
					t.Errorf("%v level %d: RGB %s, reference %s", s, l, rgb(got), row["rgb"])
				}
			}
		}
	})
	t.Run("epa", func(t *testing.T) {
		t.Parallel()
		rows := readCSV(t, "epa_categories.csv")
		if len(rows) != NumLevels {
			t.Fatalf("%d categories in the reference, want %d", len(rows), NumLevels)
		}
		for i, row := range rows {
			got, _ := EPA2024.LevelInfo(Level(i + 1))
			want := LevelInfo{Level: Level(i + 1), AQILo: atoi(t, row["aqi_lo"]), AQIHi: atoi(t, row["aqi_hi"]),
				Name: row["category"], Color: row["color_hex"], RGB: got.RGB}
			if got != want {
				t.Errorf("category %d:\n got  %+v\n want %+v", i+1, got, want)
			}
			if rgb(got) != row["rgb"] {
				t.Errorf("category %d: RGB %s, reference %s", i+1, rgb(got), row["rgb"])
			}
		}
	})
}

func TestEPATableMatchesReference(t *testing.T) {
	t.Parallel()
	rows := readCSV(t, "epa_2024_breakpoints.csv")
	seen := make(map[Key]int)
	for _, row := range rows {
		k, err := ParseKey(row["pollutant"] + "_" + row["averaging"])
		if err != nil {
			t.Fatal(err)
		}
		tab := epaTableFor(k)
		if tab == nil {
			t.Errorf("%v: missing from the Go table", k)
			continue
		}
		if want := EPA2024.Unit(k.Pollutant).String(); strings.ReplaceAll(strings.ReplaceAll(row["unit"], "ug", "µg"), "m3", "m³") != want {
			t.Errorf("%v: unit %s, reference %s", k, want, row["unit"])
		}
		if got, want := tab.step, steps(t, row["truncate_to"], "0.000001"); got != want {
			t.Errorf("%v: truncation step %d micro-units, reference %d", k, got, want)
		}
		i := seen[k]
		seen[k]++
		if i >= len(tab.rows) {
			t.Errorf("%v: reference has more rows than the Go table", k)
			continue
		}
		got := tab.rows[i]
		want := epaRow{
			ilo: int16(atoi(t, row["aqi_lo"])), ihi: int16(atoi(t, row["aqi_hi"])),
			clo: int32(steps(t, row["c_lo"], row["truncate_to"])), chi: int32(steps(t, row["c_hi"], row["truncate_to"])),
		}
		if got != want {
			t.Errorf("%v row %d: Go %+v, reference %+v", k, i, got, want)
		}
	}
	for i := range epaTables {
		if n := seen[epaTables[i].key]; n != len(epaTables[i].rows) {
			t.Errorf("%v: Go table has %d rows, reference %d", epaTables[i].key, len(epaTables[i].rows), n)
		}
	}
}

func TestWaterTableMatchesReference(t *testing.T) {
	t.Parallel()
	rows := readCSV(t, "gb3838_2002_water.csv")
	classes := []string{"I", "II", "III", "IV", "V"}
	for _, row := range rows {
		p := lookupWaterParam(row["key"])
		if p == nil {
			t.Errorf("%s: missing from the Go table", row["key"])
			continue
		}
		if p.name != row["parameter"] || p.unit != row["unit"] {
			t.Errorf("%s: name %q unit %q, reference %q %q", p.key, p.name, p.unit, row["parameter"], row["unit"])
		}
		wantDir := map[string]waterDir{"<=": atMost, ">=": atLeast, "range": within}[row["direction"]]
		if p.dir != wantDir {
			t.Errorf("%s: direction %d, reference %s", p.key, p.dir, row["direction"])
		}
		for i, c := range classes {
			cell := row[c]
			if p.dir == within {
				lo, hi, ok := strings.Cut(cell, "-")
				if !ok {
					t.Fatalf("%s class %s: range %q", p.key, c, cell)
				}
				if p.limit[i] != parseFloat(t, lo) || p.upper[i] != parseFloat(t, hi) {
					t.Errorf("%s class %s: %v-%v, reference %s", p.key, c, p.limit[i], p.upper[i], cell)
				}
				continue
			}
			if want := parseFloat(t, cell); p.limit[i] != want {
				t.Errorf("%s class %s: %v, reference %v", p.key, c, p.limit[i], want)
			}
		}
	}
	if n := len(waterParams) - 3; n != len(rows) { // minus the 3 unclassed physical parameters
		t.Errorf("Go table has %d GB 3838 rows, reference %d", n, len(rows))
	}
}

func TestNoiseTableMatchesReference(t *testing.T) {
	t.Parallel()
	rows := readCSV(t, "gb3096_2008_noise.csv")
	if len(rows) != int(Zone4b) {
		t.Errorf("reference has %d zones, Go %d", len(rows), Zone4b)
	}
	for _, row := range rows {
		z, err := ParseNoiseZone(row["zone"])
		if err != nil {
			t.Fatal(err)
		}
		got, _ := z.Limits()
		want := NoiseLimits{
			Day:       parseFloat(t, row["day_limit_dba"]),
			Night:     parseFloat(t, row["night_limit_dba"]),
			NightLmax: parseFloat(t, row["night_lmax_limit_dba"]),
		}
		if got != want {
			t.Errorf("zone %s: %+v, reference %+v", z, got, want)
		}
		if got.NightLmax != got.Night+15 {
			t.Errorf("zone %s: night Lmax limit %v is not the night limit + 15", z, got.NightLmax)
		}
	}
}
