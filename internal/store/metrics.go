package store

import (
	"context"
	"encoding/json"
	"time"
)

// RunStat is what metrics and reports read of a run: its outcome, times and sizes.
type RunStat struct {
	ID            string
	ConfigID      string
	AgentID       string // "" in server mode
	DestinationID string // "" before the run was given one
	Status        string
	StartTime     time.Time
	EndTime       *time.Time
	DurationMS    *int64
	TotalBytes    int64 // bytes read from the sources
	Stored        int64 // archive + manifest bytes in the destination
	Files         int64 // files processed
	Errors        json.RawMessage
}

// ConfigState is what the dashboard and the metrics read of a configuration.
type ConfigState struct {
	ID       string
	Name     string
	Enabled  bool
	Schedule json.RawMessage
	// LastSuccess is the end of the newest completed run (expired ones count:
	// they completed); nil when none.
	LastSuccess *time.Time
	// LatestStatus is the status of the newest run (by start, then id); "" when
	// there is none.
	LatestStatus string
}

// StorageUse is what the completed, unexpired runs of one (destination,
// configuration, agent) hold in storage, as the runs recorded it.
type StorageUse struct {
	DestinationID string
	ConfigID      string
	AgentID       string
	Bytes         int64
	Objects       int64 // archives and manifests
	Runs          int64
}

// Metrics is what the dashboard, the metrics API and reports read.
type Metrics interface {
	// EachRunStat calls fn for every run of userID (everyone's when "") started at or
	// after since, oldest first, streaming (memory does not grow with the runs). An
	// error from fn stops it and is returned.
	EachRunStat(ctx context.Context, userID string, since time.Time, fn func(RunStat) error) error
	// StorageUsage sums what userID's (everyone's when "") completed runs hold.
	StorageUsage(ctx context.Context, userID string) ([]StorageUse, error)
	// ConfigStates lists userID's (everyone's when "") configurations, oldest
	// first, each with its schedule, its newest success and its newest run's
	// status: in one query, one index probe per configuration for each.
	ConfigStates(ctx context.Context, userID string) ([]ConfigState, error)
	StorageHistory
	RunDays
}

// StorageDay is the storage used on one day, as recorded that day.
type StorageDay struct {
	Day     string // YYYY-MM-DD, UTC
	Bytes   int64
	Objects int64
}

// StorageHistory records and reads storage used over time.
type StorageHistory interface {
	// RecordStorageDay replaces day's record (UTC) with what StorageUsage sums now,
	// for every user.
	RecordStorageDay(ctx context.Context, day time.Time) error
	// StorageHistory returns userID's (everyone's when "") records from since's day
	// on, oldest first.
	StorageHistory(ctx context.Context, userID string, since time.Time) ([]StorageDay, error)
}

// RunDay is the runs of one status started on one UTC day.
type RunDay struct {
	Day        string // YYYY-MM-DD
	Status     string
	Runs       int
	Stored     int64 // archive + manifest bytes
	DurationMS int64 // sum over the runs with a duration
	Timed      int   // runs with a duration
}

// RunDays is the day-by-day aggregate metrics read in one query.
type RunDays interface {
	// RunDays sums userID's (everyone's when "") runs started at or after since by
	// UTC day and status, and counts those started at or after recent.
	RunDays(ctx context.Context, userID string, since, recent time.Time) (days []RunDay, nRecent int, err error)
}
