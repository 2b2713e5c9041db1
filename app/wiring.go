package app

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/envmon/envmon/alerts"
	alertmqtt "github.com/envmon/envmon/alerts/notify/mqtt"
	"github.com/envmon/envmon/alerts/notify/webhook"
	"github.com/envmon/envmon/alerts/rules"
	"github.com/envmon/envmon/api"
	"github.com/envmon/envmon/api/public"
	"github.com/envmon/envmon/auth"
	"github.com/envmon/envmon/cases"
	"github.com/envmon/envmon/cases/open311"
	"github.com/envmon/envmon/cases/pii"
	"github.com/envmon/envmon/ingest"
	"github.com/envmon/envmon/internal/config"
	"github.com/envmon/envmon/quality"
	"github.com/envmon/envmon/store"
	"github.com/envmon/envmon/windows"
)

// platform holds the components built on the stream of accepted readings:
// the hourly windows, the public air quality, alerts and cases.
type platform struct {
	windows *windows.Windows
	public  *public.Service
	alerts  *alerts.Engine
	cases   *cases.Service
	tokens  *auth.Store
}

// buildPlatform builds the windows, the public resources, alerts and cases
// on the registry, the store and the shared database. It returns the sinks
// the collector feeds, the components to run and the routes to mount.
func (a *App) buildPlatform(ctx context.Context, cfg config.Config) ([]ingest.StreamSink, []Component, []api.Mount, error) {
	// The windows are fed with the registry's live state (ingest.Config.Live).
	p := &a.plat
	var err error
	if p.windows, err = windows.New(windows.Config{Retention: cfg.Public.History, Location: a.stations.Location, Logger: a.log}); err != nil {
		return nil, nil, nil, fmt.Errorf("windows: %w", err)
	}
	var sinks []ingest.StreamSink
	comps := []Component{ComponentFunc{"windows", a.runWindows}}

	standard, _ := parseStandard(cfg.Public.Standard)
	proxies, _ := cfg.TrustedProxies()
	agg, _ := a.store.(store.Aggregator)
	if p.public, err = public.New(public.Config{
		Windows:        p.windows,
		Stations:       public.StationsFunc(a.publicStations),
		Statuses:       public.StatusFunc(a.publicStatus),
		Latest:         a.stations,
		Aggregates:     agg,
		Standard:       standard,
		Retention:      cfg.Public.History,
		TrustedProxies: proxies,
		RateLimit:      cfg.Public.RateLimit,
		Logger:         a.log,
	}); err != nil {
		return nil, nil, nil, err
	}
	comps = append(comps, ComponentFunc{"public", p.public.Run})
	mounts := make([]api.Mount, 0, len(public.Paths)+4)
	for _, path := range public.Paths {
		mounts = append(mounts, api.Mount{Pattern: path, Handler: p.public.Handler()})
	}

	if p.tokens, err = auth.Open(ctx, a.db, nil); err != nil {
		return nil, nil, nil, fmt.Errorf("tokens: %w", err)
	}
	receivers, err := a.receivers(cfg)
	if err != nil {
		return nil, nil, nil, err
	}

	keys, err := pii.Open(pii.Source{File: cfg.Cases.KeyFile, EnvValue: os.Getenv(pii.Env), DataDir: cfg.DataDir})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("cases keys (cases.key_file): %w", err)
	}
	var caseReceivers []cases.Receiver
	for _, r := range receivers {
		caseReceivers = append(caseReceivers, cases.Receiver{Name: r.Name, Notifier: r.Notifier})
	}
	if p.cases, err = cases.New(ctx, cases.Config{
		DB: a.db, Registry: a.stations, Keys: keys, Tokens: p.tokens, Receivers: caseReceivers,
		DefaultTeam: cfg.Cases.DefaultTeam,
		Open311:     cases.Open311Config{Jurisdiction: cfg.Cases.Open311Jurisdiction, APIKeys: splitList(cfg.Cases.Open311APIKeys.Reveal())},
		Logger:      a.log, Registerer: a.reg,
	}); err != nil {
		return nil, nil, nil, err
	}

	set := rules.Default()
	if cfg.Alerts.Rules != "" {
		if set, err = rules.Load(cfg.Alerts.Rules); err != nil {
			return nil, nil, nil, err
		}
	}
	if p.alerts, err = alerts.New(ctx, alerts.Config{
		DB: a.db, Rules: set, Windows: p.windows, Stations: alerts.StationsFunc(a.alertStation),
		Teams:     alerts.TeamsFunc(func(id string) ([]string, string) { return a.alertTeams(id, cfg.Cases.DefaultTeam) }),
		Receivers: append(receivers, alerts.Receiver{Name: "cases", Notifier: p.cases.AlertReceiver()}),
		Replica:   cfg.MQTT.ClientID, Shared: cfg.Ingest.SharedGroup != "", Logger: a.log, Registerer: a.reg,
	}); err != nil {
		return nil, nil, nil, err
	}
	sinks = append(sinks, ingest.StreamSink{Sink: p.alerts})
	comps = append(comps, p.alerts, ComponentFunc{"alerts-dispatcher", p.alerts.Dispatcher().Run}, p.cases)
	mounts = append(mounts,
		api.Mount{Pattern: "/api/v1/alerts", Handler: p.alerts.Routes(p.tokens), Prefix: true},
		api.Mount{Pattern: "/api/v1/cases", Handler: p.cases.Routes(), Prefix: true},
		api.Mount{Pattern: "/api/v1/disclosure/cases", Handler: p.cases.DisclosureHandler()},
		api.Mount{Pattern: "/open311/v2", Handler: open311.NewHandler(p.cases, open311.Config{RateLimit: cfg.Cases.Open311RateLimit, ClientKey: p.public.ClientKey}), Prefix: true},
	)
	return sinks, comps, mounts, nil
}

// receivers are the notifiers of alerts and cases the configuration asks
// for.
func (a *App) receivers(cfg config.Config) ([]alerts.Receiver, error) {
	var rs []alerts.Receiver
	if cfg.Alerts.WebhookURL != "" {
		n, err := webhook.New(webhook.Config{Name: "webhook", URL: cfg.Alerts.WebhookURL, Secret: cfg.Alerts.WebhookSecret})
		if err != nil {
			return nil, fmt.Errorf("alerts.webhook_url: %w", err)
		}
		rs = append(rs, alerts.Receiver{Name: "webhook", Notifier: n})
	}
	if cfg.Alerts.MQTT {
		n, err := alertmqtt.New(alertmqtt.Config{Name: "mqtt"}, alertmqtt.PublisherFunc(a.publish))
		if err != nil {
			return nil, fmt.Errorf("alerts.mqtt: %w", err)
		}
		rs = append(rs, alerts.Receiver{Name: "mqtt", Notifier: n})
	}
	return rs, nil
}

// publish publishes envmon's own messages: through the embedded broker's
// inline client, or the collector's connection to an external one.
func (a *App) publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error {
	if a.broker != nil {
		return a.broker.Publish(topic, payload, retained, qos)
	}
	return a.collector.Publish(ctx, topic, qos, retained, payload)
}

// feedWindows is the windows' sink: the readings of the stations this
// replica owns, in each station's time zone. Windows count a reading
// once however often it comes, so a replay changes nothing.
func (a *App) feedWindows(batch []ingest.Accepted) {
	for i := range batch {
		if batch[i].Owned {
			a.plat.windows.Add(batch[i].Reading, a.stations.Location(batch[i].Station))
		}
	}
}

// runWindows rebuilds the windows from the store, then keeps pruning them.
// The stream's windows sink starts where the store writer is, so between
// the two the windows see every reading (a reading seen twice counts
// once). While the store is down the rebuild is retried; the windows fill
// from the stream meanwhile.
func (a *App) runWindows(ctx context.Context) error {
	if sc, ok := a.store.(windows.Scanner); ok {
		go a.rebuildWindows(ctx, sc)
	}
	return a.plat.windows.Run(ctx, time.Minute)
}

func (a *App) rebuildWindows(ctx context.Context, sc windows.Scanner) {
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		start := time.Now()
		err := a.plat.windows.Rebuild(ctx, sc)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			a.log.Info("rebuilt the hourly windows from the store", "took", time.Since(start).Round(time.Millisecond))
			a.plat.public.Refresh()
			return
		}
		a.log.Warn("rebuilding the hourly windows from the store failed; retrying, and filling them from new readings meanwhile", "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// publicStations maps the registry to the public resources' stations.
func (a *App) publicStations() []public.StationInfo {
	vs := a.stations.List()
	out := make([]public.StationInfo, 0, len(vs))
	for _, v := range vs {
		si := public.StationInfo{
			ID: v.ID, Point: v.Point,
			Name:      public.Name{Zh: v.Name.Zh, En: v.Name.En},
			PointName: public.Name{Zh: v.ServicePoint.Name.Zh, En: v.ServicePoint.Name.En},
			PointType: string(v.ServicePoint.Type),
			Address:   v.ServicePoint.Address,
			Location:  v.TimeZone, NoiseZone: v.NoiseZone, WaterTarget: v.WaterTarget, WaterBody: v.WaterBody,
		}
		if len(v.Media) > 0 {
			si.Medium = v.Media[0]
		}
		if v.Coordinates != nil {
			si.Coordinates = &public.Coordinates{Lat: v.Coordinates.Lat, Lon: v.Coordinates.Lon}
		}
		out = append(out, si)
	}
	return out
}

func (a *App) publicStatus(id string) (public.StationStatus, bool) {
	v, ok := a.stations.Get(id)
	if !ok {
		return public.StationStatus{}, false
	}
	return public.StationStatus{State: string(v.Status), Since: v.StatusAt}, true
}

// alertStation maps the registry to what alerts needs of a station.
func (a *App) alertStation(id string) (alerts.StationInfo, bool) {
	v, ok := a.stations.Get(id)
	if !ok {
		return alerts.StationInfo{}, false
	}
	return alerts.StationInfo{ID: v.ID, Point: v.Point, Media: v.Media, Location: v.TimeZone,
		NoiseZone: v.NoiseZone, WaterTarget: v.WaterTarget, WaterBody: v.WaterBody}, true
}

// alertTeams gives alerts the teams that may act on a station's alerts,
// and its grid cell: the teams whose cells cover it, as cases routes a
// case of it, or the default team (cases.default_team) when none does.
func (a *App) alertTeams(id, defaultTeam string) (teams []string, grid string) {
	v, ok := a.stations.Get(id)
	if !ok {
		return nil, ""
	}
	g := v.ServicePoint.Grid
	if !g.IsZero() {
		for _, t := range a.stations.Teams(g) {
			teams = append(teams, t.ID)
		}
	}
	if len(teams) == 0 && defaultTeam != "" {
		teams = []string{defaultTeam}
	}
	return teams, g.String()
}

// stationOffline tells alerts that a station is shown offline: by its
// last will, or because its connection ended.
func (a *App) stationOffline(point, id string, at time.Time) {
	if a.plat.alerts == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.plat.alerts.StationDisconnected(ctx, point, id, at); err != nil {
		a.log.Warn("telling alerts a station went offline failed", "station", id, "err", err)
	}
}

func parseStandard(s string) (quality.Standard, error) {
	if s == "" {
		return 0, nil // by the data's time
	}
	return quality.ParseStandard(s)
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
