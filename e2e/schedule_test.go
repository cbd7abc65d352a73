package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/testenv"
)

// TestScheduledRunsAndRetention: a real agent with an incremental configuration
// scheduled every minute (a full backup every 2 runs, keep the last 1) produces runs
// by itself on the wall clock while its files change between runs. Retention, running
// every second on the server, then leaves in the bucket exactly the objects of the runs
// the policy keeps (the newest run and the full backup it builds on, which
// keep-last-1 alone would drop), marks the others expired, and never breaks a kept
// chain on the way. The newest run then restores byte for byte as the source was
// when it ran.
func TestScheduledRunsAndRetention(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	t.Parallel()
	const (
		wantRuns  = 4
		fullEvery = 2
		keepLast  = 1
		// Retention runs every second; waiting settle after a change lets several
		// passes act on it, so a wrong deletion cannot hide behind a pass not yet run.
		retentionEvery = time.Second
		settle         = 5 * retentionEvery
	)
	app := startApp(t, "--retention-every", retentionEvery.String())
	destID, bucket := app.s3Destination("scheduled s3")
	ag := app.enroll("agent scheduled")
	ctx := context.Background()

	// 1 MiB that never changes (and does not compress) tells full archives from
	// incremental ones by size; the small files change between runs.
	src := t.TempDir()
	static := make([]byte, 1<<20)
	rand.Read(static)
	writeTree(t, src, map[string][]byte{"static.bin": static, "notes/today.txt": []byte("before run 1\n"),
		"drop-me.txt": []byte("deleted before run 3\n"), "empty": nil})
	current := readTree(t, src)

	var cfg struct {
		ID string `json:"id"`
	}
	app.w.do("POST", "/api/configs", map[string]any{"name": "every minute", "enabled": true, "executionMode": "agent",
		"agentId": ag.id, "sources": []map[string]any{{"path": src}},
		"destination": map[string]string{"destinationId": destID},
		"schedule":    map[string]string{"cronExpression": "* * * * *", "timezone": "UTC"},
		"options": map[string]any{"type": "incremental", "fullEvery": fullEvery, "keepLast": keepLast,
			"compression": "zstd", "encryption": false}}, &cfg)
	created := time.Now()

	listRuns := func() []backupLog {
		t.Helper()
		var page struct {
			Logs  []backupLog `json:"logs"`
			Total int         `json:"total"`
		}
		app.w.do("GET", "/api/backups/logs?"+url.Values{"configId": {cfg.ID}, "limit": {"100"}}.Encode(), nil, &page)
		if page.Total != len(page.Logs) {
			t.Fatalf("the runs API lists %d of %d runs on one page", len(page.Logs), page.Total)
		}
		sort.Slice(page.Logs, func(i, j int) bool { return page.Logs[i].StartTime.Before(page.Logs[j].StartTime) })
		return page.Logs
	}
	describe := func(runs []backupLog) string {
		var b strings.Builder
		for _, r := range runs {
			fmt.Fprintf(&b, "\n  %s", r)
		}
		return b.String()
	}
	// objects lists the bucket's keys.
	objects := func() map[string]bool {
		t.Helper()
		objs, err := bucket.List(ctx, "")
		if err != nil {
			t.Fatalf("list the bucket: %v", err)
		}
		keys := map[string]bool{}
		for _, o := range objs {
			keys[o.Key] = true
		}
		return keys
	}
	// checkChains fails unless the bucket holds the archive and manifest of every run
	// in kept and of every run each kept incremental builds on, back to its full one.
	checkChains := func(runs []backupLog, kept map[string]bool) {
		t.Helper()
		keys, byID := objects(), map[string]backupLog{}
		for _, r := range runs {
			byID[r.ID] = r
		}
		for id := range kept {
			for cur := byID[id]; ; {
				for _, k := range []string{cur.ObjectKey, cur.ManifestKey} {
					if !keys[k] {
						t.Errorf("run %s is kept but %s, of run %s in its chain, is not in the bucket", id, k, cur.ID)
					}
				}
				prev, ok := byID[cur.PreviousRunID]
				if cur.Full || !ok {
					if !cur.Full {
						t.Errorf("run %s builds on run %s, which the runs API does not list", cur.ID, cur.PreviousRunID)
					}
					break
				}
				cur = prev
			}
		}
	}

	// Wait for the scheduler's runs; change the tree after each so the next
	// incremental has something to carry. Slots are on minute boundaries, so the
	// change lands well before the next run starts (checked below).
	firstSlot := created.Truncate(time.Minute).Add(time.Minute)
	deadline := firstSlot.Add((wantRuns-1)*time.Minute + 90*time.Second)
	tree := map[string]map[string][]byte{} // run id → the source tree it backed up
	var done []backupLog                   // completed runs, oldest first
	var changedAt time.Time
	for len(done) < wantRuns {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d scheduled runs completed by %s (config created %s); runs:%s",
				len(done), wantRuns, deadline.Format(time.TimeOnly), created.Format(time.TimeOnly), describe(listRuns()))
		}
		for _, r := range listRuns() {
			if r.Status == "failed" || r.Status == "cancelled" {
				t.Fatalf("scheduled run %s: %s: %v", r.ID, r.Status, r.Error)
			}
			if r.Status != "completed" || tree[r.ID] != nil {
				continue
			}
			if r.DueAt == nil {
				t.Fatalf("run %s has no dueAt: it was not queued by the scheduler", r)
			}
			if !r.StartTime.After(changedAt) {
				t.Fatalf("run %s started at %s, before the source was last changed at %s", r, r.StartTime, changedAt)
			}
			tree[r.ID] = current
			done = append(done, r)
			t.Logf("scheduled run %d of %d, due %s: %s", len(done), wantRuns, r.DueAt.Format(time.TimeOnly), r)
			time.Sleep(settle)
			checkChains(done, expectKept(done, keepLast))
			if len(done) < wantRuns {
				changeTree(t, src, len(done))
				current, changedAt = readTree(t, src), time.Now()
			}
		}
		time.Sleep(500 * time.Millisecond)
	}

	// No more runs: disable the configuration and let any run already queued end.
	var saved map[string]any
	app.w.do("GET", "/api/configs/"+cfg.ID, nil, &saved)
	saved["enabled"] = false
	app.w.do("PUT", "/api/configs/"+cfg.ID, saved, nil)
	var runs []backupLog
	testenv.EventuallyWithin(t, 2*time.Minute, "the configuration's runs to end", func() bool {
		runs = listRuns()
		for _, r := range runs {
			if r.Status == "queued" || r.Status == "running" {
				return false
			}
			if r.Status == "failed" || r.Status == "cancelled" {
				t.Fatalf("scheduled run %s: %s: %v", r.ID, r.Status, r.Error)
			}
			if tree[r.ID] == nil { // a run queued just before the configuration was disabled
				tree[r.ID] = current
			}
		}
		return true
	})

	// What the scheduler and the chain rules made: a run per minute slot, a full one
	// every fullEvery runs, each incremental on the run before it, carrying only what
	// changed (not the unchanged MiB).
	for i, r := range runs {
		if r.DueAt == nil || r.DueAt.Second() != 0 || i > 0 && runs[i-1].DueAt != nil && !r.DueAt.After(*runs[i-1].DueAt) {
			t.Errorf("run %d (%s) is due at %v: not a minute slot after the previous run's", i+1, r.ID, r.DueAt)
		}
		wantFull := i%fullEvery == 0
		switch {
		case r.Full != wantFull:
			t.Errorf("run %d is full=%t, want %t with a full backup every %d runs:%s", i+1, r.Full, wantFull, fullEvery, describe(runs))
		case !r.Full && r.PreviousRunID != runs[i-1].ID:
			t.Errorf("incremental run %d builds on %s, want the run before it, %s", i+1, r.PreviousRunID, runs[i-1].ID)
		case !r.Full && (r.ArchiveSize <= 0 || r.ArchiveSize > int64(len(static))/4):
			t.Errorf("incremental run %d has a %d-byte archive: want a few changed files, not the unchanged %d bytes", i+1, r.ArchiveSize, len(static))
		case r.Full && r.ArchiveSize < int64(len(static)):
			t.Errorf("full run %d has a %d-byte archive, less than its %d incompressible bytes", i+1, r.ArchiveSize, len(static))
		}
	}

	// Retention leaves the runs the policy keeps and expires the others.
	kept := expectKept(runs, keepLast)
	if len(kept) == len(runs) || len(kept) <= keepLast {
		t.Fatalf("the test's scenario is off: keep-last-%d keeps %d of %d runs, and should keep more than %d (a chain) and fewer than all:%s",
			keepLast, len(kept), len(runs), keepLast, describe(runs))
	}
	time.Sleep(settle)
	asKept := func() bool {
		runs = listRuns()
		for _, r := range runs {
			if want := map[bool]string{true: "completed", false: "expired"}[kept[r.ID]]; r.Status != want {
				return false
			}
		}
		return true
	}
	for until := time.Now().Add(time.Minute); !asKept(); time.Sleep(500 * time.Millisecond) {
		if time.Now().After(until) {
			t.Fatalf("after 1m, retention has not expired exactly the runs keep-last-%d and their chains do not keep; want completed %v and the others expired; runs:%s",
				keepLast, slices.Sorted(maps.Keys(kept)), describe(runs))
		}
	}
	var expired []backupLog
	for _, r := range runs {
		if !kept[r.ID] {
			expired = append(expired, r)
			if r.ExpiredAt == nil {
				t.Errorf("expired run %s has no expiredAt", r)
			}
		}
	}
	t.Logf("after retention:%s", describe(runs))

	// The bucket holds exactly the kept runs' archives, manifests and catalog copies:
	// nothing of the expired runs, nothing else, and no upload left open.
	want := map[string]bool{}
	for _, r := range runs {
		if kept[r.ID] {
			for _, k := range runObjects(r) {
				want[k] = true
			}
		}
	}
	got := objects()
	var missing, extra []string
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] {
			extra = append(extra, k)
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		slices.Sort(missing)
		slices.Sort(extra)
		t.Errorf("bucket after retention: missing %q; should be gone %q; runs:%s", missing, extra, describe(runs))
	}
	checkChains(runs, kept)
	if ups, err := bucket.ListUploads(ctx, ""); err != nil || len(ups) > 0 {
		t.Errorf("incomplete uploads left in the bucket: %v, %v", ups, err)
	}

	// An expired run cannot be restored; the newest kept one restores as the source
	// was when it ran.
	status, body := app.w.try("POST", "/api/restores", map[string]any{"runId": expired[0].ID, "agentId": ag.id, "targetDir": t.TempDir()})
	if status != 400 || !strings.Contains(string(body), "expired") {
		t.Errorf("restore of expired run %s: status %d: %s; want 400 saying it is expired", expired[0].ID, status, body)
	}
	newest := runs[len(runs)-1]
	dst := app.restore(newest.ID, ag.id, 2*time.Minute)
	if diff := sameTree(readTree(t, filepath.Join(dst, strings.TrimPrefix(src, "/"))), tree[newest.ID]); diff != "" {
		t.Errorf("restore of the newest run %s differs from the source it backed up: %s", newest, diff)
	}
	if !asKept() {
		t.Errorf("retention changed the runs after they had settled: want completed %v and the others expired; runs:%s",
			slices.Sorted(maps.Keys(kept)), describe(runs))
	}
}

// runObjects are the objects a completed run leaves in its destination: the archive
// (none for an incremental that stored nothing), the manifest and, for an encrypted
// run, the server's sealed copy of the manifest (the catalog restores browse; the
// server reads an unencrypted run's manifest itself).
func runObjects(r backupLog) []string {
	out := []string{r.ManifestKey}
	if r.ArchiveSize > 0 {
		out = append(out, r.ObjectKey)
	}
	if r.CatalogSize > 0 {
		out = append(out, storage.CatalogKey(r.UserID, r.ConfigID, r.ID))
	}
	return out
}

// expectKept is keep-last-n by the rules of internal/retention, for runs that all
// completed: the n newest, and every run a kept incremental builds on back to its
// full backup.
func expectKept(runs []backupLog, n int) map[string]bool {
	byID := map[string]backupLog{}
	for _, r := range runs {
		byID[r.ID] = r
	}
	newest := slices.Clone(runs)
	sort.Slice(newest, func(i, j int) bool { return newest[i].StartTime.After(newest[j].StartTime) })
	kept := map[string]bool{}
	for _, r := range newest[:min(n, len(newest))] {
		for cur, ok := r, true; ok && !kept[cur.ID]; cur, ok = byID[cur.PreviousRunID] {
			kept[cur.ID] = true
			if cur.Full {
				break
			}
		}
	}
	return kept
}

// changeTree changes the source after run k: a file rewritten (a different size), a
// file added, and after runs 2 and 3 one removed.
func changeTree(t *testing.T, src string, k int) {
	t.Helper()
	writeTree(t, src, map[string][]byte{
		"notes/today.txt":                  []byte(fmt.Sprintf("before run %d, %s\n", k+1, strings.Repeat("more ", k))),
		fmt.Sprintf("new/run-%d.txt", k+1): bytes.Repeat([]byte{byte('a' + k)}, 1000*k),
	})
	gone := map[int]string{2: "drop-me.txt", 3: "new/run-2.txt"}[k]
	if gone != "" {
		if err := os.Remove(filepath.Join(src, gone)); err != nil {
			t.Fatal(err)
		}
	}
}
