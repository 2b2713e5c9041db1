package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/envmon/envmon/cases/calendar"
)

// deadline prints every due time of a case received at --received:
// "envmon deadline --received T [--entered T] [--complex] [--calendar FILE]
// [--tz ZONE] [--json]". Times are RFC 3339, or "YYYY-MM-DD HH:MM" in the
// zone.
func deadline(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("envmon deadline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	received := fs.String("received", "", "when the complaint was received (RFC 3339, or YYYY-MM-DD HH:MM local)")
	entered := fs.String("entered", "", "when it was entered (default: when received)")
	complex := fs.Bool("complex", false, "a complex case: the longer feedback deadline")
	var files multiFlag
	fs.Var(&files, "calendar", "a calendar CSV file (date,kind) to add to the embedded 2026 one; repeatable")
	tz := fs.String("tz", "Asia/Shanghai", "the deployment's time zone")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		fmt.Fprintf(stderr, "envmon deadline: --tz: %v\n", err)
		return 2
	}
	if *received == "" {
		fmt.Fprintln(stderr, "envmon deadline: --received is required")
		return 2
	}
	rcv, err := parseLocal(*received, loc)
	if err != nil {
		fmt.Fprintf(stderr, "envmon deadline: --received: %v\n", err)
		return 2
	}
	ent := rcv
	if *entered != "" {
		if ent, err = parseLocal(*entered, loc); err != nil {
			fmt.Fprintf(stderr, "envmon deadline: --entered: %v\n", err)
			return 2
		}
	}
	cal := calendar.New(calendar.Config{Location: loc})
	for _, f := range files {
		if err := cal.LoadFile(f); err != nil {
			fmt.Fprintf(stderr, "envmon deadline: %v\n", err)
			return 1
		}
	}
	d := cal.Deadlines(calendar.Rules{}, rcv, ent, *complex)
	rows := []struct {
		Deadline string `json:"deadline"`
		Rule     string `json:"rule"`
		Due      string `json:"due"`
	}{
		{"enter", "within 1 hour of receipt", d.Enter.In(loc).Format(time.RFC3339)},
		{"contact", "within 24 hours of receipt (an alert: acknowledged)", d.Contact.In(loc).Format(time.RFC3339)},
		{"forward", "within 1 working day of entry", d.Forward.In(loc).Format(time.RFC3339)},
		{"feedback", fmt.Sprintf("within %d working days of entry", map[bool]int{false: 3, true: 7}[*complex]), d.Feedback.In(loc).Format(time.RFC3339)},
		{"recheck", "within 48 hours of a poor rating", "rating time + 48h"},
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]any{"received": rcv.In(loc).Format(time.RFC3339), "entered": ent.In(loc).Format(time.RFC3339), "complex": *complex, "deadlines": rows})
		return 0
	}
	fmt.Fprintf(stdout, "received %s, entered %s, %s\n", rcv.In(loc).Format("2006-01-02 15:04 Mon"), ent.In(loc).Format("2006-01-02 15:04 Mon"), map[bool]string{false: "normal", true: "complex"}[*complex])
	for _, r := range rows {
		fmt.Fprintf(stdout, "%-9s %-26s %s\n", r.Deadline, r.Due, r.Rule)
	}
	return 0
}

func parseLocal(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02 15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not RFC 3339 or YYYY-MM-DD HH:MM", s)
}

type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }
