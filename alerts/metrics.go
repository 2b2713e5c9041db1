package alerts

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the engine's Prometheus metrics. Episode counts and the
// outbox depth are read from the database at each scrape, so they are true
// across restarts and replicas.
type metrics struct {
	e           *Engine
	evaluations atomic.Uint64
	transitions *prometheus.CounterVec
	attempts    *prometheus.CounterVec
	failures    *prometheus.CounterVec

	episodesDesc, outboxDesc, evalDesc *prometheus.Desc
}

func newMetrics(e *Engine) *metrics {
	return &metrics{
		e: e,
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "envmon_alerts_transitions_total",
			Help: "Episode transitions this replica committed, by rule and new state."}, []string{"rule", "state"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "envmon_alerts_notification_attempts_total",
			Help: "Notification delivery attempts, by receiver."}, []string{"receiver"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "envmon_alerts_notification_failures_total",
			Help: "Failed notification delivery attempts, by receiver."}, []string{"receiver"}),
		episodesDesc: prometheus.NewDesc("envmon_alerts_episodes", "Episodes in the database, by state, rule and severity.", []string{"state", "rule", "severity"}, nil),
		outboxDesc:   prometheus.NewDesc("envmon_alerts_outbox_depth", "Outbox rows not yet sent, silenced or dead-lettered, by receiver.", []string{"receiver"}, nil),
		evalDesc:     prometheus.NewDesc("envmon_alerts_evaluations_total", "Readings evaluated against the rules by this replica.", nil, nil),
	}
}

func (m *metrics) register(r prometheus.Registerer) error {
	return errors.Join(r.Register(m.transitions), r.Register(m.attempts), r.Register(m.failures), r.Register(m))
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.episodesDesc
	ch <- m.outboxDesc
	ch <- m.evalDesc
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(m.evalDesc, prometheus.CounterValue, float64(m.evaluations.Load()))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := m.e.db.SQL()
	if rows, err := d.QueryContext(ctx, `SELECT state, rule, severity, COUNT(*) FROM alerts_episodes GROUP BY state, rule, severity`); err == nil {
		for rows.Next() {
			var s, r, sev string
			var n float64
			if rows.Scan(&s, &r, &sev, &n) == nil {
				ch <- prometheus.MustNewConstMetric(m.episodesDesc, prometheus.GaugeValue, n, s, r, sev)
			}
		}
		rows.Close()
	}
	if rows, err := d.QueryContext(ctx, `SELECT receiver, COUNT(*) FROM alerts_outbox WHERE state = 'pending' GROUP BY receiver`); err == nil {
		for rows.Next() {
			var r string
			var n float64
			if rows.Scan(&r, &n) == nil {
				ch <- prometheus.MustNewConstMetric(m.outboxDesc, prometheus.GaugeValue, n, r)
			}
		}
		rows.Close()
	}
}
