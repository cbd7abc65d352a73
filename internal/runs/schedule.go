package runs

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/backapp/backapp/internal/configs"
	"github.com/backapp/backapp/internal/events"
	"github.com/backapp/backapp/internal/scheduler"
	"github.com/backapp/backapp/internal/store"
)

// AlertLate is the alert rule of a run that started late or missed slots; its
// subject is the config, so a config has at most one open late alert (counted).
const AlertLate = "late"

// scheduleOf reads a config's schedule document through configs.FromStore; nil when
// the config runs only by hand.
func scheduleOf(configID string, doc json.RawMessage) (*configs.Schedule, error) {
	c, err := configs.FromStore(store.BackupConfig{ID: configID, Schedule: doc})
	return c.Schedule, err
}

// SchedulerStore adapts the store to what internal/scheduler needs: scheduled slots
// become queued runs of the config's agent (which is woken at once), and a late run
// raises a "late" alert in the same transaction.
func (s *Service) SchedulerStore() scheduler.Store { return &schedStore{s: s} }

type schedStore struct {
	s  *Service
	mu sync.Mutex
	// configs are the configs of the last ScheduledConfigs, which CreateRun and
	// SkipSlot are called for.
	configs map[string]store.ScheduledConfig
}

// ScheduledConfigs is called at the start of every tick of the leading scheduler,
// so it first flags the scheduled runs that have waited for their agent longer than
// LateAfter: a run whose agent is offline at its slot is late even when no further
// slot comes by to say so (a daily backup).
func (ss *schedStore) ScheduledConfigs(ctx context.Context) ([]scheduler.Config, error) {
	late, err := ss.s.st.FlagLateQueued(ctx, ss.s.now().Add(-ss.s.cfg.LateAfter), func(r store.RunRecord) store.Alert {
		return lateAlert(store.ScheduledConfig{ID: r.ConfigID, UserID: r.UserID, Name: r.ConfigName}, *r.DueAt, ss.s.now())
	})
	for _, r := range late {
		ss.s.log.Warn("scheduled run is late: its agent has not picked it up", "run", r.ID, "config", r.ConfigID, "due", r.DueAt)
		ss.s.cfg.Events.Publish(events.Alert(lateAlert(store.ScheduledConfig{ID: r.ConfigID, UserID: r.UserID, Name: r.ConfigName}, *r.DueAt, ss.s.now())))
	}
	if err != nil {
		ss.s.log.Error("flag late runs", "err", err) // scheduling goes on
	}
	cs, err := ss.s.st.ScheduledConfigs(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]store.ScheduledConfig, len(cs))
	out := make([]scheduler.Config, 0, len(cs))
	for _, c := range cs {
		d, err := scheduleOf(c.ID, c.Schedule)
		if err != nil || d == nil {
			continue // no schedule: run by hand only
		}
		m[c.ID] = c
		sc := scheduler.Config{ID: c.ID, CronExpression: d.CronExpression, Timezone: d.Timezone, Since: c.Since}
		if c.LastScheduled != nil {
			sc.LastScheduled = *c.LastScheduled
		}
		out = append(out, sc)
	}
	ss.mu.Lock()
	ss.configs = m
	ss.mu.Unlock()
	return out, nil
}

func (ss *schedStore) config(ctx context.Context, id string) (store.ScheduledConfig, error) {
	ss.mu.Lock()
	c, ok := ss.configs[id]
	ss.mu.Unlock()
	if ok {
		return c, nil
	}
	bc, err := ss.s.st.GetConfig(ctx, id)
	if err != nil {
		return store.ScheduledConfig{}, err
	}
	c = store.ScheduledConfig{ID: bc.ID, UserID: bc.UserID, AgentID: bc.AgentID, Name: bc.Name}
	if bc.ExecutionMode == "server" {
		c.AgentID = "" // the built-in agent claims server-mode runs
	}
	return c, nil
}

func lateAlert(c store.ScheduledConfig, dueAt, now time.Time) store.Alert {
	return store.Alert{UserID: c.UserID, ConfigID: c.ID, AgentID: c.AgentID, Type: "warning", Rule: AlertLate, Subject: c.ID,
		Ref: dueAt.UTC().Format(time.RFC3339), Timestamp: now,
		Message: fmt.Sprintf("backup %q due at %s is late: it had not started by %s (is its agent offline?)",
			c.Name, dueAt.UTC().Format("2006-01-02 15:04 MST"), now.UTC().Format("2006-01-02 15:04 MST"))}
}

func (ss *schedStore) CreateRun(ctx context.Context, r scheduler.RunRequest) error {
	c, err := ss.config(ctx, r.ConfigID)
	if err != nil {
		return err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	run := store.Run{ID: id.String(), ConfigID: c.ID, UserID: c.UserID, AgentID: c.AgentID, StartTime: r.QueuedAt, Status: StatusQueued}
	q := store.ScheduledRun{Run: &run, Slot: r.Slot, DueAt: r.DueAt, Late: r.Late}
	if r.Late {
		a := lateAlert(c, r.DueAt, r.QueuedAt)
		a.Message = fmt.Sprintf("backup %q due at %s was missed (the server was down or busy); it is queued now, late",
			c.Name, r.DueAt.UTC().Format("2006-01-02 15:04 MST"))
		q.Alert = &a
	}
	if err := ss.s.st.QueueScheduledRun(ctx, q); err != nil {
		return err
	}
	if run.AgentID != "" {
		ss.s.notify(run.AgentID)
	}
	ss.s.cfg.Events.Publish(events.RunStatus(run))
	if q.Alert != nil {
		ss.s.cfg.Events.Publish(events.Alert(*q.Alert))
	}
	return nil
}

func (ss *schedStore) SkipSlot(ctx context.Context, configID string, slot, dueAt time.Time) error {
	c, err := ss.config(ctx, configID)
	if err != nil {
		return err
	}
	// The alert names the waiting run's own due time (dueAt is the slot skipped now).
	var alert store.Alert
	flagged, err := ss.s.st.SkipSlot(ctx, configID, slot, dueAt, func(runDue time.Time) store.Alert {
		alert = lateAlert(c, runDue, ss.s.now())
		return alert
	})
	if flagged {
		ss.s.log.Warn("scheduled run is late: its agent has not picked it up", "config", configID, "due", dueAt)
		ss.s.cfg.Events.Publish(events.Alert(alert))
	}
	return err
}
