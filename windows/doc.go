// Package windows keeps the hourly, 8 h, 24 h and daily means of every
// station and metric in memory, bucketed by event time in the station's time
// zone, with the data-validity rules of package quality.
//
// # What is kept
//
// For each station and metric, windows keeps one bucket per clock hour of
// the station's time zone, for Config.Retention (72 h by default). An hour
// is labelled by its end, as China's national real-time publishing platform
// does ("16:00" is 15:00-16:00); every value carries its period start and
// end. From the buckets it answers:
//
//   - the 1 h mean, valid with at least quality.MinHourCoverage (45 min) of
//     data (GB 3095-2012 Table 4);
//   - the 8 h moving mean at hour X, the mean of hours X-7..X, valid with at
//     least quality.Min8hHours (6) valid hours, and the 24 h moving mean,
//     valid with quality.Min24hHours (20), computed by quality.Mean8h and
//     quality.Mean24h;
//   - the daily values of a calendar day in the station's zone: the 24 h
//     mean (quality.DailyMean), and the daily maximum 8 h and 1 h means
//     (quality.DailyMax8h, quality.DailyMax1h) that O3 needs.
//
// An invalid value says why, as a [Reason]: no data, insufficient coverage,
// QC-flagged, hour in progress or beyond retention.
//
// # Samples, deduplication and coverage
//
// Only QC-clean values (reading.Value.QC == 0) count. A flagged value is
// counted apart, as a minute with a flagged sample, so that a consumer can
// give "QC-flagged" as the reason a value is missing.
//
// Each hour is divided into its 60 minutes. A bucket keeps a bitmap of the
// minutes that hold a clean sample, a bitmap of the minutes that hold a
// flagged one, and the sum of the counted values: 24 bytes per hour. At
// most one clean sample counts per minute, the first one received; later
// samples in an occupied minute are counted as duplicates and ignored. This
// is what makes windows idempotent under replay (the same station, metric
// and event time again falls in an occupied minute) within a memory bound:
// exact deduplication of 1 s data would need 3,600 bits per hour. For
// stations that publish once a minute or less often the 1 h mean is the
// arithmetic mean of all samples, as quality.HourlyMeans defines; for faster
// stations it is the mean of one sample per minute. Arrival order decides
// which sample of a minute counts; feeding the same readings in event-time
// order (as a live stream mostly does and a store scan does) gives the same
// state.
//
// Coverage is time-weighted from the minute bitmap. Stations publish every
// 1 to 60 s (every minute of the bitmap is set) or every few minutes (one
// minute in five is set), so a sample stands for the interval after it, as
// in quality.HourlyMeans: each sampled minute covers the minutes up to the
// next sampled one, but no more than the hour's sampling interval, which is
// inferred as the smallest gap between sampled minutes that makes at least
// a quarter of the hour's gaps (1 minute for an hour with a single sample),
// capped by Config.MaxGap (15 min by default). The smallest common gap,
// not the most common one, so that a 1-minute station that lost half its
// samples is not taken for a 2-minute station. So a 5-minute station's twelve samples
// cover 60 minutes, a gap of 20 minutes in 1 s data leaves 20 minutes
// uncovered, and a missing 5-minute sample leaves 5 minutes uncovered. A
// station that publishes once an hour never reaches 45 minutes: it should
// publish 1 h means instead.
//
// The noise level laeq is averaged as energy, Leq = 10·lg(mean 10^(0.1·L))
// (GB 3096-2008, as quality.Leq); every other metric arithmetically.
// Temperatures may be negative: their moving and daily means use the same
// rules with negative values allowed, where quality skips them as not data.
//
// # Time
//
// Bucketing is by event time. A late or out-of-order reading updates its own
// hour. A reading older than Config.Retention before Config.Now, or more than
// Config.MaxFuture after it, is ignored and counted in [Stats]. Hours are
// the clock hours of the station's time zone, so a station in Asia/Kolkata
// (UTC+5:30) has hours that start at half past in UTC.
//
// # Use
//
// Add is safe for concurrent use; stations are spread over sharded locks.
// Subscribe registers a callback that hears of every hour that changed.
// Rebuild fills the windows at start from a store's bulk scan, through the
// small [Scanner] interface declared here.
package windows
