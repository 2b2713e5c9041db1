package simulators

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/envmon/envmon/reading"
)

// LoadConfig configures a load run: many simulated air stations
// multiplexed over a pool of connections, publishing at a paced rate.
type LoadConfig struct {
	Transport Transport
	// Dial opens the pool's connections; default MQTTDialer(Transport).
	Dial Dialer
	// Stations is how many stations to simulate (default 1000), over
	// Points service points (default Stations/4); ids are Prefix and a
	// number (default "load-").
	Stations int
	Points   int
	Prefix   string
	// Rate is the target in messages per second over all stations. With
	// Ramp, the rate rises linearly from zero to Rate over Ramp first.
	Rate float64
	Ramp time.Duration
	// Duration ends the run; zero runs until ctx is done.
	Duration time.Duration
	// Connections is the size of the pool (default 4, at most Stations);
	// MaxInFlight bounds the messages awaiting the broker's acknowledgement
	// on each (default 256).
	Connections int
	MaxInFlight int
	Format      Format
	// Values is how many values each message carries, from pm25, pm10, o3,
	// no2, so2, co, temp, rh, pressure, wind_speed, wind_dir in that order
	// (default 6, the pollutants; at most 11).
	Values int
	Seed   uint64
	// Location is the stations' time zone for daily cycles; default Local.
	Location *time.Location
}

// loadMetrics is the order in which a load message's values are chosen.
var loadMetrics = []string{"pm25", "pm10", "o3", "no2", "so2", "co", "temp", "rh", "pressure", "wind_speed", "wind_dir"}

// Progress is a load run's state, reported every second.
type Progress struct {
	Elapsed time.Duration
	// Target is the scheduled rate now; Rate the rate achieved over the
	// last second (messages acknowledged).
	Target, Rate float64
	Published    int64 // acknowledged (at QoS 0: written)
	Errors       int64
	InFlight     int64
}

func (p Progress) String() string {
	return fmt.Sprintf("%6.1fs  rate %8.0f/s  target %8.0f/s  published %9d  errors %d  in flight %d",
		p.Elapsed.Seconds(), p.Rate, p.Target, p.Published, p.Errors, p.InFlight)
}

// Latency summarises publish latencies: from handing a message to the
// client to the broker's acknowledgement (QoS 1: PUBACK, QoS 2: PUBCOMP;
// QoS 0: written to the connection).
type Latency struct {
	P50, P90, P99, Max time.Duration
}

// Summary is the outcome of a load run.
type Summary struct {
	Messages int64 // acknowledged
	Errors   int64
	// Elapsed runs from the first message to the last acknowledgement.
	Elapsed time.Duration
	// Target is the mean scheduled rate over the run, Rate the achieved
	// one: Messages / Elapsed.
	Target, Rate float64
	Latency      Latency
	// Sustained reports whether Rate came within 5% of Target; if not,
	// Shortfall says why.
	Sustained bool
	Shortfall string
}

func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "messages %d in %s: %.0f/s (target %.0f/s, %.1f%%), errors %d\n",
		s.Messages, s.Elapsed.Round(time.Millisecond), s.Rate, s.Target, 100*s.Rate/s.Target, s.Errors)
	fmt.Fprintf(&b, "publish latency p50 %s  p90 %s  p99 %s  max %s\n",
		s.Latency.P50.Round(time.Microsecond), s.Latency.P90.Round(time.Microsecond), s.Latency.P99.Round(time.Microsecond), s.Latency.Max.Round(time.Microsecond))
	if s.Sustained {
		b.WriteString("sustained the target rate within 5%\n")
	} else {
		fmt.Fprintf(&b, "did NOT sustain the target rate: %s\n", s.Shortfall)
	}
	return b.String()
}

// scheduled returns how many messages should have been sent t into a run.
func (c LoadConfig) scheduled(t time.Duration) float64 {
	if t <= 0 {
		return 0
	}
	if t < c.Ramp {
		return c.Rate * t.Seconds() * t.Seconds() / (2 * c.Ramp.Seconds())
	}
	return c.Rate * (t - c.Ramp/2).Seconds()
}

// rateAt is the scheduled rate t into a run.
func (c LoadConfig) rateAt(t time.Duration) float64 {
	if t < c.Ramp {
		return c.Rate * t.Seconds() / c.Ramp.Seconds()
	}
	return c.Rate
}

// Load publishes at cfg.Rate until cfg.Duration has passed or ctx is done,
// calls progress (if not nil) every second, and returns a summary. It paces
// by schedule, not by sleeping per message: each connection sends what its
// share of the schedule says is due, so a slow moment is made up at once.
// It is the publisher of envmon's ingest benchmark.
func Load(ctx context.Context, cfg LoadConfig, progress func(Progress)) (Summary, error) {
	if cfg.Rate <= 0 {
		return Summary{}, errors.New("load: rate must be positive")
	}
	if cfg.Stations == 0 {
		cfg.Stations = 1000
	}
	if cfg.Stations < 0 || cfg.Connections < 0 || cfg.MaxInFlight < 0 || cfg.Values < 0 || cfg.Ramp < 0 || cfg.Duration < 0 {
		return Summary{}, errors.New("load: negative stations, connections, in-flight, values, ramp or duration")
	}
	if cfg.Points <= 0 {
		cfg.Points = max(1, cfg.Stations/4)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "load-"
	}
	if cfg.Connections == 0 {
		cfg.Connections = 4
	}
	cfg.Connections = min(cfg.Connections, cfg.Stations)
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = 256
	}
	if cfg.Values == 0 {
		cfg.Values = 6
	}
	if cfg.Values > len(loadMetrics) {
		return Summary{}, fmt.Errorf("load: at most %d values per message", len(loadMetrics))
	}
	if _, err := ParseFormat(string(cfg.Format)); err != nil {
		return Summary{}, fmt.Errorf("load: %w", err)
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	if cfg.Dial == nil {
		if err := cfg.Transport.Validate(); err != nil {
			return Summary{}, fmt.Errorf("load: %w", err)
		}
		cfg.Dial = MQTTDialer(cfg.Transport)
	}

	conns := make([]Conn, cfg.Connections)
	var wg sync.WaitGroup
	errs := make([]error, len(conns))
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conns[i], errs[i] = cfg.Dial(ctx, cfg.Transport.ClientID(fmt.Sprintf("load-%d", i+1)), "", "")
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	if err := errors.Join(errs...); err != nil {
		return Summary{}, fmt.Errorf("load: %w", err)
	}

	l := &loadRun{cfg: cfg, start: time.Now()}
	runCtx := ctx
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithDeadline(ctx, l.start.Add(cfg.Duration))
		defer cancel()
	}
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		l.report(stopProgress, progress)
	}()
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.produce(runCtx, i, c)
		}()
	}
	wg.Wait()
	close(stopProgress)
	<-progressDone
	return l.summary(), nil
}

// loadRun is a load run's shared state.
type loadRun struct {
	cfg   LoadConfig
	start time.Time
	end   atomic.Int64 // Unix ns of the last acknowledgement

	issued, acked, errors atomic.Int64
	blocked               atomic.Int64 // ns producers waited for an in-flight slot
	behind                atomic.Int64 // messages the producers were behind at the end
	stopped               atomic.Int64 // ns into the run when sending stopped
	hist                  histogram
}

// produce sends connection i's share of the schedule.
func (l *loadRun) produce(ctx context.Context, i int, c Conn) {
	n := l.cfg.Connections
	// Connection i sends messages i, i+n, i+2n, … of the schedule.
	share := func(t time.Duration) int64 {
		total := int64(l.cfg.scheduled(t))
		if total <= int64(i) {
			return 0
		}
		return (total-int64(i)-1)/int64(n) + 1
	}
	var stations []int
	for k := i; k < l.cfg.Stations; k += n {
		stations = append(stations, k)
	}
	models := make([]Model, len(stations))
	seqs := make([]int64, len(stations))

	slots := make(chan struct{}, l.cfg.MaxInFlight)
	var inflight sync.WaitGroup
	defer inflight.Wait()
	var sent int64
	next := 0
	lastTS := make([]time.Time, len(stations))
	for {
		now := time.Since(l.start)
		due := share(now)
		for sent < due {
			select {
			case slots <- struct{}{}:
			default:
				t0 := time.Now()
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					l.finish(now, due-sent)
					return
				}
				l.blocked.Add(int64(time.Since(t0)))
			}
			if ctx.Err() != nil {
				<-slots
				l.finish(now, due-sent)
				return
			}
			j := next
			next = (next + 1) % len(stations)
			k := stations[j]
			if models[j] == nil {
				models[j], _ = NewModel(ModelConfig{Medium: reading.Air, Seed: l.cfg.Seed*1_000_003 + uint64(k), Location: l.cfg.Location})
			}
			at := time.Now()
			// A station never sends two readings for one millisecond, even
			// when the pacer catches up in a burst.
			ts := at.Truncate(time.Millisecond)
			if !ts.After(lastTS[j]) {
				ts = lastTS[j].Add(time.Millisecond)
			}
			lastTS[j] = ts
			seqs[j]++
			payload, topic := l.message(k, models[j].Values(ts), ts, seqs[j])
			sent++
			l.issued.Add(1)
			inflight.Add(1)
			go func() {
				defer inflight.Done()
				err := c.Publish(context.Background(), topic, l.cfg.Transport.QoS, false, payload)
				done := time.Now()
				<-slots
				if err != nil {
					l.errors.Add(1)
					return
				}
				l.hist.add(done.Sub(at))
				l.acked.Add(1)
				for {
					old := l.end.Load()
					if done.UnixNano() <= old || l.end.CompareAndSwap(old, done.UnixNano()) {
						break
					}
				}
			}()
		}
		// Sleep until the next message is due, at most a millisecond.
		wait := time.Millisecond
		if r := l.cfg.rateAt(now) / float64(n); r > 0 {
			wait = min(wait, time.Duration(float64(time.Second)/r))
		}
		select {
		case <-ctx.Done():
			l.finish(time.Since(l.start), 0)
			return
		case <-time.After(wait):
		}
	}
}

// finish records that a producer stopped at t, behind by n messages.
func (l *loadRun) finish(t time.Duration, n int64) {
	l.behind.Add(n)
	for {
		old := l.stopped.Load()
		if int64(t) <= old || l.stopped.CompareAndSwap(old, int64(t)) {
			return
		}
	}
}

func (l *loadRun) message(k int, vs []reading.Value, at time.Time, seq int64) ([]byte, string) {
	id := fmt.Sprintf("%s%d", l.cfg.Prefix, k+1)
	keep := make([]reading.Value, 0, l.cfg.Values)
	for _, name := range loadMetrics[:l.cfg.Values] {
		for _, v := range vs {
			if v.Metric == name {
				keep = append(keep, v)
			}
		}
	}
	payload, _ := Encode(l.cfg.Format, Message{Station: id, Time: at, Values: keep, Seq: seq})
	return payload, fmt.Sprintf("envmon/lp%d/%s/air", k%l.cfg.Points+1, id)
}

func (l *loadRun) report(stop <-chan struct{}, progress func(Progress)) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var last int64
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		acked := l.acked.Load()
		if progress != nil {
			el := time.Since(l.start)
			progress(Progress{
				Elapsed: el, Target: l.cfg.rateAt(el), Rate: float64(acked - last),
				Published: acked, Errors: l.errors.Load(), InFlight: l.issued.Load() - acked - l.errors.Load(),
			})
		}
		last = acked
	}
}

func (l *loadRun) summary() Summary {
	stopped := time.Duration(l.stopped.Load())
	s := Summary{
		Messages: l.acked.Load(),
		Errors:   l.errors.Load(),
		Elapsed:  max(stopped, time.Duration(l.end.Load()-l.start.UnixNano())),
		Latency:  l.hist.latency(),
	}
	if stopped > 0 {
		s.Target = l.cfg.scheduled(stopped) / stopped.Seconds()
	}
	if s.Elapsed > 0 {
		s.Rate = float64(s.Messages) / s.Elapsed.Seconds()
	}
	s.Sustained = s.Target > 0 && s.Rate >= 0.95*s.Target
	if s.Sustained {
		return s
	}
	var why []string
	if s.Errors > 0 {
		why = append(why, fmt.Sprintf("%d publishes failed", s.Errors))
	}
	conns := l.cfg.Connections
	if b := time.Duration(l.blocked.Load()) / time.Duration(conns); stopped > 0 && b > stopped/10 {
		why = append(why, fmt.Sprintf("the broker acknowledged too slowly: all %d in-flight slots of a connection were taken %.0f%% of the time (p99 latency %s); raise --max-inflight or --connections, or the broker is saturated",
			l.cfg.MaxInFlight, 100*b.Seconds()/stopped.Seconds(), s.Latency.P99.Round(time.Microsecond)))
	}
	if tail := s.Elapsed - stopped; stopped > 0 && tail > stopped/20 {
		why = append(why, fmt.Sprintf("the last acknowledgements came %s after sending stopped", tail.Round(time.Millisecond)))
	}
	if len(why) == 0 {
		why = append(why, fmt.Sprintf("the publisher fell behind its schedule by %d messages with in-flight slots free: it is CPU-bound (%d cores)", l.behind.Load(), runtime.GOMAXPROCS(0)))
	}
	s.Shortfall = strings.Join(why, "; ")
	return s
}

// histogram counts durations in logarithmic buckets 5% wide, from a
// microsecond up, so percentiles are within 5% at any rate and length.
type histogram struct {
	mu     sync.Mutex
	counts []int64
	n      int64
	max    time.Duration
}

const histBase = 1.05

func (h *histogram) add(d time.Duration) {
	b := int(math.Log(float64(d)/float64(time.Microsecond)+1) / math.Log(histBase))
	h.mu.Lock()
	defer h.mu.Unlock()
	if b >= len(h.counts) {
		h.counts = append(h.counts, make([]int64, b+1-len(h.counts))...)
	}
	h.counts[b]++
	h.n++
	h.max = max(h.max, d)
}

func (h *histogram) latency() Latency {
	h.mu.Lock()
	defer h.mu.Unlock()
	q := func(p float64) time.Duration {
		if h.n == 0 {
			return 0
		}
		want := int64(math.Ceil(p * float64(h.n)))
		var seen int64
		for b, c := range h.counts {
			seen += c
			if seen >= want {
				upper := time.Duration((math.Pow(histBase, float64(b+1)) - 1) * float64(time.Microsecond))
				return min(upper, h.max)
			}
		}
		return h.max
	}
	return Latency{P50: q(0.5), P90: q(0.9), P99: q(0.99), Max: h.max}
}
