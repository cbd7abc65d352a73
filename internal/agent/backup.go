package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/age"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/engine"
	"github.com/backapp/backapp/internal/engine/manifest"
	"github.com/backapp/backapp/internal/engine/scan"
	"github.com/backapp/backapp/internal/engine/seal"
	"github.com/backapp/backapp/internal/engine/upload"
)

// Causes of a cancelled run (context.Cause of its context).
var (
	// ErrCancelled: the server (a user) cancelled the run.
	ErrCancelled = errors.New("cancelled from the server")
	// ErrShutdown: the agent is stopping.
	ErrShutdown = errors.New("agent stopping")
)

// Runner executes backups and restores on this machine with the engine, talking to the
// server through Client and keeping previous manifests in State.
type Runner struct {
	Client *Client
	State  *State
	Log    *slog.Logger
	Now    func() time.Time
	// ProgressEvery is how often, at most, progress goes to the server; 0 means 1 s.
	// Unchanged progress is sent only every idleReport, to say the run is alive.
	ProgressEvery time.Duration
	// Upload tunes the engine's transfers (HTTP client, concurrency); zero is fine.
	Upload upload.Options
	// Identities open encrypted archives on restores the server asks for (a restore
	// from the command line passes its own).
	Identities []age.Identity
	// CheckBackup, when set, vets each backup's configuration before anything is read
	// (hooks, previous manifest, sources); its error fails the run with that message.
	// The server's built-in agent uses it to keep server-mode backups inside the
	// directories an administrator allowed.
	CheckBackup func(ctx context.Context, cfg agentproto.Config) error
	// CheckRestore, when set, vets a restore's absolute target directory before
	// anything is downloaded or written.
	CheckRestore func(ctx context.Context, target string) error
	// NoCheckpoints turns resumable backups off (the server's built-in agent, whose
	// runs end with the server process).
	NoCheckpoints bool
	// ScryptWorkFactor is log2 of the scrypt cost of passphrase-encrypted backups
	// (0: age's default, 18, about a second of CPU for every archive and manifest a
	// restore opens). Tests lower it: under the race detector one decryption at 18
	// takes tens of seconds.
	ScryptWorkFactor int
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.New(slog.DiscardHandler)
}

// BackupRequest is one backup to run.
type BackupRequest struct {
	ConfigID string
	RunID    string // set when the server queued the run ("run now", schedule)
	// Started is called once the server opened the run.
	Started func(agentproto.BackupStartResponse)
	// OnProgress is called about every second (for a progress bar).
	OnProgress func(agentproto.Progress)
	// Resume continues run Resume.Start.RunID from its checkpoint instead of opening
	// a run (the daemon's runs interrupted by a restart).
	Resume *RunCheckpoint
}

// BackupResult is the outcome of a run as recorded by the server.
type BackupResult struct {
	RunID  string
	Status string // completed | failed | cancelled
	S3Path string
	// ManifestKey is the manifest object's key (the run's only object when it stored
	// no archive).
	ManifestKey string
	// Stored is what a completed run uploaded: its archive (0 when an unchanged
	// incremental kept none), its manifest and the catalog copy sent to the server.
	Stored   StoredBytes
	Progress agentproto.Progress
	Issues   []scan.Issue
	Duration time.Duration
}

// Backup runs one backup: opens the run, runs the pre hook, streams the archive through
// the engine to the URLs the server hands out, reports progress (cancelling when the
// server says so), runs the post hook and ends the run with backup/complete. A run whose
// context is cancelled is reported cancelled, its uploads aborted by the server.
//
// The returned error is nil only for a completed run; the result is filled whenever
// the run was opened.
func (r *Runner) Backup(ctx context.Context, req BackupRequest) (BackupResult, error) {
	start := r.now()
	res := BackupResult{RunID: req.RunID}
	var st agentproto.BackupStartResponse
	var err error
	if rc := req.Resume; rc != nil {
		res.RunID, req.ConfigID, start = rc.Start.RunID, rc.ConfigID, rc.Started
		if _, err := r.Client.BackupResume(ctx, rc.Start.RunID); err != nil {
			if ctx.Err() == nil {
				// Refused (the run ended meanwhile, an older server) or unreachable
				// for longer than the server waits: the checkpoint is of no use.
				r.State.DropRun(rc.Start.RunID)
			}
			return res, fmt.Errorf("resume backup run %s: %w", rc.Start.RunID, err)
		}
		// The run goes on as it was opened: same keys, uploads and configuration.
		st = rc.Start
	} else {
		st, err = r.Client.BackupStart(ctx, agentproto.BackupStartRequest{ConfigID: req.ConfigID, RunID: req.RunID})
	}
	if err != nil {
		log := r.log().With("run", req.RunID, "config", req.ConfigID)
		switch {
		case ctx.Err() != nil && req.RunID != "":
			// Cancelled (or stopping) while the start was on its way: the server may
			// have opened the run before the answer was cut off. Say it is cancelled,
			// so it does not stay running until the reaper fails it, and say so in the
			// log too (the server shows the run cancelled).
			cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			_, cerr := r.Client.BackupComplete(cctx, agentproto.BackupCompleteRequest{RunID: req.RunID,
				Status: agentproto.StatusCancelled, Error: "cancelled: " + context.Cause(ctx).Error()})
			ccancel()
			var ae *APIError
			if cerr != nil && !(errors.As(cerr, &ae) && ae.Status == http.StatusConflict) { // 409: still queued, nothing to say
				log.Warn("backup: cancelled run not reported", "err", cerr)
			} else {
				log.Warn("backup cancelled", "cause", context.Cause(ctx), "when", "while the run was being opened")
			}
		case ctx.Err() == nil:
			log.Error("backup not started", "err", err)
		}
		return res, fmt.Errorf("start backup of config %s: %w", req.ConfigID, err)
	}
	res.RunID = st.RunID
	if req.Started != nil {
		req.Started(st)
	}
	log := r.log().With("run", st.RunID, "config", req.ConfigID)
	if req.Resume != nil {
		log.Info("backup resumed", "name", st.Config.Name, "key", st.ArchiveKey, "part", req.Resume.Engine.Next,
			"tarOffset", req.Resume.Engine.TarOffset)
	} else {
		log.Info("backup started", "name", st.Config.Name, "key", st.ArchiveKey, "full", st.Full)
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	out, runErr := r.backup(ctx, cancel, st, req, start, log)
	if errors.Is(runErr, engine.ErrCheckpointStale) && ctx.Err() == nil {
		// The sources changed where the checkpoint stopped: back up again from the
		// start, in the same run and uploads.
		log.Warn("backup: cannot resume exactly, starting the run over", "err", runErr)
		if out.catalog != nil {
			out.catalog.Close()
		}
		req.Resume = nil
		out, runErr = r.backup(ctx, cancel, st, req, start, log)
	}
	if runErr != nil && errors.Is(context.Cause(ctx), ErrShutdown) && out.checkpointed() {
		// The agent is stopping (a reboot, say): leave the run running on the server
		// and resume it from its checkpoint at the next start.
		if out.catalog != nil {
			out.catalog.Close()
		}
		log.Info("backup interrupted by the agent stopping; it resumes from its checkpoint at the next start")
		return res, fmt.Errorf("backup run %s: %w (resumes at the next start)", st.RunID, context.Cause(ctx))
	}
	res.Progress = out.progress
	res.Issues = out.issues

	status := agentproto.StatusCompleted
	var msg string
	switch {
	case runErr == nil:
	case ctx.Err() != nil:
		status = agentproto.StatusCancelled
		msg = "cancelled: " + context.Cause(ctx).Error()
	default:
		status = agentproto.StatusFailed
		msg = runErr.Error()
	}
	creq := agentproto.BackupCompleteRequest{RunID: st.RunID, Status: status, Error: msg, Progress: out.progress}
	if status == agentproto.StatusCompleted {
		creq.Archive, creq.Manifest = out.archive, out.manifest
	}
	for i, is := range out.issues {
		if i == 1000 {
			break
		}
		creq.Errors = append(creq.Errors, agentproto.FileError{Path: is.Path, Message: is.Op + ": " + errString(is.Err)})
	}
	// The outcome is reported even when ctx was cancelled (that is how the server learns
	// to abort the uploads), on a context of its own that outlasts the client's
	// patience, so a control-plane outage shorter than the server's stale timer is
	// waited out.
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), r.Client.Patience()+time.Minute)
	defer ccancel()
	if status == agentproto.StatusCompleted && out.catalog != nil && (!st.Deltas || st.Config.Options.Encryption) {
		// Catalog first, while the run is open, so a completed run always has one when
		// the upload succeeded. Its failure does not fail the run: the local copy serves
		// the next incremental. (With deltas the server reads an unencrypted run's
		// manifest object itself: no second copy.)
		if err := r.Client.PutCatalog(cctx, st.RunID, out.catalog); err != nil {
			log.Warn("backup: catalog not sent to the server", "err", err)
		} else if fi, err := out.catalog.Stat(); err == nil {
			out.stored.Catalog = fi.Size() // as sent; the server seals it (+ a few dozen bytes)
		}
	}
	cres, err := r.Client.BackupComplete(cctx, creq)
	res.Duration = r.now().Sub(start)
	if out.catalog != nil {
		if err == nil && status == agentproto.StatusCompleted {
			keep := r.State.KeepCatalog
			if out.delta {
				keep = r.State.KeepDelta
			}
			if kerr := keep(req.ConfigID, out.catalog, Previous{RunID: st.RunID, ArchiveKey: st.ArchiveKey, Time: start}); kerr != nil {
				log.Warn("backup: previous manifest not kept locally; the next incremental asks the server", "err", kerr)
			}
		} else {
			r.State.DiscardCatalog(out.catalog)
		}
	}
	if out.resumable {
		r.State.DropRun(st.RunID) // reported (or given up): nothing left to resume
	}
	if err != nil {
		res.Status = agentproto.StatusFailed
		if runErr != nil {
			return res, fmt.Errorf("backup run %s: %w (and reporting it failed: %w)", st.RunID, runErr, err)
		}
		return res, fmt.Errorf("backup run %s: report completion: %w", st.RunID, err)
	}
	res.Status, res.S3Path = cres.Status, cres.S3Path
	if res.Status == agentproto.StatusCompleted {
		res.Stored, res.ManifestKey = out.stored, st.ManifestKey
	}
	if res.Status == "" {
		res.Status = status
	}
	switch {
	case runErr != nil && status == agentproto.StatusCancelled:
		log.Warn("backup cancelled", "cause", context.Cause(ctx))
		return res, fmt.Errorf("backup run %s: %w", st.RunID, context.Cause(ctx))
	case runErr != nil:
		log.Error("backup failed", "err", runErr)
		return res, fmt.Errorf("backup run %s: %w", st.RunID, runErr)
	}
	done := "backup completed"
	if len(out.issues) > 0 {
		done = "backup completed with warnings: files or directories left out"
	}
	log.Info(done, "key", cres.S3Path, "files", out.progress.FilesDone, "skipped", out.progress.FilesSkipped,
		"stored", out.stored.Total(), "archive", out.stored.Archive, "manifest", out.stored.Manifest, "catalog", out.stored.Catalog,
		"duration", res.Duration.Round(time.Millisecond))
	return res, nil
}

// StoredBytes are the bytes of each object a run stored.
type StoredBytes struct {
	Archive, Manifest, Catalog int64
	NoArchive                  bool // nothing changed: no archive object
}

// Total is everything the run added to its destination.
func (b StoredBytes) Total() int64 { return b.Archive + b.Manifest + b.Catalog }

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

type backupOut struct {
	archive, manifest *agentproto.UploadedObject
	catalog           *os.File
	delta             bool // the manifest (and catalog) is a delta
	stored            StoredBytes
	progress          agentproto.Progress
	issues            []scan.Issue
	// resumable: the run kept checkpoints in the state; saved counts them.
	resumable bool
	saved     *atomic.Int64
}

func (o backupOut) checkpointed() bool { return o.resumable && o.saved != nil && o.saved.Load() > 0 }

// resumable reports whether a config's backups can resume after a restart: zstd or
// gzip, encrypted or not (see engine.CheckpointOptions); uncompressed archives have no
// frames to line parts up with.
func resumable(cfg agentproto.Config) bool {
	return cfg.Options.Compression != "none"
}

func (r *Runner) backup(ctx context.Context, cancel context.CancelCauseFunc, st agentproto.BackupStartResponse, req BackupRequest, started time.Time, log *slog.Logger) (out backupOut, err error) {
	cfg := st.Config
	if r.CheckBackup != nil {
		if err := r.CheckBackup(ctx, cfg); err != nil {
			return out, err
		}
	}
	o := engine.BackupOptions{Name: st.ArchiveKey, FollowSymlinks: cfg.Options.FollowSymlinks, Log: log, Now: r.Now, Delta: st.Deltas}
	for _, s := range cfg.Sources {
		o.Sources = append(o.Sources, s.Path)
		if len(s.IncludePatterns)+len(s.ExcludePatterns) > 0 {
			if o.SourcePatterns == nil {
				o.SourcePatterns = map[string]engine.Patterns{}
			}
			// Each source's patterns apply to that source only.
			p := o.SourcePatterns[s.Path]
			p.Include = append(p.Include, s.IncludePatterns...)
			p.Exclude = append(p.Exclude, s.ExcludePatterns...)
			o.SourcePatterns[s.Path] = p
		}
	}
	if len(o.Sources) == 0 {
		return out, errors.New("the configuration has no sources")
	}
	switch cfg.Options.OnError {
	case "", "skip":
		o.OnError = engine.Skip
	case "fail":
		o.OnError = engine.Fail
	default:
		return out, fmt.Errorf("unknown onError %q: want skip or fail", cfg.Options.OnError)
	}
	o.Seal = seal.Options{Codec: cfg.Options.Compression, Level: cfg.Options.CompressionLevel}
	if cfg.Options.Encryption {
		if len(cfg.Options.Recipients) > 0 {
			rs, err := seal.ParseRecipients(cfg.Options.Recipients...)
			if err != nil {
				return out, fmt.Errorf("encryption recipients: %w", err)
			}
			o.Seal.Recipients = rs
		}
		o.Seal.Passphrase = cfg.Options.Passphrase
		o.Seal.ScryptWorkFactor = r.ScryptWorkFactor
		if !o.Seal.Encrypted() {
			return out, errors.New("encryption is on but the configuration has no recipients or passphrase")
		}
	}
	o.Upload = r.Upload
	if cfg.Options.Bandwidth > 0 {
		o.Upload.Limiter = upload.NewLimiter(cfg.Options.Bandwidth * 1024)
	}

	if !st.Full && st.Previous != nil && st.Previous.RunID != "" {
		prev, closer, err := r.previous(ctx, st.Config.ID, st.Previous.RunID)
		if err != nil {
			return out, err
		}
		defer closer.Close()
		o.Previous = prev
	}

	// The post hook runs whatever happens after this point, a failed pre hook included
	// (it typically undoes what the pre hook started: unlocks, restarts a service).
	if cfg.Hooks != nil && cfg.Hooks.Post != "" {
		defer func() {
			if herr := runHook(context.WithoutCancel(ctx), "post", cfg.Hooks.Post, cfg.Hooks.TimeoutSeconds, log); herr != nil {
				// The backup itself stands; the run's errors say the hook failed.
				log.Warn("backup: post hook failed", "err", herr)
				out.issues = append(out.issues, scan.Issue{Path: "(post hook)", Op: "post hook", Err: herr})
			}
		}()
	}
	if cfg.Hooks != nil && cfg.Hooks.Pre != "" {
		if err := runHook(ctx, "pre", cfg.Hooks.Pre, cfg.Hooks.TimeoutSeconds, log); err != nil {
			return out, err
		}
	}

	if resumable(cfg) && !r.NoCheckpoints {
		out.resumable, out.saved = true, &atomic.Int64{}
		if req.Resume == nil {
			r.State.DropRun(st.RunID) // a checkpoint of an earlier attempt no longer applies
		}
		if out.catalog, err = r.State.RunSpool(st.RunID); err != nil {
			return out, err
		}
		ck := &engine.CheckpointOptions{Spool: out.catalog, Save: func(cp engine.Checkpoint) error {
			if err := r.State.SaveCheckpoint(RunCheckpoint{ConfigID: req.ConfigID, Start: st, Started: started, Engine: cp}); err != nil {
				return err
			}
			out.saved.Add(1)
			return nil
		}}
		if req.Resume != nil {
			cp := req.Resume.Engine
			ck.Resume = &cp
			out.saved.Add(1)
		}
		o.Checkpoint = ck
	} else {
		if out.catalog, err = r.State.CatalogTemp(cfg.ID); err != nil {
			return out, err
		}
		o.Catalog = out.catalog
	}

	as := newPartSession(r.Client, st.RunID, agentproto.ObjectArchive, st.Parts, r.now)
	ms := newPartSession(r.Client, st.RunID, agentproto.ObjectManifest, st.Parts, r.now)
	o.Archive, o.Manifest = as, ms

	rep := &progressReporter{r: r, runID: st.RunID, cancel: cancel, every: r.ProgressEvery, log: log}
	if rep.every <= 0 {
		rep.every = time.Second
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); rep.loop(ctx) }()
	o.ProgressEvery = min(time.Second, rep.every)
	o.Progress = func(p engine.Progress) {
		ap := toProto(st.RunID, p)
		rep.set(ap)
		if req.OnProgress != nil {
			req.OnProgress(ap)
		}
	}
	o.OnIssue = func(i scan.Issue) {
		log.Warn("backup: file skipped", "path", i.Path, "op", i.Op, "err", errString(i.Err))
	}

	eres, err := engine.Backup(ctx, o)
	rep.stop()
	wg.Wait()
	out.progress = toProto(st.RunID, eres.Progress)
	out.issues = eres.Issues
	if err != nil {
		return out, err
	}
	out.archive, out.manifest = as.uploaded(), ms.uploaded()
	out.delta = eres.Header.Delta
	if eres.NoArchive {
		out.archive = nil
	} else if out.archive == nil {
		return out, errors.New("the engine finished without completing the archive upload")
	}
	if out.manifest == nil {
		return out, errors.New("the engine finished without completing the manifest upload")
	}
	out.stored = StoredBytes{Archive: eres.Archive.Size, Manifest: eres.Manifest.Size, NoArchive: eres.NoArchive}
	if _, err := out.catalog.Seek(0, io.SeekStart); err != nil {
		return out, fmt.Errorf("catalog: %w", err)
	}
	return out, nil
}

// previous opens the manifest of run runID of config configID: the local copy, or the
// server's catalog (stored locally on the way).
func (r *Runner) previous(ctx context.Context, configID, runID string) (*manifest.Reader, io.Closer, error) {
	if p, ok := r.State.Previous(configID); ok && p.RunID == runID {
		return r.State.OpenCatalog(configID)
	}
	body, err := r.Client.GetCatalog(ctx, runID)
	if err != nil {
		return nil, nil, fmt.Errorf("incremental backup needs the manifest of run %s: not in the local state (%s) and not from the server: %w", runID, r.State.Dir, err)
	}
	defer body.Close()
	f, err := r.State.CatalogTemp(configID)
	if err != nil {
		return nil, nil, err
	}
	if _, err := io.Copy(f, body); err != nil {
		r.State.DiscardCatalog(f)
		return nil, nil, fmt.Errorf("download the manifest of run %s: %w", runID, err)
	}
	if err := r.State.KeepCatalog(configID, f, Previous{RunID: runID, Time: r.now()}); err != nil {
		return nil, nil, err
	}
	return r.State.OpenCatalog(configID)
}

func toProto(runID string, p engine.Progress) agentproto.Progress {
	return agentproto.Progress{RunID: runID, FilesScanned: p.FilesScanned, FilesDone: p.FilesScanned - p.Issues,
		FilesSkipped: p.Issues, BytesScanned: p.BytesScanned, BytesRead: p.BytesRead, BytesUploaded: p.BytesSent}
}

// progressReporter sends the latest progress to the server every few seconds, off the
// engine's goroutines, and cancels the run when the answer says so.
type progressReporter struct {
	r      *Runner
	runID  string
	cancel context.CancelCauseFunc
	every  time.Duration
	log    *slog.Logger

	mu     sync.Mutex
	latest *agentproto.Progress
	done   chan struct{}
	once   sync.Once
}

func (p *progressReporter) set(x agentproto.Progress) {
	p.mu.Lock()
	p.latest = &x
	p.mu.Unlock()
}

func (p *progressReporter) stop() {
	p.mu.Lock()
	if p.done == nil {
		p.done = make(chan struct{})
	}
	p.mu.Unlock()
	p.once.Do(func() { close(p.done) })
}

func (p *progressReporter) loop(ctx context.Context) {
	p.mu.Lock()
	if p.done == nil {
		p.done = make(chan struct{})
	}
	done := p.done
	p.mu.Unlock()
	var sent agentproto.Progress
	var sentAt time.Time
	reportEvery(ctx, p.every, done, func(ctx context.Context) bool {
		p.mu.Lock()
		x := p.latest
		p.mu.Unlock()
		if x == nil {
			// Nothing counted yet (a slow pre hook): still report, so the server knows
			// the run is alive and can tell it to cancel.
			x = &agentproto.Progress{RunID: p.runID}
		}
		now := time.Now()
		if *x == sent && now.Sub(sentAt) < idleReport {
			return true // nothing moved: spare the server
		}
		sent, sentAt = *x, now
		resp, err := p.r.Client.BackupProgress(ctx, *x)
		if err != nil {
			if ctx.Err() == nil {
				p.log.Debug("backup: progress not reported", "err", err)
			}
			return true
		}
		if resp.Cancel {
			p.log.Info("backup: the server asked to cancel")
			p.cancel(ErrCancelled)
			return false
		}
		return true
	})
}

// idleReport is how often a backup whose progress did not move still reports (the
// server's reaper fails runs that go silent; the answer carries a cancel).
const idleReport = 5 * time.Second

// reportEvery calls send every period, on the caller's goroutine, until stop is closed,
// ctx ends or send returns false. Backups and restores report their progress with it.
func reportEvery(ctx context.Context, period time.Duration, stop <-chan struct{}, send func(context.Context) bool) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case <-t.C:
		}
		if !send(ctx) {
			return
		}
	}
}
