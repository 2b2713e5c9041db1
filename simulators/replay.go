package simulators

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/envmon/envmon/reading"
)

// ReplayConfig configures a replay of recorded readings.
type ReplayConfig struct {
	Transport Transport
	// Dial opens the connection; default MQTTDialer(Transport).
	Dial Dialer
	// Speed is how many times faster than recorded the readings are sent;
	// default 1 (as recorded).
	Speed float64
	// Rebase shifts every timestamp by the same amount so that the replay
	// ends as it is sent, never ahead of the wall clock: old recordings
	// become today's. Otherwise timestamps are sent as recorded.
	Rebase bool
	Format Format
	// DefaultPoint is the point of rows without one; default "replay".
	DefaultPoint string
	Logger       *slog.Logger
}

// ReplayStats counts what a replay did.
type ReplayStats struct {
	Rows, Messages, Published, Errors int
	// From and To are the first and last timestamps sent.
	From, To time.Time
}

// replayMessage is one message of a replay: a station's values of one
// medium at one time.
type replayMessage struct {
	point, station string
	medium         reading.Medium
	at             time.Time
	values         []reading.Value
	line           int
}

// parseReplay reads a CSV of readings (see Replay) and returns its
// messages in time order, and the number of rows read.
func parseReplay(r io.Reader, defaultPoint string) ([]replayMessage, int, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	head, err := cr.Read()
	if err != nil {
		return nil, 0, fmt.Errorf("replay: read the header: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, need := range []string{"station", "time", "metric", "value"} {
		if _, ok := col[need]; !ok {
			return nil, 0, fmt.Errorf("replay: the header %v has no %q column (want station, time, metric, value, and optionally point and medium)", head, need)
		}
	}
	field := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	type key struct {
		station string
		medium  reading.Medium
		at      int64
	}
	index := map[key]int{}
	points := map[string]string{} // station → its point, from any row that names it
	var out []replayMessage
	rows := 0
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return nil, rows, fmt.Errorf("replay: %w", err)
		}
		rows++
		where := fmt.Sprintf("replay: line %d", line)
		station, metric := field(rec, "station"), field(rec, "metric")
		if station == "" || metric == "" {
			return nil, rows, fmt.Errorf("%s: station and metric are required", where)
		}
		at, err := parseReplayTime(field(rec, "time"))
		if err != nil {
			return nil, rows, fmt.Errorf("%s: %w", where, err)
		}
		v, err := strconv.ParseFloat(field(rec, "value"), 64)
		if err != nil {
			return nil, rows, fmt.Errorf("%s: value %q is not a number", where, field(rec, "value"))
		}
		m := reading.Medium(field(rec, "medium"))
		if m == "" {
			mt, ok := reading.LookupMetric(metric)
			if !ok || mt.Medium == "" {
				return nil, rows, fmt.Errorf("%s: metric %q: give the medium column", where, metric)
			}
			m = mt.Medium
		} else if _, err := reading.ParseMedium(string(m)); err != nil {
			return nil, rows, fmt.Errorf("%s: %w", where, err)
		}
		point := field(rec, "point")
		if point != "" {
			points[station] = point
		}
		k := key{station, m, at.UnixNano()}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, replayMessage{point: point, station: station, medium: m, at: at, line: line})
		}
		out[i].values = append(out[i].values, reading.Value{Metric: metric, Value: v})
	}
	for i := range out {
		if out[i].point == "" {
			out[i].point = points[out[i].station]
		}
		if out[i].point == "" {
			out[i].point = defaultPoint
		}
	}
	slices.SortStableFunc(out, func(a, b replayMessage) int { return a.at.Compare(b.at) })
	return out, rows, nil
}

func parseReplayTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	return time.Time{}, fmt.Errorf("time %q is neither RFC 3339 nor Unix milliseconds", s)
}

// Replay publishes the readings of a CSV file (see the format below) at
// cfg.Speed times the recorded pace, until the file ends or ctx is done.
//
// The CSV has a header naming the columns station, time, metric and value,
// and optionally point and medium, in any order. time is RFC 3339 or Unix
// milliseconds; medium defaults to the metric's; point to the point
// another row gives the station, else cfg.DefaultPoint. Rows of the same station, medium and time are sent as
// one message, in time order.
func Replay(ctx context.Context, r io.Reader, cfg ReplayConfig) (ReplayStats, error) {
	if cfg.Speed <= 0 {
		cfg.Speed = 1
	}
	if cfg.DefaultPoint == "" {
		cfg.DefaultPoint = "replay"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if _, err := ParseFormat(string(cfg.Format)); err != nil {
		return ReplayStats{}, fmt.Errorf("replay: %w", err)
	}
	msgs, rows, err := parseReplay(r, cfg.DefaultPoint)
	stats := ReplayStats{Rows: rows}
	if err != nil {
		return stats, err
	}
	if len(msgs) == 0 {
		return stats, errors.New("replay: the file has no readings")
	}
	if cfg.Dial == nil {
		if err := cfg.Transport.Validate(); err != nil {
			return stats, fmt.Errorf("replay: %w", err)
		}
		cfg.Dial = MQTTDialer(cfg.Transport)
	}
	c, err := cfg.Dial(ctx, cfg.Transport.ClientID("replay"), "", "")
	if err != nil {
		return stats, fmt.Errorf("replay: %w", err)
	}
	defer c.Close()

	first, last := msgs[0].at, msgs[len(msgs)-1].at
	wall := time.Now()
	var shift time.Duration
	if cfg.Rebase {
		shift = LatestStart(wall, last.Sub(first), cfg.Speed).Sub(first)
	}
	clock := Clock{Start: first, Wall: wall, Speed: cfg.Speed}
	seq := map[string]int64{}
	for _, m := range msgs {
		if err := sleepUntil(ctx, clock.WallAt(m.at)); err != nil {
			return stats, nil
		}
		seq[m.station]++
		ts := m.at.Add(shift)
		payload, err := Encode(cfg.Format, Message{Station: m.station, Time: ts, Values: m.values, Seq: seq[m.station]})
		if err != nil {
			return stats, fmt.Errorf("replay: line %d: %w", m.line, err)
		}
		stats.Messages++
		topic := fmt.Sprintf("envmon/%s/%s/%s", m.point, m.station, m.medium)
		if err := c.Publish(ctx, topic, cfg.Transport.QoS, false, payload); err != nil {
			if ctx.Err() != nil {
				return stats, nil
			}
			stats.Errors++
			cfg.Logger.Warn("replay: publish failed", "topic", topic, "line", m.line, "err", err)
			continue
		}
		stats.Published++
		if stats.From.IsZero() {
			stats.From = ts
		}
		stats.To = ts
	}
	return stats, nil
}
