package stats

import (
	"context"
	"log/slog"
	"time"
)

// Leader is the scheduler's lead (scheduler.Leader): with several replicas only
// the one holding it records.
type Leader interface {
	TryLead(ctx context.Context) (bool, func(), error)
}

// RecordEvery is how often the storage history records the day.
const RecordEvery = time.Hour

// RecordHistory records today's storage use now and every RecordEvery until ctx
// ends (the day's last record stands), when leader (nil: always) holds the lead.
func (s *Service) RecordHistory(ctx context.Context, leader Leader, log *slog.Logger) {
	record := func() {
		if leader != nil {
			if held, _, err := leader.TryLead(ctx); err != nil || !held {
				return
			}
		}
		if err := s.store.RecordStorageDay(ctx, s.now()); err != nil && ctx.Err() == nil {
			log.Warn("record storage history", "err", err)
		}
	}
	record()
	t := time.NewTicker(RecordEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			record()
		}
	}
}
