package simulators

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/reading"
	"github.com/envmon/envmon/station"
)

// Stop is one stop of a mobile station's route.
type Stop struct {
	Position
	// Arrive is when the station gets there; it measures until Arrive+Stay.
	Arrive time.Time
	Stay   time.Duration
}

// StationConfig describes one simulated station.
type StationConfig struct {
	ID, Point string
	Type      station.PointType // default station.Specialised
	Media     []reading.Medium
	// NoiseZone is the GB 3096-2008 zone class of a noise station;
	// default 2.
	NoiseZone quality.NoiseZone
	// Interval is the simulated time between readings (default 1 min);
	// Offset delays the first from the run's start.
	Interval time.Duration
	Offset   time.Duration
	// Route is a mobile station's stops, in order.
	Route    []Stop
	Episodes []Episode
	Format   Format
	Seed     uint64
	// Location is the time zone of the daily cycles; default UTC.
	Location *time.Location
}

// Validate reports what is wrong with s.
func (s StationConfig) Validate() error {
	if s.ID == "" || s.Point == "" {
		return errors.New("station needs an id and a point")
	}
	if len(s.Media) == 0 {
		return fmt.Errorf("station %s: media must list air, water or noise", s.ID)
	}
	for _, m := range s.Media {
		if _, err := reading.ParseMedium(string(m)); err != nil {
			return fmt.Errorf("station %s: %w", s.ID, err)
		}
	}
	switch s.Type {
	case "", station.Comprehensive, station.Specialised:
		if len(s.Route) > 0 {
			return fmt.Errorf("station %s: only a mobile station has a route", s.ID)
		}
	case station.Mobile:
		if len(s.Route) == 0 {
			return fmt.Errorf("station %s: a mobile station needs a route", s.ID)
		}
		for i, st := range s.Route {
			if st.Lat < -90 || st.Lat > 90 || st.Lon < -180 || st.Lon > 180 {
				return fmt.Errorf("station %s: stop %d: position %v,%v is not on Earth", s.ID, i+1, st.Lat, st.Lon)
			}
			if st.Stay <= 0 {
				return fmt.Errorf("station %s: stop %d: stay must be positive", s.ID, i+1)
			}
			if i > 0 && st.Arrive.Before(s.Route[i-1].Arrive.Add(s.Route[i-1].Stay)) {
				return fmt.Errorf("station %s: stop %d arrives before stop %d is left", s.ID, i+1, i)
			}
		}
	default:
		return fmt.Errorf("station %s: point type %q is not comprehensive, specialised or mobile", s.ID, s.Type)
	}
	if _, err := ParseFormat(string(s.Format)); err != nil {
		return fmt.Errorf("station %s: %w", s.ID, err)
	}
	for _, e := range s.Episodes {
		if err := e.Validate(); err != nil {
			return fmt.Errorf("station %s: %w", s.ID, err)
		}
	}
	return nil
}

// stopAt returns the route's stop at t, if the station is at one.
func (s StationConfig) stopAt(t time.Time) (Stop, bool) {
	for _, st := range s.Route {
		if !t.Before(st.Arrive) && t.Before(st.Arrive.Add(st.Stay)) {
			return st, true
		}
	}
	return Stop{}, false
}

// Sent is what a station did with one reading.
type Sent struct {
	Station, Point string
	Medium         reading.Medium
	// Measured is the simulated time of the reading; TS the payload's
	// timestamp (they differ under clock skew).
	Measured, TS time.Time
	// Values are the values sent, with lat and lon for a mobile station.
	Values []reading.Value
	// Episodes lists, per metric, the episodes that shaped its value; the
	// empty metric holds those that shaped the whole message.
	Episodes map[string][]EpisodeKind
	// Malformed is set when the payload was broken on purpose; Lost when
	// the station was offline and did not keep it; Delivered when the
	// broker took it (acknowledged at QoS 1 and 2).
	Malformed, Lost, Delivered bool
	// Copy counts the sends of one reading: 1 for a duplicate's second.
	Copy int
	Err  error
}

// Shaped reports whether kind shaped metric's value in s.
func (s Sent) Shaped(metric string, kind EpisodeKind) bool {
	return slices.Contains(s.Episodes[metric], kind) || slices.Contains(s.Episodes[""], kind)
}

// Untouched reports whether no episode at all shaped metric's value in s.
func (s Sent) Untouched(metric string) bool {
	return len(s.Episodes[metric]) == 0 && len(s.Episodes[""]) == 0
}

// Value returns the value sent for metric.
func (s Sent) Value(metric string) (float64, bool) {
	for _, v := range s.Values {
		if v.Metric == metric {
			return v.Value, true
		}
	}
	return 0, false
}

// FleetConfig configures a Fleet.
type FleetConfig struct {
	Transport Transport
	// Dial opens the stations' connections; default MQTTDialer(Transport).
	// Tests and dry runs give their own.
	Dial Dialer
	// Clock maps simulated to wall time; Clock.Start is when the stations
	// start measuring.
	Clock Clock
	// End ends the run in simulated time; zero runs until ctx is done.
	End      time.Time
	Stations []StationConfig
	// Record, if set, is called with every reading's fate, from the
	// stations' goroutines.
	Record func(Sent)
	Logger *slog.Logger
}

// Fleet runs simulated stations, each with its own MQTT connection, client
// id and last will.
type Fleet struct {
	cfg       FleetConfig
	stations  []*stationRun
	published atomic.Int64
	errors    atomic.Int64
}

// NewFleet checks cfg and returns a Fleet; Run starts it.
func NewFleet(cfg FleetConfig) (*Fleet, error) {
	if cfg.Dial == nil {
		if err := cfg.Transport.Validate(); err != nil {
			return nil, err
		}
		cfg.Dial = MQTTDialer(cfg.Transport)
	}
	if len(cfg.Stations) == 0 {
		return nil, errors.New("no stations to simulate")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock.Start.IsZero() {
		return nil, errors.New("the clock has no start")
	}
	f := &Fleet{cfg: cfg}
	seen := map[string]bool{}
	for _, sc := range cfg.Stations {
		if err := sc.Validate(); err != nil {
			return nil, err
		}
		if seen[sc.ID] {
			return nil, fmt.Errorf("station %s is listed twice", sc.ID)
		}
		seen[sc.ID] = true
		if sc.Interval <= 0 {
			sc.Interval = time.Minute
		}
		if sc.Location == nil {
			sc.Location = time.UTC
		}
		sr := &stationRun{cfg: sc, fleet: f, models: map[reading.Medium]Model{},
			frng: rand.New(rand.NewPCG(sc.Seed, 0xfa17)), held: map[reading.Medium]*pending{},
			last: map[string]float64{}, fired: make([]bool, len(sc.Episodes))}
		for _, m := range sc.Media {
			mod, err := NewModel(ModelConfig{Medium: m, Seed: sc.Seed ^ uint64(len(m))*0x9e3779b97f4a7c15, Location: sc.Location, NoiseZone: sc.NoiseZone, Episodes: sc.Episodes})
			if err != nil {
				return nil, fmt.Errorf("station %s: %w", sc.ID, err)
			}
			sr.models[m] = mod
		}
		f.stations = append(f.stations, sr)
	}
	return f, nil
}

// Published and Errors count the messages published and failed so far.
func (f *Fleet) Published() int64 { return f.published.Load() }
func (f *Fleet) Errors() int64    { return f.errors.Load() }

// Run connects every station and publishes readings until cfg.End or ctx
// is done. Stations that are not offline by an episode stay connected
// after Run returns, as the scenario left them, until Close. Run fails if
// a station cannot connect at the start.
func (f *Fleet) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(f.stations))
	for i, s := range f.stations {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.connect(ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		f.Close(false)
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	for i, s := range f.stations {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.run(ctx)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return errors.Join(errs...)
}

// Close disconnects every station cleanly, so the broker discards their
// wills. With sayOffline they first publish offline, as a station that is
// switched off on purpose does.
func (f *Fleet) Close(sayOffline bool) {
	var wg sync.WaitGroup
	for _, s := range f.stations {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.close(sayOffline)
		}()
	}
	wg.Wait()
}

// stationRun is one station's state while it runs.
type stationRun struct {
	cfg    StationConfig
	fleet  *Fleet
	models map[reading.Medium]Model
	frng   *rand.Rand // the faults' randomness, apart from the models'

	mu      sync.Mutex // guards conn against Close
	conn    Conn
	offline bool // dropped by an episode
	until   time.Time
	buffer  []pending

	seq   int64
	last  map[string]float64 // medium/metric → last value sent, for stuck
	held  map[reading.Medium]*pending
	fired []bool
	bad   int
}

// pending is a message waiting to be sent.
type pending struct {
	topic   string
	payload []byte
	sent    Sent
}

func (s *stationRun) statusTopic() string {
	return fmt.Sprintf("envmon/%s/%s/status", s.cfg.Point, s.cfg.ID)
}

// connect connects and says online.
func (s *stationRun) connect(ctx context.Context) error {
	c, err := s.fleet.cfg.Dial(ctx, s.fleet.cfg.Transport.ClientID(s.cfg.ID), s.statusTopic(), "offline")
	if err != nil {
		return fmt.Errorf("station %s: %w", s.cfg.ID, err)
	}
	if err := c.Publish(ctx, s.statusTopic(), 1, true, []byte("online")); err != nil {
		c.Drop()
		return fmt.Errorf("station %s: say online: %w", s.cfg.ID, err)
	}
	s.mu.Lock()
	s.conn = c
	s.mu.Unlock()
	return nil
}

// drop loses the connection abruptly: the broker publishes the will.
func (s *stationRun) drop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		s.conn.Drop()
		s.conn = nil
	}
}

func (s *stationRun) close(sayOffline bool) {
	s.mu.Lock()
	c := s.conn
	s.conn = nil
	s.mu.Unlock()
	if c == nil {
		return
	}
	if sayOffline {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = c.Publish(ctx, s.statusTopic(), 1, true, []byte("offline"))
		cancel()
	}
	c.Close()
}

func (s *stationRun) run(ctx context.Context) error {
	clock := s.fleet.cfg.Clock
	end := s.fleet.cfg.End
	for n := 0; ; n++ {
		t := clock.Start.Add(s.cfg.Offset + time.Duration(n)*s.cfg.Interval)
		if !end.IsZero() && !t.Before(end) {
			break
		}
		if err := sleepUntil(ctx, clock.WallAt(t)); err != nil {
			return nil
		}
		if err := s.tick(ctx, t); err != nil {
			return err
		}
	}
	// Send what is held back for out-of-order delivery.
	for _, m := range s.cfg.Media {
		if p := s.held[m]; p != nil {
			s.held[m] = nil
			s.send(ctx, *p)
		}
	}
	return nil
}

// tick takes and sends the readings due at simulated time t.
func (s *stationRun) tick(ctx context.Context, t time.Time) error {
	s.connection(ctx, t)
	var pos *Position
	if s.cfg.Type == station.Mobile {
		st, ok := s.cfg.stopAt(t)
		if !ok {
			return nil // on the road: mobile stations measure at their stops
		}
		pos = &st.Position
	}
	for _, m := range s.cfg.Media {
		s.seq++
		sent := Sent{Station: s.cfg.ID, Point: s.cfg.Point, Medium: m, Measured: t, TS: t, Episodes: map[string][]EpisodeKind{}}
		values := s.models[m].Values(t)
		for _, e := range s.cfg.Episodes {
			if !e.Kind.Fault() && e.touches(m, "") && e.within(t) {
				key := ""
				if e.Kind == Level {
					for _, x := range e.Metrics {
						sent.Episodes[x] = append(sent.Episodes[x], Level)
					}
					continue
				}
				sent.Episodes[key] = append(sent.Episodes[key], e.Kind)
			}
		}
		values = s.valueFaults(m, t, values, &sent)
		msg := Message{Station: s.cfg.ID, Time: t, Values: values, Seq: s.seq, Position: pos}
		dup, late, broken := false, false, false
		for i, e := range s.cfg.Episodes {
			switch e.Kind {
			case ClockSkew, Duplicate, OutOfOrder, Malformed:
			default:
				continue
			}
			if !e.touches(m, "") || !s.happens(i, e, t) {
				continue
			}
			switch e.Kind {
			case ClockSkew:
				msg.Time = msg.Time.Add(e.Skew)
			case Duplicate:
				dup = true
			case OutOfOrder:
				late = true
			case Malformed:
				broken = true
			default:
				continue
			}
			sent.Episodes[""] = append(sent.Episodes[""], e.Kind)
		}
		sent.TS = msg.Time
		sent.Values = slices.Clone(values)
		if pos != nil {
			sent.Values = append(sent.Values, reading.Value{Metric: "lat", Value: pos.Lat}, reading.Value{Metric: "lon", Value: pos.Lon})
		}
		format := s.cfg.Format
		payload, err := Encode(format, msg)
		if err != nil {
			return err
		}
		if broken {
			payload = malformed(format, msg, s.bad)
			s.bad++
			sent.Malformed = true
		}
		p := pending{topic: fmt.Sprintf("envmon/%s/%s/%s", s.cfg.Point, s.cfg.ID, m), payload: payload, sent: sent}
		if late && s.held[m] == nil {
			s.held[m] = &p // sent after the next one
			continue
		}
		s.send(ctx, p)
		if dup {
			again := p
			again.sent.Copy = 1
			if e := s.conflict(msg, format); e != nil {
				again.payload = e
				again.sent.Values = nil
				for _, v := range msg.Values {
					again.sent.Values = append(again.sent.Values, reading.Value{Metric: v.Metric, Value: conflictValue(v)})
				}
			}
			s.send(ctx, again)
		}
		if h := s.held[m]; h != nil && !late {
			s.held[m] = nil
			s.send(ctx, *h)
		}
	}
	return nil
}

// conflict returns a conflicting duplicate's payload, if a duplicate
// episode asks for one.
func (s *stationRun) conflict(msg Message, f Format) []byte {
	for _, e := range s.cfg.Episodes {
		if e.Kind == Duplicate && e.Conflict {
			c := msg
			c.Values = nil
			for _, v := range msg.Values {
				c.Values = append(c.Values, reading.Value{Metric: v.Metric, Value: conflictValue(v)})
			}
			b, _ := Encode(f, c)
			return b
		}
	}
	return nil
}

func conflictValue(v reading.Value) float64 { return round(v.Value*1.1+0.1, 2) }

// happens reports whether episode i acts on the reading at t.
func (s *stationRun) happens(i int, e Episode, t time.Time) bool {
	if !e.within(t) {
		return false
	}
	if e.Probability > 0 {
		return s.frng.Float64() < e.Probability
	}
	if e.Kind.once() && e.To.IsZero() {
		if s.fired[i] {
			return false
		}
		s.fired[i] = true
	}
	return true
}

// valueFaults applies stuck, drift, spike and sentinel faults.
func (s *stationRun) valueFaults(m reading.Medium, t time.Time, vs []reading.Value, sent *Sent) []reading.Value {
	out := slices.Clone(vs)
	for i, e := range s.cfg.Episodes {
		if !e.Kind.Fault() || !e.Kind.perMetric() || !e.touches(m, "") {
			continue
		}
		if !s.happens(i, e, t) {
			continue
		}
		for j := range out {
			v := &out[j]
			if !e.touches(m, v.Metric) {
				continue
			}
			switch e.Kind {
			case Stuck:
				if last, ok := s.last[string(m)+"/"+v.Metric]; ok {
					v.Value = last
				}
			case Drift:
				from := e.From
				if from.IsZero() {
					from = s.fleet.cfg.Clock.Start
				}
				v.Value = round(v.Value+e.Value*t.Sub(from).Hours(), 3)
			case Spike:
				v.Value = round(v.Value+e.valueOr(9*math.Abs(v.Value)+10), 2)
			case Sentinel:
				v.Value = e.valueOr(-999)
			}
			sent.Episodes[v.Metric] = append(sent.Episodes[v.Metric], e.Kind)
		}
	}
	for _, v := range out {
		s.last[string(m)+"/"+v.Metric] = v.Value
	}
	return out
}

// connection applies dropouts and reconnect storms at t.
func (s *stationRun) connection(ctx context.Context, t time.Time) {
	for i, e := range s.cfg.Episodes {
		if e.Kind == ReconnectStorm && s.happens(i, e, t) && !s.offline {
			count := e.Count
			if count == 0 {
				count = 5
			}
			for range count {
				s.drop()
				if err := s.connect(ctx); err != nil {
					s.fleet.cfg.Logger.Warn("reconnect failed in a reconnect storm", "station", s.cfg.ID, "err", err)
				}
			}
			// The broker may publish a dropped connection's will after the
			// new connection said online: say it again once things settle.
			time.Sleep(100 * time.Millisecond)
			s.mu.Lock()
			c := s.conn
			s.mu.Unlock()
			if c != nil {
				_ = c.Publish(ctx, s.statusTopic(), 1, true, []byte("online"))
			}
		}
	}
	down := false
	for i, e := range s.cfg.Episodes {
		if e.Kind != Dropout {
			continue
		}
		if e.Probability > 0 {
			if !s.offline && s.happens(i, e, t) {
				s.until = t.Add(e.For)
				down = true
			}
			continue
		}
		if e.within(t) {
			down = true
			s.until = e.To
		}
	}
	switch {
	case !s.offline && down:
		s.offline = true
		s.drop()
		s.fleet.cfg.Logger.Debug("station dropped off", "station", s.cfg.ID, "at", t)
	case s.offline && !down && (s.until.IsZero() || !t.Before(s.until)):
		if err := s.connect(ctx); err != nil {
			s.fleet.cfg.Logger.Warn("station could not reconnect", "station", s.cfg.ID, "err", err)
			return
		}
		s.offline = false
		for _, p := range s.buffer {
			s.send(ctx, p)
		}
		s.buffer = nil
	}
}

// buffering reports whether an active dropout keeps readings.
func (s *stationRun) buffering(t time.Time) bool {
	for _, e := range s.cfg.Episodes {
		if e.Kind == Dropout && e.Buffer && (e.within(t) || e.Probability > 0) {
			return true
		}
	}
	return false
}

// send publishes p, or keeps or loses it while offline, and records it.
func (s *stationRun) send(ctx context.Context, p pending) {
	if s.offline {
		if s.buffering(p.sent.Measured) {
			s.buffer = append(s.buffer, p)
			return
		}
		p.sent.Lost = true
		s.record(p.sent)
		return
	}
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c == nil {
		p.sent.Err = errors.New("not connected")
	} else {
		p.sent.Err = c.Publish(ctx, p.topic, s.fleet.cfg.Transport.QoS, false, p.payload)
	}
	if p.sent.Err == nil {
		p.sent.Delivered = true
		s.fleet.published.Add(1)
	} else if ctx.Err() == nil {
		s.fleet.errors.Add(1)
		s.fleet.cfg.Logger.Warn("publish failed", "station", s.cfg.ID, "topic", p.topic, "err", p.sent.Err)
	}
	s.record(p.sent)
}

func (s *stationRun) record(x Sent) {
	if s.fleet.cfg.Record != nil {
		s.fleet.cfg.Record(x)
	}
}
