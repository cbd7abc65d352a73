package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/agent"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/storage/s3test"
	"github.com/backapp/backapp/internal/testenv"
	"github.com/backapp/backapp/internal/testenv/faultproxy"
)

// restoreState is a restore as GET /api/restores/{id} shows it.
type restoreState struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	Error        string `json:"error"`
	FilesWritten int64  `json:"filesWritten"`
}

// TestRestoreFaultMatrix: overwrite restores into a directory of older copies, with
// the archive bit-flipped or truncated in storage, the agent SIGKILLed at random points
// or the restore cancelled, never cost an original: every path holds its old content or
// the new verified one, no temporary file is left (after the agent's restart when it was
// killed), and a failed restore reports the files that are in place. An archive and
// manifest swapped in storage for a consistent pair write nothing.
func TestRestoreFaultMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	t.Parallel()
	app := startApp(t, "--run-stale-after", "15s")
	w := app.w
	cfg := s3test.NewConfig(t)
	proxy := faultproxy.Start(t, cfg.Endpoint, faultproxy.Config{Seed: 11})
	var dest struct {
		ID string `json:"id"`
	}
	w.do("POST", "/api/destinations", map[string]any{"name": "s3 via proxy", "kind": "s3", "endpoint": proxy.URL(),
		"region": cfg.Region, "bucket": cfg.Bucket, "pathStyle": true,
		"accessKeyId": cfg.AccessKey, "secretAccessKey": cfg.SecretKey}, &dest)
	s3, err := storage.NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ag := app.enroll("agent")

	// The backed-up tree (new) and the older copies in the target (old): small files
	// (written by the extractor's workers) and large ones (streamed), a file only the
	// backup has and one only the target has.
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 1))
	content := func(tag string, n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
		return append([]byte(tag), b...)
	}
	newFiles, oldFiles := map[string][]byte{}, map[string][]byte{}
	for i := range 24 {
		name := fmt.Sprintf("d%d/f%02d", i%3, i)
		size := 8<<10 + rnd.IntN(32<<10)
		if i%3 == 2 {
			size = 300 << 10
		}
		newFiles[name] = content("new", size)
		oldFiles[name] = content("old", size/2)
	}
	newFiles["only-new"] = content("new", 100)
	oldFiles["only-old"] = content("old", 100)
	src := t.TempDir()
	writeTree(t, src, newFiles)
	rel := strings.TrimPrefix(src, "/")

	run := backupNow(t, w, "tree", ag.id, dest.ID, src)
	orig := getObject(t, s3, run.ObjectKey)
	origManifest := getObject(t, s3, run.ManifestKey)

	prepare := func() string {
		dst := t.TempDir()
		writeTree(t, filepath.Join(dst, rel), oldFiles)
		return dst
	}
	// check fails the test for each original lost; it returns how many files hold their
	// new content and the temporary files under dst.
	check := func(t *testing.T, dst string) (restored int, temps []string) {
		t.Helper()
		got := map[string][]byte{}
		err := filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if strings.HasPrefix(d.Name(), ".backapp-tmp-") {
				temps = append(temps, p)
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() {
				b, err := os.ReadFile(p)
				r, _ := filepath.Rel(filepath.Join(dst, rel), p)
				got[r] = b
				return err
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for name, old := range oldFiles {
			g, ok := got[name]
			switch {
			case !ok:
				t.Errorf("%s: the original is gone", name)
			case bytes.Equal(g, newFiles[name]):
				restored++
			case !bytes.Equal(g, old):
				t.Errorf("%s: holds neither the original nor the new content (%d bytes)", name, len(g))
			}
		}
		for name, g := range got {
			if _, ok := oldFiles[name]; ok {
				continue
			}
			switch {
			case bytes.Equal(g, newFiles[name]):
				restored++
			case !bytes.HasPrefix(newFiles[name], g):
				// Where nothing existed a small file is created under its name (a
				// crash in those microseconds may leave it short), never other bytes.
				t.Errorf("%s: unexpected content (%d bytes)", name, len(g))
			}
		}
		return restored, temps
	}
	startRestore := func(dst string) string {
		var rs restoreState
		w.do("POST", "/api/restores", map[string]any{"runId": run.ID, "agentId": ag.id, "targetDir": dst, "overwrite": true}, &rs)
		return rs.ID
	}
	finished := func(id string) restoreState {
		var rs restoreState
		testenv.EventuallyWithin(t, 2*time.Minute, "restore "+id+" to end", func() bool {
			w.do("GET", "/api/restores/"+id, nil, &rs)
			return rs.Status != "queued" && rs.Status != "running"
		})
		return rs
	}
	// failedHonestly checks a failed restore: no temporary file, the count the server
	// recorded is the files in place, and the error says what was not restored.
	failedHonestly := func(t *testing.T, dst string, rs restoreState, status string) {
		t.Helper()
		restored, temps := check(t, dst)
		if rs.Status != status {
			t.Errorf("restore %s, want %s (%s)", rs.Status, status, rs.Error)
		}
		if len(temps) > 0 {
			t.Errorf("temporary files left: %v", temps)
		}
		if rs.FilesWritten != int64(restored) {
			t.Errorf("server records %d files written, %d are in place", rs.FilesWritten, restored)
		}
		if !strings.Contains(rs.Error, fmt.Sprintf("restored %d of %d files", restored, len(newFiles))) {
			t.Errorf("error %q does not say %d of %d files were restored", rs.Error, restored, len(newFiles))
		}
		t.Logf("%d of %d files restored; %s", restored, len(newFiles), rs.Error)
	}

	t.Run("intact archive replaces every file", func(t *testing.T) {
		dst := prepare()
		rs := finished(startRestore(dst))
		restored, temps := check(t, dst)
		if rs.Status != "completed" || restored != len(newFiles) || len(temps) > 0 || rs.FilesWritten != int64(len(newFiles)) {
			t.Errorf("restore %s (%s): %d of %d files restored, %d recorded, temporary files %v", rs.Status, rs.Error, restored, len(newFiles), rs.FilesWritten, temps)
		}
	})

	corrupt := map[string][]byte{"bit flip": bytes.Clone(orig), "truncation": orig[:len(orig)/2]}
	corrupt["bit flip"][len(orig)/2] ^= 0x10
	for _, name := range []string{"bit flip", "truncation"} {
		t.Run(name, func(t *testing.T) {
			putObject(t, s3, run.ObjectKey, corrupt[name])
			defer putObject(t, s3, run.ObjectKey, orig)
			dst := prepare()
			failedHonestly(t, dst, finished(startRestore(dst)), "failed")
		})
	}

	// Slow the archive's download so that the restore can be stopped part-way.
	archivePath := "/" + cfg.Bucket + "/" + run.ObjectKey
	must(t, proxy.SetRules(faultproxy.Rule{Name: "slow archive", Fault: faultproxy.Throttle{BytesPerSecond: 256 << 10},
		Match: func(r *http.Request) bool { return r.Method == http.MethodGet && r.URL.Path == archivePath }}))
	// inPlace waits until at least n files hold their new content.
	inPlace := func(t *testing.T, dst string, n int) {
		testenv.EventuallyWithin(t, time.Minute, fmt.Sprintf("%d files restored", n), func() bool {
			got, _ := check(t, dst)
			return got >= n
		})
	}

	t.Run("cancel", func(t *testing.T) {
		dst := prepare()
		id := startRestore(dst)
		inPlace(t, dst, 4)
		w.do("POST", "/api/restores/"+id+"/cancel", nil, nil)
		failedHonestly(t, dst, finished(id), "cancelled")
	})

	outer := t
	for i, third := range []int{0, 1, 2} {
		k := third*len(newFiles)/3 + rnd.IntN(len(newFiles)/3)
		t.Run(fmt.Sprintf("SIGKILL %d after %d files", i, k), func(t *testing.T) {
			dst := prepare()
			id := startRestore(dst)
			var rs restoreState
			testenv.EventuallyWithin(t, time.Minute, "the restore to start", func() bool {
				w.do("GET", "/api/restores/"+id, nil, &rs)
				return rs.Status == "running"
			})
			inPlace(t, dst, k)
			ag.p.kill()
			restored, temps := check(t, dst)
			t.Logf("killed with %d of %d files restored, %d temporary files", restored, len(newFiles), len(temps))
			// One more as a crash between create and rename leaves it, so that the
			// sweep on start is seen to work even when the kill found none.
			plantTemp(t, ag.dir, dst, rel)
			// Started for the whole test: the next cells use it.
			ag.p = start(outer, fmt.Sprintf("agent after kill %d", i), cleanEnv(), app.agentBin, "run", "--config-dir", ag.dir)
			testenv.EventuallyWithin(t, time.Minute, "the restarted agent to remove the temporary files", func() bool {
				_, temps := check(t, dst)
				return len(temps) == 0
			})
			check(t, dst)
		})
	}
	must(t, proxy.SetRules())

	t.Run("archive and manifest replaced by a consistent pair", func(t *testing.T) {
		evil := t.TempDir()
		evilFiles := map[string][]byte{}
		for name := range newFiles {
			evilFiles[name] = []byte("attacker's " + name)
		}
		writeTree(t, evil, evilFiles)
		other := backupNow(t, w, "attacker", ag.id, dest.ID, evil)
		putObject(t, s3, run.ObjectKey, getObject(t, s3, other.ObjectKey))
		putObject(t, s3, run.ManifestKey, getObject(t, s3, other.ManifestKey))
		defer putObject(t, s3, run.ManifestKey, origManifest)
		defer putObject(t, s3, run.ObjectKey, orig)
		dst := prepare()
		before := readTree(t, dst)
		rs := finished(startRestore(dst))
		if rs.Status != "failed" || rs.FilesWritten != 0 {
			t.Errorf("restore of a swapped pair: %s, %d files written (%s)", rs.Status, rs.FilesWritten, rs.Error)
		}
		if diff := sameTree(readTree(t, dst), before); diff != "" {
			t.Errorf("the target changed: %s", diff)
		}
		if _, temps := check(t, dst); len(temps) > 0 {
			t.Errorf("temporary files left: %v", temps)
		}
		t.Logf("refused: %s", rs.Error)
	})
}

// plantTemp creates, under dst/rel/d0, a file named with the temporary prefix of the
// restore into dst that the agent's state (in configDir) records as in flight.
func plantTemp(t *testing.T, configDir, dst, rel string) {
	t.Helper()
	s, err := agent.LoadSettings(configDir)
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := filepath.Glob(filepath.Join(s.StateDir, "restores", "*.json"))
	for _, r := range recs {
		var rec struct {
			Target     string `json:"target"`
			TempPrefix string `json:"tempPrefix"`
		}
		b, err := os.ReadFile(r)
		if err != nil || json.Unmarshal(b, &rec) != nil {
			t.Fatalf("restore record %s: %v %s", r, err, b)
		}
		if rec.Target == dst {
			must(t, os.WriteFile(filepath.Join(dst, rel, "d0", rec.TempPrefix+"planted"), []byte("partial"), 0o600))
			return
		}
	}
	t.Fatalf("no record of the restore into %s among %v", dst, recs)
}

// backupNow creates a full, uncompressed configuration of src on agentID, runs it and
// returns the completed run.
func backupNow(t *testing.T, w *web, name, agentID, destID, src string) backupLog {
	t.Helper()
	var cfg struct {
		ID string `json:"id"`
	}
	w.do("POST", "/api/configs", map[string]any{"name": name, "enabled": true, "executionMode": "agent", "agentId": agentID,
		"sources": []map[string]any{{"path": src}}, "destination": map[string]string{"destinationId": destID},
		"options": map[string]any{"type": "full", "compression": "none", "encryption": false}}, &cfg)
	var q, run backupLog
	w.do("POST", "/api/backups/execute/"+cfg.ID, nil, &q)
	testenv.EventuallyWithin(t, 2*time.Minute, "the run of "+name, func() bool {
		w.do("GET", "/api/backups/"+q.ID, nil, &run)
		if run.Status == "failed" || run.Status == "cancelled" {
			t.Fatalf("run %s: %s: %v", run.ID, run.Status, run.Error)
		}
		return run.Status == "completed"
	})
	return run
}

func getObject(t *testing.T, s3 *storage.S3, key string) []byte {
	t.Helper()
	r, err := s3.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func putObject(t *testing.T, s3 *storage.S3, key string, b []byte) {
	t.Helper()
	if err := s3.Put(context.Background(), key, bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
