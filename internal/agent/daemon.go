package agent

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
)

// Daemon is `backapp-agent run`: it heartbeats, takes the server's commands (run now,
// cancel, restore, size estimate) and executes them with its Runner, at most one backup per config
// and MaxConcurrent backups at once. Server restarts and network loss only delay it:
// it backs off and carries on.
type Daemon struct {
	Runner *Runner
	Host   agentproto.Host
	Log    *slog.Logger
	// MaxConcurrent bounds concurrent backups; 0 means 2.
	MaxConcurrent int
	// Heartbeat is the interval when the server names none; 0 means 15 s.
	Heartbeat time.Duration
	// ConfigsEvery is how often the assigned configs are fetched; 0 means 5 min.
	ConfigsEvery time.Duration
	// Backoff is the wait after the nth consecutive failed heartbeat; nil means 1 s
	// doubling to 1 min, with jitter.
	Backoff func(n int) time.Duration
	// LongPoll is how long a heartbeat may wait on the server for work; 0 means 25 s,
	// negative turns long polling off.
	LongPoll time.Duration

	mu      sync.Mutex
	jobs    map[string]*job // by run id (backups) or restore id
	pending []agentproto.Command
	done    map[string]time.Time // runs finished lately: a heartbeat in flight may still list them
	wake    chan struct{}
	wg      sync.WaitGroup
	configs []agentproto.Config
}

type job struct {
	kind     string // agentproto.CommandRun, CommandRestore or CommandEstimate
	configID string
	cancel   context.CancelCauseFunc
}

func (d *Daemon) log() *slog.Logger {
	if d.Log != nil {
		return d.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Run runs until ctx ends; then it cancels running backups and restores, waits until
// each has reported its outcome (aborting its uploads) and returns nil.
func (d *Daemon) Run(ctx context.Context) error {
	if d.MaxConcurrent <= 0 {
		d.MaxConcurrent = 2
	}
	if d.Heartbeat <= 0 {
		d.Heartbeat = 15 * time.Second
	}
	if d.ConfigsEvery <= 0 {
		d.ConfigsEvery = 5 * time.Minute
	}
	if d.Backoff == nil {
		d.Backoff = Backoff(time.Second, time.Minute)
	}
	if d.LongPoll == 0 {
		d.LongPoll = 25 * time.Second
	}
	d.jobs = map[string]*job{}
	d.done = map[string]time.Time{}
	d.wake = make(chan struct{}, 1)
	log := d.log()
	started := time.Now() // the server tells a restart by the uptime: runs from before it died with the last process
	log.Info("agent started", "server", d.Runner.Client.Server(), "hostname", d.Host.Hostname, "version", d.Host.Version)
	if d.Runner.State != nil {
		n, err := d.Runner.State.SweepRestores()
		if err != nil {
			log.Warn("agent started: temporary files of interrupted restores not all removed", "err", err)
		}
		if n > 0 {
			log.Info("agent started: removed temporary files of interrupted restores", "files", n)
		}
	}

	defer func() {
		d.mu.Lock()
		n := len(d.jobs)
		for _, j := range d.jobs {
			j.cancel(ErrShutdown)
		}
		d.mu.Unlock()
		if n > 0 {
			log.Info("agent stopping: cancelling running work", "jobs", n)
		}
		d.wg.Wait()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		var ae *APIError
		if err := d.Runner.Client.Stopping(sctx); err != nil && !(errors.As(err, &ae) && ae.Status == http.StatusNotFound) {
			log.Info("agent stopping: the server was not told; it shows the agent offline after five silent minutes", "err", err)
		}
		log.Info("agent stopped")
	}()

	// Backups interrupted by a restart resume from their checkpoints; they are jobs
	// before the first heartbeat, so it lists them as running and the server keeps
	// them.
	d.mu.Lock()
	for _, rc := range d.Runner.State.Checkpoints() {
		log.Info("resuming the backup interrupted by the restart", "run", rc.Start.RunID, "config", rc.ConfigID)
		d.startLocked(ctx, agentproto.Command{Type: agentproto.CommandRun, RunID: rc.Start.RunID, ConfigID: rc.ConfigID}, &rc)
	}
	d.mu.Unlock()

	var failures int
	var nextConfigs time.Time
	for {
		st := Status{PID: os.Getpid(), LastAttempt: d.Runner.now(), Running: d.running(agentproto.CommandRun)}
		if prev, ok := d.Runner.State.LoadStatus(); ok {
			st.LastHeartbeat = prev.LastHeartbeat
		}
		resp, err := d.Runner.Client.Heartbeat(ctx, agentproto.HeartbeatRequest{Host: d.Host, Running: st.Running,
			Restores: d.running(agentproto.CommandRestore), Estimates: d.running(agentproto.CommandEstimate),
			Features: Features, UptimeMS: max(time.Since(started).Milliseconds(), 1)}, d.LongPoll)
		if ctx.Err() != nil {
			return nil
		}
		wait := d.Heartbeat
		if err != nil {
			failures++
			st.LastError = err.Error()
			wait = d.Backoff(failures)
			switch {
			case errors.Is(err, ErrUnauthorized):
				// Nothing works until someone enrolls again; ask rarely, say it loudly.
				wait = max(wait, time.Minute)
				log.Error("heartbeat refused: the agent key is no longer valid", "err", err)
			case failures == 1 || failures%20 == 0:
				log.Warn("server unreachable; retrying", "err", err, "failures", failures, "retryIn", wait.Round(time.Millisecond))
			}
		} else {
			if failures > 0 {
				log.Info("server reachable again", "after", failures)
			}
			failures = 0
			st.LastHeartbeat = d.Runner.now()
			if resp.NextHeartbeatSeconds > 0 {
				wait = time.Duration(resp.NextHeartbeatSeconds) * time.Second
			}
			if resp.StaleAfterSeconds > 0 {
				d.Runner.Client.SetPatience(time.Duration(resp.StaleAfterSeconds) * time.Second)
			}
			d.take(ctx, resp.Commands)
			if !d.Runner.now().Before(nextConfigs) {
				if cs, err := d.Runner.Client.Configs(ctx); err == nil {
					d.mu.Lock()
					d.configs = cs
					d.mu.Unlock()
					nextConfigs = d.Runner.now().Add(d.ConfigsEvery)
					log.Debug("configs fetched", "count", len(cs))
				} else if ctx.Err() == nil {
					log.Warn("fetch configs", "err", err)
				}
			}
		}
		if err := d.Runner.State.SaveStatus(st); err != nil && failures <= 1 {
			log.Warn("save status", "err", err)
		}
		if !d.sleep(ctx, wait) {
			return nil
		}
	}
}

// sleep waits d or until ctx ends (false); a finished job starts queued work meanwhile.
func (d *Daemon) sleep(ctx context.Context, wait time.Duration) bool {
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case <-d.wake:
			d.take(ctx, nil)
		}
	}
}

// Features are what this agent tells the server it can do beyond protocol 1 as
// first released.
var Features = []string{agentproto.FeatureEstimate, agentproto.FeatureReportRestores}

// running lists the ids of the jobs of a kind (agentproto.CommandRun, CommandRestore,
// CommandEstimate) that run now; the heartbeat reports them.
func (d *Daemon) running(kind string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ids []string
	for id, j := range d.jobs {
		if j.kind == kind {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// take handles new commands and starts queued ones that may run now.
func (d *Daemon) take(ctx context.Context, cmds []agentproto.Command) {
	d.mu.Lock()
	defer d.mu.Unlock()
	log := d.log()
	for _, c := range cmds {
		switch c.Type {
		case agentproto.CommandCancel:
			if j, ok := d.jobs[c.RunID]; ok {
				log.Info("cancel requested", "run", c.RunID)
				j.cancel(ErrCancelled)
			}
			d.pending = slices.DeleteFunc(d.pending, func(p agentproto.Command) bool { return p.RunID == c.RunID })
		case agentproto.CommandRun:
			if c.ConfigID == "" {
				log.Warn("run command without a config", "run", c.RunID)
				continue
			}
			if _, ok := d.done[c.RunID]; ok || d.queued(c.RunID, c.ConfigID) {
				continue
			}
			d.pending = append(d.pending, c)
		case agentproto.CommandRestore:
			if c.Restore == nil || c.Restore.RestoreID == "" {
				log.Warn("restore command without a restore")
				continue
			}
			// A restore handed out again (the server heard nothing of it: see
			// agentapi's restoreCommands) that runs, or ended here lately, is not
			// run twice.
			if _, ok := d.jobs[c.Restore.RestoreID]; ok {
				continue
			}
			if _, ok := d.done[c.Restore.RestoreID]; ok {
				continue
			}
			d.startLocked(ctx, c, nil)
		case agentproto.CommandEstimate:
			if c.Estimate == nil || c.Estimate.EstimateID == "" {
				log.Warn("estimate command without an estimate")
				continue
			}
			if _, ok := d.jobs[c.Estimate.EstimateID]; ok {
				continue
			}
			d.startLocked(ctx, c, nil)
		default:
			log.Warn("unknown command from the server; is the agent older than the server?", "type", c.Type)
		}
	}
	// Start what may start: one backup per config, MaxConcurrent in all.
	var keep []agentproto.Command
	for _, c := range d.pending {
		if d.backupsLocked() >= d.MaxConcurrent || d.configBusyLocked(c.ConfigID) {
			keep = append(keep, c)
			continue
		}
		d.startLocked(ctx, c, nil)
	}
	d.pending = keep
}

// queued reports whether run runID is already running or waiting.
func (d *Daemon) queued(runID, configID string) bool {
	if runID != "" {
		if _, ok := d.jobs[runID]; ok {
			return true
		}
	}
	for _, p := range d.pending {
		if (runID != "" && p.RunID == runID) || (runID == "" && p.RunID == "" && p.ConfigID == configID) {
			return true
		}
	}
	return false
}

func (d *Daemon) backupsLocked() int {
	n := 0
	for _, j := range d.jobs {
		if j.kind == agentproto.CommandRun {
			n++
		}
	}
	return n
}

func (d *Daemon) configBusyLocked(configID string) bool {
	for _, j := range d.jobs {
		if j.kind == agentproto.CommandRun && j.configID == configID {
			return true
		}
	}
	return false
}

func (d *Daemon) startLocked(ctx context.Context, c agentproto.Command, resume *RunCheckpoint) {
	jctx, cancel := context.WithCancelCause(ctx)
	id := c.RunID
	switch c.Type {
	case agentproto.CommandRestore:
		id = c.Restore.RestoreID
	case agentproto.CommandEstimate:
		id = c.Estimate.EstimateID
	}
	if id == "" {
		id = "config:" + c.ConfigID // a run the server did not name; its id comes with backup/start
	}
	d.jobs[id] = &job{kind: c.Type, configID: c.ConfigID, cancel: cancel}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer func() {
			cancel(nil)
			d.mu.Lock()
			delete(d.jobs, id)
			now := time.Now()
			d.done[id] = now
			for k, t := range d.done {
				if now.Sub(t) > 10*time.Minute {
					delete(d.done, k)
				}
			}
			d.mu.Unlock()
			select {
			case d.wake <- struct{}{}:
			default:
			}
		}()
		switch c.Type {
		case agentproto.CommandRun:
			// The error is logged by Runner.Backup and reported to the server.
			_, _ = d.Runner.Backup(jctx, BackupRequest{ConfigID: c.ConfigID, RunID: c.RunID, Resume: resume})
		case agentproto.CommandRestore:
			if err := d.Runner.restoreCommand(jctx, *c.Restore); err != nil {
				d.log().Error("restore failed", "restore", c.Restore.RestoreID, "err", err)
			}
		case agentproto.CommandEstimate:
			if err := d.Runner.estimateCommand(jctx, *c.Estimate); err != nil {
				d.log().Error("estimate not reported", "estimate", c.Estimate.EstimateID, "err", err)
			}
		}
	}()
}
