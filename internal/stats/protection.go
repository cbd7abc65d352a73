package stats

import (
	"sort"
	"time"

	"github.com/backapp/backapp/internal/scheduler"
	"github.com/backapp/backapp/internal/store"
)

// Protection is one configuration's protection: its last successful backup and
// how old it is, and whether that is stale.
type Protection struct {
	ConfigID    string     `json:"configId"`
	ConfigName  string     `json:"configName"`
	Enabled     bool       `json:"enabled"`
	Scheduled   bool       `json:"scheduled"`
	LastSuccess *time.Time `json:"lastSuccess,omitempty"`
	Age         int64      `json:"age,omitempty"` // seconds since LastSuccess
	LastStatus  string     `json:"lastStatus,omitempty"`
	// Stale: never backed up, or (scheduled) two slots passed since the last success,
	// or (not scheduled) the last success is over StaleUnscheduled old.
	Stale bool `json:"stale"`
}

// StaleUnscheduled is when a configuration without a schedule counts as stale.
const StaleUnscheduled = 7 * 24 * time.Hour

// protections lists the configurations cs, stale first and then the oldest
// success first. failing counts those whose newest run failed.
func (s *Service) protections(cs []store.ConfigState, scs []parsedSchedule) (rows []Protection, failing int) {
	now := s.now().UTC()
	rows = make([]Protection, 0, len(cs))
	// The slot after a slot, once per schedule and slot: many configurations share
	// a schedule, and their last successes' next slots fall on the same few.
	type slotKey struct {
		sc *scheduler.Schedule
		at time.Time
	}
	nextSlot := map[slotKey]time.Time{}
	for i, c := range cs {
		p := Protection{ConfigID: c.ID, ConfigName: c.Name, Enabled: c.Enabled, LastStatus: c.LatestStatus}
		if p.LastStatus == "failed" {
			failing++
		}
		sc := scs[i].sc
		p.Scheduled = sc != nil && c.Enabled
		if t := c.LastSuccess; t != nil {
			p.LastSuccess = t
			p.Age = int64(now.Sub(*t) / time.Second)
			if p.Scheduled {
				// Stale once two slots passed since the success.
				k := slotKey{sc, sc.Next(*t)}
				second, ok := nextSlot[k]
				if !ok {
					second = sc.Next(k.at)
					nextSlot[k] = second
				}
				p.Stale = !second.After(now)
			} else {
				p.Stale = now.Sub(*t) > StaleUnscheduled
			}
		} else {
			p.Stale = true
		}
		rows = append(rows, p)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Stale != b.Stale {
			return a.Stale
		}
		if (a.LastSuccess == nil) != (b.LastSuccess == nil) {
			return a.LastSuccess == nil
		}
		if a.LastSuccess != nil && !a.LastSuccess.Equal(*b.LastSuccess) {
			return a.LastSuccess.Before(*b.LastSuccess)
		}
		return a.ConfigName < b.ConfigName
	})
	return rows, failing
}
