// Package report builds backup reports (GET /api/reports, the /reports page): one
// row per run over a period, optionally filtered, as CSV (streamed), JSON or PDF
// (a summary page with the headline numbers and a chart, then a table per
// configuration). Runs are read as a stream, so a report of years of runs holds
// only the per-configuration totals in memory.
package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/stats"
	"github.com/backapp/backapp/internal/store"
)

// Store is what reports read.
type Store interface {
	EachRunStat(ctx context.Context, userID string, since time.Time, fn func(store.RunStat) error) error
	ListConfigs(ctx context.Context, userID string) ([]store.BackupConfig, error)
	ListAgents(ctx context.Context, userID string) ([]store.Agent, error)
	GetUser(ctx context.Context, id string) (store.User, error)
}

// Formats are the formats a report is written in.
var Formats = []string{"csv", "json", "pdf"}

// Statuses a report may filter by.
var Statuses = []string{"completed", "failed", "cancelled", "running", "queued", "expired"}

// Request is what a report covers. Period names a window ending now (24h, 7d, 30d,
// 90d); else From and To (dates, To inclusive) bound it.
type Request struct {
	Period   string
	From, To time.Time
	ConfigID string
	AgentID  string
	Status   string
	UserID   string // administrators only: one user's runs ("" everyone's)
	Format   string
}

// Service builds reports.
type Service struct {
	store Store
	now   func() time.Time
}

// New returns the service; now is the clock (time.Now when nil).
func New(s Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: s, now: now}
}

// Report is a checked request, ready to write.
type Report struct {
	s        *Service
	req      Request
	from, to time.Time // [from, to)
	userID   string    // whose runs ("" everyone's)
	configs  map[string]string
	agents   map[string]string
	Label    string // the period in words and file names: "30d-2026-06-10" or "2026-01-01_2026-06-30"
	Format   string
}

// Prepare checks req for actor and resolves names. A filter naming another user's
// configuration, agent or (for a user) user is a NotFound error, as if it did not
// exist.
func (s *Service) Prepare(ctx context.Context, actor store.User, req Request) (*Report, error) {
	fields := apperr.Fields{}
	if req.Format == "" {
		req.Format = "csv"
	}
	if !contains(Formats, req.Format) {
		fields.Add("format", "unknown format %q: use csv, json or pdf", req.Format)
	}
	if req.Status != "" && !contains(Statuses, req.Status) {
		fields.Add("status", "unknown status %q: use one of %s", req.Status, strings.Join(Statuses, ", "))
	}
	now := s.now().UTC()
	r := &Report{s: s, req: req, Format: req.Format}
	switch {
	case req.Period != "" && (!req.From.IsZero() || !req.To.IsZero()):
		fields.Add("period", "give a period or from and to, not both")
	case req.Period != "" || req.From.IsZero() && req.To.IsZero():
		name, d, err := stats.ParsePeriod(req.Period)
		if err != nil {
			fields.Add("period", "%s", strings.TrimPrefix(err.Error(), "unknown period "))
		}
		r.from, r.to = now.Add(-d), now
		r.Label = name + "-" + now.Format(time.DateOnly)
	default:
		r.from, r.to = req.From, req.To.AddDate(0, 0, 1)
		if req.To.IsZero() {
			r.to = now
		}
		if !r.to.After(r.from) {
			fields.Add("to", "the end (to) must not be before the start (from)")
		}
		r.Label = r.from.Format(time.DateOnly) + "_" + r.to.AddDate(0, 0, -1).Format(time.DateOnly)
	}
	if err := fields.Err(); err != nil {
		return nil, err
	}
	r.userID = actor.ID
	if actor.IsAdmin() {
		r.userID = req.UserID
		if req.UserID != "" {
			if _, err := s.store.GetUser(ctx, req.UserID); err != nil {
				return nil, notFound("user", req.UserID, err)
			}
		}
	} else if req.UserID != "" && req.UserID != actor.ID {
		return nil, apperr.New(apperr.NotFound, "no user %s", req.UserID)
	}
	cs, err := s.store.ListConfigs(ctx, r.userID)
	if err != nil {
		return nil, err
	}
	r.configs = make(map[string]string, len(cs))
	for _, c := range cs {
		r.configs[c.ID] = c.Name
	}
	as, err := s.store.ListAgents(ctx, r.userID)
	if err != nil {
		return nil, err
	}
	r.agents = make(map[string]string, len(as))
	for _, a := range as {
		r.agents[a.ID] = a.Name
	}
	if _, ok := r.configs[req.ConfigID]; req.ConfigID != "" && !ok {
		return nil, apperr.New(apperr.NotFound, "no configuration %s", req.ConfigID)
	}
	if _, ok := r.agents[req.AgentID]; req.AgentID != "" && !ok {
		return nil, apperr.New(apperr.NotFound, "no agent %s", req.AgentID)
	}
	return r, nil
}

func notFound(what, id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return apperr.New(apperr.NotFound, "no %s %s", what, id)
	}
	return err
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// FileName is the report's download name, carrying its period.
func (r *Report) FileName() string { return "backapp-report-" + r.Label + "." + r.Format }

// Row is one run of a report.
type Row struct {
	RunID         string     `json:"runId"`
	Configuration string     `json:"configuration"`
	ConfigID      string     `json:"configId"`
	Agent         string     `json:"agent"`
	Status        string     `json:"status"`
	StartTime     time.Time  `json:"startTime"`
	EndTime       *time.Time `json:"endTime,omitempty"`
	Duration      int64      `json:"duration"` // milliseconds, -1 when unknown
	Files         int64      `json:"files"`
	BytesRead     int64      `json:"bytesRead"`
	BytesStored   int64      `json:"bytesStored"`
	Error         string     `json:"error,omitempty"`
}

// errStop ends a stream early (runs past the period's end).
var errStop = errors.New("stop")

// Each calls fn with every run of the report, oldest first.
func (r *Report) Each(ctx context.Context, fn func(Row) error) error {
	err := r.s.store.EachRunStat(ctx, r.userID, r.from, func(x store.RunStat) error {
		if !x.StartTime.Before(r.to) {
			return errStop
		}
		if r.req.ConfigID != "" && x.ConfigID != r.req.ConfigID || r.req.AgentID != "" && x.AgentID != r.req.AgentID ||
			r.req.Status != "" && x.Status != r.req.Status {
			return nil
		}
		row := Row{RunID: x.ID, ConfigID: x.ConfigID, Configuration: r.configs[x.ConfigID], Agent: r.agents[x.AgentID],
			Status: x.Status, StartTime: x.StartTime, EndTime: x.EndTime, Duration: -1, Files: x.Files,
			BytesRead: x.TotalBytes, BytesStored: x.Stored, Error: errorText(x.Errors)}
		if x.DurationMS != nil {
			row.Duration = *x.DurationMS
		} else if x.EndTime != nil {
			row.Duration = x.EndTime.Sub(x.StartTime).Milliseconds()
		}
		if row.Agent == "" && x.AgentID == "" {
			row.Agent = "server"
		}
		return fn(row)
	})
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// errorText is a run's errors in one line: the run's message, or the first file's
// with how many more.
func errorText(doc json.RawMessage) string {
	if len(doc) == 0 || string(doc) == "null" {
		return ""
	}
	var one struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(doc, &one) == nil && one.Message != "" {
		return one.Message
	}
	var list []struct {
		Path    string `json:"path"`
		Message string `json:"message"`
	}
	if json.Unmarshal(doc, &list) == nil {
		if len(list) == 0 {
			return ""
		}
		s := list[0].Path + ": " + list[0].Message
		if len(list) > 1 {
			s += fmt.Sprintf(" (and %d more)", len(list)-1)
		}
		return s
	}
	return string(doc)
}

// ConfigSummary is one configuration's totals over the report.
type ConfigSummary struct {
	ConfigID        string     `json:"configId"`
	Configuration   string     `json:"configuration"`
	Runs            int        `json:"runs"`
	Completed       int        `json:"completed"`
	Failed          int        `json:"failed"`
	SuccessRate     float64    `json:"successRate"`     // percent of completed + failed
	AverageDuration int64      `json:"averageDuration"` // ms, completed runs
	BytesAdded      int64      `json:"bytesAdded"`
	LastSuccess     *time.Time `json:"lastSuccess,omitempty"`
	Failures        []Failure  `json:"failures"` // the last maxFailures
	durSum, durN    int64
}

// Failure is a failed run and its reason.
type Failure struct {
	RunID  string    `json:"runId"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

const maxFailures = 20

// Summary is a report's totals: overall and per configuration.
type Summary struct {
	From, To  time.Time
	Total     ConfigSummary
	PerConfig []*ConfigSummary
	Days      []stats.Day
}

func (c *ConfigSummary) add(r Row) {
	c.Runs++
	switch r.Status {
	case "completed", store.RunExpired:
		c.Completed++
		c.BytesAdded += r.BytesStored
		if r.Duration >= 0 {
			c.durSum += r.Duration
			c.durN++
		}
		if end := r.EndTime; end != nil && (c.LastSuccess == nil || end.After(*c.LastSuccess)) {
			c.LastSuccess = end
		}
	case "failed":
		c.Failed++
		c.Failures = append(c.Failures, Failure{RunID: r.RunID, At: r.StartTime, Reason: r.Error})
		if len(c.Failures) > maxFailures {
			c.Failures = c.Failures[1:]
		}
	}
}

func (c *ConfigSummary) finish() {
	if c.Failures == nil {
		c.Failures = []Failure{}
	}
	if f := c.Completed + c.Failed; f > 0 {
		c.SuccessRate = float64(c.Completed) * 100 / float64(f)
	}
	if c.durN > 0 {
		c.AverageDuration = c.durSum / c.durN
	}
}

// Summarise reads the report's runs into totals (memory grows with the
// configurations and days, not the runs), calling each (when not nil) with every
// run on the way.
func (r *Report) Summarise(ctx context.Context, each func(Row) error) (*Summary, error) {
	s := &Summary{From: r.from, To: r.to}
	per := map[string]*ConfigSummary{}
	first := r.from.UTC().Truncate(24 * time.Hour)
	nDays := int(r.to.Add(-time.Nanosecond).UTC().Truncate(24*time.Hour).Sub(first)/(24*time.Hour)) + 1
	if nDays > 366*5 {
		nDays = 0 // a chart of years says nothing per day: the tables do
	}
	s.Days = make([]stats.Day, nDays)
	for i := range s.Days {
		s.Days[i].Date = first.AddDate(0, 0, i).Format(time.DateOnly)
	}
	err := r.Each(ctx, func(x Row) error {
		c := per[x.ConfigID]
		if c == nil {
			c = &ConfigSummary{ConfigID: x.ConfigID, Configuration: x.Configuration}
			per[x.ConfigID] = c
		}
		c.add(x)
		s.Total.add(x)
		if each != nil {
			if err := each(x); err != nil {
				return err
			}
		}
		if i := int(x.StartTime.UTC().Sub(first) / (24 * time.Hour)); i >= 0 && i < nDays {
			switch x.Status {
			case "completed", store.RunExpired:
				s.Days[i].Completed++
				s.Days[i].BytesAdded += x.BytesStored
			case "failed":
				s.Days[i].Failed++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.Total.Failures = nil
	s.Total.finish()
	for _, c := range per {
		c.finish()
		s.PerConfig = append(s.PerConfig, c)
	}
	sort.Slice(s.PerConfig, func(i, j int) bool {
		if s.PerConfig[i].Configuration != s.PerConfig[j].Configuration {
			return s.PerConfig[i].Configuration < s.PerConfig[j].Configuration
		}
		return s.PerConfig[i].ConfigID < s.PerConfig[j].ConfigID
	})
	return s, nil
}
