package agentapi

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/events"
	"github.com/backapp/backapp/internal/httpx"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/store"
)

// maxParts is S3's limit on the parts of one upload; maxPartsPerRequest bounds one
// backup/parts request.
const (
	maxParts           = 10000
	maxPartsPerRequest = 100
	maxChain           = 1000 // longest incremental chain followed
	maxFileErrors      = 1000
)

func errNoConfig(id string) error {
	return apperr.New(apperr.NotFound, "no configuration %q is assigned to this agent", id)
}

func errNoRun(id string) error {
	return apperr.New(apperr.NotFound, "no run %q of this agent", id)
}

func (a *API) resolve(ctx context.Context, userID, destinationID string) (storage.Destination, error) {
	d, err := a.cfg.Destinations.Resolve(ctx, userID, destinationID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) || apperr.KindOf(err) == apperr.NotFound {
			return nil, apperr.Wrap(apperr.Conflict, err, "the configuration's storage destination no longer exists; edit the configuration")
		}
		return nil, apperr.Wrap(apperr.Unavailable, err, "storage destination unavailable")
	}
	return d, nil
}

func storageErr(what string, err error) error {
	return apperr.Wrap(apperr.Unavailable, err, "%s: the storage destination failed (%s); try again", what, storage.CauseOf(err))
}

// backupStart opens a run of one of the agent's configs: it takes over the queued run
// (or creates one), decides full or incremental, starts the multipart uploads of the
// archive and its manifest and hands out the first part URLs.
func (a *API) backupStart(w http.ResponseWriter, r *http.Request, ag store.Agent) error {
	var req agentproto.BackupStartRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	cfg, err := a.st.GetConfig(ctx, req.ConfigID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !ownConfig(cfg, ag) {
		return errNoConfig(req.ConfigID)
	}
	if err != nil {
		return err
	}
	pc, err := a.agentConfig(cfg)
	if err != nil {
		return apperr.Wrap(apperr.Conflict, err, "configuration %s is not valid; edit it in the web interface", cfg.ID)
	}
	now := a.now()

	run, err := a.openRun(ctx, ag, cfg, req.RunID, now)
	if err != nil {
		return err
	}
	dest, err := a.resolve(ctx, ag.UserID, pc.destination)
	if err != nil {
		a.finish(ctx, nil, &run, agentproto.StatusFailed, "storage destination unavailable: "+err.Error(), now)
		return err
	}
	if err := a.chooseBase(ctx, &run, pc, now); err != nil {
		a.finish(ctx, nil, &run, agentproto.StatusFailed, err.Error(), now)
		return err
	}
	run.DestinationID = pc.destination
	run.Encrypted = pc.opts.Encryption
	if run.S3Path, err = a.archiveKey(ctx, ag, &run, pc, now); err != nil {
		a.finish(ctx, nil, &run, agentproto.StatusFailed, "name the archive: "+err.Error(), now)
		return err
	}
	run.ManifestKey = storage.ManifestKey(run.S3Path)
	if !storage.KeyUnder(run.S3Path, storage.AgentPrefix(ag.UserID, ag.ID)) {
		return fmt.Errorf("backup start: archive key %q outside the agent's prefix", run.S3Path)
	}
	// Record the run as running before the uploads exist, so that a crash between
	// leaves a run the reaper fails rather than uploads nobody knows of.
	if err := a.st.UpdateRun(ctx, &run); err != nil {
		return err
	}
	a.events.Publish(events.RunStatus(run))
	if run.ArchiveUploadID, err = dest.CreateMultipart(ctx, run.S3Path); err != nil {
		a.finish(ctx, dest, &run, agentproto.StatusFailed, "start upload: "+err.Error(), now)
		return storageErr("start the archive upload", err)
	}
	if run.ManifestUpload, err = dest.CreateMultipart(ctx, run.ManifestKey); err != nil {
		a.finish(ctx, dest, &run, agentproto.StatusFailed, "start upload: "+err.Error(), now)
		return storageErr("start the manifest upload", err)
	}
	if err := a.st.UpdateRun(ctx, &run); err != nil {
		a.abortUploads(ctx, dest, &run)
		return err
	}
	resp := agentproto.BackupStartResponse{RunID: run.ID, ArchiveKey: run.S3Path, ManifestKey: run.ManifestKey,
		Full: run.Full, Config: pc.proto}
	if !run.Full {
		prev, err := a.st.GetRun(ctx, run.PreviousRunID)
		if err != nil {
			return err
		}
		resp.Previous = &agentproto.PreviousRun{RunID: prev.ID, ManifestSHA256: prev.ManifestSHA256}
	}
	for n := 1; n <= a.cfg.FirstParts; n++ {
		p, err := a.partURL(ctx, dest, &run, agentproto.ObjectArchive, n)
		if err != nil {
			return err
		}
		resp.Parts = append(resp.Parts, p)
	}
	a.log.Info("backup run started", "run", run.ID, "config", cfg.ID, "agent", ag.ID, "full", run.Full, "key", run.S3Path)
	httpx.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// archiveKey names the run's archive after the second it starts, as the seed does
// (backup-YYYY-MM-DD-HHMMSS), with -2, -3, … appended when runs of the config already
// hold that name: runs of one configuration can start within one second, and an
// incremental chain must never name an archive twice.
func (a *API) archiveKey(ctx context.Context, ag store.Agent, run *store.Run, pc agentConfig, now time.Time) (string, error) {
	// Runs name their archive after their start time, so only runs started from this
	// second on (later ones too, should the clock have gone back) can hold the name;
	// servers before the suffix moved a taken name a few seconds later: look a minute
	// back. The last completed run is what an incremental's chain ends in.
	since := now.Truncate(time.Second).Add(-time.Minute)
	taken := map[string]bool{}
	if last, err := a.st.LastCompletedRun(ctx, run.ConfigID); err == nil {
		taken[last.S3Path] = true
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	const page = 500
	for off := 0; ; off += page {
		runs, err := a.st.ListRuns(ctx, store.RunFilter{ConfigID: run.ConfigID, Since: since, Limit: page, Offset: off})
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
		key := storage.ArchiveKeyN(ag.UserID, ag.ID, run.ConfigID, now, n, pc.proto.Options.Compression, run.Encrypted)
		if !taken[key] {
			return key, nil
		}
	}
}

// backupResume lets an agent that restarted continue a run from its checkpoint: the
// run must still be running, on this agent, with both multipart uploads open. Its
// progress is refreshed, so the reaper counts its silence from now.
func (a *API) backupResume(w http.ResponseWriter, r *http.Request, ag store.Agent) error {
	var req agentproto.BackupResumeRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	run, err := a.ownRun(ctx, ag, req.RunID)
	if err != nil {
		return err
	}
	if run.Status != agentproto.StatusRunning || run.ArchiveUploadID == "" || run.ManifestUpload == "" {
		return apperr.New(apperr.Conflict, "run %s is %s; it cannot be resumed", run.ID, run.Status)
	}
	cfg, err := a.st.GetConfig(ctx, run.ConfigID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !ownConfig(cfg, ag) {
		return errNoConfig(run.ConfigID)
	}
	if err != nil {
		return err
	}
	pc, err := a.agentConfig(cfg)
	if err != nil {
		return apperr.Wrap(apperr.Conflict, err, "configuration %s is not valid; edit it in the web interface", cfg.ID)
	}
	if err := a.st.RecordRunProgress(ctx, run.ID, store.RunProgress{Time: a.now(), FilesProcessed: run.FilesProcessed,
		FilesSkipped: run.FilesSkipped, TotalBytes: run.TotalBytes, BytesTransfer: run.BytesTransfer}); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return apperr.New(apperr.Conflict, "run %s finished meanwhile; it cannot be resumed", run.ID)
		}
		return err
	}
	resp := agentproto.BackupStartResponse{RunID: run.ID, ArchiveKey: run.S3Path, ManifestKey: run.ManifestKey,
		Full: run.Full, Config: pc.proto}
	if !run.Full {
		prev, err := a.st.GetRun(ctx, run.PreviousRunID)
		if err != nil {
			return err
		}
		resp.Previous = &agentproto.PreviousRun{RunID: prev.ID, ManifestSHA256: prev.ManifestSHA256}
	}
	a.log.Info("backup run resumed", "run", run.ID, "config", cfg.ID, "agent", ag.ID, "key", run.S3Path)
	httpx.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// openRun returns the run to execute, as running: the queued one (taken over), or a new
// one. A run of the config still running on this same agent is from before the agent
// restarted: it is failed and its uploads aborted. Running elsewhere: 409.
func (a *API) openRun(ctx context.Context, ag store.Agent, cfg store.BackupConfig, wantID string, now time.Time) (store.Run, error) {
	for attempt := 0; ; attempt++ {
		var queued *store.Run
		for _, status := range []string{agentproto.StatusRunning, agentproto.StatusQueued} {
			runs, err := a.st.ListRuns(ctx, store.RunFilter{ConfigID: cfg.ID, Status: status, Limit: 1})
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
			a.log.Warn("backup start: failing the run the agent left running (it restarted)", "run", old.ID, "agent", ag.ID)
			if err := a.finish(ctx, nil, &old, agentproto.StatusFailed, msgRestartedBackup, now); err != nil {
				return store.Run{}, err
			}
		}
		if wantID != "" && (queued == nil || queued.ID != wantID) {
			run, err := a.st.GetRun(ctx, wantID)
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
			err := a.st.CreateRun(ctx, &run)
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
func (a *API) chooseBase(ctx context.Context, run *store.Run, pc agentConfig, now time.Time) error {
	run.Full, run.PreviousRunID = true, ""
	if pc.proto.Options.Type == "full" {
		return nil
	}
	last, err := a.st.LastCompletedRun(ctx, run.ConfigID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if last.DestinationID != pc.destination || last.ManifestSHA256 == "" || last.Encrypted != pc.opts.Encryption {
		return nil
	}
	if pc.opts.FullEvery > 0 || pc.opts.FullEveryDays > 0 {
		chain, err := a.chain(ctx, last)
		if err != nil {
			return nil // a broken chain gets a new full backup
		}
		if pc.opts.FullEvery > 0 && len(chain) >= pc.opts.FullEvery {
			return nil
		}
		if days := pc.opts.FullEveryDays; days > 0 && !now.Before(chain[0].StartTime.AddDate(0, 0, days)) {
			return nil
		}
	}
	run.Full, run.PreviousRunID = false, last.ID
	return nil
}

// chain returns the runs from the full backup up to last, oldest first.
func (a *API) chain(ctx context.Context, last store.Run) ([]store.Run, error) {
	out := []store.Run{last}
	for cur := last; !cur.Full; {
		if len(out) >= maxChain || cur.PreviousRunID == "" {
			return nil, fmt.Errorf("run %s: incremental chain broken or longer than %d", last.ID, maxChain)
		}
		prev, err := a.st.GetRun(ctx, cur.PreviousRunID)
		if err != nil {
			return nil, fmt.Errorf("run %s: previous run %s: %w", cur.ID, cur.PreviousRunID, err)
		}
		if prev.Status != agentproto.StatusCompleted || prev.UserID != last.UserID || prev.ConfigID != last.ConfigID {
			return nil, fmt.Errorf("run %s: previous run %s is %s", cur.ID, prev.ID, prev.Status)
		}
		out = append(out, prev)
		cur = prev
	}
	slices.Reverse(out)
	return out, nil
}

// partURL presigns a PUT of one part of the run's archive or manifest upload.
func (a *API) partURL(ctx context.Context, dest storage.Destination, run *store.Run, object string, n int) (agentproto.PartURL, error) {
	key, upload := run.S3Path, run.ArchiveUploadID
	if object == agentproto.ObjectManifest {
		key, upload = run.ManifestKey, run.ManifestUpload
	}
	// The keys were made under the agent's prefix at start; check again so no code
	// path can ever presign another agent's key.
	if !storage.KeyUnder(key, storage.AgentPrefix(run.UserID, run.AgentID)) || upload == "" {
		return agentproto.PartURL{}, fmt.Errorf("presign part %d of run %s: key %q outside the agent's prefix or no upload", n, run.ID, key)
	}
	p, err := dest.PresignPart(ctx, key, upload, n, a.cfg.URLTTL)
	if err != nil {
		return agentproto.PartURL{}, storageErr("presign an upload URL", err)
	}
	out := agentproto.PartURL{Object: object, PartNumber: n, URL: p.URL, Method: p.Method, ExpiresAt: p.Expires}
	if len(p.Header) > 0 {
		out.Header = map[string]string{}
		for k, v := range p.Header {
			if len(v) > 0 {
				out.Header[k] = v[0]
			}
		}
	}
	return out, nil
}

// ownRun returns a run of this agent, or NotFound (never saying whether it exists).
func (a *API) ownRun(ctx context.Context, ag store.Agent, id string) (store.Run, error) {
	run, err := a.st.GetRun(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && (run.AgentID != ag.ID || run.UserID != ag.UserID) {
		return store.Run{}, errNoRun(id)
	}
	return run, err
}

func (a *API) backupParts(w http.ResponseWriter, r *http.Request, ag store.Agent) error {
	var req agentproto.PartsRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	run, err := a.ownRun(ctx, ag, req.RunID)
	if err != nil {
		return err
	}
	if run.Status != agentproto.StatusRunning {
		return apperr.New(apperr.Conflict, "run %s is %s; it takes no more uploads", run.ID, run.Status)
	}
	if req.Object != agentproto.ObjectArchive && req.Object != agentproto.ObjectManifest {
		return apperr.Invalidf("object", "object must be %q or %q", agentproto.ObjectArchive, agentproto.ObjectManifest)
	}
	if len(req.PartNumbers) == 0 || len(req.PartNumbers) > maxPartsPerRequest {
		return apperr.Invalidf("partNumbers", "ask for 1 to %d parts at a time", maxPartsPerRequest)
	}
	for _, n := range req.PartNumbers {
		if n < 1 || n > maxParts {
			return apperr.Invalidf("partNumbers", "part number %d is outside 1..%d", n, maxParts)
		}
	}
	dest, err := a.resolve(ctx, run.UserID, run.DestinationID)
	if err != nil {
		return err
	}
	out := agentproto.PartsResponse{Parts: make([]agentproto.PartURL, 0, len(req.PartNumbers))}
	for _, n := range req.PartNumbers {
		p, err := a.partURL(ctx, dest, &run, req.Object, n)
		if err != nil {
			return err
		}
		out.Parts = append(out.Parts, p)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

func progressOf(p agentproto.Progress, now time.Time) store.RunProgress {
	return store.RunProgress{Time: now, FilesProcessed: p.FilesDone, FilesSkipped: p.FilesSkipped,
		TotalBytes: p.BytesScanned, BytesTransfer: p.BytesUploaded}
}

// backupProgress records progress and answers cancel when the user cancelled the run,
// or when the run is no longer running (the reaper failed it).
func (a *API) backupProgress(w http.ResponseWriter, r *http.Request, ag store.Agent) error {
	var req agentproto.Progress
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	run, err := a.ownRun(ctx, ag, req.RunID)
	if err != nil {
		return err
	}
	cancel := run.CancelRequested || run.Status != agentproto.StatusRunning
	if run.Status == agentproto.StatusRunning {
		p := progressOf(req, a.now())
		err := a.st.RecordRunProgress(ctx, run.ID, p)
		if errors.Is(err, store.ErrNotFound) {
			cancel = true // finished meanwhile
		} else if err != nil {
			return err
		} else {
			a.events.Publish(events.RunProgress(run, p))
		}
	}
	httpx.WriteJSON(w, http.StatusOK, agentproto.ProgressResponse{Cancel: cancel})
	return nil
}

// checkObject checks an agent's account of an uploaded object: parts numbered 1..n in
// order, none empty, sizes adding up to the size, a SHA-256.
func checkObject(what string, o *agentproto.UploadedObject) error {
	if o == nil {
		return fmt.Errorf("no account of the %s upload", what)
	}
	if len(o.Parts) == 0 || len(o.Parts) > maxParts {
		return fmt.Errorf("%s: %d parts; want 1 to %d", what, len(o.Parts), maxParts)
	}
	var sum int64
	for i, p := range o.Parts {
		if p.PartNumber != i+1 {
			return fmt.Errorf("%s: part %d listed at position %d; parts must be numbered 1..%d in order", what, p.PartNumber, i+1, len(o.Parts))
		}
		if p.Size <= 0 || p.ETag == "" {
			return fmt.Errorf("%s: part %d has no size or no ETag", what, p.PartNumber)
		}
		sum += p.Size
	}
	if sum != o.Size {
		return fmt.Errorf("%s: parts add up to %d bytes but the size is %d", what, sum, o.Size)
	}
	if b, err := hex.DecodeString(o.SHA256); err != nil || len(b) != 32 {
		return fmt.Errorf("%s: sha256 %q is not 64 hex digits", what, o.SHA256)
	}
	return nil
}

func toParts(o *agentproto.UploadedObject) []storage.Part {
	out := make([]storage.Part, len(o.Parts))
	for i, p := range o.Parts {
		out[i] = storage.Part{Number: p.PartNumber, ETag: p.ETag, Size: p.Size}
	}
	return out
}

// backupComplete ends a run. For completed it checks the parts, completes both uploads
// and checks the stored archive's size; any problem fails the run (uploads aborted,
// nothing left looking complete). failed and cancelled abort the uploads.
func (a *API) backupComplete(w http.ResponseWriter, r *http.Request, ag store.Agent) error {
	var req agentproto.BackupCompleteRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	run, err := a.ownRun(ctx, ag, req.RunID)
	if err != nil {
		return err
	}
	if run.Status != agentproto.StatusRunning {
		return apperr.New(apperr.Conflict, "run %s is already %s", run.ID, run.Status)
	}
	now := a.now()
	// Fresh progress first: a reaper pass that read the run as silent re-reads it
	// before failing it and leaves it alone.
	if err := a.st.RecordRunProgress(ctx, run.ID, progressOf(req.Progress, now)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	run.FilesProcessed, run.FilesSkipped = req.FilesDone, req.FilesSkipped
	run.TotalBytes, run.BytesTransfer = req.BytesScanned, req.BytesUploaded
	dest, err := a.resolve(ctx, run.UserID, run.DestinationID)
	if err != nil {
		return err
	}
	errs := req.Errors
	if len(errs) > maxFileErrors {
		errs = errs[:maxFileErrors]
	}
	switch req.Status {
	case agentproto.StatusFailed, agentproto.StatusCancelled:
		msg := clip(req.Error, 4<<10)
		if msg == "" && req.Status == agentproto.StatusFailed {
			msg = "the agent reported the run failed"
		}
		if err := a.finishWith(ctx, dest, &run, req.Status, msg, errs, now); err != nil {
			return err
		}
	case agentproto.StatusCompleted:
		if err := a.complete(ctx, dest, &run, &req, errs, now); err != nil {
			return err
		}
	default:
		return apperr.Invalidf("status", "status must be completed, failed or cancelled")
	}
	a.log.Info("backup run finished", "run", run.ID, "agent", ag.ID, "status", run.Status, "key", run.S3Path, "size", run.ArchiveSize)
	out := agentproto.BackupCompleteResponse{RunID: run.ID, Status: run.Status}
	if run.Status == agentproto.StatusCompleted {
		out.S3Path = run.S3Path
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) complete(ctx context.Context, dest storage.Destination, run *store.Run, req *agentproto.BackupCompleteRequest, errs []agentproto.FileError, now time.Time) error {
	refuse := func(cause error) error {
		msg := "completion refused: " + cause.Error()
		if err := a.finishWith(ctx, dest, run, agentproto.StatusFailed, msg, errs, now); err != nil {
			return err
		}
		return apperr.Wrap(apperr.Invalid, cause, "%s; the run is marked failed", msg)
	}
	if err := checkObject("archive", req.Archive); err != nil {
		return refuse(err)
	}
	if err := checkObject("manifest", req.Manifest); err != nil {
		return refuse(err)
	}
	if err := dest.CompleteMultipart(ctx, run.S3Path, run.ArchiveUploadID, toParts(req.Archive)); err != nil {
		if isClientFault(err) {
			return refuse(fmt.Errorf("complete the archive upload: %w", err))
		}
		return storageErr("complete the archive upload", err) // transient: the agent retries
	}
	run.ArchiveUploadID = ""
	if err := dest.CompleteMultipart(ctx, run.ManifestKey, run.ManifestUpload, toParts(req.Manifest)); err != nil {
		if isClientFault(err) {
			a.deleteObject(ctx, dest, run.S3Path)
			return refuse(fmt.Errorf("complete the manifest upload: %w", err))
		}
		_ = a.st.UpdateRun(ctx, run) // the archive upload is gone; keep the record right
		return storageErr("complete the manifest upload", err)
	}
	run.ManifestUpload = ""
	for _, o := range []struct {
		key  string
		want int64
	}{{run.S3Path, req.Archive.Size}, {run.ManifestKey, req.Manifest.Size}} {
		st, err := dest.Stat(ctx, o.key)
		if err != nil {
			return storageErr("check the stored object", err)
		}
		if st.Size != o.want {
			a.deleteObject(ctx, dest, run.S3Path)
			a.deleteObject(ctx, dest, run.ManifestKey)
			return refuse(fmt.Errorf("stored object %s is %d bytes, the agent reported %d", o.key, st.Size, o.want))
		}
	}
	end := now
	dur := end.Sub(run.StartTime).Milliseconds()
	run.Status, run.EndTime, run.DurationMS, run.ProgressAt = agentproto.StatusCompleted, &end, &dur, &end
	run.ArchiveSHA256, run.ArchiveSize = req.Archive.SHA256, req.Archive.Size
	run.ManifestSHA256, run.ManifestSize = req.Manifest.SHA256, req.Manifest.Size
	run.Errors = fileErrorsJSON("", errs)
	if err := a.st.UpdateRun(ctx, run); err != nil {
		return err
	}
	a.events.Publish(events.RunStatus(*run))
	return nil
}

// isClientFault reports whether the destination refused the completion because of what
// the agent reported (wrong ETag, missing part), not a passing failure.
func isClientFault(err error) bool {
	switch storage.CauseOf(err) {
	case storage.CauseInvalid, storage.CauseNotFound:
		return true
	}
	return errors.Is(err, storage.ErrNotFound)
}

func (a *API) deleteObject(ctx context.Context, dest storage.Destination, key string) {
	if err := dest.Delete(ctx, key); err != nil && !errors.Is(err, storage.ErrNotFound) {
		a.log.Warn("delete a refused object", "key", key, "err", err)
	}
}

// fileErrorsJSON is the errors column: [{"path","message"}], the run's own message first
// with an empty path; nil when there is nothing.
func fileErrorsJSON(msg string, errs []agentproto.FileError) json.RawMessage {
	list := make([]agentproto.FileError, 0, len(errs)+1)
	if msg != "" {
		list = append(list, agentproto.FileError{Message: msg})
	}
	for _, e := range errs {
		list = append(list, agentproto.FileError{Path: clip(e.Path, 4<<10), Message: clip(e.Message, 1<<10)})
	}
	if len(list) == 0 {
		return nil
	}
	b, _ := json.Marshal(list)
	return b
}

// finish ends a run that is not completed, aborting its open uploads. dest may be nil:
// it is resolved from the run.
func (a *API) finish(ctx context.Context, dest storage.Destination, run *store.Run, status, msg string, now time.Time) error {
	return a.finishWith(ctx, dest, run, status, msg, nil, now)
}

func (a *API) finishWith(ctx context.Context, dest storage.Destination, run *store.Run, status, msg string, errs []agentproto.FileError, now time.Time) error {
	if dest == nil && (run.ArchiveUploadID != "" || run.ManifestUpload != "") {
		d, err := a.cfg.Destinations.Resolve(ctx, run.UserID, run.DestinationID)
		if err != nil {
			a.log.Warn("abort uploads: destination unavailable; its lifecycle rule must clean up", "run", run.ID, "err", err)
		} else {
			dest = d
		}
	}
	if dest != nil {
		a.abortUploads(ctx, dest, run)
	}
	end := now
	run.Status, run.EndTime = status, &end
	if !run.StartTime.IsZero() {
		dur := max(end.Sub(run.StartTime), 0).Milliseconds()
		run.DurationMS = &dur
	}
	run.Errors = fileErrorsJSON(msg, errs)
	if err := a.st.UpdateRun(ctx, run); err != nil {
		return fmt.Errorf("record run %s as %s: %w", run.ID, status, err)
	}
	a.events.Publish(events.RunStatus(*run))
	return nil
}

// abortUploads aborts the run's open multipart uploads; a missing one is fine.
func (a *API) abortUploads(ctx context.Context, dest storage.Destination, run *store.Run) {
	for _, u := range []struct{ key, id *string }{{&run.S3Path, &run.ArchiveUploadID}, {&run.ManifestKey, &run.ManifestUpload}} {
		if *u.id == "" {
			continue
		}
		if err := dest.AbortMultipart(ctx, *u.key, *u.id); err != nil && !errors.Is(err, storage.ErrNotFound) {
			a.log.Warn("abort upload", "run", run.ID, "key", *u.key, "err", err)
			continue
		}
		*u.id = ""
	}
}
