package agentapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/httpx"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/store"
)

// download answers a restore: the chain full → incrementals up to the run (or the newest
// completed run of its config at or before pointInTime), with pre-signed GETs, to an
// agent that mayRead the run.
func (a *API) download(w http.ResponseWriter, r *http.Request, ag store.Agent) error {
	ctx := r.Context()
	q := r.URL.Query()
	id := q.Get("runId")
	notFound := apperr.New(apperr.NotFound, "no run %q of this agent's user", id)
	run, err := a.st.GetRun(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && run.UserID != ag.UserID {
		return notFound
	}
	if err != nil {
		return err
	}
	if s := q.Get("pointInTime"); s != "" {
		pit, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return apperr.Invalidf("pointInTime", "pointInTime must be an RFC 3339 time such as 2025-03-14T15:09:26Z")
		}
		runs, err := a.st.ListRuns(ctx, store.RunFilter{ConfigID: run.ConfigID, Status: agentproto.StatusCompleted,
			Until: pit.Add(time.Nanosecond), Limit: 1})
		if err != nil {
			return err
		}
		if len(runs) == 0 {
			return apperr.New(apperr.NotFound, "no completed run of this configuration at or before %s", pit.UTC().Format(time.RFC3339))
		}
		run = runs[0]
	}
	if err := a.mayRead(ctx, ag, run); err != nil {
		return err
	}
	if run.Status != agentproto.StatusCompleted {
		return apperr.New(apperr.Conflict, "run %s is %s; only completed runs can be restored", run.ID, run.Status)
	}
	chain, err := a.chain(ctx, run)
	if err != nil {
		return apperr.Wrap(apperr.Conflict, err, "run %s cannot be restored: its chain of incremental backups is incomplete", run.ID)
	}
	out := agentproto.DownloadResponse{Chain: make([]agentproto.DownloadArchive, 0, len(chain))}
	for _, c := range chain {
		prefix := storage.UserPrefix(ag.UserID)
		if !storage.KeyUnder(c.S3Path, prefix) || !storage.KeyUnder(c.ManifestKey, prefix) {
			return errors.New("download: run " + c.ID + " has keys outside its user's prefix")
		}
		dest, err := a.resolve(ctx, c.UserID, c.DestinationID)
		if err != nil {
			return err
		}
		ar, err := dest.PresignGet(ctx, c.S3Path, a.cfg.URLTTL)
		if err != nil {
			return storageErr("presign a download URL", err)
		}
		mf, err := dest.PresignGet(ctx, c.ManifestKey, a.cfg.URLTTL)
		if err != nil {
			return storageErr("presign a download URL", err)
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
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}
