package simulators

import (
	"context"
	"fmt"
	"time"
)

// Clock maps simulated time to wall-clock time: simulated time starts at
// Start when the wall clock shows Wall, and runs Speed times as fast.
type Clock struct {
	Start time.Time
	Wall  time.Time
	Speed float64
}

// WallAt returns the wall-clock time at which simulated time reaches t.
func (c Clock) WallAt(t time.Time) time.Time {
	return c.Wall.Add(time.Duration(float64(t.Sub(c.Start)) / c.speed()))
}

// At returns the simulated time at wall-clock time w.
func (c Clock) At(w time.Time) time.Time {
	return c.Start.Add(time.Duration(float64(w.Sub(c.Wall)) * c.speed()))
}

func (c Clock) speed() float64 {
	if c.Speed <= 0 {
		return 1
	}
	return c.Speed
}

// Check reports an error if a run of simulated length d on c would at any
// moment put simulated time ahead of the wall clock, where envmon would
// see timestamps from the future.
func (c Clock) Check(d time.Duration) error {
	// Simulated minus wall time changes linearly, so its ends bound it.
	ahead := max(c.Start.Sub(c.Wall), c.Start.Add(d).Sub(c.WallAt(c.Start.Add(d))))
	if ahead > 0 {
		return fmt.Errorf("simulated time would run %s ahead of the wall clock: start it earlier", ahead.Round(time.Second))
	}
	return nil
}

// LatestStart returns the latest simulated start for a run of simulated
// length d at speed, beginning at wall-clock time now, that never runs
// ahead of the wall clock.
func LatestStart(now time.Time, d time.Duration, speed float64) time.Time {
	if speed <= 0 {
		speed = 1
	}
	return now.Add(min(0, time.Duration(float64(d)/speed)-d))
}

// LatestDayStart returns the latest simulated start at local clock time
// tod (time since midnight in loc) such that a run of length d at speed,
// beginning at wall-clock time now, never runs ahead of the wall clock.
// Scenario times of day ("10:00") then keep their meaning.
func LatestDayStart(now time.Time, loc *time.Location, tod, d time.Duration, speed float64) time.Time {
	limit := LatestStart(now, d, speed).In(loc)
	day := time.Date(limit.Year(), limit.Month(), limit.Day(), 0, 0, 0, 0, loc)
	for i := 0; i < 3; i++ {
		if s := addClock(day, tod); !s.After(limit) {
			return s
		}
		day = day.AddDate(0, 0, -1)
	}
	return addClock(day, tod)
}

// addClock returns the time tod after midnight of day by the clock on the
// wall, which differs from day.Add(tod) across daylight-saving changes.
func addClock(day time.Time, tod time.Duration) time.Time {
	h, m, s := int(tod/time.Hour), int(tod%time.Hour/time.Minute), int(tod%time.Minute/time.Second)
	return time.Date(day.Year(), day.Month(), day.Day(), h, m, s, int(tod%time.Second), day.Location())
}

// sleepUntil waits until wall-clock time w or ctx is done.
func sleepUntil(ctx context.Context, w time.Time) error {
	d := time.Until(w)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
