package calendar_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/envmon/envmon/cases/calendar"
)

var shanghai, _ = time.LoadLocation("Asia/Shanghai")

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, shanghai)
	if err != nil {
		panic(err)
	}
	return t
}

// TestDeadlines covers receipt before a holiday, on a holiday, before a
// make-up working day, and a complex case. Entry is at receipt.
func TestDeadlines(t *testing.T) {
	cal := calendar.New(calendar.Config{Location: shanghai})
	tests := []struct {
		name                        string
		received                    string
		complex                     bool
		enter, contact, fwd, feedbk string
	}{
		{
			// Thu 30 Apr: 1–5 May are the Labour Day holiday, 9 May (Sat) is a make-up day.
			name: "before a holiday", received: "2026-04-30 10:15",
			enter: "2026-04-30 11:15", contact: "2026-05-01 10:15", fwd: "2026-05-07 00:00", feedbk: "2026-05-09 00:00",
		},
		{
			name: "on a holiday", received: "2026-10-03 09:00",
			enter: "2026-10-03 10:00", contact: "2026-10-04 09:00", fwd: "2026-10-09 00:00", feedbk: "2026-10-11 00:00",
		},
		{
			// The example: Sat 9 May is a make-up working day.
			name: "before a make-up working day", received: "2026-05-08 18:00",
			enter: "2026-05-08 19:00", contact: "2026-05-09 18:00", fwd: "2026-05-10 00:00", feedbk: "2026-05-13 00:00",
		},
		{
			name: "make-up day before Spring Festival", received: "2026-02-13 16:00",
			enter: "2026-02-13 17:00", contact: "2026-02-14 16:00", fwd: "2026-02-15 00:00", feedbk: "2026-02-26 00:00",
		},
		{
			name: "complex", received: "2026-05-08 18:00", complex: true,
			enter: "2026-05-08 19:00", contact: "2026-05-09 18:00", fwd: "2026-05-10 00:00", feedbk: "2026-05-19 00:00",
		},
		{
			name: "complex across National Day", received: "2026-09-30 23:59", complex: true,
			enter: "2026-10-01 00:59", contact: "2026-10-01 23:59", fwd: "2026-10-09 00:00", feedbk: "2026-10-16 00:00",
		},
		{
			name: "plain week", received: "2026-03-02 08:00",
			enter: "2026-03-02 09:00", contact: "2026-03-03 08:00", fwd: "2026-03-04 00:00", feedbk: "2026-03-06 00:00",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := at(tt.received)
			d := cal.Deadlines(calendar.Rules{}, r, r, tt.complex)
			for _, c := range []struct {
				what string
				got  time.Time
				want string
			}{{"enter", d.Enter, tt.enter}, {"contact", d.Contact, tt.contact}, {"forward", d.Forward, tt.fwd}, {"feedback", d.Feedback, tt.feedbk}} {
				if !c.got.Equal(at(c.want)) {
					t.Errorf("%s due %s, want %s", c.what, c.got.In(shanghai).Format("2006-01-02 15:04 Mon"), c.want)
				}
			}
		})
	}
}

func TestDeadlineBeyondCalendar(t *testing.T) {
	var logs bytes.Buffer
	n := 0
	cal := calendar.New(calendar.Config{Location: shanghai, Logger: slog.New(slog.NewTextHandler(&logs, nil)), OnBeyond: func(int) { n++ }})
	// 2027-01-01 is a Friday: weekends alone, so the next working day is Mon 4 Jan.
	got := cal.AddWorkingDays(at("2026-12-31 10:00"), 1)
	if !got.Equal(at("2027-01-02 00:00")) {
		t.Errorf("2026-12-31 + 1 working day = %s, want 2027-01-02 00:00 (weekends only in 2027)", got)
	}
	got = cal.AddWorkingDays(at("2027-01-01 10:00"), 1)
	if !got.Equal(at("2027-01-05 00:00")) {
		t.Errorf("2027-01-01 + 1 working day = %s, want 2027-01-05 00:00", got)
	}
	if c := strings.Count(logs.String(), "level=WARN"); c != 1 {
		t.Errorf("%d WARN lines, want one for 2027:\n%s", c, logs.String())
	}
	if n == 0 {
		t.Error("OnBeyond was not called")
	}
	// A data file for 2027 takes over.
	if err := cal.Add("cn_2027.csv", []byte("date,kind\n2027-01-04,holiday\n")); err != nil {
		t.Fatal(err)
	}
	n = 0
	got = cal.AddWorkingDays(at("2027-01-01 10:00"), 1)
	if !got.Equal(at("2027-01-06 00:00")) || n != 0 {
		t.Errorf("with a 2027 file: %s (beyond %d times), want 2027-01-06 00:00", got, n)
	}
}

func TestDeadlineBadFile(t *testing.T) {
	cal := calendar.New(calendar.Config{})
	for _, bad := range []string{"2026-13-01,holiday\n", "2026-01-05,rest\n", "date,kind\n"} {
		if err := cal.Add("bad.csv", []byte(bad)); err == nil {
			t.Errorf("Add(%q) succeeded", bad)
		}
	}
}
