package metrics

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/backapp/backapp/internal/events"
	"github.com/backapp/backapp/internal/store"
)

// Store is what a scrape reads.
type Store interface {
	CountRunsByStatus(ctx context.Context) (map[string]int, error)
	CountOpenAlertsByType(ctx context.Context) (map[string]int, error)
	ConfigAges(ctx context.Context) ([]store.ConfigAge, error)
	ListAgents(ctx context.Context, userID string) ([]store.Agent, error)
}

// Subscriber is where the run histograms learn of finished runs (events.Broker).
type Subscriber interface {
	Subscribe(userID string, admin bool, lastID string) (*events.Subscription, []events.Event, bool)
}

// Metrics holds the registry. Create it with New.
type Metrics struct {
	reg      *prometheus.Registry
	duration *prometheus.HistogramVec
	size     *prometheus.HistogramVec
	delivery *prometheus.CounterVec
}

// New registers the collectors. offlineAfter is how long without a heartbeat makes
// an agent offline; now is the clock (time.Now when nil).
func New(st Store, offlineAfter time.Duration, now func() time.Time) *Metrics {
	if now == nil {
		now = time.Now
	}
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "backapp_run_duration_seconds",
		Help:    "Duration of finished backup runs seen by this replica, by status.",
		Buckets: prometheus.ExponentialBuckets(1, 4, 9), // 1 s … 18 h
	}, []string{"status"})
	m.size = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "backapp_run_bytes",
		Help:    "Bytes read by finished backup runs seen by this replica, by status.",
		Buckets: prometheus.ExponentialBuckets(1<<20, 4, 10), // 1 MiB … 256 GiB
	}, []string{"status"})
	m.delivery = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "backapp_notification_deliveries_total",
		Help: "Notification delivery attempts by this replica's outbox workers, by result (delivered, failed and retried, dead, dropped).",
	}, []string{"result"})
	for _, r := range []string{store.MessageDelivered, store.MessageFailed, store.MessageDead, store.MessageDropped} {
		m.delivery.WithLabelValues(r) // present at 0 before the first
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.duration, m.size, m.delivery, &dbCollector{st: st, offlineAfter: offlineAfter, now: now})
	return m
}

// Handler serves the registry to requests bearing token; an empty token serves
// nobody (the caller should not mount it).
func (m *Metrics) Handler(token string) http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if token == "" || !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="backapp metrics"`)
			http.Error(w, "metrics need Authorization: Bearer <the --metrics-token>", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Delivered counts one notification delivery attempt's result (outbox.Observer).
// Each replica counts its own workers' attempts: sum them over replicas.
func (m *Metrics) Delivered(result string) {
	m.delivery.WithLabelValues(result).Inc()
}

// Observe records a finished run's duration and size from its run.status event.
func (m *Metrics) Observe(e events.Event) {
	if e.Type != events.TypeRunStatus {
		return
	}
	var d events.RunData
	if json.Unmarshal(e.Data, &d) != nil || d.EndTime == nil {
		return
	}
	switch d.Status {
	case "completed", "failed", "cancelled":
	default:
		return
	}
	m.duration.WithLabelValues(d.Status).Observe(max(d.EndTime.Sub(d.StartTime), 0).Seconds())
	m.size.WithLabelValues(d.Status).Observe(float64(d.TotalBytes))
}

// Run feeds the histograms from sub until ctx ends. Every replica sees every run
// through the event stream, so each replica's histograms count all runs: query one
// replica's, not their sum.
func (m *Metrics) Run(ctx context.Context, sub Subscriber) {
	for ctx.Err() == nil {
		s, _, _ := sub.Subscribe("", true, "")
		func() {
			defer s.Close()
			for {
				select {
				case <-ctx.Done():
					return
				case e, ok := <-s.C:
					if !ok {
						return
					}
					m.Observe(e)
				}
			}
		}()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

var (
	descRuns = prometheus.NewDesc("backapp_runs", "Backup runs in the database, by status.", []string{"status"}, nil)
	descLast = prometheus.NewDesc("backapp_last_success_timestamp_seconds",
		"End of the last successful backup of each enabled configuration (Unix time); configurations never backed up are absent.",
		[]string{"config_id", "config"}, nil)
	descAgents = prometheus.NewDesc("backapp_agents", "Agents (not revoked, not the built-in one) by state.", []string{"state"}, nil)
	descAlerts = prometheus.NewDesc("backapp_alerts_open", "Unresolved alerts, by type (failure, warning, info).", []string{"type"}, nil)
)

// dbCollector reads the gauges from the database at scrape time, so every replica
// answers the same.
type dbCollector struct {
	st           Store
	offlineAfter time.Duration
	now          func() time.Time
}

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRuns, descLast, descAgents, descAlerts} {
		ch <- d
	}
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if runs, err := c.st.CountRunsByStatus(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(descRuns, err)
	} else {
		for _, s := range []string{"queued", "running", "completed", "failed", "cancelled", "expired"} {
			ch <- prometheus.MustNewConstMetric(descRuns, prometheus.GaugeValue, float64(runs[s]), s)
		}
	}
	if ages, err := c.st.ConfigAges(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(descLast, err)
	} else {
		for _, a := range ages {
			if a.LastSuccess != nil {
				ch <- prometheus.MustNewConstMetric(descLast, prometheus.GaugeValue, float64(a.LastSuccess.UnixNano())/1e9, a.ID, a.Name)
			}
		}
	}
	if agents, err := c.st.ListAgents(ctx, ""); err != nil {
		ch <- prometheus.NewInvalidMetric(descAgents, err)
	} else {
		online, offline := 0, 0
		now := c.now()
		for _, a := range agents {
			if a.Revoked || a.Builtin {
				continue
			}
			if a.LastSeen != nil && now.Sub(*a.LastSeen) <= c.offlineAfter {
				online++
			} else {
				offline++
			}
		}
		ch <- prometheus.MustNewConstMetric(descAgents, prometheus.GaugeValue, float64(online), "online")
		ch <- prometheus.MustNewConstMetric(descAgents, prometheus.GaugeValue, float64(offline), "offline")
	}
	if al, err := c.st.CountOpenAlertsByType(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(descAlerts, err)
	} else {
		for _, t := range []string{"failure", "warning", "info"} {
			ch <- prometheus.MustNewConstMetric(descAlerts, prometheus.GaugeValue, float64(al[t]), t)
		}
	}
}
