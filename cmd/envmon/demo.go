package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"

	"github.com/envmon/envmon/simulators"
	"github.com/envmon/envmon/station"
	"github.com/envmon/envmon/station/demo"
)

// demoPoint and demoStation are where demo's example command publishes: a
// point of the demo registry, and a station it does not list, so that the
// reading the user sends stays the station's latest and the station shows
// registered on first sight.
const (
	demoPoint   = "p-civic"
	demoStation = "my-station"
)

// demoRegistry returns the station registry demo ships (station/demo):
// five service points of a fictional city and twenty stations.
func demoRegistry() *station.File {
	f, err := demo.Registry()
	if err != nil {
		panic(err) // embedded, and checked by station/demo's tests
	}
	return &f
}

// demoSim is the configuration of demo's simulated stations: the
// registry's, st-1 to st-20, then generated ones beyond --sim-stations 20
// (simulators.Layout); client ids envmon-sim-st-N.
func demoSim(broker string, reg *station.File, stations int, rate float64, logger *slog.Logger) simulators.Config {
	return simulators.Config{
		Broker:   broker,
		Registry: reg,
		Stations: stations,
		Rate:     rate,
		QoS:      1,
		Seed:     1,
		Logger:   logger,
	}
}

// demoBanner prints where the demo serves and the exact commands to try
// against the ports it chose, which are not the defaults when those were
// taken. The mosquitto_pub payload takes its timestamp from the shell
// when the command runs, in Unix milliseconds.
func demoBanner(w io.Writer, httpURL, brokerURL string, stations int) {
	host, port := "127.0.0.1", "1883"
	if u, err := url.Parse(brokerURL); err == nil && u.Host != "" {
		// Only the host and port: credentials in the URL are never printed.
		if h, p, err := net.SplitHostPort(u.Host); err == nil {
			host, port = h, p
		}
	}
	topic := fmt.Sprintf("envmon/%s/%s/air", demoPoint, demoStation)
	fmt.Fprintf(w, `envmon demo: %d simulated stations publishing to %s
Open %s/ in a browser (API: %s/api/v1/stations). Ctrl-C stops.

Try it, with the ports this demo chose:
  # publish a reading as a new station at point %s
  mosquitto_pub -h %s -p %s -q 1 -t %s -m '{"ts":'"$(date +%%s)000"',"values":{"pm25":42.5}}'
  # read it back
  curl %s/api/v1/stations/%s/latest
  # run a scripted day of a faulty sensor and check what envmon made of it
  go run ./cmd/envmon sim --scenario faulty-sensor --speed 600 --broker %s --verify %s
`, stations, redactURL(brokerURL), httpURL, httpURL,
		demoPoint, host, port, topic,
		httpURL, demoStation,
		redactURL(brokerURL), httpURL)
}

// redactURL returns u without its password.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return u
	}
	return p.Redacted()
}
