package runs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/configs"
	"github.com/backapp/backapp/internal/retention"
	"github.com/backapp/backapp/internal/scheduler"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/store"
)

// RetentionReport says what one retention pass did.
type RetentionReport struct {
	Configs     int      // configs with a policy that were planned
	Expired     []string // run ids marked expired
	DeletedKeys []string // object keys deleted (or already gone)
}

// maxRuns bounds the runs of one config a pass reads.
const maxRuns = 1 << 20

// policyOf reads the retention policy of c through configs.FromStore, the one parser of
// a configuration's documents (the zero Policy when none or unreadable). The options
// and the schedule are read apart, as before: a broken document is a config problem
// that costs its own rule only (no policy keeps all; no timezone counts days in UTC).
func policyOf(c store.BackupConfig) retention.Policy {
	var p retention.Policy
	if cfg, err := configs.FromStore(store.BackupConfig{ID: c.ID, Options: c.Options}); err == nil {
		o := cfg.Options
		p = retention.Policy{WithinDays: o.RetentionDays, KeepLast: o.KeepLast, KeepDaily: o.KeepDaily,
			KeepWeekly: o.KeepWeekly, KeepMonthly: o.KeepMonthly}
	}
	if sc, err := scheduleOf(c.ID, c.Schedule); err == nil && sc != nil && sc.Timezone != "" {
		if loc, err := time.LoadLocation(sc.Timezone); err == nil {
			p.Location = loc
		}
	}
	return p
}

// Retain runs one retention pass over every config with a policy: for each run the
// plan deletes, dependents first, it deletes the archive and manifest objects and
// the server's sealed catalog copy (storage.CatalogKey) through the run's
// destination (objects already gone are fine), marks the run expired and records a
// "retention.delete" audit entry naming the keys. A failure stops that config's pass
// (what is left is still whole: deletions go dependents first) and is returned,
// joined with the others, after the other configs ran.
func (s *Service) Retain(ctx context.Context) (RetentionReport, error) {
	var rep RetentionReport
	if s.dests == nil {
		return rep, errors.New("retention: no destinations configured")
	}
	configs, err := s.st.ListConfigs(ctx, "")
	if err != nil {
		return rep, fmt.Errorf("retention: list configs: %w", err)
	}
	var errs []error
	for _, c := range configs {
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		p := policyOf(c)
		if p.Empty() {
			continue
		}
		rep.Configs++
		err := s.retainConfig(ctx, c, p, &rep)
		if err != nil {
			errs = append(errs, fmt.Errorf("retention of config %s: %w", c.ID, err))
		}
		if s.cfg.Retention != nil && ctx.Err() == nil {
			s.cfg.Retention.RetentionDone(ctx, c, err)
		}
	}
	return rep, errors.Join(errs...)
}

func (s *Service) retainConfig(ctx context.Context, c store.BackupConfig, p retention.Policy, rep *RetentionReport) error {
	all, err := s.st.ListRuns(ctx, store.RunFilter{ConfigID: c.ID, Limit: maxRuns})
	if err != nil {
		return err
	}
	runs := make([]retention.Run, 0, len(all))
	byID := make(map[string]store.Run, len(all))
	for _, r := range all {
		if r.Status == StatusExpired {
			continue
		}
		byID[r.ID] = r
		var keys []string
		for _, k := range []string{r.S3Path, r.ManifestKey} {
			if k != "" {
				keys = append(keys, k)
			}
		}
		if r.S3Path != "" {
			// The server's sealed copy of the manifest goes with the run's objects.
			keys = append(keys, storage.CatalogKey(r.UserID, r.ConfigID, r.ID))
		}
		runs = append(runs, retention.Run{ID: r.ID, Time: r.StartTime, Status: r.Status, Full: r.Full,
			PreviousRunID: r.PreviousRunID, Keys: keys})
	}
	plan, err := retention.Plan(runs, p, s.now())
	if err != nil {
		return err
	}
	for _, w := range plan.Warnings {
		s.log.Warn("retention", "config", c.ID, "warning", w)
	}
	for _, d := range plan.Delete {
		r := byID[d.Run.ID]
		if len(d.Run.Keys) > 0 {
			dest, err := s.dests.Resolve(ctx, c.UserID, r.DestinationID)
			if err != nil {
				return fmt.Errorf("run %s: destination: %w", r.ID, err)
			}
			for _, k := range d.Run.Keys {
				if err := dest.Delete(ctx, k); err != nil && !errors.Is(err, storage.ErrNotFound) {
					return fmt.Errorf("run %s: delete %s: %w", r.ID, k, err)
				}
			}
		}
		if err := s.st.ExpireRun(ctx, r.ID, s.now()); err != nil {
			return err
		}
		rep.Expired = append(rep.Expired, r.ID)
		rep.DeletedKeys = append(rep.DeletedKeys, d.Run.Keys...)
		detail := fmt.Sprintf("config %s: %s; deleted %s", c.ID, d.Reason, strings.Join(d.Run.Keys, ", "))
		if len(d.Run.Keys) == 0 {
			detail = fmt.Sprintf("config %s: %s; no objects", c.ID, d.Reason)
		}
		s.audit(ctx, "", "retention.delete", r.ID, auth.Meta{}, detail)
	}
	return nil
}

// RunRetention runs Retain every interval while leader leads (shared with the
// scheduler: the same replica does both), until ctx is cancelled. The first pass is
// one interval after the start, so a restarting server does not hammer storage.
func (s *Service) RunRetention(ctx context.Context, leader scheduler.Leader, every time.Duration) {
	if every <= 0 {
		every = time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		held, _, err := leader.TryLead(ctx)
		if err != nil || !held {
			continue // the scheduler's loop reports leadership trouble
		}
		rep, err := s.Retain(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error("retention pass", "err", err)
		}
		if len(rep.Expired) > 0 {
			s.log.Info("retention pass", "configs", rep.Configs, "expired", len(rep.Expired), "objects", len(rep.DeletedKeys))
		}
	}
}
