package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/store"
)

// SummaryStore is what the daily summary needs from the database.
type SummaryStore interface {
	ChannelsFor(ctx context.Context, event string) ([]store.Channel, error)
	CountActivity(ctx context.Context, userID string, since time.Time) (store.Activity, error)
	Enqueue(ctx context.Context, m *store.Message) (bool, error)
}

// Leader limits the summaries to one replica (scheduler.Leader); the outbox's dedupe
// key makes a second replica's harmless anyway.
type Leader interface {
	TryLead(ctx context.Context) (bool, func(), error)
}

// Summaries queues the daily summary of every channel that wants one, once a UTC day
// from Hour on: the last 24 hours' runs and alerts of the channel's owner.
type Summaries struct {
	Store   SummaryStore
	Leader  Leader // nil: always
	Logger  *slog.Logger
	Now     func() time.Time
	BaseURL string
	Hour    int           // UTC hour from which a day's summary is sent (7)
	Every   time.Duration // how often to look (10 min)
}

// Pass queues today's summaries not queued yet and returns how many it queued.
func (s *Summaries) Pass(ctx context.Context) (int, error) {
	now := time.Now().UTC()
	if s.Now != nil {
		now = s.Now().UTC()
	}
	hour := s.Hour
	if hour <= 0 {
		hour = 7
	}
	if now.Hour() < hour {
		return 0, nil
	}
	chans, err := s.Store.ChannelsFor(ctx, EventSummary)
	if err != nil {
		return 0, fmt.Errorf("daily summary: %w", err)
	}
	since := now.Add(-24 * time.Hour)
	day := now.Format("2006-01-02")
	payloads := map[string][]byte{}
	n := 0
	for _, c := range chans {
		body, ok := payloads[c.UserID]
		if !ok {
			a, err := s.Store.CountActivity(ctx, c.UserID, since)
			if err != nil {
				return n, fmt.Errorf("daily summary: %w", err)
			}
			body = s.payload(a, since, now)
			payloads[c.UserID] = body
		}
		added, err := s.Store.Enqueue(ctx, &store.Message{ChannelID: c.ID, UserID: c.UserID, Event: EventSummary,
			Dedupe: "summary:" + day, Payload: body, NextAttemptAt: now, CreatedAt: now})
		if err != nil {
			return n, fmt.Errorf("daily summary: %w", err)
		}
		if added {
			n++
		}
	}
	return n, nil
}

func (s *Summaries) payload(a store.Activity, since, now time.Time) []byte {
	title := fmt.Sprintf("Daily summary: %d backups completed, %d failed", a.RunsCompleted, a.RunsFailed)
	text := fmt.Sprintf("In the 24 hours before %s: %d backups completed and %d failed; %d alerts opened and %d resolved; %d alerts open now.",
		now.Format("2006-01-02 15:04 MST"), a.RunsCompleted, a.RunsFailed, a.AlertsOpened, a.AlertsResolved, a.AlertsOpen)
	p := Payload{Version: Version, Event: EventSummary, Title: title, Text: text, Timestamp: now,
		Summary: &Summary{Since: since, Opened: a.AlertsOpened, Resolved: a.AlertsResolved, Open: a.AlertsOpen,
			RunsFailed: a.RunsFailed, RunsComplete: a.RunsCompleted}}
	if base := strings.TrimRight(s.BaseURL, "/"); base != "" {
		p.URL = base + "/dashboard"
	}
	b, err := json.Marshal(p)
	if err != nil {
		panic("notify: marshal summary: " + err.Error()) // numbers, strings and times
	}
	return b
}

// Run queues summaries every Every on the replica holding Leader until ctx ends.
func (s *Summaries) Run(ctx context.Context) {
	every := s.Every
	if every <= 0 {
		every = 10 * time.Minute
	}
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		lead := s.Leader == nil
		if !lead {
			held, _, err := s.Leader.TryLead(ctx)
			lead = err == nil && held
		}
		if lead {
			if n, err := s.Pass(ctx); err != nil && ctx.Err() == nil {
				log.Error("daily summary", "err", err)
			} else if n > 0 {
				log.Info("daily summaries queued", "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
