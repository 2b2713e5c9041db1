package ingest

import (
	"github.com/envmon/envmon/reading"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are the collector's Prometheus metrics.
type metrics struct {
	messages        *prometheus.CounterVec // by medium and result
	readings        *prometheus.CounterVec // by medium
	values          *prometheus.CounterVec // by medium and qc
	rejected        *prometheus.CounterVec // by reason
	flagged         *prometheus.CounterVec // by QC flag
	forwarded       prometheus.Counter
	forwardErrors   prometheus.Counter
	subscribeErrors prometheus.Counter
	sinkRecords     *prometheus.CounterVec
	sinkErrors      *prometheus.CounterVec
	latency         prometheus.Histogram
	batchSize       prometheus.Histogram
	writeDuration   prometheus.Histogram
	writeErrors     prometheus.Counter
	connected       prometheus.Gauge
	queued          prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		messages: f.NewCounterVec(prometheus.CounterOpts{
			Name: "envmon_ingest_messages_total",
			Help: "MQTT messages handled, by medium (or status) and result (stored, rejected; superseded: a status from a connection older than one that has since published).",
		}, []string{"medium", "result"}),
		readings: f.NewCounterVec(prometheus.CounterOpts{
			Name: "envmon_ingest_readings_total",
			Help: "Readings (one station's values at one time) stored, by medium.",
		}, []string{"medium"}),
		values: f.NewCounterVec(prometheus.CounterOpts{
			Name: "envmon_ingest_values_total",
			Help: "Metric values stored, by medium and quality control result (ok, flagged).",
		}, []string{"medium", "qc"}),
		rejected: f.NewCounterVec(prometheus.CounterOpts{
			Name: "envmon_ingest_rejected_total",
			Help: "MQTT messages rejected, by reason.",
		}, []string{"reason"}),
		flagged: f.NewCounterVec(prometheus.CounterOpts{
			Name: "envmon_ingest_flagged_values_total",
			Help: "Values stored with a quality-control flag, by flag (a value may carry several).",
		}, []string{"flag"}),
		forwardErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "envmon_ingest_forward_errors_total",
			Help: "Failed attempts to forward readings to the replica that owns their station; each is retried.",
		}),
		sinkRecords: f.NewCounterVec(prometheus.CounterOpts{
			Name: "envmon_stream_sink_readings_total",
			Help: "Accepted readings each sink of the stream has consumed.",
		}, []string{"sink"}),
		sinkErrors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "envmon_stream_sink_errors_total",
			Help: "Failed attempts of a sink to consume a batch; each is retried.",
		}, []string{"sink"}),
		subscribeErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "envmon_mqtt_subscribe_errors_total",
			Help: "Failed or refused subscriptions (SUBACK 0x80 and above); each is retried.",
		}),
		forwarded: f.NewCounter(prometheus.CounterOpts{
			Name: "envmon_ingest_forwarded_total",
			Help: "Messages passed to the replica that owns their station (scale-out).",
		}),
		latency: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "envmon_ingest_latency_seconds",
			Help:    "Time from a reading's station timestamp to its being stored.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		batchSize: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "envmon_store_write_batch_size",
			Help:    "Readings per store write.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}),
		writeDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "envmon_store_write_duration_seconds",
			Help:    "Duration of successful store writes.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		writeErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "envmon_store_write_errors_total",
			Help: "Failed store writes (each is retried).",
		}),
		connected: f.NewGauge(prometheus.GaugeOpts{
			Name: "envmon_mqtt_connected",
			Help: "1 while the collector is connected to the MQTT broker.",
		}),
		queued: f.NewGauge(prometheus.GaugeOpts{
			Name: "envmon_ingest_queued_messages",
			Help: "Messages received but not yet stored and acknowledged.",
		}),
	}
	for _, r := range Reasons() {
		m.rejected.WithLabelValues(r) // export zeros, so rates work from the start
	}
	for _, f := range reading.FlagNames() {
		m.flagged.WithLabelValues(f)
	}
	return m
}
