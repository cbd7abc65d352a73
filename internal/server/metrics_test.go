package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/backapp/backapp/internal/config"
	"github.com/backapp/backapp/internal/store"
)

// TestMetricsScrape: /metrics answers only the bearer token, and what it answers
// parses with Prometheus' own parser into the documented families with the values
// the database holds.
func TestMetricsScrape(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := start(t, db, func(c *config.Config) { c.MetricsToken = "scrape-me" })
		c := e.Client()
		uid := registerID(t, c, "ops@example.com")
		agentID, key, _ := c.CreateAgent("box")
		c.Heartbeat(key, "")
		ctx := context.Background()
		now := time.Now().UTC()
		cfg := store.BackupConfig{UserID: uid, Name: "docs", Enabled: true, ExecutionMode: "agent", AgentID: agentID,
			Sources: json.RawMessage(`[{"path":"/srv"}]`), Destination: json.RawMessage(`{"destinationId":""}`),
			Options: json.RawMessage(`{}`), CreatedAt: now, UpdatedAt: now}
		if err := e.App.Store.CreateConfig(ctx, &cfg); err != nil {
			t.Fatal(err)
		}
		end := now.Add(time.Minute)
		for _, st := range []string{"completed", "failed", "failed"} {
			r := store.Run{ConfigID: cfg.ID, UserID: uid, AgentID: agentID, StartTime: now, EndTime: &end, Status: st}
			if err := e.App.Store.CreateRun(ctx, &r); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.App.Alerts.Evaluate(ctx); err != nil {
			t.Fatal(err)
		}

		get := func(auth string) *http.Response {
			t.Helper()
			req, _ := http.NewRequest("GET", e.Srv.URL+"/metrics", nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { resp.Body.Close() })
			return resp
		}
		for _, auth := range []string{"", "Bearer wrong", "scrape-me"} {
			if r := get(auth); r.StatusCode != http.StatusUnauthorized {
				t.Errorf("/metrics with %q = %d, want 401", auth, r.StatusCode)
			}
		}
		resp := get("Bearer scrape-me")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/metrics with the token = %d", resp.StatusCode)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(resp.Body)
		if err != nil {
			t.Fatalf("Prometheus' parser refuses /metrics: %v", err)
		}
		value := func(name string, labels map[string]string) float64 {
			t.Helper()
			f, ok := fams[name]
			if !ok {
				t.Fatalf("no %s in /metrics", name)
			}
		next:
			for _, m := range f.GetMetric() {
				for _, lp := range m.GetLabel() {
					if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
						continue next
					}
				}
				if m.GetGauge() != nil {
					return m.GetGauge().GetValue()
				}
				if m.GetCounter() != nil {
					return m.GetCounter().GetValue()
				}
				return float64(m.GetHistogram().GetSampleCount())
			}
			t.Fatalf("no %s%v in /metrics", name, labels)
			return 0
		}
		checks := []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{"backapp_runs", map[string]string{"status": "failed"}, 2},
			{"backapp_runs", map[string]string{"status": "completed"}, 1},
			{"backapp_agents", map[string]string{"state": "online"}, 1},
			{"backapp_alerts_open", map[string]string{"type": "failure"}, 1},
			{"backapp_notification_deliveries_total", map[string]string{"result": "dead"}, 0}, // no channel
			{"backapp_last_success_timestamp_seconds", map[string]string{"config": "docs"}, float64(end.Truncate(time.Microsecond).UnixNano()) / 1e9},
		}
		for _, c := range checks {
			if got := value(c.name, c.labels); got != c.want {
				t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
			}
		}
		for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
			if _, ok := fams[name]; !ok {
				t.Errorf("no %s in /metrics", name)
			}
		}
	})
}

// TestMetricsOffWithoutToken: without --metrics-token there is no /metrics.
func TestMetricsOffWithoutToken(t *testing.T) {
	e := start(t, "")
	r := e.Client().Send("GET", "/metrics", "", nil)
	if r.Status != http.StatusNotFound {
		t.Errorf("/metrics without a token configured = %d, want 404", r.Status)
	}
}
