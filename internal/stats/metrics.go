// Package stats computes the seed's BackupMetrics (GET /api/metrics, the
// dashboard, reports) from what runs recorded: counts, success rate, durations,
// storage, per-day series and the backups the schedules will start next.
package stats

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/scheduler"
	"github.com/backapp/backapp/internal/store"
)

// Store is what metrics read.
type Store interface {
	store.RunDays
	StorageUsage(ctx context.Context, userID string) ([]store.StorageUse, error)
	ConfigStates(ctx context.Context, userID string) ([]store.ConfigState, error)
	store.StorageHistory
}

// Periods are the periods GET /api/metrics and reports accept, by name.
var Periods = map[string]time.Duration{
	"24h": 24 * time.Hour,
	"7d":  7 * 24 * time.Hour,
	"30d": 30 * 24 * time.Hour,
	"90d": 90 * 24 * time.Hour,
}

// ErrBadPeriod is returned for a period not in Periods.
var ErrBadPeriod = errors.New("unknown period")

// ParsePeriod returns the length of a named period ("" is 30d).
func ParsePeriod(p string) (string, time.Duration, error) {
	if p == "" {
		p = "30d"
	}
	d, ok := Periods[p]
	if !ok {
		return "", 0, fmt.Errorf("%w %q: use 24h, 7d, 30d or 90d", ErrBadPeriod, p)
	}
	return p, d, nil
}

// Upcoming is a backup a schedule will start (the seed's ScheduledBackup).
type Upcoming struct {
	ConfigID   string    `json:"configId"`
	ConfigName string    `json:"configName"`
	At         time.Time `json:"at"`
	Timezone   string    `json:"timezone"`
	Cron       string    `json:"cronExpression"`
	// Local is At on the schedule's wall clock, for pages ("Thu 11 Jun 02:00 CEST").
	Local string `json:"-"`
}

// Day is one UTC day of a period's series.
type Day struct {
	Date      string `json:"date"` // YYYY-MM-DD, UTC
	Completed int    `json:"completed"`
	Failed    int    `json:"failed"`
	Cancelled int    `json:"cancelled"`
	// BytesAdded is what the day's completed runs stored (archives and manifests).
	BytesAdded int64 `json:"bytesAdded"`
	// StorageUsed is the storage used as recorded that day (the day's last record);
	// -1 when the server recorded nothing that day.
	StorageUsed int64 `json:"storageUsed"`
	// AverageDuration of the day's completed runs, in milliseconds (0 when none).
	AverageDuration int64 `json:"averageDuration"`
}

// Metrics is the seed's BackupMetrics with the counts behind it and per-day series.
type Metrics struct {
	Period string    `json:"period"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	// TotalBackups counts the runs started in the period, whatever their outcome.
	TotalBackups int `json:"totalBackups"`
	Completed    int `json:"completed"`
	Failed       int `json:"failed"`
	Cancelled    int `json:"cancelled"`
	Running      int `json:"running"` // queued or running now
	// Last24h counts the runs started in the 24 hours before To.
	Last24h int `json:"backupsLast24h"`
	// SuccessRate is completed / (completed + failed) in percent, 0 when neither.
	SuccessRate float64 `json:"successRate"`
	// AverageDuration of the period's completed runs, in milliseconds.
	AverageDuration int64 `json:"averageDuration"`
	// TotalStorageUsed is what every completed, unexpired run holds (not only the
	// period's), in bytes; TotalObjects the archives and manifests.
	TotalStorageUsed int64      `json:"totalStorageUsed"`
	TotalObjects     int64      `json:"totalObjects"`
	LastBackupDate   *time.Time `json:"lastBackupDate,omitempty"` // newest success's end
	UpcomingBackups  []Upcoming `json:"upcomingBackups"`
	Days             []Day      `json:"days"`
}

// Service computes metrics.
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

// Get computes userID's metrics (everyone's when "") over the named period.
func (s *Service) Get(ctx context.Context, userID, period string) (Metrics, error) {
	if _, _, err := ParsePeriod(period); err != nil {
		return Metrics{}, err
	}
	cs, err := s.store.ConfigStates(ctx, userID)
	if err != nil {
		return Metrics{}, err
	}
	return s.get(ctx, userID, period, cs, parseSchedules(cs))
}

// Overview is the dashboard's Get and its protection table, reading the
// configurations' states once for both.
func (s *Service) Overview(ctx context.Context, userID, period string) (Metrics, []Protection, int, error) {
	if _, _, err := ParsePeriod(period); err != nil {
		return Metrics{}, nil, 0, err
	}
	cs, err := s.store.ConfigStates(ctx, userID)
	if err != nil {
		return Metrics{}, nil, 0, err
	}
	scs := parseSchedules(cs)
	m, err := s.get(ctx, userID, period, cs, scs)
	if err != nil {
		return Metrics{}, nil, 0, err
	}
	rows, failing := s.protections(cs, scs)
	return m, rows, failing, nil
}

func (s *Service) get(ctx context.Context, userID, period string, cs []store.ConfigState, scs []parsedSchedule) (Metrics, error) {
	name, length, err := ParsePeriod(period)
	if err != nil {
		return Metrics{}, err
	}
	now := s.now().UTC()
	m := Metrics{Period: name, From: now.Add(-length), To: now, UpcomingBackups: []Upcoming{}}
	first := m.From.Truncate(24 * time.Hour)
	nDays := int(now.Truncate(24*time.Hour).Sub(first)/(24*time.Hour)) + 1
	m.Days = make([]Day, nDays)
	for i := range m.Days {
		m.Days[i].Date = first.Add(time.Duration(i) * 24 * time.Hour).Format(time.DateOnly)
		m.Days[i].StorageUsed = -1
	}
	days, recent, err := s.store.RunDays(ctx, userID, m.From, now.Add(-24*time.Hour))
	if err != nil {
		return Metrics{}, err
	}
	m.Last24h = recent
	durs := make([]int64, nDays)
	timed := make([]int64, nDays)
	var durSum, durN int64
	for _, x := range days {
		m.TotalBackups += x.Runs
		i := nDays - 1 // a run started in the future (a clock ahead) counts as today
		if t, err := time.Parse(time.DateOnly, x.Day); err == nil {
			if j := int(t.Sub(first) / (24 * time.Hour)); j >= 0 && j < nDays {
				i = j
			}
		}
		d := &m.Days[i]
		switch x.Status {
		case "completed", store.RunExpired:
			m.Completed += x.Runs
			d.Completed += x.Runs
			d.BytesAdded += x.Stored
			durSum += x.DurationMS
			durN += int64(x.Timed)
			durs[i] += x.DurationMS
			timed[i] += int64(x.Timed)
		case "failed":
			m.Failed += x.Runs
			d.Failed += x.Runs
		case "cancelled":
			m.Cancelled += x.Runs
			d.Cancelled += x.Runs
		case "queued", "running":
			m.Running += x.Runs
		}
	}
	for i := range m.Days {
		if timed[i] > 0 {
			m.Days[i].AverageDuration = durs[i] / timed[i]
		}
	}
	if durN > 0 {
		m.AverageDuration = durSum / durN
	}
	if f := m.Completed + m.Failed; f > 0 {
		m.SuccessRate = float64(m.Completed) * 100 / float64(f)
	}
	use, err := s.store.StorageUsage(ctx, userID)
	if err != nil {
		return Metrics{}, err
	}
	for _, u := range use {
		m.TotalStorageUsed += u.Bytes
		m.TotalObjects += u.Objects
	}
	for _, c := range cs {
		if t := c.LastSuccess; t != nil && (m.LastBackupDate == nil || t.After(*m.LastBackupDate)) {
			m.LastBackupDate = t
		}
	}
	m.UpcomingBackups = upcomings(cs, scs, now, 24*time.Hour)
	hist, err := s.store.StorageHistory(ctx, userID, first)
	if err != nil {
		return Metrics{}, err
	}
	for _, h := range hist {
		if d, err := time.Parse(time.DateOnly, h.Day); err == nil {
			if i := int(d.Sub(first) / (24 * time.Hour)); i >= 0 && i < nDays {
				m.Days[i].StorageUsed = h.Bytes
			}
		}
	}
	return m, nil
}

// maxUpcoming bounds the list: an every-minute schedule would fill it alone.
const (
	maxUpcomingPerConfig = 24
	maxUpcoming          = 100
)

// scheduleDoc is a config's schedule document.
type scheduleDoc struct {
	CronExpression string `json:"cronExpression"`
	Timezone       string `json:"timezone"`
}

// parsedSchedule is a config's schedule, parsed once per request for the
// upcoming backups and the protection table; sc is nil without a valid one (the
// scheduler reports those on every tick).
type parsedSchedule struct {
	sc   *scheduler.Schedule
	cron string
}

func parseSchedules(cs []store.ConfigState) []parsedSchedule {
	out := make([]parsedSchedule, len(cs))
	for i, c := range cs {
		var d scheduleDoc
		if len(c.Schedule) == 0 || json.Unmarshal(c.Schedule, &d) != nil || strings.TrimSpace(d.CronExpression) == "" {
			continue
		}
		if sc, err := scheduler.Parse(d.CronExpression, d.Timezone); err == nil {
			out[i] = parsedSchedule{sc, d.CronExpression}
		}
	}
	return out
}

// upcomings lists the slots of the enabled configs' schedules in (now, now+within],
// soonest first (then by name), each in its schedule's timezone: at most
// maxUpcomingPerConfig per config and maxUpcoming in all. The schedules are
// merged (a heap of each config's next slot), so the cost is one slot per config
// and one per slot listed, whatever the number of configurations.
func upcomings(cs []store.ConfigState, scs []parsedSchedule, now time.Time, within time.Duration) []Upcoming {
	out := []Upcoming{}
	end := now.Add(within)
	h := &slotHeap{}
	for i, c := range cs {
		sc := scs[i].sc
		if !c.Enabled || sc == nil {
			continue
		}
		if at := sc.Next(now); !at.IsZero() && !at.After(end) {
			h.s = append(h.s, slot{at: at, name: c.Name, i: i, sc: sc, cron: scs[i].cron})
		}
	}
	heap.Init(h)
	for h.Len() > 0 && len(out) < maxUpcoming {
		x := heap.Pop(h).(slot)
		c := cs[x.i]
		out = append(out, Upcoming{ConfigID: c.ID, ConfigName: c.Name, At: x.at.UTC(), Local: x.at.In(x.sc.Location()).Format("Mon 2 Jan 15:04 MST"),
			Timezone: x.sc.Location().String(), Cron: x.cron})
		if x.n++; x.n < maxUpcomingPerConfig {
			if x.at = x.sc.Next(x.at); !x.at.IsZero() && !x.at.After(end) {
				heap.Push(h, x)
			}
		}
	}
	return out
}

// slot is a config's next slot in Upcomings' merge; n counts those listed before.
type slot struct {
	at   time.Time
	name string
	i    int
	n    int
	sc   *scheduler.Schedule
	cron string
}

// slotHeap orders slots by time, then config name, then config order.
type slotHeap struct{ s []slot }

func (h *slotHeap) Len() int { return len(h.s) }
func (h *slotHeap) Less(i, j int) bool {
	a, b := h.s[i], h.s[j]
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	if a.name != b.name {
		return a.name < b.name
	}
	return a.i < b.i
}
func (h *slotHeap) Swap(i, j int) { h.s[i], h.s[j] = h.s[j], h.s[i] }
func (h *slotHeap) Push(x any)    { h.s = append(h.s, x.(slot)) }
func (h *slotHeap) Pop() any {
	x := h.s[len(h.s)-1]
	h.s = h.s[:len(h.s)-1]
	return x
}
