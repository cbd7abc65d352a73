package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/store"
)

// Events a channel can want.
const (
	EventFailure      = "failure"       // a failure alert opened or occurred again
	EventWarning      = "warning"       // a warning alert
	EventLate         = "late"          // a scheduled run late or missed
	EventAgentOffline = "agent_offline" // an agent went offline
	EventAgentOnline  = "agent_online"  // an offline agent is back
	EventResolved     = "resolved"      // any other alert resolved itself
	EventSummary      = "daily_summary" // once a day: what happened
	EventTest         = "test"          // the "send test" button
)

// Events lists the events a channel can want, in the order the page shows them.
var Events = []string{EventFailure, EventWarning, EventLate, EventAgentOffline, EventAgentOnline, EventResolved, EventSummary}

// Version is the generic payload's version; a change that is not backwards
// compatible gets a new one.
const Version = 1

// Payload is the generic JSON document (docs/notifications.md), what every message
// in the outbox holds; presets and e-mail are made from it.
type Payload struct {
	Version   int       `json:"version"`
	Event     string    `json:"event"`
	Title     string    `json:"title"`
	Text      string    `json:"text"`
	Timestamp time.Time `json:"timestamp"`
	URL       string    `json:"url,omitempty"`
	Alert     *Alert    `json:"alert,omitempty"`
	Summary   *Summary  `json:"summary,omitempty"`
}

// Alert is the alert a payload is about, as it was when the message was written.
type Alert struct {
	ID          string     `json:"id"`
	Type        string     `json:"type"`
	Rule        string     `json:"rule"`
	Subject     string     `json:"subject"`
	ConfigID    string     `json:"configId,omitempty"`
	ConfigName  string     `json:"configName,omitempty"`
	AgentID     string     `json:"agentId,omitempty"`
	AgentName   string     `json:"agentName,omitempty"`
	Message     string     `json:"message"`
	Occurrences int        `json:"occurrences"`
	FirstAt     time.Time  `json:"firstAt"`
	LastAt      time.Time  `json:"lastAt"`
	ResolvedAt  *time.Time `json:"resolvedAt,omitempty"`
	Resolution  string     `json:"resolution,omitempty"`
	RunID       string     `json:"runId,omitempty"`
	RunURL      string     `json:"runUrl,omitempty"`
}

// Summary is a daily summary's numbers.
type Summary struct {
	Since        time.Time `json:"since"`
	Opened       int       `json:"opened"`
	Resolved     int       `json:"resolved"`
	Open         int       `json:"open"`
	RunsFailed   int       `json:"runsFailed"`
	RunsComplete int       `json:"runsCompleted"`
}

// Noticer turns alerts' changes into outbox notices. BaseURL is the server's public
// URL, for the links.
type Noticer struct {
	BaseURL string
}

// runRules are the rules whose Ref is the run they are about, checksum's Subject.
var runRules = map[string]bool{"run_failed": true, "run_warning": true}

// Notice is what a's change (event) notifies.
func (n Noticer) Notice(a store.Alert, event string) store.Notice {
	base := strings.TrimRight(n.BaseURL, "/")
	doc := &Alert{ID: a.ID, Type: a.Type, Rule: a.Rule, Subject: a.Subject, ConfigID: a.ConfigID, ConfigName: a.ConfigName,
		AgentID: a.AgentID, AgentName: a.AgentName, Message: a.Message, Occurrences: a.Occurrences,
		FirstAt: a.Timestamp.UTC(), LastAt: a.Last().UTC(), ResolvedAt: a.ResolvedAt, Resolution: a.Resolution}
	switch {
	case runRules[a.Rule]:
		doc.RunID = a.Ref
	case a.Rule == "checksum":
		doc.RunID = a.Subject
	}
	if doc.RunID != "" && base != "" {
		doc.RunURL = base + "/backups/" + doc.RunID
	}
	p := Payload{Version: Version, Event: event, Title: title(a, event), Text: a.Message, Timestamp: a.Last().UTC(), Alert: doc}
	if base != "" {
		p.URL = base + "/alerts"
	}
	if a.ResolvedAt != nil {
		p.Timestamp = a.ResolvedAt.UTC()
		p.Text = a.Resolution + " (was: " + a.Message + ")"
	}
	body, err := json.Marshal(p)
	if err != nil {
		panic("notify: marshal payload: " + err.Error()) // plain strings, times and numbers
	}
	// One message per occurrence, and one per resolution.
	dedupe := fmt.Sprintf("%s:%s:%d", a.ID, event, a.Occurrences)
	if a.ResolvedAt != nil {
		dedupe = a.ID + ":resolved"
	}
	out := store.Notice{Event: event, Payload: body, Dedupe: dedupe}
	if a.Rule == ruleChannelFailing {
		out.ExceptChannel = a.Subject // it would fail there too, and say so again
	}
	return out
}

// ruleChannelFailing is outbox.RuleChannelFailing (that package imports this one).
const ruleChannelFailing = "channel_failing"

func title(a store.Alert, event string) string {
	what := a.ConfigName
	switch {
	case what != "":
		what = fmt.Sprintf("backup %q", what)
	case a.AgentName != "":
		what = fmt.Sprintf("agent %q", a.AgentName)
	default:
		what = strings.ReplaceAll(a.Rule, "_", " ")
	}
	switch event {
	case EventResolved:
		return "Resolved: " + what
	case EventAgentOnline:
		return "Back online: " + what
	case EventAgentOffline:
		return "Offline: " + what
	case EventLate:
		return "Late: " + what
	case EventWarning:
		return "Warning: " + what
	}
	switch a.Rule {
	case "run_failed":
		return "Failed: " + what
	case "no_backup":
		return "No recent backup: " + what
	}
	return "Failure: " + what
}

// Decode reads a stored payload.
func Decode(b []byte) (Payload, error) {
	var p Payload
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("read notification payload: %w", err)
	}
	return p, nil
}
