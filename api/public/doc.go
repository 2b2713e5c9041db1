// Package public serves the public air, water and noise resources of
// envmon's API: the current AQI of every air station, its history, water
// classes, noise levels, rankings, nearest stations and a stream of
// updates, with the OpenAPI 3 document that describes them.
//
// # Where the numbers come from
//
// Every index, class and limit is computed by package quality, never
// here: HJ 633-2026 and HJ 633-2012 (the hourly report of
// quality.Standard.RealTime and the daily report of quality.Standard.Daily),
// the US EPA AQI of EPA-454/B-24-002 with NowCast, the surface water classes
// of GB 3838-2002 and the noise limits of GB 3096-2008. The hourly means,
// their coverage and the 8 h and 24 h moving means come from package
// windows, which holds them in memory; /api/v1/aqi is answered from a
// snapshot computed from the windows when an hour changes, never from a
// query per request.
//
// # Time base
//
// Every value carries the period it averages as start and end. A period is
// labelled by its end, as China's national real-time publishing platform
// labels hours: the hourly report "16:00" is the hour 15:00-16:00 in the
// station's time zone. The current report of a station is that of the last
// hour that has ended. A value that is missing or invalid is null, never a
// placeholder string, with a reason code beside it (see [Reason]).
//
// # History
//
// /api/v1/stations/{id}/aqi answers from the windows, so it reaches back as
// far as their retention (72 h by default); hours before that are not
// listed, and the response says from when it has data (available_from).
// Downsampled readings over any range are served by the raw readings route
// of package api with every= and fn=, from the store's aggregated queries.
//
// # Behaviour
//
// Bad parameters get 400 with an application/problem+json body naming the
// parameter and what is allowed. Responses carry ETag and Last-Modified and
// a Cache-Control max-age that ends at the next scheduled update; public
// routes allow any origin (CORS) and are rate-limited per client, where the
// client is the peer address unless the peer is a trusted proxy.
package public
