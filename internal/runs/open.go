package runs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/events"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/store"
)

// Start opens a run of one of agent ag's configs: it takes over the queued run (or
// creates one), decides full or incremental, names the archive, starts the multipart
// uploads of the archive and its manifest and hands out the first part URLs.
func (l *Lifecycle) Start(ctx context.Context, ag store.Agent, req agentproto.BackupStartRequest) (agentproto.BackupStartResponse, error) {
	cfg, pc, err := l.runConfig(ctx, ag, req.ConfigID)
	if err != nil {
		return agentproto.BackupStartResponse{}, err
	}
	now := l.now()
	run, err := l.openRun(ctx, ag, cfg, req.RunID, now)
	if err != nil {
		return agentproto.BackupStartResponse{}, err
	}
	resp, err := l.startUploads(ctx, ag, &run, pc, now)
	if err != nil {
		return agentproto.BackupStartResponse{}, err
	}
	l.log.Info("backup run started", "run", run.ID, "config", cfg.ID, "agent", ag.ID, "full", run.Full, "key", run.S3Path)
	return resp, nil
}

func (l *Lifecycle) startUploads(ctx context.Context, ag store.Agent, run *store.Run, pc AgentConfig, now time.Time) (agentproto.BackupStartResponse, error) {
	var none agentproto.BackupStartResponse
	dest, err := l.resolve(ctx, ag.UserID, pc.DestinationID)
	if err != nil {
		l.finish(ctx, nil, run, agentproto.StatusFailed, "storage destination unavailable: "+err.Error(), now)
		return none, err
	}
	if err := l.chooseBase(ctx, run, pc, now); err != nil {
		l.finish(ctx, nil, run, agentproto.StatusFailed, err.Error(), now)
		return none, err
	}
	run.DestinationID = pc.DestinationID
	run.Encrypted = pc.Options.Encryption
	if run.S3Path, err = l.archiveKey(ctx, ag, run, pc, now); err != nil {
		l.finish(ctx, nil, run, agentproto.StatusFailed, "name the archive: "+err.Error(), now)
		return none, err
	}
	run.ManifestKey = storage.ManifestKey(run.S3Path)
	if !storage.KeyUnder(run.S3Path, storage.AgentPrefix(ag.UserID, ag.ID)) {
		return none, fmt.Errorf("backup start: archive key %q outside the agent's prefix", run.S3Path)
	}
	// Record the run as running before the uploads exist, so that a crash between
	// leaves a run the reaper fails rather than uploads nobody knows of.
	if err := l.st.UpdateRun(ctx, run); err != nil {
		return none, err
	}
	l.events.Publish(events.RunStatus(*run))
	if run.ArchiveUploadID, err = dest.CreateMultipart(ctx, run.S3Path); err != nil {
		l.finish(ctx, dest, run, agentproto.StatusFailed, "start upload: "+err.Error(), now)
		return none, storageErr("start the archive upload", err)
	}
	if run.ManifestUpload, err = dest.CreateMultipart(ctx, run.ManifestKey); err != nil {
		l.finish(ctx, dest, run, agentproto.StatusFailed, "start upload: "+err.Error(), now)
		return none, storageErr("start the manifest upload", err)
	}
	if err := l.st.UpdateRun(ctx, run); err != nil {
		l.abortUploads(ctx, dest, run)
		return none, err
	}
	resp, err := l.started(ctx, *run, pc)
	if err != nil {
		return none, err
	}
	for n := 1; n <= l.cfg.FirstParts; n++ {
		p, err := l.partURL(ctx, dest, run, agentproto.ObjectArchive, n)
		if err != nil {
			return none, err
		}
		resp.Parts = append(resp.Parts, p)
	}
	return resp, nil
}

// started is what the agent is told of a run it starts or resumes.
func (l *Lifecycle) started(ctx context.Context, run store.Run, pc AgentConfig) (agentproto.BackupStartResponse, error) {
	resp := agentproto.BackupStartResponse{RunID: run.ID, ArchiveKey: run.S3Path, ManifestKey: run.ManifestKey,
		Full: run.Full, Config: pc.Proto, Deltas: true}
	if !run.Full {
		prev, err := l.st.GetRun(ctx, run.PreviousRunID)
		if err != nil {
			return agentproto.BackupStartResponse{}, err
		}
		resp.Previous = &agentproto.PreviousRun{RunID: prev.ID, ManifestSHA256: prev.ManifestSHA256}
	}
	return resp, nil
}

// archiveKey names the run's archive after the second it starts, as the seed does
// (backup-YYYY-MM-DD-HHMMSS), with -2, -3, … appended when runs of the config already
// hold that name: runs of one configuration can start within one second, and an
// incremental chain must never name an archive twice.
func (l *Lifecycle) archiveKey(ctx context.Context, ag store.Agent, run *store.Run, pc AgentConfig, now time.Time) (string, error) {
	// Runs name their archive after their start time, so only runs started from this
	// second on (later ones too, should the clock have gone back) can hold the name;
	// servers before the suffix moved a taken name a few seconds later: look a minute
	// back. The last completed run is what an incremental's chain ends in.
	since := now.Truncate(time.Second).Add(-time.Minute)
	taken := map[string]bool{}
	if last, err := l.st.LastCompletedRun(ctx, run.ConfigID); err == nil {
		taken[last.S3Path] = true
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	const page = 500
	for off := 0; ; off += page {
		runs, err := l.st.ListRuns(ctx, store.RunFilter{ConfigID: run.ConfigID, Since: since, Limit: page, Offset: off})
		if err != nil {
			return "", err
		}
		for _, r := range runs {
			if r.ID != run.ID && r.S3Path != "" {
				taken[r.S3Path] = true
			}
		}
		if len(runs) < page {
			break
		}
	}
	for n := 1; ; n++ {
		key := storage.ArchiveKeyN(ag.UserID, ag.ID, run.ConfigID, now, n, pc.Proto.Options.Compression, run.Encrypted)
		if !taken[key] {
			return key, nil
		}
	}
}

// Resume lets an agent that restarted continue a run from its checkpoint: the run
// must still be running, on this agent, with both multipart uploads open. Its
// progress is refreshed, so the reaper counts its silence from now.
func (l *Lifecycle) Resume(ctx context.Context, ag store.Agent, req agentproto.BackupResumeRequest) (agentproto.BackupStartResponse, error) {
	var none agentproto.BackupStartResponse
	run, err := l.ownRun(ctx, ag, req.RunID)
	if err != nil {
		return none, err
	}
	if run.Status != agentproto.StatusRunning || run.ArchiveUploadID == "" || run.ManifestUpload == "" {
		return none, apperr.New(apperr.Conflict, "run %s is %s; it cannot be resumed", run.ID, run.Status)
	}
	cfg, pc, err := l.runConfig(ctx, ag, run.ConfigID)
	if err != nil {
		return none, err
	}
	if err := l.st.RecordRunProgress(ctx, run.ID, store.RunProgress{Time: l.now(), FilesProcessed: run.FilesProcessed,
		FilesSkipped: run.FilesSkipped, TotalBytes: run.TotalBytes, BytesTransfer: run.BytesTransfer}); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return none, apperr.New(apperr.Conflict, "run %s finished meanwhile; it cannot be resumed", run.ID)
		}
		return none, err
	}
	resp, err := l.started(ctx, run, pc)
	if err != nil {
		return none, err
	}
	l.log.Info("backup run resumed", "run", run.ID, "config", cfg.ID, "agent", ag.ID, "key", run.S3Path)
	return resp, nil
}

// openRun returns the run to execute, as running: the queued one (taken over), or a new
// one. A run of the config still running on this same agent is from before the agent
// restarted: it is failed and its uploads aborted. Running elsewhere: 409.
func (l *Lifecycle) openRun(ctx context.Context, ag store.Agent, cfg store.BackupConfig, wantID string, now time.Time) (store.Run, error) {
	for attempt := 0; ; attempt++ {
		var queued *store.Run
		for _, status := range []string{agentproto.StatusRunning, agentproto.StatusQueued} {
			runs, err := l.st.ListRuns(ctx, store.RunFilter{ConfigID: cfg.ID, Status: status, Limit: 1})
			if err != nil {
				return store.Run{}, err
			}
			if len(runs) == 0 {
				continue
			}
			old := runs[0]
			if status == agentproto.StatusQueued {
				queued = &old
				continue
			}
			if old.AgentID != ag.ID {
				return store.Run{}, apperr.New(apperr.Conflict, "a run of configuration %s is already running", cfg.ID)
			}
			l.log.Warn("backup start: failing the run the agent left running (it restarted)", "run", old.ID, "agent", ag.ID)
			if err := l.finish(ctx, nil, &old, agentproto.StatusFailed, msgRestartedBackup, now); err != nil {
				return store.Run{}, err
			}
		}
		if wantID != "" && (queued == nil || queued.ID != wantID) {
			run, err := l.st.GetRun(ctx, wantID)
			if err != nil || run.ConfigID != cfg.ID || run.UserID != ag.UserID {
				return store.Run{}, errNoRun(wantID)
			}
			return store.Run{}, apperr.New(apperr.Conflict, "run %s is already %s", run.ID, run.Status)
		}
		var run store.Run
		if queued != nil {
			run = *queued
		} else {
			run = store.Run{ConfigID: cfg.ID, UserID: ag.UserID, AgentID: ag.ID, StartTime: now, CreatedAt: now, Status: agentproto.StatusRunning}
			err := l.st.CreateRun(ctx, &run)
			if errors.Is(err, store.ErrConflict) && attempt < 2 {
				continue // queued or started meanwhile: look again
			}
			if errors.Is(err, store.ErrConflict) {
				return store.Run{}, apperr.Wrap(apperr.Conflict, err, "a run of configuration %s is already running", cfg.ID)
			}
			if err != nil {
				return store.Run{}, err
			}
		}
		run.AgentID, run.Status, run.StartTime, run.ProgressAt = ag.ID, agentproto.StatusRunning, now, &now
		run.CancelRequested = false
		return run, nil
	}
}

// chooseBase decides full or incremental: full when the config says so, for the first
// run, when the last completed run went to another destination or has no manifest,
// every FullEvery runs of a chain, and when the chain's full backup is FullEveryDays old.
func (l *Lifecycle) chooseBase(ctx context.Context, run *store.Run, pc AgentConfig, now time.Time) error {
	run.Full, run.PreviousRunID = true, ""
	if pc.Proto.Options.Type == "full" {
		return nil
	}
	last, err := l.st.LastCompletedRun(ctx, run.ConfigID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if last.DestinationID != pc.DestinationID || last.ManifestSHA256 == "" || last.Encrypted != pc.Options.Encryption {
		return nil
	}
	if pc.Options.FullEvery > 0 || pc.Options.FullEveryDays > 0 {
		chain, err := Chain(ctx, l.st, last)
		if err != nil {
			return nil // a broken chain gets a new full backup
		}
		if pc.Options.FullEvery > 0 && len(chain) >= pc.Options.FullEvery {
			return nil
		}
		if days := pc.Options.FullEveryDays; days > 0 && !now.Before(chain[0].StartTime.AddDate(0, 0, days)) {
			return nil
		}
	}
	run.Full, run.PreviousRunID = false, last.ID
	return nil
}
