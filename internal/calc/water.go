package calc

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/envmon/envmon/quality"
)

const waterUsage = `usage: envmon water [--lake] [--target CLASS] [--json] KEY=VALUE...

Classes surface water by GB 3838-2002: the class of each parameter (the
best class whose limit it meets; 劣V if none) and the site's class (the
worst of its classed parameters), and whether the site meets its target.

Keys (mg/L unless noted):
  ph do codmn cod bod5 nh3n tp tp_lake tn cu zn f se as hg cd cr6 pb cn
  phenol oil las s2 fcoli (count/L), and water_temp (°C), turbidity (NTU),
  conductivity (µS/cm).
tp is classed on the lake limits with --lake. Water temperature, fecal
coliform and, for rivers, total nitrogen are reported but not used for the
class; turbidity and conductivity have no limit.

Examples:
  envmon water ph=7.6 do=6.8 codmn=4.2 nh3n=0.42 tp=0.12
  envmon water --lake --target III ph=8.1 do=7.9 codmn=3.1 nh3n=0.2 tp=0.04 tn=0.9
  envmon water --json --target II do=5.5 water_temp=18 turbidity=12

Exit status: 0 on success; 2 for bad usage or input.
`

// Water runs `envmon water ARGS`; it returns the process exit code.
func Water(args []string, stdout, stderr io.Writer) int {
	var (
		lake     bool
		target   string
		jsonFlag bool
	)
	fs := flag.NewFlagSet("envmon water", flag.ContinueOnError)
	fs.BoolVar(&lake, "lake", false, "the site is on a lake or reservoir (lake total phosphorus limits; total nitrogen classed)")
	fs.StringVar(&target, "target", "", "the site's target `class` (I-V) to compare with")
	fs.BoolVar(&jsonFlag, "json", false, "print JSON instead of a table")
	return run("water", fs, waterUsage, args, stdout, stderr, func(pos []string) error {
		body := quality.River
		if lake {
			body = quality.Lake
		}
		var tc quality.WaterClass
		if target != "" {
			var err error
			if tc, err = quality.ParseWaterClass(target); err != nil {
				return usageError{err}
			}
		}
		readings, err := parseWaterArgs(pos)
		if err != nil {
			return err
		}
		a, err := quality.ClassifyWater(body, readings)
		if err != nil {
			return usageError{err}
		}
		if jsonFlag {
			return writeJSON(stdout, waterOutput(&a, tc))
		}
		return writeWaterTable(stdout, &a, tc)
	})
}

// parseWaterArgs parses the KEY=VALUE arguments of envmon water. Keys and
// value ranges are checked by quality.ClassifyWater.
func parseWaterArgs(args []string) ([]quality.WaterReading, error) {
	if len(args) == 0 {
		return nil, usagef("no parameters given: want KEY=VALUE arguments such as do=6.5")
	}
	out := make([]quality.WaterReading, 0, len(args))
	for _, arg := range args {
		k, v, err := parseAssignment(arg)
		if err != nil {
			return nil, usageError{err}
		}
		out = append(out, quality.WaterReading{Key: k, Value: v})
	}
	return out, nil
}

type waterParamJSON struct {
	Key   string  `json:"key"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
	Class string  `json:"class,omitempty"`
	Note  string  `json:"note,omitempty"`
}

type waterJSON struct {
	Body        string           `json:"body"`
	Class       string           `json:"class"`
	ClassEN     string           `json:"class_en"`
	Determining []string         `json:"determining"`
	Target      string           `json:"target,omitempty"`
	MeetsTarget *bool            `json:"meets_target,omitempty"`
	Parameters  []waterParamJSON `json:"parameters"`
}

func waterOutput(a *quality.WaterAssessment, target quality.WaterClass) waterJSON {
	out := waterJSON{
		Body:        a.Body.String(),
		Class:       a.Class.String(),
		ClassEN:     a.Class.English(),
		Determining: append([]string{}, a.Determining...),
	}
	if target != quality.Unclassed {
		meets := a.Meets(target)
		out.Target, out.MeetsTarget = target.String(), &meets
	}
	for _, p := range a.Parameters {
		out.Parameters = append(out.Parameters, waterParamJSON{
			Key: p.Key, Value: p.Value, Unit: p.Unit, Class: p.Class.String(), Note: p.Note,
		})
	}
	return out
}

func writeWaterTable(w io.Writer, a *quality.WaterAssessment, target quality.WaterClass) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "parameter\tvalue\tunit\tclass")
	for _, p := range a.Parameters {
		class := p.Class.String()
		if p.Class == quality.Unclassed {
			class = "-  " + p.Note
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Key, formatNumber(p.Value), p.Unit, class)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	site := "none (no classed parameter)"
	if a.Class != quality.Unclassed {
		site = a.Class.String()
		if a.Class == quality.WorseThanV {
			site += " (worse than V)"
		}
		site += ", set by " + strings.Join(a.Determining, ", ")
	}
	fmt.Fprintf(tw, "%s site class\t%s\n", a.Body, site)
	if target != quality.Unclassed {
		verdict := "meets"
		if !a.Meets(target) {
			verdict = "does not meet"
		}
		fmt.Fprintf(tw, "target\t%s: %s\n", target, verdict)
	}
	return tw.Flush()
}
