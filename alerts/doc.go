// Package alerts will evaluate readings against the national standards and
// thresholds — AQI levels (HJ 633), water classes (GB 3838-2002), noise limits
// (GB 3096-2008), station offline and sensor faults — and raise alerts into
// the complaint queue. It is empty until the alerting issue fills it.
//
// alerts may import reading, station and quality; it must not import api or
// ingest.
package alerts
