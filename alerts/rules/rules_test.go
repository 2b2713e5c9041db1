package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultRulesParse(t *testing.T) {
	s := Default()
	if len(s.Rules) < 10 {
		t.Fatalf("only %d default rules", len(s.Rules))
	}
	r := s.Get("pm25_1h_high")
	if r == nil || r.Window != Mean1 || !r.Breach(116) || r.Breach(115) || !r.Cleared(74) || r.Cleared(80) || r.MinResolved == 0 {
		t.Fatalf("pm25_1h_high = %+v", r)
	}
	if a := s.Get("aqi_heavy"); a.Level != 5 || a.ClearLevel != 3 || a.Standard.String() != "hj633-2026" {
		t.Fatalf("aqi_heavy = %+v", a)
	}
	ann := r.Render(Data{Station: "st-1", Value: 180, Threshold: 115})
	if !strings.Contains(ann["summary"], "180") || !strings.Contains(ann["summary_zh"], "超过") {
		t.Fatalf("annotations %v", ann)
	}
}

// TestBadRuleFiles parses each testdata/bad_*.yaml and wants the error
// its first line names, as "# want: file:line: text".
func TestBadRuleFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad_*.yaml")
	if len(files) == 0 {
		t.Fatal("no bad rule files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(b), "\n")
			want := strings.TrimSpace(strings.TrimPrefix(first, "# want:"))
			_, err = Load(f)
			if err == nil {
				t.Fatalf("no error; want %q", want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q; want it to contain %q", err, want)
			}
		})
	}
}
