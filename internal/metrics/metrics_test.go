package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/events"
	"github.com/backapp/backapp/internal/store"
)

// emptyStore is a database with nothing in it.
type emptyStore struct{}

func (emptyStore) CountRunsByStatus(context.Context) (map[string]int, error)     { return nil, nil }
func (emptyStore) CountOpenAlertsByType(context.Context) (map[string]int, error) { return nil, nil }
func (emptyStore) ConfigAges(context.Context) ([]store.ConfigAge, error)         { return nil, nil }
func (emptyStore) ListAgents(context.Context, string) ([]store.Agent, error)     { return nil, nil }

// TestObserveFinishedRuns: finished runs' events fill the histograms by status;
// progress and unfinished runs do not.
func TestObserveFinishedRuns(t *testing.T) {
	m := New(emptyStore{}, 5*time.Minute, nil)
	start := time.Date(2026, 8, 3, 12, 0, 0, 0, time.UTC)
	end := start.Add(90 * time.Second)
	m.Observe(events.RunStatus(store.Run{ID: "r1", Status: "completed", StartTime: start, EndTime: &end, TotalBytes: 3 << 20}))
	m.Observe(events.RunStatus(store.Run{ID: "r2", Status: "running", StartTime: start}))
	m.Observe(events.RunProgress(store.Run{ID: "r3", Status: "running", StartTime: start}, store.RunProgress{Time: end}))
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "backapp_run_duration_seconds" {
			continue
		}
		if len(f.GetMetric()) != 1 {
			t.Fatalf("duration series = %d, want 1 (completed)", len(f.GetMetric()))
		}
		h := f.GetMetric()[0].GetHistogram()
		if h.GetSampleCount() != 1 || h.GetSampleSum() != 90 {
			t.Errorf("duration histogram: count %d sum %v, want 1 and 90 s", h.GetSampleCount(), h.GetSampleSum())
		}
		return
	}
	t.Error("no backapp_run_duration_seconds gathered")
}
