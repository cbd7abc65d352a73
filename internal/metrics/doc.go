// Package metrics serves GET /metrics in Prometheus' exposition format: runs by
// status, run duration and size histograms, the last successful backup of each
// configuration, agents online and offline, open alerts by type, and the Go and
// process collectors. docs/monitoring.md has the scrape config and example rules.
package metrics
