// Package calendar counts working days on a national calendar of weekends,
// public holidays and make-up working days (调休), in the deployment's time
// zone, and computes the service-desk deadlines of a case from it.
//
// China's 2026 calendar ships embedded (cn_2026.csv, from the State
// Council's notice; SOURCE.md names it). More years and local calendars are
// added as CSV files of the same shape (date,kind[,holiday_zh,holiday_en])
// with Add or LoadFile. A date past the calendar's last year is counted on
// weekends alone: the calendar logs a WARN once per year and calls
// Config.OnBeyond, which the cases package counts in a metric.
//
// calendar imports only the standard library.
package calendar

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // the deployment's zone may not be on the host
)

//go:embed cn_2026.csv
var cn2026 []byte

// CN2026 returns the embedded calendar file of China's 2026 holidays.
func CN2026() []byte { return bytes.Clone(cn2026) }

// Kind is what a listed date is.
type Kind string

// Kinds of listed dates.
const (
	Holiday Kind = "holiday" // a day off, whatever the weekday
	Workday Kind = "workday" // a working day, whatever the weekday
)

// Config configures a Calendar.
type Config struct {
	// Location is the deployment's time zone; Asia/Shanghai when nil.
	Location *time.Location
	// Logger gets the WARN for a year past the calendar; slog.Default
	// when nil.
	Logger *slog.Logger
	// OnBeyond, when set, is called every time a date of a year that no
	// calendar file covers is counted.
	OnBeyond func(year int)
	// NoDefault leaves out the embedded 2026 calendar.
	NoDefault bool
}

type date struct {
	y int
	m time.Month
	d int
}

// Calendar answers whether a day is a working day. It is safe for
// concurrent use.
type Calendar struct {
	loc      *time.Location
	log      *slog.Logger
	onBeyond func(int)

	mu     sync.RWMutex
	days   map[date]Kind
	years  map[int]bool
	warned map[int]bool
}

// New returns a calendar with the embedded 2026 calendar unless
// cfg.NoDefault.
func New(cfg Config) *Calendar {
	c := &Calendar{loc: cfg.Location, log: cfg.Logger, onBeyond: cfg.OnBeyond,
		days: map[date]Kind{}, years: map[int]bool{}, warned: map[int]bool{}}
	if c.loc == nil {
		c.loc, _ = time.LoadLocation("Asia/Shanghai")
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if !cfg.NoDefault {
		if err := c.Add("cn_2026.csv", cn2026); err != nil {
			panic("calendar: embedded cn_2026.csv: " + err.Error())
		}
	}
	return c
}

// Location is the calendar's time zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// LoadFile adds the calendar file at path.
func (c *Calendar) LoadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("calendar: %w", err)
	}
	return c.Add(path, data)
}

// Add adds a calendar file's dates; name is the file's name in errors. The
// file covers every year it lists a date of. A date listed again replaces
// the earlier entry, so a local calendar can amend the national one.
func (c *Calendar) Add(name string, data []byte) error {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.Comment = '#'
	days := map[date]Kind{}
	years := map[int]bool{}
	for line := 1; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("calendar %s: %w", name, err)
		}
		if line == 1 && len(rec) > 0 && strings.EqualFold(strings.TrimSpace(rec[0]), "date") {
			continue
		}
		if len(rec) < 2 {
			return fmt.Errorf("calendar %s:%d: want date,kind", name, line)
		}
		t, err := time.Parse("2006-01-02", strings.TrimSpace(rec[0]))
		if err != nil {
			return fmt.Errorf("calendar %s:%d: date %q is not YYYY-MM-DD", name, line, rec[0])
		}
		k := Kind(strings.ToLower(strings.TrimSpace(rec[1])))
		if k != Holiday && k != Workday {
			return fmt.Errorf("calendar %s:%d: kind %q is not holiday or workday", name, line, rec[1])
		}
		days[date{t.Year(), t.Month(), t.Day()}] = k
		years[t.Year()] = true
	}
	if len(days) == 0 {
		return fmt.Errorf("calendar %s: no dates", name)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for d, k := range days {
		c.days[d] = k
	}
	for y := range years {
		c.years[y] = true
	}
	return nil
}

// Years returns the first and last year the calendar's files cover; both
// zero when it has none.
func (c *Calendar) Years() (first, last int) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for y := range c.years {
		if first == 0 || y < first {
			first = y
		}
		last = max(last, y)
	}
	return first, last
}

// IsWorkingDay reports whether the local day of t is a working day.
func (c *Calendar) IsWorkingDay(t time.Time) bool {
	t = t.In(c.loc)
	d := date{t.Year(), t.Month(), t.Day()}
	c.mu.RLock()
	k, listed := c.days[d]
	covered := c.years[d.y]
	c.mu.RUnlock()
	if listed {
		return k == Workday
	}
	if !covered {
		c.beyond(d.y)
	}
	wd := t.Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

func (c *Calendar) beyond(y int) {
	c.mu.Lock()
	first := !c.warned[y]
	c.warned[y] = true
	c.mu.Unlock()
	if first {
		_, last := c.Years()
		c.log.Warn("calendar: no holidays known for this year; counting weekends only", "year", y, "last_year", last)
	}
	if c.onBeyond != nil {
		c.onBeyond(y)
	}
}

// AddWorkingDays returns the end of a period of n working days from t: the
// day of t is not counted, and the period ends at 24:00 local time (00:00
// of the next day) of the n-th working day after it. n must be at least 1.
func (c *Calendar) AddWorkingDays(t time.Time, n int) time.Time {
	t = t.In(c.loc)
	day := time.Date(t.Year(), t.Month(), t.Day(), 12, 0, 0, 0, c.loc) // noon: clear of DST edges
	for n > 0 {
		day = day.AddDate(0, 0, 1)
		if c.IsWorkingDay(day) {
			n--
		}
	}
	next := day.AddDate(0, 0, 1)
	return time.Date(next.Year(), next.Month(), next.Day(), 0, 0, 0, 0, c.loc)
}

// Rules are the service points' deadlines. The zero value is the defaults.
type Rules struct {
	Enter    time.Duration // from receipt; 1 h
	Contact  time.Duration // from receipt; 24 h
	Forward  int           // working days from entry; 1
	Feedback int           // working days from entry; 3
	Complex  int           // working days from entry for a complex case; 7
	Recheck  time.Duration // from a poor rating; 48 h
}

// WithDefaults fills the zero fields of r.
func (r Rules) WithDefaults() Rules {
	if r.Enter == 0 {
		r.Enter = time.Hour
	}
	if r.Contact == 0 {
		r.Contact = 24 * time.Hour
	}
	if r.Forward == 0 {
		r.Forward = 1
	}
	if r.Feedback == 0 {
		r.Feedback = 3
	}
	if r.Complex == 0 {
		r.Complex = 7
	}
	if r.Recheck == 0 {
		r.Recheck = 48 * time.Hour
	}
	return r
}

// Deadlines are the due times of a case.
type Deadlines struct {
	Enter    time.Time `json:"enter"`
	Contact  time.Time `json:"contact"`
	Forward  time.Time `json:"forward"`
	Feedback time.Time `json:"feedback"`
	// Recheck is due this long after a poor rating.
	Recheck time.Duration `json:"-"`
}

// Deadlines returns the due times of a case received at received and
// entered at entered, under rules r.
func (c *Calendar) Deadlines(r Rules, received, entered time.Time, complex bool) Deadlines {
	r = r.WithDefaults()
	fb := r.Feedback
	if complex {
		fb = r.Complex
	}
	return Deadlines{
		Enter:    received.Add(r.Enter),
		Contact:  received.Add(r.Contact),
		Forward:  c.AddWorkingDays(entered, r.Forward),
		Feedback: c.AddWorkingDays(entered, fb),
		Recheck:  r.Recheck,
	}
}
