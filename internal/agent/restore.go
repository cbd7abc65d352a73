package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"filippo.io/age"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/engine"
	"github.com/backapp/backapp/internal/engine/archive"
	"github.com/backapp/backapp/internal/engine/seal"
)

// RestoreRequest is one restore to run.
type RestoreRequest struct {
	RunID       string     // the run to restore
	PointInTime *time.Time // or: the newest run at or before this time (with RunID naming any run of the config)
	Target      string     // directory; created if missing
	Paths       []string   // subset (paths or globs); empty: everything
	Overwrite   bool
	// Unportable: names the target cannot hold are renamed (default) or skipped.
	Unportable archive.UnportableNames
	Identities []age.Identity // nil: the Runner's
	OnProgress func(engine.RestoreProgress)
	// ProgressEvery is how often, at most, OnProgress is called while extracting (0:
	// the engine's default).
	ProgressEvery time.Duration
}

// Restore restores a run's chain into a directory through pre-signed GETs, asking the
// server for fresh URLs when they expire. Nothing is written outside Target.
func (r *Runner) Restore(ctx context.Context, req RestoreRequest) (engine.RestoreResult, error) {
	if req.RunID == "" && req.PointInTime == nil {
		return engine.RestoreResult{}, errors.New("restore: a run id or a point in time is needed")
	}
	if req.Target == "" {
		return engine.RestoreResult{}, errors.New("restore: the target directory is needed")
	}
	target, err := filepath.Abs(req.Target)
	if err != nil {
		return engine.RestoreResult{}, fmt.Errorf("restore: target %s: %w", req.Target, err)
	}
	if r.CheckRestore != nil {
		if err := r.CheckRestore(ctx, target); err != nil {
			return engine.RestoreResult{}, fmt.Errorf("restore: %w", err)
		}
	}
	cs := &chainSource{c: r.Client, runID: req.RunID, pointInTime: req.PointInTime, now: r.now}
	chain, err := cs.load(ctx)
	if err != nil {
		return engine.RestoreResult{}, fmt.Errorf("restore run %s: %w", req.RunID, err)
	}
	ids := req.Identities
	if ids == nil {
		ids = r.Identities
	}
	refs := make([]engine.ArchiveRef, len(chain))
	for i, a := range chain {
		if a.Encrypted && len(ids) == 0 {
			return engine.RestoreResult{}, fmt.Errorf("restore run %s: archive of run %s is encrypted and this agent has no key for it: the server never holds age identities, so give one with --identity FILE (to backapp-agent restore, or to enroll for restores started on the server) or the passphrase (--passphrase-stdin)", req.RunID, a.RunID)
		}
		refs[i] = engine.ArchiveRef{Archive: cs.url(i, false), SHA256: a.ArchiveSHA256, Size: a.ArchiveSize, ManifestSHA256: a.ManifestSHA256}
		if a.ManifestURL != "" {
			refs[i].Manifest = cs.url(i, true)
		}
	}
	// "restoring", not "run": a run's page shows the lines tagged with its id as its own.
	log := r.log().With("restoring", req.RunID, "target", target)
	var prefix, tmpDir string
	if r.State != nil { // so that a crash leaves no temporary file after the next start
		var end func()
		if prefix, tmpDir, end, err = r.State.BeginRestore(target); err != nil {
			return engine.RestoreResult{}, fmt.Errorf("restore run %s: %w", req.RunID, err)
		}
		defer end()
	}
	log.Info("restore started", "archives", len(refs), "paths", strings.Join(req.Paths, ","))
	res, err := engine.Restore(ctx, engine.RestoreOptions{Target: target, Chain: refs, Identities: ids,
		Include: req.Paths, Overwrite: req.Overwrite, Unportable: req.Unportable, Download: r.Upload, Progress: req.OnProgress,
		ProgressEvery: req.ProgressEvery, Log: log, TempPrefix: prefix, TempDir: tmpDir})
	if err != nil {
		log.Error("restore failed", "err", err, "files", res.Files)
		return res, fmt.Errorf("restore run %s to %s: %w", req.RunID, target, err)
	}
	log.Info("restore completed", "files", res.Files, "bytes", res.Bytes, "renamed", res.RenamedCount, "skipped", res.SkippedCount)
	return res, nil
}

// LoadIdentities reads age identity files (as age-keygen writes them).
func LoadIdentities(files ...string) ([]age.Identity, error) {
	var ids []age.Identity
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read identity file: %w", err)
		}
		is, err := seal.ParseIdentities(string(b))
		if err != nil {
			return nil, fmt.Errorf("identity file %s: %w", f, err)
		}
		ids = append(ids, is...)
	}
	return ids, nil
}

// PassphraseIdentity opens archives encrypted with a passphrase.
func PassphraseIdentity(passphrase string) (age.Identity, error) {
	return seal.PassphraseIdentity(passphrase)
}

// restoreCommand runs a restore the server asked for, reports its progress while it
// runs (stopping when the answer says the user cancelled it) and its outcome.
func (r *Runner) restoreCommand(ctx context.Context, spec agentproto.RestoreSpec) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var mu sync.Mutex
	var latest engine.RestoreProgress
	every := r.ProgressEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	done := make(chan struct{})
	reported := make(chan struct{})
	go func() {
		defer close(reported)
		var sent engine.RestoreProgress
		reportEvery(ctx, every, done, func(ctx context.Context) bool {
			mu.Lock()
			p := latest
			mu.Unlock()
			if p == sent {
				return true // nothing new; the heartbeat says the restore is alive
			}
			resp, err := r.Client.RestoreProgress(ctx, agentproto.RestoreProgressRequest{RestoreID: spec.RestoreID,
				Archive: p.Archive, BytesDownloaded: p.BytesDownloaded, FilesWritten: p.Files, BytesWritten: p.Bytes})
			var ae *APIError
			switch {
			case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
				r.log().Info("restore: the server takes no progress reports (older server)", "restore", spec.RestoreID)
				return false
			case err != nil:
				r.log().Debug("restore: progress not reported", "restore", spec.RestoreID, "err", err)
				return true
			case resp.Cancel:
				cancel(ErrCancelled)
				return false
			}
			sent = p
			return true
		})
	}()
	unportable, err := archive.ParseUnportableNames(spec.UnportableNames)
	var ids []age.Identity                   // nil: the Runner's
	if err == nil && spec.Passphrase != "" { // this restore's only: kept nowhere
		var id age.Identity
		if id, err = PassphraseIdentity(spec.Passphrase); err == nil {
			ids = append(slices.Clone(r.Identities), id)
		}
	}
	if err == nil && spec.Identity != "" { // likewise: the user gave it for this restore
		var given []age.Identity
		if given, err = seal.ParseIdentities(spec.Identity); err != nil {
			err = fmt.Errorf("the identity given for this restore: %w", err)
		} else {
			if ids == nil {
				ids = slices.Clone(r.Identities)
			}
			ids = append(ids, given...)
		}
	}
	var res engine.RestoreResult
	if err == nil {
		res, err = r.Restore(ctx, RestoreRequest{RunID: spec.RunID, PointInTime: spec.PointInTime, Target: spec.TargetDir,
			Paths: spec.Paths, Overwrite: spec.Overwrite, Unportable: unportable, ProgressEvery: min(time.Second, every),
			Identities: ids,
			OnProgress: func(p engine.RestoreProgress) {
				mu.Lock()
				latest = p
				mu.Unlock()
			}})
	}
	close(done)
	<-reported
	rep := agentproto.RestoreCompleteRequest{RestoreID: spec.RestoreID, Status: agentproto.StatusCompleted,
		FilesWritten: res.Files, BytesWritten: res.Bytes, RenamedCount: res.RenamedCount, SkippedCount: res.SkippedCount}
	for _, n := range res.Renamed {
		rep.Renamed = append(rep.Renamed, agentproto.RenamedFile{Path: n.Path, RestoredAs: n.RestoredAs})
	}
	for _, n := range res.Skipped {
		rep.Skipped = append(rep.Skipped, agentproto.FileError{Path: n.Path, Message: n.Reason})
	}
	switch {
	case err != nil && ctx.Err() != nil:
		rep.Status, rep.Error = agentproto.StatusCancelled, "cancelled: "+context.Cause(ctx).Error()
		if _, what, ok := strings.Cut(err.Error(), "; restored "); ok { // the engine's account of what is in place
			rep.Error += "; restored " + what
		}
		err = fmt.Errorf("restore %s: %w", spec.RestoreID, context.Cause(ctx))
	case err != nil:
		rep.Status, rep.Error = agentproto.StatusFailed, err.Error()
	}
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), r.Client.Patience()+time.Minute)
	defer ccancel()
	if rerr := r.Client.RestoreComplete(cctx, rep); rerr != nil {
		return errors.Join(err, fmt.Errorf("report restore %s: %w", spec.RestoreID, rerr))
	}
	return err
}
