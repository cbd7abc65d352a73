package agentapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/events"
	"github.com/backapp/backapp/internal/httpx"
	"github.com/backapp/backapp/internal/store"
)

var clip = agentproto.Clip

func heartbeatOf(h agentproto.Host, now time.Time) store.AgentHeartbeat {
	return store.AgentHeartbeat{Time: now, Platform: clip(h.Platform, 32), Arch: clip(h.Arch, 32),
		Version: clip(h.Version, 64), Hostname: clip(h.Hostname, 255)}
}

// lastSeenResolution is how stale last_seen may get before a heartbeat writes it again.
// Offline means five minutes without a heartbeat, so 30 s is precise enough, and it
// spares the database most writes (and their fsyncs) when thousands of agents poll
// every few seconds.
const lastSeenResolution = 30 * time.Second

func needsWrite(ag store.Agent, hb store.AgentHeartbeat) bool {
	changed := func(got, reported string) bool { return reported != "" && reported != got }
	return ag.LastSeen == nil || hb.Time.Sub(*ag.LastSeen) >= lastSeenResolution || ag.Status != store.AgentOnline ||
		changed(ag.Platform, hb.Platform) || changed(ag.Arch, hb.Arch) || changed(ag.Version, hb.Version) || changed(ag.Hostname, hb.Hostname)
}

func (a *API) register(w http.ResponseWriter, r *http.Request, ag store.Agent) error {
	var req agentproto.RegisterRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	now := a.now()
	if err := a.st.MarkAgentEnrolled(r.Context(), ag.ID, now); err != nil {
		return err
	}
	if err := a.st.RecordHeartbeat(r.Context(), ag.ID, heartbeatOf(req.Host, now)); err != nil {
		return err
	}
	a.agentSeen(ag, now)
	a.log.Info("agent enrolled", "agent", ag.ID, "user", ag.UserID, "hostname", req.Hostname, "platform", req.Platform)
	httpx.WriteJSON(w, http.StatusOK, agentproto.RegisterResponse{AgentID: ag.ID, Name: ag.Name, UserID: ag.UserID})
	return nil
}

// heartbeat records the agent alive and answers with its work: queued runs to start and
// running runs to cancel. With ?wait=25s it holds the request until work appears (woken
// by Notify on this server, or found by a re-check every PollEvery) or the wait ends.
func (a *API) heartbeat(w http.ResponseWriter, r *http.Request, ag store.Agent) error {
	var req agentproto.HeartbeatRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	var wait time.Duration
	if s := r.URL.Query().Get("wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return apperr.Invalidf("wait", "wait must be a duration such as 25s")
		}
		wait = min(d, a.cfg.MaxWait)
	}
	ctx := r.Context()
	arrived := a.now()
	if hb := heartbeatOf(req.Host, arrived); needsWrite(ag, hb) {
		if err := a.st.RecordHeartbeat(ctx, ag.ID, hb); err != nil {
			return err
		}
		a.agentSeen(ag, hb.Time)
	}
	stop, err := a.recordReports(ctx, ag, req)
	if err != nil {
		return err
	}
	if err := a.runs.SettleRestarted(ctx, ag, req); err != nil {
		return err
	}
	var wake <-chan struct{}
	if wait > 0 {
		ch, unsubscribe := a.wake.subscribe(ag.ID)
		defer unsubscribe()
		wake = ch
	}
	cmds, err := a.commands(r, ag, req, arrived)
	if err != nil {
		return err
	}
	cmds = append(stop, cmds...)
	if len(cmds) == 0 && wait > 0 {
		deadline := time.NewTimer(wait)
		defer deadline.Stop()
		tick := time.NewTicker(a.cfg.PollEvery)
		defer tick.Stop()
	poll:
		for len(cmds) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-deadline.C:
				break poll
			case <-wake:
			case <-tick.C:
			}
			if cmds, err = a.commands(r, ag, req, arrived); err != nil {
				return err
			}
		}
	}
	next := int(a.cfg.HeartbeatEvery / time.Second)
	if wait > 0 {
		next = 1 // the poll itself waited; come back at once
	}
	httpx.WriteJSON(w, http.StatusOK, agentproto.HeartbeatResponse{ServerTime: a.now(), Commands: cmds, NextHeartbeatSeconds: next,
		StaleAfterSeconds: int(a.runs.StaleAfter() / time.Second)})
	return nil
}

// recordReports notes the restores and estimates the agent says it is running, so
// the reaper leaves them alone, and returns cancel commands for estimates it runs
// that are no longer wanted (asked again, or reaped).
func (a *API) recordReports(ctx context.Context, ag store.Agent, req agentproto.HeartbeatRequest) ([]agentproto.Command, error) {
	now := a.now()
	if rs, ok := a.st.(store.Restores); ok && len(req.Restores) > 0 && slices.Contains(req.Features, agentproto.FeatureReportRestores) {
		if err := rs.TouchRestores(ctx, ag.ID, req.Restores, now); err != nil {
			return nil, err
		}
	}
	es, ok := a.st.(store.Estimates)
	if !ok || len(req.Estimates) == 0 {
		return nil, nil
	}
	running, err := es.TouchEstimates(ctx, ag.ID, req.Estimates, now)
	if err != nil {
		return nil, err
	}
	var stop []agentproto.Command
	for _, id := range req.Estimates {
		if !slices.Contains(running, id) {
			stop = append(stop, agentproto.Command{Type: agentproto.CommandCancel, RunID: id})
		}
	}
	return stop, nil
}

// commands lists the agent's work for heartbeat req, which arrived at arrived.
func (a *API) commands(r *http.Request, ag store.Agent, req agentproto.HeartbeatRequest, arrived time.Time) ([]agentproto.Command, error) {
	features := req.Features
	runs, err := a.st.ActiveRuns(r.Context(), ag.ID)
	if err != nil {
		return nil, err
	}
	var cmds []agentproto.Command
	for _, run := range runs {
		switch {
		case run.UserID != ag.UserID:
		case run.Status == agentproto.StatusQueued:
			cmds = append(cmds, agentproto.Command{Type: agentproto.CommandRun, RunID: run.ID, ConfigID: run.ConfigID})
		case run.Status == agentproto.StatusRunning && run.CancelRequested:
			cmds = append(cmds, agentproto.Command{Type: agentproto.CommandCancel, RunID: run.ID, ConfigID: run.ConfigID})
		}
	}
	if rs, ok := a.st.(store.Restores); ok {
		if cmds, err = a.restoreCommands(r, ag, rs, cmds, req, arrived); err != nil {
			return nil, err
		}
	}
	if es, ok := a.st.(store.Estimates); ok {
		return a.estimateCommands(r.Context(), ag, es, cmds, slices.Contains(features, agentproto.FeatureEstimate))
	}
	return cmds, nil
}

// restoreCommands adds the agent's restores: a queued one is handed out (marked
// running first, so two heartbeats never both get it); a running one the user
// cancelled is cancelled by its id, which the agent keeps its restore jobs under, or,
// when the agent does not have it (see below), settled cancelled here.
//
// An agent that reports its running restores (FeatureReportRestores) is recorded as
// having reported a restore when it is handed out, at the time it is marked running,
// which starts the reaper's clock for it and leaves it unacknowledged until the agent
// lists it (store.Restore.Unacknowledged). Until then the hand-out may have been
// lost: the database can fail after the restore is marked running and before the
// heartbeat is answered (the answer is then a 503 without the command), or the answer
// can be lost on the way. A heartbeat that arrived after the hand-out and does not
// list the restore shows the agent does not have it: it is handed out again.
func (a *API) restoreCommands(r *http.Request, ag store.Agent, rs store.Restores, cmds []agentproto.Command,
	req agentproto.HeartbeatRequest, arrived time.Time) ([]agentproto.Command, error) {
	reports := slices.Contains(req.Features, agentproto.FeatureReportRestores)
	pending, err := rs.PendingRestores(r.Context(), ag.ID)
	if err != nil {
		return nil, err
	}
	for _, rr := range pending {
		// notHeld: handed out before this heartbeat and not listed by it, so the agent
		// does not have it (the answer that handed it out was lost).
		notHeld := reports && rr.Unacknowledged() && rr.StartedAt.Before(arrived) && !slices.Contains(req.Restores, rr.ID)
		switch {
		case rr.UserID != ag.UserID:
		case rr.Status == store.RestoreQueued:
			// The passphrase and identity are read before the restore is marked running:
			// if the database fails here, it stays queued and a later heartbeat hands it
			// out.
			spec, err := a.restoreSpec(r.Context(), rr)
			if err != nil {
				return nil, err
			}
			now := a.now()
			if err := rs.StartRestore(r.Context(), rr.ID, now); errors.Is(err, store.ErrConflict) {
				continue
			} else if err != nil {
				return nil, err
			}
			a.restoreChanged(r.Context(), rs, rr.ID)
			if reports {
				if err := rs.TouchRestores(r.Context(), ag.ID, []string{rr.ID}, now); err != nil {
					return nil, err
				}
			}
			cmds = append(cmds, agentproto.Command{Type: agentproto.CommandRestore, Restore: spec})
		case rr.CancelRequested && notHeld:
			// Cancelled before the agent got it: a cancel command would name a restore
			// it does not know and be ignored, leaving the restore "running" until the
			// reaper failed it. Nothing was written; it is cancelled here.
			err := rs.FinishRestore(r.Context(), rr.ID, store.RestoreResult{Status: store.RestoreCancelled, At: a.now()})
			if err != nil && !errors.Is(err, store.ErrConflict) { // ErrConflict: the agent reported it meanwhile
				return nil, err
			}
			if err == nil {
				a.log.Info("restore cancelled before its agent received it", "restore", rr.ID, "agent", ag.ID, "handedOut", rr.StartedAt)
				a.restoreChanged(r.Context(), rs, rr.ID)
			}
		case rr.CancelRequested:
			cmds = append(cmds, agentproto.Command{Type: agentproto.CommandCancel, RunID: rr.ID})
		case notHeld:
			spec, err := a.restoreSpec(r.Context(), rr)
			if err != nil {
				return nil, err
			}
			a.log.Warn("restore handed out again: the agent does not list it (the answer that handed it out was lost)",
				"restore", rr.ID, "agent", ag.ID, "handedOut", rr.StartedAt)
			cmds = append(cmds, agentproto.Command{Type: agentproto.CommandRestore, Restore: spec})
		}
	}
	return cmds, nil
}

// restoreSpec is what hands restore rr to its agent, with the passphrase its
// backup's configuration keeps and the age identity given for it (kept until the
// agent acknowledges the restore, so a hand-out repeated after a lost answer has it
// too); a database error reading either is returned (the heartbeat fails and a later
// one hands the restore out with them).
func (a *API) restoreSpec(ctx context.Context, rr store.Restore) (*agentproto.RestoreSpec, error) {
	pass, err := a.runs.RestorePassphrase(ctx, rr)
	if err != nil {
		return nil, err
	}
	var identity string
	if a.cfg.RestoreIdentity != nil {
		if identity, err = a.cfg.RestoreIdentity(ctx, rr.ID); err != nil {
			return nil, err
		}
	}
	return &agentproto.RestoreSpec{RestoreID: rr.ID, RunID: rr.RunID, TargetDir: rr.TargetDir, Paths: rr.Paths,
		Overwrite: rr.Overwrite, UnportableNames: rr.UnportableNames, Passphrase: pass, Identity: identity}, nil
}

var logLevels = map[string]string{"info": "info", "warning": "warning", "warn": "warning", "error": "error", "debug": "info"}

// logs stores a batch of log lines, at most MaxLogBatch, each message clipped to 8 KiB.
func (a *API) logs(w http.ResponseWriter, r *http.Request, ag store.Agent) error {
	var req agentproto.LogRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if len(req.Entries) > a.cfg.MaxLogBatch {
		return apperr.New(apperr.TooLarge, "%d log lines in one request; send at most %d", len(req.Entries), a.cfg.MaxLogBatch)
	}
	now := a.now()
	logs := make([]store.AgentLog, 0, len(req.Entries))
	for _, e := range req.Entries {
		level, ok := logLevels[strings.ToLower(e.Level)]
		if !ok {
			level = "info"
		}
		ts := e.Timestamp
		if ts.IsZero() || ts.After(now.Add(time.Hour)) {
			ts = now
		}
		var meta map[string]string
		if len(e.Metadata) > 0 {
			meta = make(map[string]string, len(e.Metadata))
			for k, v := range e.Metadata {
				if len(meta) == 32 {
					break
				}
				meta[clip(k, 64)] = clip(v, 1024)
			}
		}
		logs = append(logs, store.AgentLog{AgentID: ag.ID, Level: level, Message: clip(e.Message, 8<<10), Metadata: meta, Timestamp: ts})
	}
	if err := a.st.AddAgentLogs(r.Context(), logs); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// restoreProgress records a running restore's files and bytes written so far and
// answers whether the user cancelled it.
func (a *API) restoreProgress(w http.ResponseWriter, r *http.Request, ag store.Agent) error {
	var req agentproto.RestoreProgressRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	rs, ok := a.st.(store.Restores)
	if !ok {
		return apperr.New(apperr.NotFound, "this server keeps no restores")
	}
	rr, err := agentRestore(r.Context(), rs, ag, req.RestoreID)
	if err != nil {
		return err
	}
	err = rs.ProgressRestore(r.Context(), rr.ID, ag.ID, req.FilesWritten, req.BytesWritten, a.now())
	if errors.Is(err, store.ErrConflict) {
		return apperr.New(apperr.Conflict, "restore %s is %s, not running", rr.ID, rr.Status)
	}
	if err != nil {
		return err
	}
	a.events.Publish(events.RestoreProgress(rr, req.FilesWritten, req.BytesWritten, a.now()))
	httpx.WriteJSON(w, http.StatusOK, agentproto.RestoreProgressResponse{Cancel: rr.CancelRequested})
	return nil
}

// agentRestore returns the restore id of agent ag; another agent's (or user's) is as
// unknown as a missing one.
func agentRestore(ctx context.Context, rs store.Restores, ag store.Agent, id string) (store.Restore, error) {
	rr, err := rs.GetRestore(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && (rr.AgentID != ag.ID || rr.UserID != ag.UserID) {
		return rr, apperr.New(apperr.NotFound, "no restore %q of this agent", clip(id, 64))
	}
	return rr, err
}

// restoreDone records a restore's outcome (on the restore, when the store keeps
// restores) and in the agent's log.
func (a *API) restoreDone(w http.ResponseWriter, r *http.Request, ag store.Agent) error {
	var req agentproto.RestoreCompleteRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	level, msg := "info", fmt.Sprintf("restore %s %s: %d files, %d bytes written", clip(req.RestoreID, 64), clip(req.Status, 16), req.FilesWritten, req.BytesWritten)
	if req.Error != "" {
		level, msg = "error", msg+": "+clip(req.Error, 4<<10)
	} else if note := namesNote(req); note != "" {
		level, msg = "warning", msg+": "+clip(note, 4<<10)
	}
	if rs, ok := a.st.(store.Restores); ok {
		rr, err := agentRestore(r.Context(), rs, ag, req.RestoreID)
		if err != nil {
			return err
		}
		switch req.Status {
		case store.RestoreCompleted, store.RestoreFailed, store.RestoreCancelled:
		default:
			return apperr.Invalidf("status", "status must be completed, failed or cancelled, not %q", clip(req.Status, 16))
		}
		note := req.Error
		if req.Status == store.RestoreCompleted {
			note = namesNote(req)
		}
		err = rs.FinishRestore(r.Context(), rr.ID, store.RestoreResult{Status: req.Status, Error: clip(note, 4<<10),
			FilesWritten: max(req.FilesWritten, 0), BytesWritten: max(req.BytesWritten, 0), At: a.now()})
		if err != nil && !errors.Is(err, store.ErrConflict) { // a repeated report changes nothing
			return err
		}
		if err == nil {
			a.restoreChanged(r.Context(), rs, rr.ID)
		}
	}
	err := a.st.AddAgentLogs(r.Context(), []store.AgentLog{{AgentID: ag.ID, Level: level, Message: msg,
		Metadata: map[string]string{"restoreId": clip(req.RestoreID, 64)}, Timestamp: a.now()}})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// namesNote is what a completed restore records in its error column (no column of its
// own, so no schema change): the entries restored under other names or skipped because
// the target's file system cannot hold their names; "" when there are none. The
// restore page and the API show it as warnings.
func namesNote(req agentproto.RestoreCompleteRequest) string {
	var b strings.Builder
	list := func(n, listed int, what string, item func(i int) string) {
		if n <= 0 {
			return
		}
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%d %s:", n, what)
		for i := range min(listed, 20) {
			if i > 0 {
				b.WriteString(";")
			}
			b.WriteString(" " + item(i))
		}
		if n > min(listed, 20) {
			fmt.Fprintf(&b, "; and %d more (the agent's log lists them)", n-min(listed, 20))
		}
		b.WriteString(".")
	}
	list(max(req.RenamedCount, len(req.Renamed)), len(req.Renamed), "names the target cannot hold were restored under other names",
		func(i int) string {
			return fmt.Sprintf("%q as %q", clip(req.Renamed[i].Path, 256), clip(req.Renamed[i].RestoredAs, 256))
		})
	list(max(req.SkippedCount, len(req.Skipped)), len(req.Skipped), "entries were skipped",
		func(i int) string {
			return fmt.Sprintf("%q (%s)", clip(req.Skipped[i].Path, 256), clip(req.Skipped[i].Message, 256))
		})
	return b.String()
}
