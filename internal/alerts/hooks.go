package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/backapp/backapp/internal/destinations"
	"github.com/backapp/backapp/internal/events"
	"github.com/backapp/backapp/internal/store"
)

// The rules other services report: they see the cause as it happens, on whichever
// replica handles it, and raising is idempotent, so no lead is needed.

// DestinationChecked raises the destination's alert when its connection test failed
// (wrong credentials, missing bucket, unreachable) and resolves it when it passed;
// internal/destinations calls it (destinations.CheckReporter).
func (s *Service) DestinationChecked(ctx context.Context, d store.Destination, r destinations.TestResult) {
	var err error
	if r.OK {
		_, err = s.Resolve(ctx, RuleDestination, d.ID, "the connection test passed: "+r.Message)
	} else {
		_, _, err = s.Raise(ctx, store.Alert{UserID: d.UserID, Type: TypeFailure, Rule: RuleDestination, Subject: d.ID,
			Ref: string(r.Cause) + ": " + clip(r.Message, 200), Timestamp: s.now().UTC(),
			Message: fmt.Sprintf("storage destination %q failed its connection test (%s): %s", d.Name, r.Cause, clip(r.Message, 1000))})
	}
	if err != nil {
		s.log.Error("destination alert", "destination", d.ID, "err", err)
	}
}

// RetentionDone raises the config's retention alert when retention could not delete
// what it should, and resolves it after a pass that could; internal/runs calls it
// (runs.RetentionReporter).
func (s *Service) RetentionDone(ctx context.Context, c store.BackupConfig, cause error) {
	var err error
	if cause == nil {
		_, err = s.Resolve(ctx, RuleRetention, c.ID, "retention deleted what it should")
	} else {
		now := s.now().UTC()
		_, _, err = s.Raise(ctx, store.Alert{UserID: c.UserID, ConfigID: c.ID, Type: TypeWarning, Rule: RuleRetention, Subject: c.ID,
			Ref: now.Format("2006-01-02T15:04:05.000000Z"), Timestamp: now,
			Message: fmt.Sprintf("retention of %q could not delete what its policy expires; the archives stay until it can: %s", c.Name, clip(cause.Error(), 1000))})
	}
	if err != nil {
		s.log.Error("retention alert", "config", c.ID, "err", err)
	}
}

// checksumWords are what a restore's error says when an archive's bytes are not
// the ones recorded (internal/engine: upload.ErrChecksum, archive.ErrContent, the
// manifest check).
var checksumWords = []string{"sha256 mismatch", "checksum mismatch", "does not match the manifest"}

// RestoreFinished raises a checksum alert about the backup run whose archive failed
// its checksum in restore e, and resolves it when a later restore of that run
// completes. Watch calls it for every restore.status event.
func (s *Service) RestoreFinished(ctx context.Context, e events.Event) error {
	var d events.RestoreData
	if err := json.Unmarshal(e.Data, &d); err != nil {
		return fmt.Errorf("read restore event: %w", err)
	}
	switch d.Status {
	case store.RestoreCompleted:
		_, err := s.Resolve(ctx, RuleChecksum, d.RunID, fmt.Sprintf("restore %s of the same backup completed with every checksum matching", d.RestoreID))
		return err
	case store.RestoreFailed:
		low := strings.ToLower(d.Error)
		for _, w := range checksumWords {
			if strings.Contains(low, w) {
				_, _, err := s.Raise(ctx, store.Alert{UserID: e.UserID, AgentID: d.AgentID, Type: TypeFailure, Rule: RuleChecksum,
					Subject: d.RunID, Ref: d.RestoreID, Timestamp: s.now().UTC(),
					Message: fmt.Sprintf("the archive of backup run %s failed its checksum during restore %s: %s", d.RunID, d.RestoreID, clip(d.Error, 1000))})
				return err
			}
		}
	}
	return nil
}
