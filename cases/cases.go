package cases

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/envmon/envmon/alerts/notify"
	"github.com/envmon/envmon/alerts/notify/outbox"
	"github.com/envmon/envmon/auth"
	"github.com/envmon/envmon/cases/calendar"
	"github.com/envmon/envmon/cases/pii"
	"github.com/envmon/envmon/db"
	"github.com/envmon/envmon/sse"
	"github.com/envmon/envmon/station"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Registry is what cases reads of the station registry; *station.Registry
// is one.
type Registry interface {
	Get(id string) (station.View, bool)
	List() []station.View
	Points() []station.Point
	Teams(g station.Grid) []station.Team
}

// Receiver is a named notifier, such as the alerts webhook or MQTT one,
// that gets escalations and reminders.
type Receiver struct {
	Name     string
	Notifier notify.Notifier
}

// Near is a distance and a time window.
type Near struct {
	Meters float64
	Within time.Duration
}

// Defaults of Config.
const (
	DefaultCorroborateMeters = 2000
	DefaultCorroborateWithin = 3 * time.Hour
	DefaultMergeMeters       = 200
	DefaultMergeWithin       = 24 * time.Hour
	DefaultRemindBefore      = 2 * time.Hour
	DefaultRemindEvery       = 4 * time.Hour
	DefaultEscalateEvery     = 24 * time.Hour
	DefaultTick              = 5 * time.Second
)

// Config configures a Service. DB, Registry and Keys are required.
type Config struct {
	DB       *db.DB
	Registry Registry
	// Calendar counts working days; China's embedded calendar in
	// Asia/Shanghai when nil.
	Calendar *calendar.Calendar
	Rules    calendar.Rules
	// Keys seal complainants' personal data.
	Keys *pii.Keyring
	// Tokens verify the enforcement API's bearer tokens.
	Tokens auth.Verifier
	// Receivers get escalations and reminders.
	Receivers []Receiver
	// DefaultTeam takes a case no team covers.
	DefaultTeam string
	// Corroborate links a complaint to an alert episode of the same
	// medium this near; 2 km and 3 h when zero.
	Corroborate Near
	// Merge joins a complaint to an open complaint case of the same
	// category this near; 200 m and 24 h when zero.
	Merge Near
	// RemindBefore is how long before a deadline its reminder goes out.
	RemindBefore time.Duration
	// RemindEvery is the interval of reminders while a deadline is
	// overdue.
	RemindEvery time.Duration
	// EscalateEvery is how long an overdue case stays at one level of the
	// grid before it escalates to the next.
	EscalateEvery time.Duration
	// Replica names this process in outbox leases; random when empty.
	Replica string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Tick is the interval of Run's passes.
	Tick time.Duration
	// Open311 configures /open311/v2.
	Open311    Open311Config
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// ExternalURL is the service's public base URL, for links.
	ExternalURL string
}

// Open311Config configures the GeoReport v2 endpoint.
type Open311Config struct {
	// Jurisdiction is the jurisdiction_id served; requests naming another
	// are refused with 404. Empty: any.
	Jurisdiction string
	// APIKeys, when not empty, are the keys a POST must give as api_key.
	APIKeys []string
}

func (c *Config) check() error {
	if c.DB == nil || c.Registry == nil || c.Keys == nil {
		return errors.New("cases: DB, Registry and Keys are required")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Corroborate.Meters == 0 {
		c.Corroborate.Meters = DefaultCorroborateMeters
	}
	if c.Corroborate.Within == 0 {
		c.Corroborate.Within = DefaultCorroborateWithin
	}
	if c.Merge.Meters == 0 {
		c.Merge.Meters = DefaultMergeMeters
	}
	if c.Merge.Within == 0 {
		c.Merge.Within = DefaultMergeWithin
	}
	if c.RemindBefore == 0 {
		c.RemindBefore = DefaultRemindBefore
	}
	if c.RemindEvery == 0 {
		c.RemindEvery = DefaultRemindEvery
	}
	if c.EscalateEvery == 0 {
		c.EscalateEvery = DefaultEscalateEvery
	}
	if c.Tick == 0 {
		c.Tick = DefaultTick
	}
	if c.Replica == "" {
		c.Replica = "replica-" + randomID(4)
	}
	c.Rules = c.Rules.WithDefaults()
	return nil
}

// Service is the complaint queue. It is safe for concurrent use.
type Service struct {
	cfg     Config
	db      *db.DB
	cal     *calendar.Calendar
	log     *slog.Logger
	hub     *sse.Hub[Change]
	metrics *metrics
	nudge   chan struct{}
	outbox  *outbox.Outbox
	// disclosure caches the public statistics (see Disclose).
	disclosure disclosureCache
}

// New migrates the cases tables and returns the service.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	sub, _ := fs.Sub(migrations, "migrations")
	if err := cfg.DB.Migrate(ctx, "cases", sub); err != nil {
		return nil, err
	}
	if err := hashClearTokens(ctx, cfg.DB); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, db: cfg.DB, log: cfg.Logger, hub: new(sse.Hub[Change]), nudge: make(chan struct{}, 1)}
	s.metrics = newMetrics(cfg.Registerer)
	s.outbox = s.newOutbox()
	s.cal = cfg.Calendar
	if s.cal == nil {
		s.cal = calendar.New(calendar.Config{Logger: cfg.Logger, OnBeyond: func(int) { s.metrics.beyond.Inc() }})
	}
	return s, nil
}

// Calendar is the service's calendar.
func (s *Service) Calendar() *calendar.Calendar { return s.cal }

// Name is the component's name.
func (s *Service) Name() string { return "cases" }

// Run acts on due timers and delivers the outbox every Tick until ctx
// ends.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		if _, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("cases timers", "err", err)
		}
		if _, err := s.Deliver(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("cases outbox", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.nudge:
		}
	}
}

func (s *Service) poke() {
	select {
	case s.nudge <- struct{}{}:
	default:
	}
}

func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

type metrics struct {
	opened  *prometheus.CounterVec
	timers  *prometheus.CounterVec
	sent    *prometheus.CounterVec
	beyond  prometheus.Counter
	refused prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		opened:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "envmon_cases_opened_total", Help: "Cases opened, by source."}, []string{"source"}),
		timers:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "envmon_cases_timer_actions_total", Help: "Timer actions, by deadline and action (reminder, overdue, escalation)."}, []string{"deadline", "action"}),
		sent:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "envmon_cases_notifications_total", Help: "Escalation and reminder deliveries, by receiver and result."}, []string{"receiver", "result"}),
		beyond:  prometheus.NewCounter(prometheus.CounterOpts{Name: "envmon_cases_calendar_beyond_total", Help: "Days counted past the working-day calendar's last year, on weekends alone."}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "envmon_cases_transitions_refused_total", Help: "Invalid transitions refused."}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.opened, m.timers, m.sent, m.beyond, m.refused} {
			if err := reg.Register(c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					panic(fmt.Sprintf("cases metrics: %v", err))
				}
			}
		}
	}
	return m
}
