package spool

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are a Spool's Prometheus metrics.
type metrics struct {
	appended       prometheus.Counter
	segments       prometheus.Counter
	blocked        prometheus.Gauge
	fsync          prometheus.Histogram
	tornBytes      prometheus.Counter
	corruptBytes   prometheus.Counter
	corruptRecords prometheus.Counter
	cursorSkipped  *prometheus.CounterVec
}

// newMetrics registers s's metrics with reg, if it is not nil.
func newMetrics(reg prometheus.Registerer, s *Spool) *metrics {
	f := promauto.With(reg)
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "envmon_spool_records",
		Help: "Records in the spool not yet delivered (committed).",
	}, func() float64 { return float64(s.Len()) })
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "envmon_spool_bytes",
		Help: "Framed bytes of the records in the spool not yet delivered (committed).",
	}, func() float64 { return float64(s.Size()) })
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "envmon_spool_cursors",
		Help: "Named cursors of the spool, those of earlier runs included.",
	}, func() float64 { return float64(len(s.allNamed())) })
	reg2 := reg
	if reg2 != nil {
		reg2.MustRegister(cursorLag{s})
	}
	return &metrics{
		cursorSkipped: f.NewCounterVec(prometheus.CounterOpts{
			Name: "envmon_spool_cursor_skipped_records_total",
			Help: "Records a named cursor skipped because it fell behind by more than the spool holds.",
		}, []string{"cursor"}),
		appended: f.NewCounter(prometheus.CounterOpts{
			Name: "envmon_spool_appended_records_total",
			Help: "Records appended to the spool.",
		}),
		segments: f.NewCounter(prometheus.CounterOpts{
			Name: "envmon_spool_segments_created_total",
			Help: "Segment files created.",
		}),
		blocked: f.NewGauge(prometheus.GaugeOpts{
			Name: "envmon_spool_blocked_appends",
			Help: "Appends waiting for space in a full spool.",
		}),
		fsync: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "envmon_spool_fsync_duration_seconds",
			Help:    "Duration of fsyncs of segment files.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		tornBytes: f.NewCounter(prometheus.CounterOpts{
			Name: "envmon_spool_torn_bytes_total",
			Help: "Bytes of unacknowledged appends cut from the spool's end on open, after a crash.",
		}),
		corruptBytes: f.NewCounter(prometheus.CounterOpts{
			Name: "envmon_spool_corrupt_bytes_total",
			Help: "Bytes of damaged records skipped, and lost, in the spool; anything above zero needs looking into.",
		}),
		corruptRecords: f.NewCounter(prometheus.CounterOpts{
			Name: "envmon_spool_corrupt_records_total",
			Help: "Records lost to damage in the spool (skipped by Read); anything above zero needs looking into.",
		}),
	}
}

// cursorLag reports each named cursor's lag as
// envmon_spool_cursor_lag_records{cursor}.
type cursorLag struct{ s *Spool }

var cursorLagDesc = prometheus.NewDesc("envmon_spool_cursor_lag_records",
	"Records in the spool that a named cursor has not yet committed.", []string{"cursor"}, nil)

func (c cursorLag) Describe(ch chan<- *prometheus.Desc) { ch <- cursorLagDesc }

func (c cursorLag) Collect(ch chan<- prometheus.Metric) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	for name, r := range c.s.readers {
		ch <- prometheus.MustNewConstMetric(cursorLagDesc, prometheus.GaugeValue, float64(r.lagLocked(c.s.nextSeq)), name)
	}
}
