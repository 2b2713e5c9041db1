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
	return &metrics{
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
