package calc

import (
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/envmon/envmon/quality"
)

const noiseUsage = `usage: envmon noise --zone Z --hourly V0,V1,...,V23 [--lmax V,...] [--json]
       envmon noise --leq V1,V2,... [--json]

With --hourly, computes a day's levels from its 24 hourly Leq values, given
for local clock hours 0 to 23 (an empty entry is a missing hour): Ld (day,
06:00-22:00), Ln (night, 22:00-06:00) and Ldn, and compares Ld and Ln with
the limits of GB 3096-2008 zone Z (0, 1, 2, 3, 4a or 4b). --lmax gives the
maximum levels of single night events, each allowed at most 15 dB(A) above
the night limit.

With --leq, computes the equivalent continuous level of the values, their
energy mean.

Levels are in dB(A) and reported to 0.1 dB, the resolution they are
compared at.

Examples:
  envmon noise --zone 2 --hourly 48,47,46,45,45,47,55,58,60,59,58,58,57,58,59,60,61,60,58,57,55,53,51,49
  envmon noise --zone 4a --json --lmax 68,72 --hourly 60,,58,57,57,59,66,69,70,70,69,68,68,69,70,70,71,70,69,68,66,64,62,61
  envmon noise --leq 100,80,60,40,20

Exit status: 0 on success; 1 if the levels cannot be computed (no valid
hour by day or by night); 2 for bad usage or input.
`

// Noise runs `envmon noise ARGS`; it returns the process exit code.
func Noise(args []string, stdout, stderr io.Writer) int {
	var (
		zone, hourly, lmax, leq string
		jsonFlag                bool
	)
	fs := flag.NewFlagSet("envmon noise", flag.ContinueOnError)
	fs.StringVar(&zone, "zone", "", "GB 3096-2008 `zone`: 0, 1, 2, 3, 4a or 4b")
	fs.StringVar(&hourly, "hourly", "", "the day's 24 hourly Leq `values`, local hours 0-23, comma-separated")
	fs.StringVar(&lmax, "lmax", "", "maximum levels of single night events, comma-separated `values`")
	fs.StringVar(&leq, "leq", "", "compute the Leq of these comma-separated `values`")
	fs.BoolVar(&jsonFlag, "json", false, "print JSON instead of a table")
	return run("noise", fs, noiseUsage, args, stdout, stderr, func(pos []string) error {
		if len(pos) > 0 {
			return usagef("unexpected argument %q: levels go in --hourly or --leq", pos[0])
		}
		switch {
		case leq != "" && (hourly != "" || zone != "" || lmax != ""):
			return usagef("--leq takes no --hourly, --zone or --lmax")
		case leq != "":
			return runLeq(leq, jsonFlag, stdout)
		case hourly == "":
			return usagef("want --hourly with --zone, or --leq")
		}
		in, err := parseNoiseDay(zone, hourly, lmax)
		if err != nil {
			return err
		}
		dn, err := quality.DayNight(&in.hourly)
		if err != nil {
			return err
		}
		a, err := quality.AssessNoise(in.zone, dn, in.lmax)
		if err != nil {
			return usageError{err}
		}
		if jsonFlag {
			return writeJSON(stdout, noiseOutput(&a))
		}
		return writeNoiseTable(stdout, &a)
	})
}

// noiseDay is the parsed input of envmon noise --hourly.
type noiseDay struct {
	zone   quality.NoiseZone
	hourly [24]quality.Mean
	lmax   []float64
}

// parseNoiseDay parses the --zone, --hourly and --lmax flags.
func parseNoiseDay(zone, hourly, lmax string) (noiseDay, error) {
	var d noiseDay
	if zone == "" {
		return d, usagef("--hourly needs --zone (0, 1, 2, 3, 4a or 4b)")
	}
	z, err := quality.ParseNoiseZone(zone)
	if err != nil {
		return d, usageError{err}
	}
	d.zone = z
	series, err := parseSeries(hourly)
	if err != nil {
		return d, usagef("--hourly: %v", err)
	}
	if len(series) != 24 {
		return d, usagef("--hourly: want 24 values, for local hours 0-23, have %d", len(series))
	}
	copy(d.hourly[:], series)
	if lmax != "" {
		if d.lmax, err = parseList(lmax); err != nil {
			return d, usagef("--lmax: %v", err)
		}
	}
	return d, nil
}

type noiseJSON struct {
	Zone          string             `json:"zone"`
	Ld            float64            `json:"ld"`
	Ln            float64            `json:"ln"`
	Ldn           float64            `json:"ldn"`
	DayHours      int                `json:"day_hours"`
	NightHours    int                `json:"night_hours"`
	Limits        map[string]float64 `json:"limits"`
	DayExcess     float64            `json:"day_excess"`
	NightExcess   float64            `json:"night_excess"`
	DayExceeds    bool               `json:"day_exceeds"`
	NightExceeds  bool               `json:"night_exceeds"`
	NightEvents   int                `json:"night_events"`
	LmaxExceeding int                `json:"lmax_exceeding"`
	Exceeds       bool               `json:"exceeds"`
}

func noiseOutput(a *quality.NoiseAssessment) noiseJSON {
	return noiseJSON{
		Zone: a.Zone.String(),
		Ld:   round1(a.Levels.Ld), Ln: round1(a.Levels.Ln), Ldn: round1(a.Levels.Ldn),
		DayHours: a.Levels.DayHours, NightHours: a.Levels.NightHours,
		Limits: map[string]float64{
			"day": a.Limits.Day, "night": a.Limits.Night, "night_lmax": a.Limits.NightLmax,
		},
		DayExcess: a.DayExcess, NightExcess: a.NightExcess,
		DayExceeds: a.DayExceeds(), NightExceeds: a.NightExceeds(),
		NightEvents: a.NightEvents, LmaxExceeding: a.LmaxExceeding, Exceeds: a.Exceeds(),
	}
}

func writeNoiseTable(w io.Writer, a *quality.NoiseAssessment) error {
	verdict := func(excess float64) string {
		if excess > 0 {
			return fmt.Sprintf("exceeds by %.1f", excess)
		}
		return "within"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "zone\t%s\n", a.Zone)
	fmt.Fprintln(tw, "\tlevel dB(A)\tlimit\tverdict\thours")
	fmt.Fprintf(tw, "Ld (06-22)\t%.1f\t%v\t%s\t%d\n", a.Levels.Ld, a.Limits.Day, verdict(a.DayExcess), a.Levels.DayHours)
	fmt.Fprintf(tw, "Ln (22-06)\t%.1f\t%v\t%s\t%d\n", a.Levels.Ln, a.Limits.Night, verdict(a.NightExcess), a.Levels.NightHours)
	if a.NightEvents > 0 {
		fmt.Fprintf(tw, "night Lmax\t%d events\t%v\t%d exceed\n", a.NightEvents, a.Limits.NightLmax, a.LmaxExceeding)
	}
	fmt.Fprintf(tw, "Ldn\t%.1f\n", a.Levels.Ldn)
	return tw.Flush()
}

func runLeq(list string, jsonFlag bool, stdout io.Writer) error {
	levels, err := parseList(list)
	if err != nil {
		return usagef("--leq: %v", err)
	}
	leq, err := quality.Leq(levels)
	if err != nil {
		return usageError{err}
	}
	if jsonFlag {
		return writeJSON(stdout, struct {
			Leq   float64 `json:"leq"`
			Count int     `json:"count"`
		}{round1(leq), len(levels)})
	}
	_, err = fmt.Fprintf(stdout, "Leq %.1f dB(A) of %d values\n", leq, len(levels))
	return err
}
