package cases

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"
)

// PoorRateFlag is the yearly share of poor ratings above which a service
// point is flagged: the level at which the service-point rules call its
// head in.
const PoorRateFlag = 0.05

// MinGroupComplaints is k of the threshold rule that the disclosure
// applies to its groups: a group holding at least one complaint but fewer
// than k is withheld, so that no published row stands for one or two
// complainants. 3 is the usual minimum frequency of the threshold rule of
// statistical disclosure control (Hundepool et al., Statistical
// Disclosure Control, Wiley 2012, on frequency tables), and the value the
// privacy review asked for.
const MinGroupComplaints = 3

// DisclosureTTL is how long Disclose keeps the statistics it computed
// before it reads the cases again, so that anonymous requests do not each
// scan every case and timer.
const DisclosureTTL = time.Minute

// Disclosure is the public, anonymous statistics of GET
// /api/v1/disclosure/cases. It holds no personal data and no location
// finer than a grid cell, and no group of one or two complaints (see
// MinGroupComplaints).
type Disclosure struct {
	Generated time.Time       `json:"generated_at"`
	TimeZone  string          `json:"time_zone"`
	Groups    []DisclosureRow `json:"groups"`
	Points    []PointYear     `json:"points"`
	Deadlines []string        `json:"deadlines"`
	Flag      float64         `json:"poor_rate_flag"`
	// MinComplaints is MinGroupComplaints, k of the threshold rule.
	MinComplaints int `json:"min_group_complaints"`
	// Withheld counts the groups left out of Groups: those under the
	// threshold and those withheld with them (see Disclose).
	Withheld int `json:"withheld_groups"`
}

// DisclosureRow is one month, grid cell and category.
type DisclosureRow struct {
	Month    string `json:"month"` // YYYY-MM, in the deployment's zone
	Grid     string `json:"grid"`
	Category string `json:"category"`
	Received int    `json:"received"`
	// OnTime and Overdue count, for each deadline, the cases that met it
	// in time and those that missed it (met late, or still open past it).
	OnTime  map[string]int `json:"on_time"`
	Overdue map[string]int `json:"overdue"`
	// OverdueCases counts cases with any deadline missed.
	OverdueCases int `json:"overdue_cases"`
	Resolved     int `json:"resolved"`
	// MedianHoursToResolve is from receipt to resolution, over resolved
	// cases; null when none.
	MedianHoursToResolve *float64       `json:"median_hours_to_resolve"`
	Ratings              map[string]int `json:"ratings"`
}

// PointYear is a service point's poor-rating rate in a year.
type PointYear struct {
	Point    string  `json:"point"`
	Year     int     `json:"year"`
	Rated    int     `json:"rated"`
	Poor     int     `json:"poor"`
	PoorRate float64 `json:"poor_rate"`
	Flagged  bool    `json:"flagged"`
}

// disclosureCache keeps the statistics of each year asked for (0: every
// year) for DisclosureTTL, on the service's clock.
type disclosureCache struct {
	// mu is held while the statistics are computed, so that requests
	// arriving together scan the cases once.
	mu     sync.Mutex
	byYear map[int]disclosed
}

type disclosed struct {
	d         *Disclosure
	at, until time.Time
}

// Disclose returns the statistics of the cases received in year; year 0
// means every year. It computes them at most once every DisclosureTTL of
// the service's clock for each year; in between it returns the same
// value, which its callers must not modify.
//
// A group is a month, grid cell and category. Cases opened by alerts name
// no one, and the alerts behind them are public, so the threshold counts
// complaints (Open311 and desk cases): a group holding from 1 to
// MinGroupComplaints-1 of them is withheld whole, leaving no trace of its
// month, cell or category but the count of withheld groups; a group of
// alert cases alone is shown. Withheld groups could be recovered by
// subtraction from a total that covers them, as the service points'
// yearly ratings cover a cell's groups of a year; so, as the secondary
// suppression of statistical disclosure control does (Hundepool et al.,
// ibid.), when exactly one group of a grid cell and year is withheld, the
// smallest other group of that cell and year is withheld too, one holding
// complaints before one holding none. Because the rule works within a
// year, a year's groups are the same whether asked for alone or with
// every year.
func (s *Service) Disclose(ctx context.Context, year int) (*Disclosure, error) {
	c := &s.disclosure
	c.mu.Lock()
	defer c.mu.Unlock()
	now := s.cfg.Now()
	if e, ok := c.byYear[year]; ok && !now.Before(e.at) && now.Before(e.until) {
		return e.d, nil
	}
	d, err := s.disclose(ctx, year, now)
	if err != nil {
		return nil, err
	}
	if c.byYear == nil {
		c.byYear = map[int]disclosed{}
	}
	for y, e := range c.byYear {
		if !now.Before(e.until) {
			delete(c.byYear, y)
		}
	}
	c.byYear[year] = disclosed{d, now, now.Add(DisclosureTTL)}
	return d, nil
}

// disclose computes the statistics of Disclose as of now.
func (s *Service) disclose(ctx context.Context, year int, now time.Time) (*Disclosure, error) {
	loc := s.cal.Location()
	type tm struct {
		deadline int64
		state    string
	}
	timers := map[string][]tm{}
	trows, err := s.db.SQL().QueryContext(ctx, `SELECT case_id, kind, deadline, state FROM cases_timers`)
	if err != nil {
		return nil, fmt.Errorf("cases: disclosure: %w", err)
	}
	kinds := map[string]map[string]tm{}
	for trows.Next() {
		var id, kind, state string
		var d int64
		if err := trows.Scan(&id, &kind, &d, &state); err != nil {
			trows.Close()
			return nil, err
		}
		if kinds[id] == nil {
			kinds[id] = map[string]tm{}
		}
		kinds[id][kind] = tm{d, state}
		timers[id] = append(timers[id], tm{d, state})
	}
	trows.Close()
	rows, err := s.db.SQL().QueryContext(ctx, `SELECT id, source, category, grid, point, received_at, resolved_at, rating, rated_at FROM cases_cases ORDER BY received_at`)
	if err != nil {
		return nil, fmt.Errorf("cases: disclosure: %w", err)
	}
	defer rows.Close()
	type key struct{ month, grid, cat string }
	groups := map[key]*DisclosureRow{}
	complaints := map[key]int{}
	hours := map[key][]float64{}
	type pk struct {
		point string
		year  int
	}
	points := map[pk]*PointYear{}
	deadlines := []string{TimerEnter, TimerContact, TimerForward, TimerFeedback, TimerRecheck}
	for rows.Next() {
		var id, source, cat, grid, point, rating string
		var rcv int64
		var res, rated sql.NullInt64
		if err := rows.Scan(&id, &source, &cat, &grid, &point, &rcv, &res, &rating, &rated); err != nil {
			return nil, err
		}
		rt := fromMs(rcv).In(loc)
		if year != 0 && rt.Year() != year {
			continue
		}
		k := key{rt.Format("2006-01"), grid, cat}
		g := groups[k]
		if g == nil {
			g = &DisclosureRow{Month: k.month, Grid: grid, Category: cat, OnTime: map[string]int{}, Overdue: map[string]int{}, Ratings: map[string]int{}}
			for _, d := range deadlines {
				g.OnTime[d], g.Overdue[d] = 0, 0
			}
			for _, r := range Ratings {
				g.Ratings[r] = 0
			}
			groups[k] = g
		}
		g.Received++
		if source != SourceAlert {
			complaints[k]++
		}
		late := false
		for kind, t := range kinds[id] {
			switch {
			case t.state == "met":
				g.OnTime[kind]++
			case t.state == "met_late" || t.state == "missed" || t.deadline < ms(now):
				g.Overdue[kind]++
				late = true
			}
		}
		if late {
			g.OverdueCases++
		}
		if res.Valid {
			g.Resolved++
			hours[k] = append(hours[k], float64(res.Int64-rcv)/3.6e6)
		}
		if rating != "" {
			g.Ratings[rating]++
			if point != "" && rated.Valid {
				p := pk{point, fromMs(rated.Int64).In(loc).Year()}
				py := points[p]
				if py == nil {
					py = &PointYear{Point: p.point, Year: p.year}
					points[p] = py
				}
				py.Rated++
				if rating == "poor" {
					py.Poor++
				}
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := &Disclosure{Generated: now.UTC(), TimeZone: loc.String(), Groups: []DisclosureRow{}, Points: []PointYear{}, Deadlines: deadlines, Flag: PoorRateFlag,
		MinComplaints: MinGroupComplaints}
	// The threshold rule, then the secondary suppression, within each grid
	// cell and year (see Disclose).
	type parent struct{ year, grid string }
	byParent := map[parent][]key{}
	for k := range groups {
		p := parent{k.month[:4], k.grid}
		byParent[p] = append(byParent[p], k)
	}
	withheld := map[key]bool{}
	for _, ks := range byParent {
		n := 0
		for _, k := range ks {
			if c := complaints[k]; c > 0 && c < MinGroupComplaints {
				withheld[k] = true
				n++
			}
		}
		if n != 1 {
			continue
		}
		// The smallest other group: one holding complaints before one
		// holding none, then by complaints, cases, month and category.
		var rest []key
		for _, k := range ks {
			if !withheld[k] {
				rest = append(rest, k)
			}
		}
		if len(rest) > 0 {
			withheld[slices.MinFunc(rest, func(a, b key) int {
				return cmp.Or(
					cmp.Compare(b2i(complaints[a] == 0), b2i(complaints[b] == 0)),
					cmp.Compare(complaints[a], complaints[b]),
					cmp.Compare(groups[a].Received, groups[b].Received),
					cmp.Compare(a.month, b.month),
					cmp.Compare(a.cat, b.cat))
			})] = true
		}
	}
	out.Withheld = len(withheld)
	for k, g := range groups {
		if withheld[k] {
			continue
		}
		if h := hours[k]; len(h) > 0 {
			slices.Sort(h)
			m := h[len(h)/2]
			if len(h)%2 == 0 {
				m = (h[len(h)/2-1] + h[len(h)/2]) / 2
			}
			m = float64(int(m*10+0.5)) / 10
			g.MedianHoursToResolve = &m
		}
		out.Groups = append(out.Groups, *g)
	}
	sort.Slice(out.Groups, func(i, j int) bool {
		a, b := out.Groups[i], out.Groups[j]
		if a.Month != b.Month {
			return a.Month < b.Month
		}
		if a.Grid != b.Grid {
			return a.Grid < b.Grid
		}
		return a.Category < b.Category
	})
	for _, p := range points {
		p.PoorRate = float64(p.Poor) / float64(p.Rated)
		p.Flagged = p.PoorRate > PoorRateFlag
		out.Points = append(out.Points, *p)
	}
	sort.Slice(out.Points, func(i, j int) bool {
		if out.Points[i].Year != out.Points[j].Year {
			return out.Points[i].Year < out.Points[j].Year
		}
		return out.Points[i].Point < out.Points[j].Point
	})
	return out, nil
}

// DisclosureHandler serves GET /api/v1/disclosure/cases[?year=YYYY], public
// and without a token.
func (s *Service) DisclosureHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			Problem(w, http.StatusMethodNotAllowed, "GET only", nil)
			return
		}
		// A year is one of those that can hold cases, from 2000 to this
		// one: each is computed at most once per DisclosureTTL, so a client
		// cannot make the service read every case for a thousand years a
		// minute.
		year := 0
		if y := r.URL.Query().Get("year"); y != "" {
			last := s.cfg.Now().In(s.cal.Location()).Year()
			var err error
			if year, err = strconv.Atoi(y); err != nil || year < 2000 || year > last {
				Problem(w, http.StatusBadRequest, fmt.Sprintf("year: want YYYY from 2000 to %d", last), nil)
				return
			}
		}
		d, err := s.Disclose(r.Context(), year)
		if err != nil {
			s.fail(w, err)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=300")
		writeJSON(w, http.StatusOK, d)
	})
}
