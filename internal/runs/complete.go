package runs

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/events"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/store"
)

// maxFileErrors bounds the file errors kept of one run.
const maxFileErrors = 1000

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

// Complete ends a run of agent ag. For completed it checks the parts, completes both
// uploads and checks the stored archive's size; any problem fails the run (uploads
// aborted, nothing left looking complete). failed and cancelled abort the uploads.
func (l *Lifecycle) Complete(ctx context.Context, ag store.Agent, req agentproto.BackupCompleteRequest) (agentproto.BackupCompleteResponse, error) {
	var none agentproto.BackupCompleteResponse
	run, err := l.ownRun(ctx, ag, req.RunID)
	if err != nil {
		return none, err
	}
	if run.Status != agentproto.StatusRunning {
		return none, apperr.New(apperr.Conflict, "run %s is already %s", run.ID, run.Status)
	}
	now := l.now()
	// Fresh progress first: a reaper pass that read the run as silent re-reads it
	// before failing it and leaves it alone.
	if err := l.st.RecordRunProgress(ctx, run.ID, progressOf(req.Progress, now)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return none, err
	}
	run.FilesProcessed, run.FilesSkipped = req.FilesDone, req.FilesSkipped
	run.TotalBytes, run.BytesTransfer = req.BytesScanned, req.BytesUploaded
	dest, err := l.resolve(ctx, run.UserID, run.DestinationID)
	if err != nil {
		return none, err
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
		if err := l.finishWith(ctx, dest, &run, req.Status, msg, errs, now); err != nil {
			return none, err
		}
	case agentproto.StatusCompleted:
		if err := l.complete(ctx, dest, &run, &req, errs, now); err != nil {
			return none, err
		}
	default:
		return none, apperr.Invalidf("status", "status must be completed, failed or cancelled")
	}
	l.log.Info("backup run finished", "run", run.ID, "agent", ag.ID, "status", run.Status, "key", run.S3Path, "size", run.ArchiveSize)
	out := agentproto.BackupCompleteResponse{RunID: run.ID, Status: run.Status}
	if run.Status == agentproto.StatusCompleted {
		out.S3Path = run.S3Path
	}
	return out, nil
}

func (l *Lifecycle) complete(ctx context.Context, dest storage.Destination, run *store.Run, req *agentproto.BackupCompleteRequest, errs []agentproto.FileError, now time.Time) error {
	refuse := func(cause error) error {
		msg := "completion refused: " + cause.Error()
		if err := l.finishWith(ctx, dest, run, agentproto.StatusFailed, msg, errs, now); err != nil {
			return err
		}
		return apperr.Wrap(apperr.Invalid, cause, "%s; the run is marked failed", msg)
	}
	// An incremental that stored nothing keeps no archive: its manifest records the
	// run (what it checked, and when). A full backup always has one.
	noArchive := req.Archive == nil && !run.Full
	if !noArchive {
		if err := checkObject("archive", req.Archive); err != nil {
			return refuse(err)
		}
	}
	if err := checkObject("manifest", req.Manifest); err != nil {
		return refuse(err)
	}
	if noArchive && run.ArchiveUploadID != "" {
		if err := dest.AbortMultipart(ctx, run.S3Path, run.ArchiveUploadID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return storageErr("discard the empty archive upload", err) // transient: the agent retries
		}
	} else if err := dest.CompleteMultipart(ctx, run.S3Path, run.ArchiveUploadID, toParts(req.Archive)); err != nil {
		if isClientFault(err) {
			return refuse(fmt.Errorf("complete the archive upload: %w", err))
		}
		return storageErr("complete the archive upload", err) // transient: the agent retries
	}
	run.ArchiveUploadID = ""
	if err := dest.CompleteMultipart(ctx, run.ManifestKey, run.ManifestUpload, toParts(req.Manifest)); err != nil {
		if isClientFault(err) {
			if !noArchive {
				l.deleteObject(ctx, dest, run.S3Path)
			}
			return refuse(fmt.Errorf("complete the manifest upload: %w", err))
		}
		_ = l.st.UpdateRun(ctx, run) // the archive upload is gone; keep the record right
		return storageErr("complete the manifest upload", err)
	}
	run.ManifestUpload = ""
	type object struct {
		key  string
		want int64
	}
	check := []object{{run.ManifestKey, req.Manifest.Size}}
	if !noArchive {
		check = append(check, object{run.S3Path, req.Archive.Size})
	}
	for _, o := range check {
		st, err := dest.Stat(ctx, o.key)
		if err != nil {
			return storageErr("check the stored object", err)
		}
		if st.Size != o.want {
			if !noArchive {
				l.deleteObject(ctx, dest, run.S3Path)
			}
			l.deleteObject(ctx, dest, run.ManifestKey)
			return refuse(fmt.Errorf("stored object %s is %d bytes, the agent reported %d", o.key, st.Size, o.want))
		}
	}
	// The catalog copy the agent sent, if any (PUT backup/catalog comes first), counts
	// as what the run stored.
	run.CatalogSize = 0
	if st, err := dest.Stat(ctx, storage.CatalogKey(run.UserID, run.ConfigID, run.ID)); err == nil {
		run.CatalogSize = st.Size
	} else if !errors.Is(err, storage.ErrNotFound) {
		return storageErr("check the stored catalog", err)
	}
	end := now
	dur := end.Sub(run.StartTime).Milliseconds()
	run.Status, run.EndTime, run.DurationMS, run.ProgressAt = agentproto.StatusCompleted, &end, &dur, &end
	run.ArchiveSHA256, run.ArchiveSize = "", 0
	if !noArchive {
		run.ArchiveSHA256, run.ArchiveSize = req.Archive.SHA256, req.Archive.Size
	}
	run.ManifestSHA256, run.ManifestSize = req.Manifest.SHA256, req.Manifest.Size
	run.Errors = fileErrorsJSON("", errs)
	if err := l.st.UpdateRun(ctx, run); err != nil {
		return err
	}
	l.events.Publish(events.RunStatus(*run))
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

func (l *Lifecycle) deleteObject(ctx context.Context, dest storage.Destination, key string) {
	if err := dest.Delete(ctx, key); err != nil && !errors.Is(err, storage.ErrNotFound) {
		l.log.Warn("delete a refused object", "key", key, "err", err)
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
func (l *Lifecycle) finish(ctx context.Context, dest storage.Destination, run *store.Run, status, msg string, now time.Time) error {
	return l.finishWith(ctx, dest, run, status, msg, nil, now)
}

func (l *Lifecycle) finishWith(ctx context.Context, dest storage.Destination, run *store.Run, status, msg string, errs []agentproto.FileError, now time.Time) error {
	if dest == nil && (run.ArchiveUploadID != "" || run.ManifestUpload != "") {
		d, err := l.cfg.Destinations.Resolve(ctx, run.UserID, run.DestinationID)
		if err != nil {
			l.log.Warn("abort uploads: destination unavailable; its lifecycle rule must clean up", "run", run.ID, "err", err)
		} else {
			dest = d
		}
	}
	if dest != nil {
		l.abortUploads(ctx, dest, run)
	}
	end := now
	run.Status, run.EndTime = status, &end
	if !run.StartTime.IsZero() {
		dur := max(end.Sub(run.StartTime), 0).Milliseconds()
		run.DurationMS = &dur
	}
	run.Errors = fileErrorsJSON(msg, errs)
	if err := l.st.UpdateRun(ctx, run); err != nil {
		return fmt.Errorf("record run %s as %s: %w", run.ID, status, err)
	}
	l.events.Publish(events.RunStatus(*run))
	return nil
}

// abortUploads aborts the run's open multipart uploads; a missing one is fine.
func (l *Lifecycle) abortUploads(ctx context.Context, dest storage.Destination, run *store.Run) {
	for _, u := range []struct{ key, id *string }{{&run.S3Path, &run.ArchiveUploadID}, {&run.ManifestKey, &run.ManifestUpload}} {
		if *u.id == "" {
			continue
		}
		if err := dest.AbortMultipart(ctx, *u.key, *u.id); err != nil && !errors.Is(err, storage.ErrNotFound) {
			l.log.Warn("abort upload", "run", run.ID, "key", *u.key, "err", err)
			continue
		}
		*u.id = ""
	}
}
