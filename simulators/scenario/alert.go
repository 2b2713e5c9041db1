package scenario

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Alert is an alert episode as GET /api/v1/alerts serves it.
type Alert struct {
	ID         string     `json:"id"`
	Rule       string     `json:"rule"`
	Station    string     `json:"station"`
	Severity   string     `json:"severity"`
	State      string     `json:"state"`
	Fired      bool       `json:"fired"`
	StartedAt  time.Time  `json:"started_at"`
	FiringAt   *time.Time `json:"firing_at"`
	ResolvedAt *time.Time `json:"resolved_at"`
}

// Alerts returns the alert episodes of a station, and of a rule if rule is
// not empty, every page of them.
func (c *Client) Alerts(ctx context.Context, station, rule string) ([]Alert, error) {
	var all []Alert
	q := url.Values{"station": {station}, "limit": {"500"}}
	if rule != "" {
		q.Set("rule", rule)
	}
	for {
		var page struct {
			Episodes []Alert `json:"episodes"`
			Next     string  `json:"next"`
		}
		if err := c.get(ctx, "/api/v1/alerts", q, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Episodes...)
		if page.Next == "" {
			return all, nil
		}
		q.Set("after", page.Next)
	}
}

// alertExp: the alert episodes of a rule at a station.
//
//   - kind: alert
//     station: st-3
//     rule: pm25_1h_high
//     state: any      # pending, firing, resolved, open (pending or firing) or any (default)
//     fired: true     # count only episodes that fired (default true)
//     from: "10:00"   # episodes that started in this window (default the run,
//     to: end         #   and up to an hour after it for hourly rules)
//     min: 1          # at least (default 1); max: 0 for none
//     clock: true     # a rule of the clock (station_offline): its episodes
//     #   start in wall-clock time, so count those that
//     #   started since the run began, whatever from and to say
type alertExp struct {
	where `yaml:",inline"`
	Clock bool   `yaml:"clock"`
	Rule  string `yaml:"rule"`
	State string `yaml:"state"`
	Fired *bool  `yaml:"fired"`
	Min   *int   `yaml:"min"`
	Max   *int   `yaml:"max"`
}

func decodeAlert(c *Context, node *yaml.Node) (Expectation, error) {
	var x alertExp
	if err := DecodeStrict(node, &x); err != nil {
		return nil, err
	}
	if err := x.resolve(c, false); err != nil {
		return nil, err
	}
	if x.Rule == "" {
		return nil, errors.New("rule is required (a rule name of the alert rules, such as pm25_1h_high)")
	}
	switch x.State {
	case "":
		x.State = "any"
	case "any", "open", "pending", "firing", "resolved":
	default:
		return nil, fmt.Errorf("state %q is not pending, firing, resolved, open or any", x.State)
	}
	if x.Fired == nil {
		t := x.State != "pending"
		x.Fired = &t
	}
	if x.Min == nil && x.Max == nil {
		one := 1
		x.Min = &one
	}
	return &x, nil
}

func (x *alertExp) String() string {
	var want string
	switch {
	case x.Max != nil && *x.Max == 0:
		want = "no"
	case x.Min != nil && x.Max != nil:
		want = fmt.Sprintf("%d to %d", *x.Min, *x.Max)
	case x.Max != nil:
		want = fmt.Sprintf("at most %d", *x.Max)
	default:
		want = fmt.Sprintf("at least %d", *x.Min)
	}
	what := "episodes"
	if *x.Fired {
		what = "fired episodes"
	}
	state := ""
	if x.State != "any" {
		state = " " + x.State
	}
	return fmt.Sprintf("alert: %s %s: %s%s %s started %s", x.Station, x.Rule, want, state, what, x.window())
}

func (x *alertExp) Check(ctx context.Context, env *Env) (string, error) {
	as, err := env.API.Alerts(ctx, x.Station, x.Rule)
	if err != nil {
		return "", err
	}
	from, to := x.times(env)
	if x.To == "end" {
		to = to.Add(time.Hour) // an hourly rule evaluates the last hour at its end
	}
	if x.Clock {
		// Offline is judged by arrival time, which a simulator running
		// faster than real time does not speed up.
		from, to = env.Began, time.Now().Add(time.Hour)
	}
	n := 0
	var seen []string
	for _, a := range as {
		if a.StartedAt.Before(from) || !a.StartedAt.Before(to) {
			continue
		}
		seen = append(seen, a.State)
		if *x.Fired && !a.Fired {
			continue
		}
		switch x.State {
		case "any":
		case "open":
			if a.State == "resolved" {
				continue
			}
		default:
			if a.State != x.State {
				continue
			}
		}
		n++
	}
	obs := fmt.Sprintf("%d matching of %d episodes", n, len(seen))
	if len(seen) > 0 {
		obs += " (" + strings.Join(seen, ", ") + ")"
	}
	switch {
	case x.Min != nil && n < *x.Min:
		return obs, fmt.Errorf("only %d matching episodes", n)
	case x.Max != nil && n > *x.Max:
		return obs, fmt.Errorf("%d matching episodes", n)
	}
	return obs, nil
}
