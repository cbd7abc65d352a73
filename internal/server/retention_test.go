package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/server"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/storage/s3test"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/testenv"
)

// TestRetentionOnS3: a retention pass over a real S3 bucket deletes exactly the
// archives, manifests and catalog copies of expired runs (listing the bucket proves it), keeps the
// whole chain a kept incremental needs, takes an object already gone in its stride,
// marks the runs expired, writes "retention.delete" audit entries naming the keys,
// leaves configs without a policy alone, and a second pass deletes nothing.
func TestRetentionOnS3(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		s3cfg := s3test.NewConfig(t)
		clock := newSchedClock(time.Date(2026, 7, 20, 12, 0, 0, 0, time.UTC))
		e := startRuns(t, db, clock, false)
		ctx := context.Background()
		c := e.Client()
		uid := registerID(t, c, "keep@example.com")
		agentID, _, _ := c.CreateAgent("box")
		r := c.JSON("POST", "/api/destinations", map[string]any{"name": "bucket", "endpoint": s3cfg.Endpoint,
			"region": s3cfg.Region, "bucket": s3cfg.Bucket, "pathStyle": true,
			"accessKeyId": s3cfg.AccessKey, "secretAccessKey": s3cfg.SecretKey})
		want(t, r, http.StatusCreated)
		destID, _ := r.Body["id"].(string)
		dest, err := e.App.Destinations.Resolve(ctx, uid, destID)
		if err != nil {
			t.Fatal(err)
		}

		mk := func(name, options string) store.BackupConfig {
			cfg := e.MkScheduled(uid, agentID, name, "0 3 * * *", options)
			cfg.Destination = json.RawMessage(`{"destinationId":"` + destID + `"}`)
			cfg.UpdatedAt = clock.Now()
			if err := e.App.Store.UpdateConfig(ctx, &cfg); err != nil {
				t.Fatal(err)
			}
			return cfg
		}
		// keepLast 1 keeps the newest run only, and with it its whole chain.
		cfg := mk("documents", `{"type":"incremental","keepLast":1}`)
		other := mk("photos", `{"type":"full"}`) // no policy: everything stays

		type spec struct {
			name    string
			daysAgo int
			status  string
			full    bool
			prev    string
			cfg     store.BackupConfig
			put     bool
		}
		runs := map[string]store.Run{}
		for _, s := range []spec{
			{"failed0", 9, "failed", true, "", cfg, false},
			{"full1", 8, "completed", true, "", cfg, true},
			{"inc2", 7, "completed", false, "full1", cfg, true},
			{"full3", 6, "completed", true, "", cfg, true},
			{"inc4", 5, "completed", false, "full3", cfg, true},
			{"inc5", 4, "completed", false, "inc4", cfg, true},
			{"photos1", 8, "completed", true, "", other, true},
			{"photos2", 4, "completed", true, "", other, true},
		} {
			at := clock.Now().AddDate(0, 0, -s.daysAgo)
			end := at.Add(time.Minute)
			run := store.Run{ConfigID: s.cfg.ID, UserID: uid, AgentID: agentID, StartTime: at, EndTime: &end,
				Status: s.status, Full: s.full, DestinationID: destID}
			if s.prev != "" {
				run.PreviousRunID = runs[s.prev].ID
			}
			if s.put {
				run.S3Path = storage.ArchiveKey(uid, agentID, s.cfg.ID, at, storage.CompressionZstd, false)
				run.ManifestKey = storage.ManifestKey(run.S3Path)
				for _, k := range []string{run.S3Path, run.ManifestKey} {
					if err := dest.Put(ctx, k, strings.NewReader(s.name), int64(len(s.name))); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := e.App.Store.CreateRun(ctx, &run); err != nil {
				t.Fatal(err)
			}
			if s.put { // the server's sealed catalog copy beside them
				if err := dest.Put(ctx, storage.CatalogKey(run.UserID, run.ConfigID, run.ID), strings.NewReader(s.name), int64(len(s.name))); err != nil {
					t.Fatal(err)
				}
			}
			runs[s.name] = run
		}
		// Gone already (deleted by hand, or a pass stopped half-way).
		if err := dest.Delete(ctx, runs["inc2"].ManifestKey); err != nil {
			t.Fatal(err)
		}

		listKeys := func() []string {
			t.Helper()
			objs, err := dest.List(ctx, "users/"+uid+"/")
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, o := range objs {
				keys = append(keys, o.Key)
			}
			sort.Strings(keys)
			return keys
		}
		keysOf := func(names ...string) []string {
			var keys []string
			for _, n := range names {
				keys = append(keys, runs[n].S3Path, runs[n].ManifestKey, storage.CatalogKey(runs[n].UserID, runs[n].ConfigID, runs[n].ID))
			}
			sort.Strings(keys)
			return keys
		}

		rep, err := e.App.Runs.Retain(ctx)
		if err != nil {
			t.Fatalf("Retain: %v", err)
		}
		if got, want := listKeys(), keysOf("full3", "inc4", "inc5", "photos1", "photos2"); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("objects left in S3:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if len(rep.Expired) != 3 {
			t.Errorf("expired %v, want failed0, full1, inc2", rep.Expired)
		}
		// Dependents go first: inc2 before the full it builds on.
		pos := map[string]int{}
		for i, id := range rep.Expired {
			pos[id] = i
		}
		if pos[runs["inc2"].ID] > pos[runs["full1"].ID] {
			t.Errorf("full1 was deleted before inc2, which builds on it: %v", rep.Expired)
		}
		for name, wantStatus := range map[string]string{"failed0": "expired", "full1": "expired", "inc2": "expired",
			"full3": "completed", "inc4": "completed", "inc5": "completed", "photos1": "completed"} {
			got, err := e.App.Store.GetRun(ctx, runs[name].ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != wantStatus {
				t.Errorf("%s: status %s, want %s", name, got.Status, wantStatus)
			}
		}
		audit, err := e.App.Store.ListAudit(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		logged := map[string]string{}
		for _, a := range audit {
			if a.Action == "retention.delete" {
				logged[a.Target] = a.Detail
			}
		}
		if len(logged) != 3 || !strings.Contains(logged[runs["full1"].ID], runs["full1"].S3Path) ||
			!strings.Contains(logged[runs["inc2"].ID], runs["inc2"].ManifestKey) {
			t.Errorf("retention.delete audit entries = %v", logged)
		}
		// The history says what happened.
		r = c.JSON("GET", "/api/backups/"+runs["full1"].ID, nil)
		if r.Body["status"] != "expired" || r.Body["expiredAt"] == nil {
			t.Errorf("expired run's details = %s", r.Raw)
		}

		// Nothing more to do.
		rep, err = e.App.Runs.Retain(ctx)
		if err != nil || len(rep.Expired) != 0 {
			t.Errorf("second pass: %v, %v; want nothing expired", rep.Expired, err)
		}
		if got := listKeys(); len(got) != 15 {
			t.Errorf("objects after the second pass: %d, want 15", len(got))
		}
	})
}

// TestRetentionInBackground: Serve runs retention by itself on the leader (SQLite:
// this server) every RetentionEvery, here on the built-in local destination.
func TestRetentionInBackground(t *testing.T) {
	clock := newSchedClock(time.Date(2026, 7, 20, 12, 0, 0, 0, time.UTC))
	e := startRunsWith(t, "", clock, true, func(o *server.Options) { o.RetentionEvery = 20 * time.Millisecond })
	ctx := context.Background()
	c := e.Client()
	uid := registerID(t, c, "bg@example.com")
	agentID, _, _ := c.CreateAgent("box")
	cfg := e.MkScheduled(uid, agentID, "documents", "", `{"type":"full","keepLast":1}`)
	dest, err := e.App.Destinations.Resolve(ctx, uid, "")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 3 {
		at := clock.Now().AddDate(0, 0, i-3)
		end := at.Add(time.Minute)
		run := store.Run{ConfigID: cfg.ID, UserID: uid, AgentID: agentID, StartTime: at, EndTime: &end, Status: "completed", Full: true}
		run.S3Path = storage.ArchiveKey(uid, agentID, cfg.ID, at, storage.CompressionGzip, false)
		run.ManifestKey = storage.ManifestKey(run.S3Path)
		for _, k := range []string{run.S3Path, run.ManifestKey} {
			if err := dest.Put(ctx, k, strings.NewReader("x"), 1); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.App.Store.CreateRun(ctx, &run); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, run.ID)
	}
	// Retention deletes a run's files before it marks the run expired: wait for the
	// runs' state, then check the files.
	status := func(id string) string {
		r, err := e.App.Store.GetRun(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return r.Status
	}
	testenv.Eventually(t, "retention in the background", func() bool {
		return status(ids[0]) == "expired" && status(ids[1]) == "expired"
	})
	if got := status(ids[2]); got != "completed" {
		t.Errorf("newest run: %s, want completed", got)
	}
	objs, err := dest.List(ctx, "users/"+uid+"/")
	if err != nil || len(objs) != 2 {
		t.Errorf("objects left: %v, %v; want the newest run's two", objs, err)
	}
}
