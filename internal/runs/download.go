package runs

import (
	"context"
	"errors"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/store"
)

// Download answers a restore: the chain full → incrementals up to run runID (or, with
// pointInTime, the newest completed run of its config at or before it), with
// pre-signed GETs, to an agent that mayRead the run.
func (l *Lifecycle) Download(ctx context.Context, ag store.Agent, runID string, pointInTime *time.Time) (agentproto.DownloadResponse, error) {
	var none agentproto.DownloadResponse
	notFound := apperr.New(apperr.NotFound, "no run %q of this agent's user", runID)
	run, err := l.st.GetRun(ctx, runID)
	if errors.Is(err, store.ErrNotFound) || err == nil && run.UserID != ag.UserID {
		return none, notFound
	}
	if err != nil {
		return none, err
	}
	if pointInTime != nil {
		pit := *pointInTime
		runs, err := l.st.ListRuns(ctx, store.RunFilter{ConfigID: run.ConfigID, Status: agentproto.StatusCompleted,
			Until: pit.Add(time.Nanosecond), Limit: 1})
		if err != nil {
			return none, err
		}
		if len(runs) == 0 {
			return none, apperr.New(apperr.NotFound, "no completed run of this configuration at or before %s", pit.UTC().Format(time.RFC3339))
		}
		run = runs[0]
	}
	if err := l.mayRead(ctx, ag, run); err != nil {
		return none, err
	}
	if run.Status != agentproto.StatusCompleted {
		return none, apperr.New(apperr.Conflict, "run %s is %s; only completed runs can be restored", run.ID, run.Status)
	}
	chain, err := Chain(ctx, l.st, run)
	if err != nil {
		return none, apperr.Wrap(apperr.Conflict, err, "run %s cannot be restored: its chain of incremental backups is incomplete", run.ID)
	}
	out := agentproto.DownloadResponse{Chain: make([]agentproto.DownloadArchive, 0, len(chain))}
	for _, c := range chain {
		prefix := storage.UserPrefix(ag.UserID)
		if !storage.KeyUnder(c.S3Path, prefix) || !storage.KeyUnder(c.ManifestKey, prefix) {
			return none, errors.New("download: run " + c.ID + " has keys outside its user's prefix")
		}
		dest, err := l.resolve(ctx, c.UserID, c.DestinationID)
		if err != nil {
			return none, err
		}
		ar, err := dest.PresignGet(ctx, c.S3Path, l.cfg.URLTTL)
		if err != nil {
			return none, storageErr("presign a download URL", err)
		}
		mf, err := dest.PresignGet(ctx, c.ManifestKey, l.cfg.URLTTL)
		if err != nil {
			return none, storageErr("presign a download URL", err)
		}
		exp := ar.Expires
		if mf.Expires.Before(exp) {
			exp = mf.Expires
		}
		out.Chain = append(out.Chain, agentproto.DownloadArchive{RunID: c.ID, Time: c.StartTime,
			ArchiveURL: ar.URL, ArchiveSHA256: c.ArchiveSHA256, ArchiveSize: c.ArchiveSize,
			ManifestURL: mf.URL, ManifestSHA256: c.ManifestSHA256, ManifestSize: c.ManifestSize,
			Encrypted: c.Encrypted, ExpiresAt: exp})
	}
	return out, nil
}
