// Package influx keeps readings in InfluxDB 2.x, or 1.8+ through its
// v2-compatible API.
//
// A reading is one point: the measurement is its medium (air, water,
// noise), the tags are point and station, and each metric is a float field.
// One more field, the string "qc", holds the quality-control flags of the
// point's values: "" when none is flagged, else a JSON object from metric
// to its flags by name, comma-separated, such as {"pm25":"range,spike"}.
// It is written with every point, so that a rewrite replaces the flags
// too, and "qc" is therefore not a metric name this store accepts. One
// field for all the flags, rather than one beside each metric, halves
// InfluxDB's work per point (docs/BENCHMARKS.md). Since a point's series
// key and time come from the reading, writing a reading again replaces it.
//
// With InfluxDB 1.8, Token is "username:password", or empty when
// authentication is off; Org is ignored but must be set (to "-", say); and
// Bucket is "database/retention-policy", e.g. "envmon/autogen", where the
// database must exist.
package influx

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/influxdata/influxdb-client-go/v2/api/query"

	"github.com/envmon/envmon/internal/secret"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/store"
)

// Config says which InfluxDB to use and how.
type Config struct {
	URL    string // e.g. http://localhost:8086
	Org    string // any, e.g. "-", for InfluxDB 1.8
	Bucket string // "database/retention-policy" for InfluxDB 1.8
	Token  Secret // "username:password" or empty for InfluxDB 1.8

	// LatestWindow is how far back Latest looks for the newest values;
	// zero means DefaultLatestWindow. InfluxDB 1.8 reads every point in
	// the window to find them.
	LatestWindow time.Duration
	// Timeout bounds each request; zero means DefaultTimeout.
	Timeout time.Duration
}

// Defaults of Config.
const (
	DefaultLatestWindow = 30 * 24 * time.Hour
	DefaultTimeout      = 30 * time.Second
)

// Store is a store.Store in an InfluxDB bucket. It is safe for concurrent
// use.
type Store struct {
	cfg    Config
	client influxdb2.Client
	write  api.WriteAPIBlocking
	query  api.QueryAPI
}

var _ store.Store = (*Store)(nil)

// New returns a Store for cfg after checking that the server answers and
// that the bucket can be queried.
func New(ctx context.Context, cfg Config) (*Store, error) {
	s, err := Open(cfg)
	if err != nil {
		return nil, err
	}
	client := s.client
	if err := s.Check(ctx); err != nil {
		client.Close()
		return nil, err
	}
	return s, nil
}

// Open is New without the checks: it succeeds while InfluxDB is down, so
// that ingest can start and spool until it is back. Call Check to tell a
// server that is down from a wrong bucket or token.
func Open(cfg Config) (*Store, error) {
	cfg.LatestWindow = cmp.Or(cfg.LatestWindow, DefaultLatestWindow)
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("influx config: %w", err)
	}
	opts := influxdb2.DefaultOptions().
		SetPrecision(time.Nanosecond).
		SetHTTPRequestTimeout(uint(math.Ceil(cfg.Timeout.Seconds())))
	client := influxdb2.NewClientWithOptions(cfg.URL, cfg.Token.Reveal(), opts)
	return &Store{
		cfg:    cfg,
		client: client,
		write:  client.WriteAPIBlocking(cfg.Org, cfg.Bucket),
		query:  client.QueryAPI(cfg.Org),
	}, nil
}

// Check pings the server and then runs an empty query, which finds a
// missing bucket or a wrong token now rather than at the first write. An
// error wrapping ErrUnreachable means the server did not answer at all.
func (s *Store) Check(ctx context.Context) error {
	if err := s.Ping(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	return s.run(ctx, "check bucket "+s.cfg.Bucket, checkFlux, map[string]any{"bucket": s.cfg.Bucket},
		func(*recordOf) error { return nil })
}

const checkFlux = `from(bucket: params.bucket) |> range(start: -1m) |> limit(n: 1)`

// ErrUnreachable is wrapped by Check's error when InfluxDB did not answer.
var ErrUnreachable = errors.New("InfluxDB is unreachable")

func (c *Config) validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		return errors.New("url is required")
	case err != nil:
		// Not err itself: it quotes the URL, credentials and all.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("url cannot be parsed: %w", err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return fmt.Errorf("url %q: want http://host:port or https://host:port", u.Redacted())
	case u.User != nil:
		return fmt.Errorf("url %q: put credentials in token, not in the URL", u.Redacted())
	case c.Org == "":
		return errors.New(`org is required (any, such as "-", for InfluxDB 1.8)`)
	case c.Bucket == "":
		return errors.New(`bucket is required ("database/retention-policy" for InfluxDB 1.8)`)
	case c.LatestWindow < 0:
		return errors.New("latest window must not be negative")
	case c.Timeout < 0:
		return errors.New("timeout must not be negative")
	}
	return nil
}

// Write writes rs in one request. It rejects the whole batch if a reading
// has no station or medium, a name with a backslash or a control character,
// a time InfluxDB cannot store, or a value that is not finite. Readings
// without values are skipped.
func (s *Store) Write(ctx context.Context, rs []reading.Reading) error {
	buf := lineBuffers.Get().(*[]byte)
	defer lineBuffers.Put(buf)
	body, err := appendLineProtocol((*buf)[:0], rs)
	*buf = body
	if err != nil {
		return fmt.Errorf("write to influx: %w", err)
	}
	if len(body) == 0 {
		return nil
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	// A copy: the client may keep the string after it returns, and body
	// goes back to lineBuffers.
	if err := s.write.WriteRecord(ctx, string(body)); err != nil {
		return s.wrap(ctx, fmt.Sprintf("write %d readings to influx", len(rs)), err)
	}
	return nil
}

// lineBuffers holds the buffers Write encodes batches in, so that each
// batch does not allocate (and zero) its own.
var lineBuffers = sync.Pool{New: func() any { return new([]byte) }}

// lineProtocol returns rs as line protocol, one line a reading.
func lineProtocol(rs []reading.Reading) ([]byte, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	return appendLineProtocol(nil, rs)
}

// appendLineProtocol appends rs to b as line protocol, one line a reading.
func appendLineProtocol(b []byte, rs []reading.Reading) ([]byte, error) {
	if len(rs) == 0 {
		return b, nil
	}
	b = slices.Grow(b, len(rs)*(64+16*len(rs[0].Values)))
	for _, r := range rs {
		if err := checkReading(&r); err != nil {
			return nil, err
		}
		if len(r.Values) == 0 {
			continue
		}
		b = appendMeasurement(b, string(r.Medium))
		if r.Point != "" {
			b = append(b, ",point="...)
			b = appendKey(b, r.Point)
		}
		b = append(b, ",station="...)
		b = appendKey(b, r.Station)
		sep := byte(' ')
		flagged := false
		for i, v := range r.Values {
			if overridden(r.Values, i) {
				continue
			}
			b = append(b, sep)
			sep = ','
			b = appendKey(b, v.Metric)
			b = append(b, '=')
			b = appendFloat(b, v.Value)
			flagged = flagged || v.QC != 0
		}
		b = append(b, ","+qcField+`="`...)
		if flagged {
			b = appendQC(b, r.Values)
		}
		b = append(b, `" `...)
		b = strconv.AppendInt(b, r.Time.UnixNano(), 10)
		b = append(b, '\n')
	}
	return b, nil
}

// checkReading rejects a reading InfluxDB cannot keep as it is.
func checkReading(r *reading.Reading) error {
	if err := checkNameFast("station", r.Station); err != nil {
		return fmt.Errorf("reading at %v: %w", r.Time, err)
	}
	if err := checkNameFast("medium", string(r.Medium)); err != nil {
		return fmt.Errorf("reading of station %q: %w", r.Station, err)
	}
	if r.Point != "" {
		if err := checkNameFast("point", r.Point); err != nil {
			return fmt.Errorf("reading of station %q: %w", r.Station, err)
		}
	}
	if r.Time.Before(minTime) || r.Time.After(maxTime) {
		return fmt.Errorf("reading of station %q: time %v is out of range", r.Station, r.Time)
	}
	for _, v := range r.Values {
		if err := checkNameFast("metric", v.Metric); err != nil {
			return fmt.Errorf("reading of station %q: %w", r.Station, err)
		}
		if v.Metric == qcField {
			return fmt.Errorf("reading of station %q: metric %q is the name of the flags' field", r.Station, v.Metric)
		}
		if math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
			return fmt.Errorf("reading of station %q: %s is %v", r.Station, v.Metric, v.Value)
		}
	}
	return nil
}

// Query returns the samples q selects; of more than q.Limit it keeps the
// newest.
func (s *Store) Query(ctx context.Context, q store.Query) ([]reading.Sample, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if err := checkName("station", q.Station); err != nil {
		return nil, fmt.Errorf("%w: %w", store.ErrBadQuery, err)
	}
	if err := checkName("metric", q.Metric); err != nil {
		return nil, fmt.Errorf("%w: %w", store.ErrBadQuery, err)
	}
	// InfluxDB 1.8 includes range's stop, so a second filter excludes To
	// again; the first is pushed down to storage. Grouping merges the
	// series of the station (one a medium and point), and tail keeps the
	// newest.
	tmpl := queryFlux
	params := map[string]any{
		"bucket":  s.cfg.Bucket,
		"start":   clampTime(q.From, minTime),
		"stop":    clampTime(q.To, maxTime),
		"metric":  q.Metric,
		"station": q.Station,
		"limit":   q.Limit,
	}
	if q.To.IsZero() {
		tmpl = strings.Replace(tmpl, beforeStopFlux, "", 1)
	}
	var (
		out  []reading.Sample
		keys []pointKey
	)
	err := s.run(ctx, "query influx", tmpl, params, func(r *recordOf) error {
		v, err := r.float()
		if err != nil {
			return err
		}
		out = append(out, reading.Sample{Time: r.Time().UTC(), Value: v})
		keys = append(keys, r.pointKey())
		return nil
	})
	if err != nil || len(out) == 0 {
		return nil, err
	}
	qc, err := s.flagged(ctx, q.Station, out[0].Time, out[len(out)-1].Time)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].QC = flagsOf(qc[keys[i]], q.Metric)
	}
	return out, nil
}

// queryFlux is the template of Query; without To, beforeStopFlux is cut.
const queryFlux = `from(bucket: params.bucket)
  |> range(start: params.start, stop: params.stop)
  |> filter(fn: (r) => r._field == params.metric and r.station == params.station)` + beforeStopFlux + `
  |> group()
  |> sort(columns: ["_time"])
  |> tail(n: params.limit)
  |> keep(columns: ["_time", "_value", "_measurement", "point"])`

// beforeStopFlux excludes the stop of a range, which InfluxDB 1.8 includes.
const beforeStopFlux = `
  |> filter(fn: (r) => r._time < params.stop)`

// Latest returns the newest value of every metric of every station written
// in the last Config.LatestWindow, ordered by station and metric.
func (s *Store) Latest(ctx context.Context) ([]reading.Latest, error) {
	// last() runs per series and field: per medium, point, station and
	// metric, and for the flags of the series' newest point. A station
	// found under two media or points is merged below.
	flux := `from(bucket: params.bucket)
  |> range(start: params.start, stop: params.stop)
  |> last()`
	params := map[string]any{
		"bucket": s.cfg.Bucket,
		"start":  clampTime(time.Now().Add(-s.cfg.LatestWindow), minTime),
		"stop":   maxTime,
	}
	type key struct{ station, metric string }
	type newest struct {
		reading.Latest
		at pointKey
	}
	latest := make(map[key]newest)
	qc := make(map[pointKey]string) // the flags of each series' newest point
	err := s.run(ctx, "latest from influx", flux, params, func(r *recordOf) error {
		if r.tag("station") == "" {
			return nil // not written by this package
		}
		if r.Field() == qcField {
			s, _ := r.Value().(string)
			qc[r.pointKey()] = s
			return nil
		}
		v, err := r.float()
		if err != nil {
			// A field this package did not write, such as the string
			// <metric>_qc of its first versions: not a metric's value.
			return nil
		}
		l := reading.Latest{
			Point:   r.tag("point"),
			Station: r.tag("station"),
			Medium:  reading.Medium(r.Measurement()),
			Metric:  r.Field(),
			Time:    r.Time().UTC(),
			Value:   v,
		}
		k := key{l.Station, l.Metric}
		if old, ok := latest[k]; !ok || l.Time.After(old.Time) {
			latest[k] = newest{l, r.pointKey()}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// A metric whose newest value is older than its series' newest point
	// needs the flags of an older point: look those up per station.
	type span struct{ from, to time.Time }
	older := make(map[string]span)
	for _, n := range latest {
		if _, ok := qc[n.at]; ok {
			continue
		}
		sp, ok := older[n.Station]
		if !ok || n.Time.Before(sp.from) {
			sp.from = n.Time
		}
		if !ok || n.Time.After(sp.to) {
			sp.to = n.Time
		}
		older[n.Station] = sp
	}
	for station, sp := range older {
		flagged, err := s.flagged(ctx, station, sp.from, sp.to)
		if err != nil {
			return nil, err
		}
		maps.Copy(qc, flagged)
	}
	out := make([]reading.Latest, 0, len(latest))
	for _, n := range latest {
		n.QC = flagsOf(qc[n.at], n.Metric)
		out = append(out, n.Latest)
	}
	slices.SortFunc(out, func(a, b reading.Latest) int {
		return cmp.Or(cmp.Compare(a.Station, b.Station), cmp.Compare(a.Metric, b.Metric))
	})
	return out, nil
}

// flagged returns the flags field of the station's points from from to to,
// both included, that have a flagged value.
func (s *Store) flagged(ctx context.Context, station string, from, to time.Time) (map[pointKey]string, error) {
	flux := `from(bucket: params.bucket)
  |> range(start: params.start, stop: params.stop)
  |> filter(fn: (r) => r._field == params.qc and r.station == params.station and r._value != "")
  |> keep(columns: ["_time", "_value", "_measurement", "point"])`
	params := map[string]any{
		"bucket":  s.cfg.Bucket,
		"start":   clampTime(from, minTime),
		"stop":    clampTime(to.Add(time.Nanosecond), maxTime),
		"qc":      qcField,
		"station": station,
	}
	out := make(map[pointKey]string)
	err := s.run(ctx, "query influx flags", flux, params, func(r *recordOf) error {
		out[r.pointKey()], _ = r.Value().(string)
		return nil
	})
	return out, err
}

// Ping checks that the server answers /ping.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	if _, err := s.client.Ping(ctx); err != nil {
		return s.wrap(ctx, "ping influx", err)
	}
	return nil
}

// Close releases the client's idle connections.
func (s *Store) Close() error {
	s.client.Close()
	return nil
}

// run runs the Flux query that tmpl and params make (see fluxQuery) and
// calls f for each record of its answer.
func (s *Store) run(ctx context.Context, op, tmpl string, params map[string]any, f func(*recordOf) error) error {
	flux, err := fluxQuery(tmpl, params)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	res, err := s.query.Query(ctx, flux)
	if err != nil {
		return s.wrap(ctx, op, err)
	}
	defer res.Close()
	for res.Next() {
		if err := f(&recordOf{res.Record()}); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	if err := res.Err(); err != nil {
		return s.wrap(ctx, op, err)
	}
	return nil
}

// errTimeout is the cause of a request's context ending after
// Config.Timeout.
var errTimeout = errors.New("influx did not answer in time")

func (s *Store) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, s.cfg.Timeout, fmt.Errorf("%w (%v)", errTimeout, s.cfg.Timeout))
}

// wrap returns err with op and, if ctx ended, why; with the token, should
// the error text hold it, replaced by <secret>.
func (s *Store) wrap(ctx context.Context, op string, err error) error {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
		err = fmt.Errorf("%w: %w", cause, err)
	}
	if tok := s.cfg.Token.Reveal(); tok != "" && strings.Contains(err.Error(), tok) {
		err = redactedError{err, tok}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// redactedError is an error whose text has a secret replaced.
type redactedError struct {
	err  error
	text string
}

func (e redactedError) Error() string {
	return strings.ReplaceAll(e.err.Error(), e.text, secret.Redacted)
}

func (e redactedError) Unwrap() error { return e.err }

// qcField is the name of the field that holds a point's flags.
const qcField = "qc"

// overridden reports whether a later value in vs has the metric of vs[i]:
// the last value of a metric wins.
func overridden(vs []reading.Value, i int) bool {
	for _, w := range vs[i+1:] {
		if w.Metric == vs[i].Metric {
			return true
		}
	}
	return false
}

// appendQC appends, as the content of a line protocol string, the JSON
// object from the metric of each flagged value in vs to its flags. Line
// protocol escapes a string's quotes and backslashes, so the object's
// quotes are written as \".
func appendQC(b []byte, vs []reading.Value) []byte {
	b = append(b, '{')
	first := true
	for i, v := range vs {
		if v.QC == 0 || overridden(vs, i) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONName(b, v.Metric)
		b = append(b, `:\"`...)
		sep := false
		for j, n := range reading.FlagNames() { // as Flags.Names has them
			if v.QC&(1<<j) != 0 {
				if sep {
					b = append(b, ',')
				}
				b = append(b, n...)
				sep = true
			}
		}
		b = append(b, `\"`...)
	}
	return append(b, '}')
}

// appendJSONName appends name as json.Marshal quotes it, escaped as the
// content of a line protocol string. A name of printable ASCII without
// the characters JSON or its HTML-safe form escape is copied between
// quotes; another is given to json.Marshal.
func appendJSONName(b []byte, name string) []byte {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(name) // checkReading let only valid UTF-8 through
			for _, c := range q {
				if c == '"' || c == '\\' {
					b = append(b, '\\')
				}
				b = append(b, c)
			}
			return b
		}
	}
	b = append(b, `\"`...)
	b = append(b, name...)
	return append(b, `\"`...)
}

// flagsOf returns the flags of metric in a flags field, ignoring what it
// cannot read (such as flag names written by a newer version).
func flagsOf(field, metric string) reading.Flags {
	if field == "" {
		return 0
	}
	var byMetric map[string]string
	if json.Unmarshal([]byte(field), &byMetric) != nil {
		return 0
	}
	var f reading.Flags
	for n := range strings.SplitSeq(byMetric[metric], ",") {
		if flag, err := reading.ParseFlag(n); err == nil {
			f |= flag
		}
	}
	return f
}

// pointKey identifies a point of one station: its series and time.
type pointKey struct {
	medium, point string
	ts            int64
}

func (r *recordOf) pointKey() pointKey {
	return pointKey{r.Measurement(), r.tag("point"), r.Time().UnixNano()}
}

// recordOf is a record of a query's answer.
type recordOf struct{ *query.FluxRecord }

// tag returns the tag k, or "" if the record has none.
func (r *recordOf) tag(k string) string {
	s, _ := r.ValueByKey(k).(string)
	return s
}

// float returns the record's value as a float.
func (r *recordOf) float() (float64, error) {
	switch v := r.Value().(type) {
	case float64:
		return v, nil
	case int64:
		return float64(v), nil
	case uint64:
		return float64(v), nil
	}
	return 0, fmt.Errorf("field %s of %s is a %T, not a number", r.Field(), r.tag("station"), r.Value())
}
