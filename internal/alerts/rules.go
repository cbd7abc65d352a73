package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/backapp/backapp/internal/scheduler"
	"github.com/backapp/backapp/internal/store"
)

// Evaluate is one pass of the state rules at the service's now: the last run of each
// configuration (failed, finished with warnings, late run started), the age of each
// configuration's last successful backup, and each agent's last heartbeat. It raises
// what holds and resolves what no longer does. Safe to run on several replicas at
// once (raising the same occurrence twice counts once), but meant for the leader.
func (s *Service) Evaluate(ctx context.Context) error {
	now := s.now().UTC()
	ages, err := s.st.ConfigAges(ctx)
	if err != nil {
		return fmt.Errorf("alert rules: %w", err)
	}
	agents, err := s.st.ListAgents(ctx, "")
	if err != nil {
		return fmt.Errorf("alert rules: %w", err)
	}
	names := map[string]string{}
	for _, c := range ages {
		names[c.ID] = c.Name
	}
	agentNames := map[string]string{}
	for _, a := range agents {
		agentNames[a.ID] = a.Name
	}
	open, err := s.st.OpenAlerts(ctx, "")
	if err != nil {
		return fmt.Errorf("alert rules: %w", err)
	}
	p := &pass{s: s, open: make(map[[2]string]string, len(open)), sem: make(chan struct{}, writers)}
	for _, a := range open {
		p.open[[2]string{a.Rule, a.Subject}] = a.Ref
	}
	var errs []error
	errs = append(errs, p.runRules(ctx, names, agentNames))
	for _, c := range ages {
		errs = append(errs, p.noBackupRule(ctx, c, agentNames[c.AgentID], now))
	}
	errs = append(errs, p.agentRules(ctx, agents, now))
	p.wg.Wait()
	return errors.Join(append(errs, p.errs...)...)
}

// writers is how many raises and resolutions of one pass run at once: each is its
// own transaction (with its notifications), and a flood of failures (1,000 runs at
// once) is bound by commits, not by the CPU.
const writers = 8

// pass is one evaluation: it knows the open alerts, so a rule that still holds for
// the same occurrence, or does not hold where nothing is open, writes nothing. A pass
// touches each rule and subject at most once, so its writes run concurrently.
type pass struct {
	s    *Service
	open map[[2]string]string // rule, subject → ref
	sem  chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
}

// write runs fn beside the pass's other writes; Evaluate waits for them and
// reports their errors.
func (p *pass) write(fn func() error) {
	p.sem <- struct{}{}
	p.wg.Go(func() {
		defer func() { <-p.sem }()
		if err := fn(); err != nil {
			p.mu.Lock()
			p.errs = append(p.errs, err)
			p.mu.Unlock()
		}
	})
}

func (p *pass) raise(ctx context.Context, a store.Alert) error {
	if ref, ok := p.open[[2]string{a.Rule, a.Subject}]; ok && ref == a.Ref {
		return nil
	}
	p.write(func() error {
		_, _, err := p.s.Raise(ctx, a)
		return err
	})
	return nil
}

func (p *pass) resolve(ctx context.Context, rule, subject, why string) error {
	if _, ok := p.open[[2]string{rule, subject}]; !ok {
		return nil
	}
	p.write(func() error {
		_, err := p.s.Resolve(ctx, rule, subject, why)
		return err
	})
	return nil
}

func named(names map[string]string, id, what string) string {
	if n := names[id]; n != "" {
		return fmt.Sprintf("%q", n)
	}
	if id == "" {
		return "the server"
	}
	return what + " " + id
}

// runRules looks at the last run of every configuration.
func (p *pass) runRules(ctx context.Context, configs, agents map[string]string) error {
	latest, err := p.s.st.LatestRuns(ctx, store.PerConfig, "")
	if err != nil {
		return fmt.Errorf("alert rules: last runs: %w", err)
	}
	var errs []error
	for _, r := range latest {
		cfg, agent := named(configs, r.ConfigID, "configuration"), named(agents, r.AgentID, "agent")
		if r.Status != "queued" {
			err := p.resolve(ctx, RuleLate, r.ConfigID, fmt.Sprintf("the late run %s has started", r.ID))
			errs = append(errs, err)
		}
		switch r.Status {
		case "failed":
			err := p.raise(ctx, store.Alert{UserID: r.UserID, ConfigID: r.ConfigID, AgentID: r.AgentID, Type: TypeFailure,
				Rule: RuleRunFailed, Subject: r.ConfigID, Ref: r.ID, Timestamp: endOf(r),
				Message: fmt.Sprintf("backup %s on %s failed: %s (run %s)", cfg, agent, runError(r), r.ID)})
			errs = append(errs, err)
		case "completed":
			err := p.resolve(ctx, RuleRunFailed, r.ConfigID, fmt.Sprintf("run %s succeeded", r.ID))
			errs = append(errs, err)
			if nerr := fileErrors(r); r.FilesSkipped > 0 || nerr > 0 {
				err = p.raise(ctx, store.Alert{UserID: r.UserID, ConfigID: r.ConfigID, AgentID: r.AgentID, Type: TypeWarning,
					Rule: RuleRunWarning, Subject: r.ConfigID, Ref: r.ID, Timestamp: endOf(r),
					Message: fmt.Sprintf("backup %s on %s finished with %d skipped files and %d errors (run %s)",
						cfg, agent, r.FilesSkipped, nerr, r.ID)})
			} else {
				err = p.resolve(ctx, RuleRunWarning, r.ConfigID, fmt.Sprintf("run %s finished without skipped files or errors", r.ID))
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func endOf(r store.Run) time.Time {
	if r.EndTime != nil {
		return *r.EndTime
	}
	return r.StartTime
}

type runErr struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// runError is a failed run's own message (the first error without a path).
func runError(r store.Run) string {
	var list []runErr
	if json.Unmarshal(r.Errors, &list) == nil {
		for _, e := range list {
			if e.Path == "" && e.Message != "" {
				return clip(e.Message, 500)
			}
		}
	}
	var one runErr
	if json.Unmarshal(r.Errors, &one) == nil && one.Message != "" {
		return clip(one.Message, 500)
	}
	return "no error was reported"
}

// fileErrors counts a run's per-file errors.
func fileErrors(r store.Run) int {
	var list []runErr
	if json.Unmarshal(r.Errors, &list) != nil {
		return 0
	}
	n := 0
	for _, e := range list {
		if e.Path != "" {
			n++
		}
	}
	return n
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// Threshold is how long configuration c may go without a successful backup: its own
// setting, else twice its schedule's interval; ok is false when it has neither (run
// by hand only).
func Threshold(c store.ConfigAge, now time.Time) (d time.Duration, ok bool) {
	var opts struct {
		AlertAfterHours int `json:"alertAfterHours"`
	}
	if json.Unmarshal(c.Options, &opts) == nil && opts.AlertAfterHours > 0 {
		return time.Duration(opts.AlertAfterHours) * time.Hour, true
	}
	var doc struct {
		CronExpression string `json:"cronExpression"`
		Timezone       string `json:"timezone"`
	}
	if json.Unmarshal(c.Schedule, &doc) != nil || doc.CronExpression == "" {
		return 0, false
	}
	sc, err := scheduler.Parse(doc.CronExpression, doc.Timezone)
	if err != nil {
		return 0, false
	}
	a := sc.Next(now)
	return 2 * sc.Next(a).Sub(a), true
}

func (p *pass) noBackupRule(ctx context.Context, c store.ConfigAge, agent string, now time.Time) error {
	limit, ok := Threshold(c, now)
	if !ok {
		err := p.resolve(ctx, RuleNoBackup, c.ID, "the configuration has no schedule and no threshold any more")
		return err
	}
	since, what := c.Since, "it was scheduled"
	if c.LastSuccess != nil {
		since, what = *c.LastSuccess, "the last one"
	}
	if now.Sub(since) <= limit {
		if c.LastSuccess != nil {
			err := p.resolve(ctx, RuleNoBackup, c.ID, "a backup succeeded at "+c.LastSuccess.UTC().Format("2006-01-02 15:04 MST"))
			return err
		}
		return nil
	}
	if agent == "" {
		agent = "the server"
	} else {
		agent = fmt.Sprintf("%q", agent)
	}
	ref := "never"
	if c.LastSuccess != nil {
		ref = c.LastSuccess.UTC().Format(time.RFC3339Nano)
	}
	err := p.raise(ctx, store.Alert{UserID: c.UserID, ConfigID: c.ID, AgentID: c.AgentID, Type: TypeFailure,
		Rule: RuleNoBackup, Subject: c.ID, Ref: ref, Timestamp: now,
		Message: fmt.Sprintf("no successful backup of %q on %s for %s (since %s at %s; threshold %s)", c.Name, agent,
			roundDur(now.Sub(since)), what, since.UTC().Format("2006-01-02 15:04 MST"), roundDur(limit))})
	return err
}

func roundDur(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%.1f days", d.Hours()/24)
	case d >= time.Hour:
		return fmt.Sprintf("%.1f hours", d.Hours())
	default:
		return d.Round(time.Minute).String()
	}
}

func (p *pass) agentRules(ctx context.Context, agents []store.Agent, now time.Time) error {
	var errs []error
	present := map[string]bool{}
	for _, a := range agents {
		if a.Revoked || a.Builtin {
			continue
		}
		present[a.ID] = true
		if a.LastSeen == nil {
			continue // never enrolled a machine: not offline, not yet online
		}
		if now.Sub(*a.LastSeen) > p.s.offlineAfter {
			err := p.raise(ctx, store.Alert{UserID: a.UserID, AgentID: a.ID, Type: TypeFailure, Rule: RuleAgentOffline,
				Subject: a.ID, Ref: a.LastSeen.UTC().Format(time.RFC3339Nano), Timestamp: now,
				Message: fmt.Sprintf("agent %q is offline: no heartbeat since %s", a.Name, a.LastSeen.UTC().Format("2006-01-02 15:04:05 MST"))})
			errs = append(errs, err)
			continue
		}
		err := p.resolve(ctx, RuleAgentOffline, a.ID, fmt.Sprintf("agent %q is back online (heartbeat at %s)",
			a.Name, a.LastSeen.UTC().Format("2006-01-02 15:04:05 MST")))
		errs = append(errs, err)
	}
	// Agents deleted or revoked while offline: nothing will bring them back.
	for k := range p.open {
		if k[0] == RuleAgentOffline && !present[k[1]] {
			err := p.resolve(ctx, RuleAgentOffline, k[1], "the agent was deleted or revoked")
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
