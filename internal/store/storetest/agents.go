package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/store"
)

// agentTests test store.Agents.
var agentTests = []test{
	{"Agents", testAgents},
	{"AgentNotFound", testAgentNotFound},
	{"AgentLogs", testAgentLogs},
	{"Configs", testConfigs},
	{"Runs", testRuns},
	{"RunOneActivePerConfig", testRunOneActive},
	{"RunOneActiveRace", testRunOneActiveRace},
	{"RunsOfDeletedAgent", testRunsOfDeletedAgent},
}

func mkAgent(t *testing.T, s store.Store, userID, name string, at time.Time) store.Agent {
	t.Helper()
	a := store.Agent{UserID: userID, Name: name, KeyHash: "hash-" + newID(t), KeyPrefix: "bak_" + name,
		CreatedAt: at, UpdatedAt: at}
	check(t, "CreateAgent "+name, s.CreateAgent(context.Background(), &a))
	return a
}

func mkConfig(t *testing.T, s store.Store, userID, agentID, name string, at time.Time) store.BackupConfig {
	t.Helper()
	c := store.BackupConfig{UserID: userID, Name: name, Enabled: true, ExecutionMode: "agent", AgentID: agentID,
		Sources:     json.RawMessage(`[{"path":"/home"}]`),
		Destination: json.RawMessage(`{"destinationId":""}`),
		Options:     json.RawMessage(`{"type":"incremental","compression":"zstd"}`),
		CreatedAt:   at, UpdatedAt: at}
	if agentID == "" {
		c.ExecutionMode = "server"
	}
	check(t, "CreateConfig "+name, s.CreateConfig(context.Background(), &c))
	return c
}

func mustGetAgent(t *testing.T, s store.Store, id string) store.Agent {
	t.Helper()
	a, err := s.GetAgent(context.Background(), id)
	check(t, "GetAgent", err)
	return a
}

func ptr[T any](v T) *T { return &v }

func testAgents(t *testing.T, s store.Store) {
	ctx := context.Background()
	alice := mkUser(t, s, "alice@example.com", t0, true)
	bob := mkUser(t, s, "bob@example.com", t0, false)

	a := mkAgent(t, s, alice.ID, "laptop", t0)
	equal(t, "new agent's status", a.Status, store.AgentOffline)
	equal(t, "GetAgent", mustGetAgent(t, s, a.ID), a)
	got, err := s.GetAgentByKeyHash(ctx, a.KeyHash)
	check(t, "GetAgentByKeyHash", err)
	equal(t, "GetAgentByKeyHash", got, a)
	b := mkAgent(t, s, alice.ID, "desktop", t0.Add(time.Second))
	c := mkAgent(t, s, bob.ID, "server", t0.Add(2*time.Second))

	list, err := s.ListAgents(ctx, alice.ID)
	check(t, "ListAgents(alice)", err)
	equal(t, "ListAgents(alice)", list, []store.Agent{a, b})
	list, err = s.ListAgents(ctx, "")
	check(t, "ListAgents(all)", err)
	equal(t, "ListAgents(all)", list, []store.Agent{a, b, c})

	dup := store.Agent{UserID: bob.ID, Name: "dup", KeyHash: a.KeyHash, CreatedAt: t0, UpdatedAt: t0}
	wantErr(t, "CreateAgent with a used key hash", s.CreateAgent(ctx, &dup), store.ErrConflict)

	t1 := t0.Add(time.Hour)
	check(t, "RenameAgent", s.RenameAgent(ctx, a.ID, "work laptop", t1))
	want := a
	want.Name, want.UpdatedAt = "work laptop", t1
	equal(t, "after RenameAgent", mustGetAgent(t, s, a.ID), want)

	hb := store.AgentHeartbeat{Time: t1.Add(time.Minute), Platform: "linux", Arch: "amd64", Version: "1.2.3", Hostname: "lap"}
	check(t, "RecordHeartbeat", s.RecordHeartbeat(ctx, a.ID, hb))
	want.LastSeen, want.Status = ptr(hb.Time), store.AgentOnline
	want.Platform, want.Arch, want.Version, want.Hostname = "linux", "amd64", "1.2.3", "lap"
	equal(t, "after RecordHeartbeat", mustGetAgent(t, s, a.ID), want)
	// A heartbeat without host facts keeps the known ones.
	check(t, "RecordHeartbeat (bare)", s.RecordHeartbeat(ctx, a.ID, store.AgentHeartbeat{Time: t1.Add(2 * time.Minute)}))
	want.LastSeen = ptr(t1.Add(2 * time.Minute))
	equal(t, "after a bare RecordHeartbeat", mustGetAgent(t, s, a.ID), want)
	// An agent that says it is stopping is recorded offline; its next heartbeat is online.
	check(t, "RecordHeartbeat (stopping)", s.RecordHeartbeat(ctx, a.ID, store.AgentHeartbeat{Time: t1.Add(3 * time.Minute), Status: store.AgentOffline}))
	want.LastSeen, want.Status = ptr(t1.Add(3*time.Minute)), store.AgentOffline
	equal(t, "after a stopping RecordHeartbeat", mustGetAgent(t, s, a.ID), want)
	check(t, "RecordHeartbeat (back)", s.RecordHeartbeat(ctx, a.ID, store.AgentHeartbeat{Time: t1.Add(4 * time.Minute)}))
	want.LastSeen, want.Status = ptr(t1.Add(4*time.Minute)), store.AgentOnline
	equal(t, "after the agent is back", mustGetAgent(t, s, a.ID), want)

	check(t, "MarkAgentEnrolled", s.MarkAgentEnrolled(ctx, a.ID, t1))
	check(t, "MarkAgentEnrolled again", s.MarkAgentEnrolled(ctx, a.ID, t1.Add(time.Hour)))
	want.EnrolledAt = ptr(t1)
	equal(t, "after MarkAgentEnrolled twice (the first time stays)", mustGetAgent(t, s, a.ID), want)

	t2 := t1.Add(time.Hour)
	check(t, "SetAgentKey", s.SetAgentKey(ctx, a.ID, "new-hash", "bak_newp", t2))
	_, err = s.GetAgentByKeyHash(ctx, a.KeyHash)
	wantErr(t, "GetAgentByKeyHash(old hash) after rotation", err, store.ErrNotFound)
	want.KeyHash, want.KeyPrefix, want.UpdatedAt = "new-hash", "bak_newp", t2
	got, err = s.GetAgentByKeyHash(ctx, "new-hash")
	check(t, "GetAgentByKeyHash(new hash)", err)
	equal(t, "GetAgentByKeyHash(new hash)", got, want)
	wantErr(t, "SetAgentKey to another agent's hash", s.SetAgentKey(ctx, b.ID, "new-hash", "x", t2), store.ErrConflict)

	check(t, "RevokeAgent", s.RevokeAgent(ctx, a.ID, t2.Add(time.Second)))
	want.Revoked, want.UpdatedAt = true, t2.Add(time.Second)
	got, err = s.GetAgentByKeyHash(ctx, "new-hash")
	check(t, "GetAgentByKeyHash of a revoked agent", err)
	equal(t, "revoked agent", got, want)

	check(t, "DeleteAgent", s.DeleteAgent(ctx, b.ID))
	_, err = s.GetAgent(ctx, b.ID)
	wantErr(t, "GetAgent after DeleteAgent", err, store.ErrNotFound)
	equal(t, "bob's agent after alice's changes", mustGetAgent(t, s, c.ID), c)

	check(t, "DeleteUser(alice)", s.DeleteUser(ctx, alice.ID))
	list, err = s.ListAgents(ctx, "")
	check(t, "ListAgents after DeleteUser", err)
	equal(t, "agents after deleting alice", list, []store.Agent{c})
}

func testAgentNotFound(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "someone@example.com", t0, true)
	mkAgent(t, s, u.ID, "x", t0)
	for _, id := range []string{newID(t), "not-a-uuid", ""} {
		calls := []struct {
			name string
			call func() error
		}{
			{"GetAgent", func() error { _, err := s.GetAgent(ctx, id); return err }},
			{"RenameAgent", func() error { return s.RenameAgent(ctx, id, "n", t0) }},
			{"SetAgentKey", func() error { return s.SetAgentKey(ctx, id, "h-"+id, "p", t0) }},
			{"RevokeAgent", func() error { return s.RevokeAgent(ctx, id, t0) }},
			{"DeleteAgent", func() error { return s.DeleteAgent(ctx, id) }},
			{"RecordHeartbeat", func() error { return s.RecordHeartbeat(ctx, id, store.AgentHeartbeat{Time: t0}) }},
			{"MarkAgentEnrolled", func() error { return s.MarkAgentEnrolled(ctx, id, t0) }},
			{"GetConfig", func() error { _, err := s.GetConfig(ctx, id); return err }},
			{"DeleteConfig", func() error { return s.DeleteConfig(ctx, id) }},
			{"GetRun", func() error { _, err := s.GetRun(ctx, id); return err }},
			{"RecordRunProgress", func() error { return s.RecordRunProgress(ctx, id, store.RunProgress{Time: t0}) }},
			{"LastCompletedRun", func() error { _, err := s.LastCompletedRun(ctx, id); return err }},
		}
		for _, c := range calls {
			wantErr(t, fmt.Sprintf("%s(%q)", c.name, id), c.call(), store.ErrNotFound)
		}
		runs, err := s.ActiveRuns(ctx, id)
		check(t, "ActiveRuns of an unknown agent", err)
		equal(t, "ActiveRuns of an unknown agent", len(runs), 0)
	}
	_, err := s.GetAgentByKeyHash(ctx, "no-such-hash")
	wantErr(t, "GetAgentByKeyHash(unknown)", err, store.ErrNotFound)
}

func testAgentLogs(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "logs@example.com", t0, true)
	a := mkAgent(t, s, u.ID, "a", t0)
	other := mkAgent(t, s, u.ID, "b", t0)
	var logs []store.AgentLog
	for i := range 5 {
		l := store.AgentLog{ID: newID(t), AgentID: a.ID, Level: []string{"info", "warning", "error"}[i%3],
			Message: fmt.Sprintf("line %d", i), Timestamp: t0.Add(time.Duration(i) * time.Minute)}
		if i == 1 {
			l.Metadata = map[string]string{"run": "r1", "path": "/x"}
		}
		logs = append(logs, l)
	}
	check(t, "AddAgentLogs", s.AddAgentLogs(ctx, logs))
	check(t, "AddAgentLogs (no id)", s.AddAgentLogs(ctx, []store.AgentLog{{AgentID: other.ID, Level: "info", Message: "m", Timestamp: t0}}))
	check(t, "AddAgentLogs (none)", s.AddAgentLogs(ctx, nil))

	reverse := func(ls ...store.AgentLog) []store.AgentLog { return ls }
	got, err := s.ListAgentLogs(ctx, store.AgentLogFilter{AgentID: a.ID})
	check(t, "ListAgentLogs", err)
	equal(t, "ListAgentLogs (newest first)", got, reverse(logs[4], logs[3], logs[2], logs[1], logs[0]))
	got, err = s.ListAgentLogs(ctx, store.AgentLogFilter{AgentID: a.ID, Level: "warning"})
	check(t, "ListAgentLogs(warning)", err)
	equal(t, "ListAgentLogs(warning)", got, reverse(logs[4], logs[1]))
	got, err = s.ListAgentLogs(ctx, store.AgentLogFilter{AgentID: a.ID, Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute), Limit: 1})
	check(t, "ListAgentLogs(since, until, limit)", err)
	equal(t, "ListAgentLogs(since, until, limit)", got, reverse(logs[2]))
	got, err = s.ListAgentLogs(ctx, store.AgentLogFilter{AgentID: other.ID})
	check(t, "ListAgentLogs(other)", err)
	equal(t, "other agent's log count", len(got), 1)

	check(t, "DeleteAgent", s.DeleteAgent(ctx, a.ID))
	got, err = s.ListAgentLogs(ctx, store.AgentLogFilter{AgentID: a.ID})
	check(t, "ListAgentLogs after DeleteAgent", err)
	equal(t, "logs of a deleted agent", len(got), 0)
}

// sameJSON reports whether a and b hold equal JSON values (PostgreSQL's jsonb does
// not keep the text as given).
func sameJSON(t *testing.T, what string, got, want json.RawMessage) {
	t.Helper()
	if len(got) == 0 || len(want) == 0 {
		if len(got) != len(want) {
			t.Errorf("%s: got %q, want %q", what, got, want)
		}
		return
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("%s: %q: %v", what, got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: want %q: %v", what, want, err)
	}
	equal(t, what, g, w)
}

func sameConfig(t *testing.T, what string, got, want store.BackupConfig) {
	t.Helper()
	sameJSON(t, what+": sources", got.Sources, want.Sources)
	sameJSON(t, what+": destination", got.Destination, want.Destination)
	sameJSON(t, what+": schedule", got.Schedule, want.Schedule)
	sameJSON(t, what+": options", got.Options, want.Options)
	got.Sources, got.Destination, got.Schedule, got.Options = nil, nil, nil, nil
	want.Sources, want.Destination, want.Schedule, want.Options = nil, nil, nil, nil
	equal(t, what, got, want)
}

func testConfigs(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "cfg@example.com", t0, true)
	v := mkUser(t, s, "other@example.com", t0, false)
	a := mkAgent(t, s, u.ID, "a", t0)
	b := mkAgent(t, s, u.ID, "b", t0)
	c1 := mkConfig(t, s, u.ID, a.ID, "home", t0)
	c2 := mkConfig(t, s, u.ID, b.ID, "work", t0.Add(time.Second))
	c3 := mkConfig(t, s, v.ID, "", "server", t0.Add(2*time.Second))
	equal(t, "server config's mode", c3.ExecutionMode, "server")

	got, err := s.GetConfig(ctx, c1.ID)
	check(t, "GetConfig", err)
	sameConfig(t, "GetConfig", got, c1)
	equal(t, "schedule of a config without one", got.Schedule, json.RawMessage(nil))

	list, err := s.ListConfigs(ctx, u.ID)
	check(t, "ListConfigs", err)
	equal(t, "len(ListConfigs(u))", len(list), 2)
	list, err = s.ListConfigs(ctx, "")
	check(t, "ListConfigs(all)", err)
	equal(t, "len(ListConfigs(all))", len(list), 3)
	list, err = s.ListAgentConfigs(ctx, b.ID)
	check(t, "ListAgentConfigs", err)
	if equal(t, "len(ListAgentConfigs(b))", len(list), 1); len(list) == 1 {
		sameConfig(t, "ListAgentConfigs(b)", list[0], c2)
	}

	c1.Name, c1.Enabled, c1.AgentID = "home (moved)", false, b.ID
	c1.Schedule = json.RawMessage(`{"cronExpression":"0 2 * * *","timezone":"Europe/Paris"}`)
	c1.Options = json.RawMessage(`{"type":"full","compression":"gzip","encryption":true}`)
	c1.UpdatedAt = t0.Add(time.Hour)
	check(t, "UpdateConfig", s.UpdateConfig(ctx, &c1))
	got, err = s.GetConfig(ctx, c1.ID)
	check(t, "GetConfig after UpdateConfig", err)
	sameConfig(t, "after UpdateConfig", got, c1)
	list, err = s.ListAgentConfigs(ctx, b.ID)
	check(t, "ListAgentConfigs", err)
	equal(t, "len(ListAgentConfigs(b)) after moving home to b", len(list), 2)

	// Deleting the agent keeps its configs, without agent.
	check(t, "DeleteAgent", s.DeleteAgent(ctx, b.ID))
	got, err = s.GetConfig(ctx, c2.ID)
	check(t, "GetConfig of a deleted agent's config", err)
	equal(t, "agent of a deleted agent's config", got.AgentID, "")

	check(t, "DeleteConfig", s.DeleteConfig(ctx, c2.ID))
	_, err = s.GetConfig(ctx, c2.ID)
	wantErr(t, "GetConfig after DeleteConfig", err, store.ErrNotFound)
	missing := c2
	missing.UpdatedAt = t0
	wantErr(t, "UpdateConfig of a deleted config", s.UpdateConfig(ctx, &missing), store.ErrNotFound)
}

func mkRun(t *testing.T, s store.Store, c store.BackupConfig, status string, at time.Time) store.Run {
	t.Helper()
	r := store.Run{ConfigID: c.ID, UserID: c.UserID, AgentID: c.AgentID, StartTime: at, Status: status}
	check(t, "CreateRun", s.CreateRun(context.Background(), &r))
	return r
}

func sameRun(t *testing.T, what string, got, want store.Run) {
	t.Helper()
	sameJSON(t, what+": errors", got.Errors, want.Errors)
	got.Errors, want.Errors = nil, nil
	equal(t, what, got, want)
}

func testRuns(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "runs@example.com", t0, true)
	a := mkAgent(t, s, u.ID, "a", t0)
	c := mkConfig(t, s, u.ID, a.ID, "home", t0)
	c2 := mkConfig(t, s, u.ID, a.ID, "work", t0)

	r1 := mkRun(t, s, c, "running", t0.Add(time.Minute))
	equal(t, "CreatedAt defaults to StartTime", r1.CreatedAt, t0.Add(time.Minute))
	got, err := s.GetRun(ctx, r1.ID)
	check(t, "GetRun", err)
	sameRun(t, "GetRun", got, r1)

	// Every field survives UpdateRun.
	r1.Full, r1.PreviousRunID, r1.DestinationID = true, newID(t), "dest-1"
	r1.S3Path, r1.ManifestKey = "users/u/agents/a/configs/c/backup-x.tar.zst", "users/u/agents/a/configs/c/backup-x.tar.zst.manifest"
	r1.ArchiveUploadID, r1.ManifestUpload = "up-a", "up-m"
	r1.Encrypted, r1.CancelRequested = true, true
	check(t, "UpdateRun", s.UpdateRun(ctx, &r1))
	got, err = s.GetRun(ctx, r1.ID)
	check(t, "GetRun after UpdateRun", err)
	sameRun(t, "after UpdateRun", got, r1)

	p := store.RunProgress{Time: t0.Add(2 * time.Minute), FilesProcessed: 10, FilesSkipped: 1, TotalBytes: 1000, BytesTransfer: 500}
	check(t, "RecordRunProgress", s.RecordRunProgress(ctx, r1.ID, p))
	r1.FilesProcessed, r1.FilesSkipped, r1.TotalBytes, r1.BytesTransfer, r1.ProgressAt = 10, 1, 1000, 500, ptr(p.Time)
	got, err = s.GetRun(ctx, r1.ID)
	check(t, "GetRun after RecordRunProgress", err)
	sameRun(t, "after RecordRunProgress", got, r1)

	// Stale: running and silent since before the cutoff.
	stale, err := s.StaleRuns(ctx, p.Time.Add(time.Second))
	check(t, "StaleRuns", err)
	equal(t, "StaleRuns after the last progress", len(stale), 1)
	stale, err = s.StaleRuns(ctx, p.Time)
	check(t, "StaleRuns", err)
	equal(t, "StaleRuns at the last progress", len(stale), 0)

	q := mkRun(t, s, c2, "queued", t0.Add(90*time.Second))
	active, err := s.ActiveRuns(ctx, a.ID)
	check(t, "ActiveRuns", err)
	if equal(t, "len(ActiveRuns)", len(active), 2); len(active) == 2 {
		equal(t, "ActiveRuns order (oldest first)", []string{active[0].ID, active[1].ID}, []string{r1.ID, q.ID})
	}
	_, err = s.LastCompletedRun(ctx, c.ID)
	wantErr(t, "LastCompletedRun before any", err, store.ErrNotFound)

	end := t0.Add(3 * time.Minute)
	r1.Status, r1.EndTime, r1.DurationMS = "completed", &end, ptr(int64(120000))
	r1.ArchiveUploadID, r1.ManifestUpload = "", ""
	r1.ArchiveSHA256, r1.ArchiveSize, r1.ManifestSHA256, r1.ManifestSize, r1.CatalogSize = "aa", 12345, "bb", 678, 90
	r1.Errors = json.RawMessage(`[{"path":"/x","message":"permission denied"}]`)
	check(t, "UpdateRun (completed)", s.UpdateRun(ctx, &r1))
	got, err = s.GetRun(ctx, r1.ID)
	check(t, "GetRun (completed)", err)
	sameRun(t, "completed run", got, r1)
	wantErr(t, "RecordRunProgress of a completed run", s.RecordRunProgress(ctx, r1.ID, p), store.ErrNotFound)

	last, err := s.LastCompletedRun(ctx, c.ID)
	check(t, "LastCompletedRun", err)
	equal(t, "LastCompletedRun", last.ID, r1.ID)
	r2 := mkRun(t, s, c, "failed", t0.Add(10*time.Minute))
	r3 := mkRun(t, s, c, "completed", t0.Add(20*time.Minute))
	last, err = s.LastCompletedRun(ctx, c.ID)
	check(t, "LastCompletedRun", err)
	equal(t, "LastCompletedRun (newest)", last.ID, r3.ID)
	stale, err = s.StaleRuns(ctx, t0.Add(time.Hour))
	check(t, "StaleRuns", err)
	equal(t, "StaleRuns when nothing runs", len(stale), 0)

	ids := func(runs []store.Run) []string {
		var out []string
		for _, r := range runs {
			out = append(out, r.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    store.RunFilter
		want []string
	}{
		{"all", store.RunFilter{}, []string{r3.ID, r2.ID, q.ID, r1.ID}},
		{"config", store.RunFilter{ConfigID: c.ID}, []string{r3.ID, r2.ID, r1.ID}},
		{"user", store.RunFilter{UserID: u.ID, Limit: 2}, []string{r3.ID, r2.ID}},
		{"offset", store.RunFilter{UserID: u.ID, Limit: 2, Offset: 2}, []string{q.ID, r1.ID}},
		{"agent, status", store.RunFilter{AgentID: a.ID, Status: "queued"}, []string{q.ID}},
		{"since, until", store.RunFilter{Since: t0.Add(90 * time.Second), Until: t0.Add(20 * time.Minute)}, []string{r2.ID, q.ID}},
		{"other user", store.RunFilter{UserID: newID(t)}, nil},
	} {
		got, err := s.ListRuns(ctx, tc.f)
		check(t, "ListRuns "+tc.name, err)
		equal(t, "ListRuns "+tc.name, ids(got), tc.want)
	}

	bad := store.Run{ConfigID: c.ID, UserID: u.ID, StartTime: t0, Status: "exploded"}
	if err := s.CreateRun(ctx, &bad); err == nil {
		t.Errorf("CreateRun with status exploded = nil, want an error")
	}

	check(t, "DeleteConfig", s.DeleteConfig(ctx, c.ID))
	_, err = s.GetRun(ctx, r1.ID)
	wantErr(t, "GetRun after DeleteConfig", err, store.ErrNotFound)
}

func testRunOneActive(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "active@example.com", t0, true)
	a := mkAgent(t, s, u.ID, "a", t0)
	c := mkConfig(t, s, u.ID, a.ID, "home", t0)
	other := mkConfig(t, s, u.ID, a.ID, "other", t0)

	q := mkRun(t, s, c, "queued", t0)
	for _, st := range []string{"queued", "running"} {
		r := store.Run{ConfigID: c.ID, UserID: u.ID, StartTime: t0, Status: st}
		wantErr(t, "CreateRun("+st+") beside a queued run", s.CreateRun(ctx, &r), store.ErrConflict)
	}
	mkRun(t, s, other, "running", t0) // another config is independent
	mkRun(t, s, c, "failed", t0)      // finished runs are not limited

	q.Status = "running"
	check(t, "UpdateRun queued → running", s.UpdateRun(ctx, &q))
	q.Status = "cancelled"
	check(t, "UpdateRun running → cancelled", s.UpdateRun(ctx, &q))
	next := mkRun(t, s, c, "queued", t0.Add(time.Hour))
	// A finished run cannot come back to life beside the new one.
	q.Status = "running"
	wantErr(t, "UpdateRun of an old run back to running", s.UpdateRun(ctx, &q), store.ErrConflict)
	got, err := s.GetRun(ctx, next.ID)
	check(t, "GetRun", err)
	equal(t, "status of the queued run", got.Status, "queued")
}

// Servers racing to queue a run of one config: exactly one wins.
func testRunOneActiveRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "race@example.com", t0, true)
	c := mkConfig(t, s, u.ID, "", "home", t0)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := store.Run{ConfigID: c.ID, UserID: u.ID, StartTime: t0, Status: "queued"}
			errs[i] = s.CreateRun(ctx, &r)
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		default:
			wantErr(t, "losing CreateRun", err, store.ErrConflict)
		}
	}
	equal(t, "CreateRun calls that succeeded", won, 1)
}

func testRunsOfDeletedAgent(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "deleted@example.com", t0, true)
	a := mkAgent(t, s, u.ID, "a", t0)
	c := mkConfig(t, s, u.ID, a.ID, "home", t0)
	r := mkRun(t, s, c, "completed", t0)
	check(t, "DeleteAgent", s.DeleteAgent(ctx, a.ID))
	got, err := s.GetRun(ctx, r.ID)
	check(t, "GetRun of a deleted agent's run", err)
	equal(t, "agent of a deleted agent's run", got.AgentID, "")
	equal(t, "status of a deleted agent's run", got.Status, "completed")
}
