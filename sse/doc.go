// Package sse fans events out to their subscribers (Hub) and serves them
// as server-sent events (Serve): the live streams of alerts and cases.
//
// sse imports the standard library only.
package sse
