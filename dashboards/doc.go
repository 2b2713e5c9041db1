// Package dashboards holds what operators look at: the Prometheus scrape
// configuration and Grafana provisioning used by docker-compose.yml. Grafana
// dashboards and the Grafana data source plugin (with its own go.mod, to keep
// the service's module lean) come with the dashboards issue.
//
// dashboards contains no service code and imports nothing of envmon's.
package dashboards
