package web

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/configs"
	"github.com/backapp/backapp/internal/runs"
	"github.com/backapp/backapp/internal/store"
)

// configShowData is a configuration's own page: its settings in words, its last
// runs, its next runs and its size estimate.
type configShowData struct {
	Config   configs.Config
	Settings []setting
	Sources  []configs.Source
	Runs     []runView
	Total    int
	Next     []string // the next run times in the schedule's timezone
	NextNote string   // why there are none
	Estimate *estimateView
	CanRun   bool
}

// setting is one line of the settings in words.
type setting struct{ Label, Text string }

// configShow serves GET /configs/{id}. Another user's configuration is not found
// (404), as everywhere.
func (h *Handler) configShow(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	ctx := r.Context()
	c, err := h.configs.Get(ctx, sess.User, r.PathValue("id"))
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	d := &configShowData{Config: c, Sources: c.Sources, Estimate: h.estimate(ctx, sess.User, c.ID), CanRun: h.runs != nil}
	agentName, destName := "", ""
	if ch, err := h.configs.Choices(ctx, sess.User, c.ID); err == nil {
		for _, a := range ch.Agents {
			if a.ID == c.Agent() {
				agentName = a.Name
			}
		}
		for _, x := range ch.Destinations {
			if x.ID == c.Destination.DestinationID || c.Destination.DestinationID == "" && x.Kind == store.DestinationLocal {
				destName = x.Name
			}
		}
	} else {
		h.log.Warn("configuration page: agent and destination names", "config", c.ID, "err", err)
	}
	d.Settings = configSettings(c, agentName, destName)
	now := h.now()
	switch {
	case c.Schedule == nil || strings.TrimSpace(c.Schedule.CronExpression) == "":
		d.NextNote = "It runs only when started by hand (Run now)."
	case !c.Enabled:
		d.NextNote = "It is disabled: it does not run on its schedule until it is enabled again."
	default:
		ts, err := configs.Preview(c.Schedule.CronExpression, c.Schedule.Timezone, now, configs.PreviewCount)
		if err != nil {
			d.NextNote = "Its schedule cannot be read: " + err.Error() + ". Edit it."
		}
		for _, t := range ts {
			d.Next = append(d.Next, configs.FormatRunTime(t))
		}
	}
	if h.runs != nil {
		pg, err := h.runs.List(ctx, sess.User, runs.Filter{ConfigID: c.ID, Limit: 10})
		if err != nil {
			h.RenderError(w, r, err)
			return
		}
		d.Total = pg.Total
		for _, run := range pg.Runs {
			d.Runs = append(d.Runs, runView{Run: run, now: now})
		}
	}
	h.render(w, r, http.StatusOK, "config_show", &page{Title: c.Name, Nav: "configs", Data: d})
}

// configSettings says a configuration's settings in words, one line each.
func configSettings(c configs.Config, agentName, destName string) []setting {
	o := c.Options
	var out []setting
	add := func(label, format string, args ...any) {
		out = append(out, setting{label, fmt.Sprintf(format, args...)})
	}
	if c.Enabled {
		add("State", "Enabled: it runs on its schedule")
	} else {
		add("State", "Disabled: it keeps its settings and history but does not run on its schedule")
	}
	if c.ExecutionMode == configs.ModeServer {
		add("Runs on", "The backapp server itself (server mode)")
	} else if agentName != "" {
		add("Runs on", "Agent %s", agentName)
	} else {
		add("Runs on", "No agent: choose one by editing the configuration")
	}
	if destName == "" {
		destName = "a destination that is no longer available"
	}
	add("Stored in", "%s", destName)
	if c.Schedule == nil || strings.TrimSpace(c.Schedule.CronExpression) == "" {
		add("When", "Only when started by hand")
	} else {
		tz := c.Schedule.Timezone
		if tz == "" {
			tz = "UTC"
		}
		add("When", "%s (%s), cron %s", configs.DescribeSchedule(c.Schedule.CronExpression), tz, c.Schedule.CronExpression)
	}
	switch {
	case o.Type == "full":
		add("Type", "Full: everything every time")
	default:
		var full []string
		if o.FullEvery > 0 {
			full = append(full, fmt.Sprintf("every %d runs", o.FullEvery))
		}
		if o.FullEveryDays > 0 {
			full = append(full, fmt.Sprintf("every %d days", o.FullEveryDays))
		}
		if len(full) == 0 {
			add("Type", "Incremental: only what changed since the previous run; the first run is full")
		} else {
			add("Type", "Incremental: only what changed since the previous run, with a full backup %s (whichever comes first)", strings.Join(full, " or "))
		}
	}
	switch o.Compression {
	case "none", "":
		add("Compression", "None")
	default:
		if o.CompressionLevel > 0 {
			add("Compression", "%s, level %d", o.Compression, o.CompressionLevel)
		} else {
			add("Compression", "%s, default level", o.Compression)
		}
	}
	switch o.EncryptionMode {
	case configs.EncryptAge:
		n := len(o.Recipients)
		add("Encryption", "age, to %d %s (public keys); restoring needs the matching identity", n, plural(int64(n), "recipient", "recipients"))
	case configs.EncryptPassphrase:
		add("Encryption", "age, with a passphrase the server keeps for the agent")
	default:
		add("Encryption", "None: the storage sees the files as they are")
	}
	if o.OnError == "fail" {
		add("Unreadable files", "Fail the backup")
	} else {
		add("Unreadable files", "Reported, and the backup goes on")
	}
	if o.FollowSymlinks {
		add("Symbolic links", "Followed")
	} else {
		add("Symbolic links", "Stored as links")
	}
	if o.Bandwidth > 0 {
		add("Bandwidth", "At most %d KB/s", o.Bandwidth)
	} else {
		add("Bandwidth", "Unlimited")
	}
	var keep []string
	if o.RetentionDays > 0 {
		keep = append(keep, fmt.Sprintf("backups younger than %d days", o.RetentionDays))
	}
	for _, k := range []struct {
		n          int
		what, unit string
	}{{o.KeepLast, "the last", "backups"}, {o.KeepDaily, "one a day for", "days"}, {o.KeepWeekly, "one a week for", "weeks"}, {o.KeepMonthly, "one a month for", "months"}} {
		if k.n > 0 {
			keep = append(keep, fmt.Sprintf("%s %d %s", k.what, k.n, k.unit))
		}
	}
	if len(keep) == 0 {
		add("Retention", "Everything is kept")
	} else {
		add("Retention", "Keeps %s; the newest good backup and what kept ones need are always kept", strings.Join(keep, ", "))
	}
	if o.AlertAfterHours > 0 {
		add("Alert", "When no backup succeeded for %d hours", o.AlertAfterHours)
	} else {
		add("Alert", "When no backup succeeded for twice the schedule's interval")
	}
	if h := o.Hooks; h != nil && (h.Pre != "" || h.Post != "") {
		timeout := h.TimeoutSeconds
		if timeout == 0 {
			timeout = 3600
		}
		var parts []string
		if h.Pre != "" {
			parts = append(parts, "before: "+h.Pre)
		}
		if h.Post != "" {
			parts = append(parts, "after: "+h.Post)
		}
		add("Hooks", "%s (stopped after %s)", strings.Join(parts, "; "), humanDuration(time.Duration(timeout)*time.Second))
	} else {
		add("Hooks", "None")
	}
	return out
}
