package stats

import (
	"context"
	"sort"
)

// Usage is GET /api/storage/usage: what completed, unexpired runs hold, as the runs
// recorded it (no bucket is listed), in total and per destination, configuration
// and agent.
type Usage struct {
	Bytes          int64        `json:"bytes"`
	Objects        int64        `json:"objects"`
	PerDestination []UsageEntry `json:"perDestination"`
	PerConfig      []UsageEntry `json:"perConfig"`
	PerAgent       []UsageEntry `json:"perAgent"`
	// History is the storage used as recorded each day of the last 90 (days the
	// server did not record are left out).
	History []HistoryDay `json:"history"`
}

// HistoryDay is one day of the storage history.
type HistoryDay struct {
	Date    string `json:"date"`
	Bytes   int64  `json:"bytes"`
	Objects int64  `json:"objects"`
}

// UsageEntry is one destination's, configuration's or agent's share ("" id: server
// mode for agents, runs without a destination for destinations).
type UsageEntry struct {
	ID      string `json:"id"`
	Bytes   int64  `json:"bytes"`
	Objects int64  `json:"objects"`
	Runs    int64  `json:"runs"`
}

// Usage sums userID's (everyone's when "") storage.
func (s *Service) Usage(ctx context.Context, userID string) (Usage, error) {
	rows, err := s.store.StorageUsage(ctx, userID)
	if err != nil {
		return Usage{}, err
	}
	dest, conf, agent := map[string]*UsageEntry{}, map[string]*UsageEntry{}, map[string]*UsageEntry{}
	add := func(m map[string]*UsageEntry, id string, b, o, r int64) {
		e := m[id]
		if e == nil {
			e = &UsageEntry{ID: id}
			m[id] = e
		}
		e.Bytes += b
		e.Objects += o
		e.Runs += r
	}
	var u Usage
	for _, r := range rows {
		u.Bytes += r.Bytes
		u.Objects += r.Objects
		add(dest, r.DestinationID, r.Bytes, r.Objects, r.Runs)
		add(conf, r.ConfigID, r.Bytes, r.Objects, r.Runs)
		add(agent, r.AgentID, r.Bytes, r.Objects, r.Runs)
	}
	u.PerDestination, u.PerConfig, u.PerAgent = sorted(dest), sorted(conf), sorted(agent)
	hist, err := s.store.StorageHistory(ctx, userID, s.now().UTC().AddDate(0, 0, -90))
	if err != nil {
		return Usage{}, err
	}
	u.History = make([]HistoryDay, len(hist))
	for i, h := range hist {
		u.History[i] = HistoryDay{h.Day, h.Bytes, h.Objects}
	}
	return u, nil
}

// sorted lists the entries largest first (then by id).
func sorted(m map[string]*UsageEntry) []UsageEntry {
	out := make([]UsageEntry, 0, len(m))
	for _, e := range m {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Bytes != out[j].Bytes {
			return out[i].Bytes > out[j].Bytes
		}
		return out[i].ID < out[j].ID
	})
	return out
}
