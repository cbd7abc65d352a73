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

// maxParts is S3's limit on the parts of one upload; maxPartsPerRequest bounds one
// request for part URLs.
const (
	maxParts           = 10000
	maxPartsPerRequest = 100
)

// partURL presigns a PUT of one part of the run's archive or manifest upload.
func (l *Lifecycle) partURL(ctx context.Context, dest storage.Destination, run *store.Run, object string, n int) (agentproto.PartURL, error) {
	key, upload := run.S3Path, run.ArchiveUploadID
	if object == agentproto.ObjectManifest {
		key, upload = run.ManifestKey, run.ManifestUpload
	}
	// The keys were made under the agent's prefix at start; check again so no code
	// path can ever presign another agent's key.
	if !storage.KeyUnder(key, storage.AgentPrefix(run.UserID, run.AgentID)) || upload == "" {
		return agentproto.PartURL{}, fmt.Errorf("presign part %d of run %s: key %q outside the agent's prefix or no upload", n, run.ID, key)
	}
	p, err := dest.PresignPart(ctx, key, upload, n, l.cfg.URLTTL)
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

// PartURLs presigns the parts req asks for of a running run of agent ag.
func (l *Lifecycle) PartURLs(ctx context.Context, ag store.Agent, req agentproto.PartsRequest) (agentproto.PartsResponse, error) {
	var none agentproto.PartsResponse
	run, err := l.ownRun(ctx, ag, req.RunID)
	if err != nil {
		return none, err
	}
	if run.Status != agentproto.StatusRunning {
		return none, apperr.New(apperr.Conflict, "run %s is %s; it takes no more uploads", run.ID, run.Status)
	}
	if req.Object != agentproto.ObjectArchive && req.Object != agentproto.ObjectManifest {
		return none, apperr.Invalidf("object", "object must be %q or %q", agentproto.ObjectArchive, agentproto.ObjectManifest)
	}
	if len(req.PartNumbers) == 0 || len(req.PartNumbers) > maxPartsPerRequest {
		return none, apperr.Invalidf("partNumbers", "ask for 1 to %d parts at a time", maxPartsPerRequest)
	}
	for _, n := range req.PartNumbers {
		if n < 1 || n > maxParts {
			return none, apperr.Invalidf("partNumbers", "part number %d is outside 1..%d", n, maxParts)
		}
	}
	dest, err := l.resolve(ctx, run.UserID, run.DestinationID)
	if err != nil {
		return none, err
	}
	out := agentproto.PartsResponse{Parts: make([]agentproto.PartURL, 0, len(req.PartNumbers))}
	for _, n := range req.PartNumbers {
		p, err := l.partURL(ctx, dest, &run, req.Object, n)
		if err != nil {
			return none, err
		}
		out.Parts = append(out.Parts, p)
	}
	return out, nil
}

func progressOf(p agentproto.Progress, now time.Time) store.RunProgress {
	return store.RunProgress{Time: now, FilesProcessed: p.FilesDone, FilesSkipped: p.FilesSkipped,
		TotalBytes: p.BytesScanned, BytesTransfer: p.BytesUploaded}
}

// Progress records a run's progress and says whether the agent should cancel it: when
// the user cancelled the run, or when it is no longer running (the reaper failed it).
func (l *Lifecycle) Progress(ctx context.Context, ag store.Agent, req agentproto.Progress) (cancel bool, err error) {
	run, err := l.ownRun(ctx, ag, req.RunID)
	if err != nil {
		return false, err
	}
	cancel = run.CancelRequested || run.Status != agentproto.StatusRunning
	if run.Status == agentproto.StatusRunning {
		p := progressOf(req, l.now())
		err := l.st.RecordRunProgress(ctx, run.ID, p)
		if errors.Is(err, store.ErrNotFound) {
			cancel = true // finished meanwhile
		} else if err != nil {
			return false, err
		} else {
			l.events.Publish(events.RunProgress(run, p))
		}
	}
	return cancel, nil
}
