//go:build unix

package engine_test

// Benchmarks of the engine against tar | pigz and restic on a real tree and the local
// S3 test server (make bench). Each engine run happens in a child process (this test
// binary, re-executed with BACKAPP_BENCH_CHILD set) so that its peak RSS and CPU time
// are its own; the other tools run as child processes too. Wall-clock times on a shared
// machine are noisy: the runs are interleaved, repeated (BENCH_ROUNDS, default 3), and
// the table gives medians and per-round ratios, plus CPU time (user+sys), which noise
// affects less.

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/engine"
	"github.com/backapp/backapp/internal/engine/manifest"
	"github.com/backapp/backapp/internal/engine/seal"
	"github.com/backapp/backapp/internal/engine/upload"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/storage/s3test"
	"github.com/backapp/backapp/internal/testenv/presigned"
)

const childEnv = "BACKAPP_BENCH_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		if err := runChild(spec); err != nil {
			fmt.Fprintln(os.Stderr, "bench child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childSpec is one engine run in a child process.
type childSpec struct {
	Op      string // "backup" or "restore"
	S3      s3Config
	Sources []string
	Key     string
	Prev    *childResult // backup: the previous run (incremental); restore: the archive
	// Chain, when set, is the chain up to the previous run (backup, with Delta) or
	// up to the point in time to restore: its manifests from the last one's full base
	// on are merged.
	Chain  []childResult
	Delta  bool
	Target string
	Codec  string
	Level  int
	Env    []string `json:"-"` // added to the child's environment
}

// s3Config is what the child needs of storage.S3Config (which has an *http.Client).
type s3Config struct{ Endpoint, AccessKey, SecretKey, Region, Bucket string }

func s3Of(c storage.S3Config) s3Config {
	return s3Config{Endpoint: c.Endpoint, AccessKey: c.AccessKey, SecretKey: c.SecretKey, Region: c.Region, Bucket: c.Bucket}
}

type childResult struct {
	Key            string
	SHA256         string
	Size           int64
	ManifestSHA256 string
	Entries        int64
	Stored         int64
	ContentBytes   int64
	Issues         int
	Files          int64
	ManifestSize   int64
	NoArchive      bool
	Base           int // the index in its chain of the full manifest its tree starts from
}

func runChild(spec string) error {
	var s childSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		return err
	}
	dest, err := storage.NewS3(storage.S3Config{Endpoint: s.S3.Endpoint, AccessKey: s.S3.AccessKey,
		SecretKey: s.S3.SecretKey, Region: s.S3.Region, Bucket: s.S3.Bucket, PathStyle: true})
	if err != nil {
		return err
	}
	// BENCH_CPUPROFILE_DIR: a CPU profile of each engine run; BENCH_TRACE_DIR: an
	// execution trace (go tool trace: which goroutine waited on what, and when).
	for _, rec := range []struct {
		env, ext string
		start    func(io.Writer) error
		stop     func()
	}{
		{"BENCH_CPUPROFILE_DIR", "prof", pprof.StartCPUProfile, pprof.StopCPUProfile},
		{"BENCH_TRACE_DIR", "trace", trace.Start, trace.Stop},
	} {
		if dir := os.Getenv(rec.env); dir != "" {
			f, err := os.CreateTemp(dir, s.Op+"-*."+rec.ext)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := rec.start(f); err != nil {
				return err
			}
			defer rec.stop()
		}
	}
	if dir := os.Getenv("BENCH_HEAPPROFILE_DIR"); dir != "" {
		name := s.Op // backup-0 is a chain's full backup, backup-1 the next run, …
		if s.Op == "backup" {
			name = fmt.Sprintf("backup-%d", len(s.Chain))
		}
		stop := peakHeapProfile(dir, name)
		defer stop()
	}
	ctx := context.Background()
	var out childResult
	switch s.Op {
	case "backup":
		as, err := presigned.NewSession(ctx, dest, s.Key)
		if err != nil {
			return err
		}
		ms, err := presigned.NewSession(ctx, dest, storage.ManifestKey(s.Key))
		if err != nil {
			return err
		}
		o := engine.BackupOptions{Name: s.Key, Sources: s.Sources, Archive: as, Manifest: ms,
			Seal: seal.Options{Codec: s.Codec, Level: s.Level}}
		if v := os.Getenv("BENCH_READAHEAD"); v != "" { // -1: off, to compare
			if o.ReadAhead, err = strconv.Atoi(v); err != nil {
				return fmt.Errorf("BENCH_READAHEAD: %w", err)
			}
		}
		o.Delta = s.Delta
		if s.Prev != nil {
			r, c, err := engine.OpenManifest(ctx, s.Prev.Key, presigned.GetURL(dest, storage.ManifestKey(s.Prev.Key)), s.Prev.ManifestSHA256, nil, o.Upload)
			if err != nil {
				return err
			}
			defer c.Close()
			o.Previous = r
		}
		if len(s.Chain) > 0 {
			last := s.Chain[len(s.Chain)-1]
			var rs []*manifest.Reader
			for _, p := range s.Chain[last.Base:] {
				r, c, err := engine.OpenManifest(ctx, p.Key, presigned.GetURL(dest, storage.ManifestKey(p.Key)), p.ManifestSHA256, nil, o.Upload)
				if err != nil {
					return err
				}
				defer c.Close()
				rs = append(rs, r)
			}
			if o.Previous, err = manifest.Merge(rs...); err != nil {
				return err
			}
		}
		res, err := engine.Backup(ctx, o)
		if err != nil {
			return err
		}
		out = childResult{Key: s.Key, SHA256: res.Archive.SHA256, Size: res.Archive.Size, ManifestSHA256: res.Manifest.SHA256,
			Entries: res.Trailer.Entries, Stored: res.Trailer.Stored, ContentBytes: res.Trailer.ContentBytes, Issues: len(res.Issues),
			ManifestSize: res.Manifest.Size, NoArchive: res.NoArchive, Base: res.Header.FullBase()}
	case "restore":
		chain := s.Chain
		if len(chain) == 0 {
			chain = []childResult{*s.Prev}
		}
		var refs []engine.ArchiveRef
		for _, p := range chain {
			refs = append(refs, engine.ArchiveRef{Name: p.Key, Archive: presigned.GetURL(dest, p.Key),
				Manifest: presigned.GetURL(dest, storage.ManifestKey(p.Key)), SHA256: p.SHA256, Size: p.Size, ManifestSHA256: p.ManifestSHA256})
		}
		res, err := engine.Restore(ctx, engine.RestoreOptions{Target: s.Target, Chain: refs})
		if err != nil {
			return err
		}
		out = childResult{Key: chain[len(chain)-1].Key, Files: res.Files, ContentBytes: res.Bytes}
	case "download", "decompress", "untar": // the restore's phases alone (BENCH_RESTORE_PHASES)
		p := s.Prev
		dl := upload.NewDownload(ctx, p.Key, presigned.GetURL(dest, p.Key), p.SHA256, p.Size, upload.Options{})
		defer dl.Close()
		var r io.Reader = dl
		if s.Op != "download" {
			plain, _, err := seal.NewReader(dl, nil)
			if err != nil {
				return err
			}
			defer plain.Close()
			r = plain
		}
		if s.Op == "untar" {
			tr := tar.NewReader(r)
			for {
				if _, err := tr.Next(); err == io.EOF {
					break
				} else if err != nil {
					return err
				}
				if _, err := io.Copy(io.Discard, tr); err != nil {
					return err
				}
			}
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, dl); err != nil {
			return err
		}
		out = childResult{Key: p.Key}
	default:
		return fmt.Errorf("unknown op %q", s.Op)
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// peakHeapProfile (BENCH_HEAPPROFILE_DIR) writes a heap profile of the run each time
// the live heap after a collection reaches a new high, so the last file written shows
// what held memory at the peak.
func peakHeapProfile(dir, op string) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var peak uint64
		var ms runtime.MemStats
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc <= peak+peak/20 {
				continue
			}
			peak = ms.HeapAlloc
			f, err := os.Create(filepath.Join(dir, op+".heap"))
			if err != nil {
				return
			}
			pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
			fmt.Fprintf(os.Stderr, "heap peak %d MB (sys %d MB)\n", peak>>20, ms.Sys>>20)
		}
	}()
	return func() {
		close(done)
		<-finished
		// What the collector did over the run: how often it ran and how much of the
		// CPU it took, beside the peak live heap.
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(os.Stderr, "gc: %d cycles, %.1f%% of CPU, sys %d MB, heap sys %d MB released %d MB, stacks %d MB, total allocated %d MB\n",
			ms.NumGC, 100*ms.GCCPUFraction, ms.Sys>>20, ms.HeapSys>>20, ms.HeapReleased>>20, ms.StackSys>>20, ms.TotalAlloc>>20)
		os.WriteFile(filepath.Join(dir, op+".gc"), fmt.Appendf(nil, "%d cycles, %.1f%% CPU, total allocated %d MB, sys %d MB\n",
			ms.NumGC, 100*ms.GCCPUFraction, ms.TotalAlloc>>20, ms.Sys>>20), 0o644)
	}
}

// measured is one measured process: wall and CPU time, peak RSS.
type measured struct {
	Wall, CPU time.Duration
	MaxRSS    int64 // bytes
}

func measure(cmd *exec.Cmd) (measured, []byte, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := measured{Wall: time.Since(start)}
	if cmd.ProcessState != nil {
		r.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.MaxRSS = int64(ru.Maxrss) << 10 // KiB on Linux
		}
	}
	if err != nil {
		return r, stdout.Bytes(), fmt.Errorf("%v: %w: %s", cmd.Args, err, tail(stderr.String()))
	}
	return r, stdout.Bytes(), nil
}

func tail(s string) string {
	if len(s) > 2000 {
		return "…" + s[len(s)-2000:]
	}
	return s
}

// engineRun runs one engine operation in a child process.
func engineRun(b *testing.B, s childSpec) (measured, childResult) {
	b.Helper()
	spec, err := json.Marshal(s)
	if err != nil {
		b.Fatal(err)
	}
	args := []string{os.Args[0], "-test.measured=^$"}
	if dir := os.Getenv("BENCH_PERF_DIR"); dir != "" {
		// BENCH_PERF_DIR: perf record, system-wide, while each engine run runs (kernel
		// time, the S3 server and idle included).
		f, err := os.CreateTemp(dir, s.Op+"-*.perf")
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
		args = append([]string{"perf", "record", "-q", "-a", "-g", "-F", "999", "-o", f.Name(), "--"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(append(os.Environ(), s.Env...), childEnv+"="+string(spec))
	r, out, err := measure(cmd)
	if err != nil {
		b.Fatalf("engine %s: %v", s.Op, err)
	}
	var res childResult
	if err := json.Unmarshal(out, &res); err != nil {
		b.Fatalf("engine %s: output %q: %v", s.Op, out, err)
	}
	return r, res
}

// shell runs a bash pipeline (with pipefail) as one measured process: its rusage
// includes every process of the pipeline, and its max RSS is the largest of them.
func shell(b *testing.B, env []string, script string) measured {
	b.Helper()
	// AWS_CA_BUNDLE (set on some machines for real AWS) makes rclone refuse its
	// plain-HTTP transport; the test server needs none.
	cmd := exec.Command("bash", "-c", "set -euo pipefail; unset AWS_CA_BUNDLE; "+script)
	cmd.Env = append(os.Environ(), env...)
	r, _, err := measure(cmd)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func benchSources(b *testing.B) []string {
	if s := strings.Fields(os.Getenv("BENCH_ENGINE_SOURCES")); len(s) > 0 {
		return s
	}
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		b.Skipf("go env GOROOT: %v (set BENCH_ENGINE_SOURCES)", err)
	}
	return []string{strings.TrimSpace(string(out)), "/usr/share"}
}

// envSets parses the variable name (BENCH_BACKUP_ENV, BENCH_RESTORE_ENV: "A=1 B=2;C=3")
// into sets of environment variables: one more backapp run per round for each, to
// compare settings side by side.
func envSets(name string) []string {
	var sets []string
	for _, set := range strings.Split(os.Getenv(name), ";") {
		if set = strings.TrimSpace(set); set != "" {
			sets = append(sets, set)
		}
	}
	return sets
}

// benchTarget returns a new directory name under dir for a restore: under
// BENCH_KEEP_RESTORES names must not collide with an earlier run's.
func benchTarget(b *testing.B, dir, name string) string {
	b.Helper()
	p := filepath.Join(dir, name)
	for i := 2; ; i++ {
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			return p
		}
		p = filepath.Join(dir, fmt.Sprintf("%s.%d", name, i))
	}
}

func rounds() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return 3
}

func have(tool string) bool {
	_, err := exec.LookPath(tool)
	return err == nil
}

// table collects runs per (operation, tool) over the rounds.
type table struct {
	mu   sync.Mutex
	runs map[string][]measured
	keys []string
}

func (t *table) add(op, tool string, r measured) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := op + "\x00" + tool
	if t.runs == nil {
		t.runs = map[string][]measured{}
	}
	if _, ok := t.runs[k]; !ok {
		t.keys = append(t.keys, k)
	}
	t.runs[k] = append(t.runs[k], r)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianF(fs []float64) float64 {
	s := slices.Clone(fs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (t *table) get(op, tool string) []measured { return t.runs[op+"\x00"+tool] }

func walls(rs []measured) []time.Duration {
	var d []time.Duration
	for _, r := range rs {
		d = append(d, r.Wall)
	}
	return d
}

func cpus(rs []measured) []time.Duration {
	var d []time.Duration
	for _, r := range rs {
		d = append(d, r.CPU)
	}
	return d
}

// ratio is the median over rounds of engine/other, for wall and CPU time.
func ratio(eng, other []measured) (wall, cpu float64) {
	var w, c []float64
	for i := range min(len(eng), len(other)) {
		w = append(w, eng[i].Wall.Seconds()/other[i].Wall.Seconds())
		c = append(c, eng[i].CPU.Seconds()/other[i].CPU.Seconds())
	}
	return medianF(w), medianF(c)
}

func (t *table) print(w io.Writer, mb float64) {
	fmt.Fprintf(w, "%-10s %-22s %9s %9s %9s %9s %12s %s\n", "operation", "tool", "wall", "MB/s", "CPU", "peak RSS", "vs engine", "rounds (wall)")
	for _, k := range t.keys {
		op, tool, _ := strings.Cut(k, "\x00")
		rs := t.runs[k]
		wall := median(walls(rs))
		var rss int64
		for _, r := range rs {
			rss = max(rss, r.MaxRSS)
		}
		var each []string
		for _, r := range rs {
			each = append(each, fmt.Sprintf("%.1f", r.Wall.Seconds()))
		}
		rel := ""
		if eng := t.get(op, "backapp"); tool != "backapp" && len(eng) > 0 {
			w, c := ratio(eng, rs)
			rel = fmt.Sprintf("%.2f×/%.2f×", w, c)
		}
		fmt.Fprintf(w, "%-10s %-22s %8.1fs %9.0f %8.1fs %6d MB %12s %s\n", op, tool, wall.Seconds(), mb/wall.Seconds(),
			median(cpus(rs)).Seconds(), rss>>20, rel, strings.Join(each, " "))
	}
	fmt.Fprintln(w, "vs engine: median over rounds of backapp's time / the tool's time (wall/CPU); below 0.5 meets issue 3's targets")
}

// BenchmarkEngineTree backs up a real tree (BENCH_ENGINE_SOURCES, default the Go
// distribution and /usr/share) to the S3 test server with default settings, beside
// `tar | pigz | rclone rcat`, restic and kopia (zstd-fastest, as in
// BenchmarkEngineSmallFiles), then re-runs it unchanged and restores it. The engine's
// re-run writes a delta manifest, as the agent's does.
// Run it once: go test -measured '^$' -bench EngineTree -benchtime 1x ./internal/engine/
func BenchmarkEngineTree(b *testing.B) {
	srcs := benchSources(b)
	cfg := s3test.NewConfig(b)
	s3c := s3Of(cfg)
	tmp := b.TempDir()
	targets := tmp
	if d := os.Getenv("BENCH_KEEP_RESTORES"); d != "" {
		// Deleting an 830 MB, 68,000-file restore target slows file creation on some
		// disks for minutes (docs/benchmarks.md), so a run right after another measures
		// its clean-up. Kept targets go under d, for the user to delete later.
		targets = d
	}
	n := rounds()
	tools := map[string]bool{"restic": have("restic"), "kopia": have("kopia"), "pigz": have("pigz") && have("rclone") && have("tar")}
	if os.Getenv("BENCH_ENGINE_ONLY") != "" { // profiling the engine alone
		tools = map[string]bool{}
	}
	for t, ok := range tools {
		if !ok {
			b.Logf("%s not installed: its rows are left out (scripts/bench.d installs restic, kopia, pigz and rclone)", t)
		}
	}
	rel := make([]string, len(srcs))
	for i, s := range srcs {
		rel[i] = strings.TrimPrefix(filepath.Clean(s), "/")
	}
	tarArgs := "-C / -cf - " + shellQuote(rel...)
	env := []string{
		"RCLONE_CONFIG_BENCH_TYPE=s3", "RCLONE_CONFIG_BENCH_PROVIDER=Other",
		"RCLONE_CONFIG_BENCH_ENDPOINT=" + cfg.Endpoint, "RCLONE_CONFIG_BENCH_REGION=" + cfg.Region,
		"RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=" + cfg.AccessKey, "RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=" + cfg.SecretKey,
		"RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true",
		"RESTIC_PASSWORD=bench", "AWS_ACCESS_KEY_ID=" + cfg.AccessKey, "AWS_SECRET_ACCESS_KEY=" + cfg.SecretKey,
		"AWS_DEFAULT_REGION=" + cfg.Region, "RESTIC_CACHE_DIR=" + filepath.Join(tmp, "restic-cache"),
		"KOPIA_PASSWORD=bench", "KOPIA_CHECK_FOR_UPDATES=false",
	}
	var tb table
	var cold coldRestore
	coldBackups := os.Getenv("BENCH_COLD_BACKUP") != ""
	var content int64
	// Warm the page cache and measure the floor: reading the tree.
	tb.add("read", "tar | cat", shell(b, env, "tar "+tarArgs+" | cat >/dev/null"))
	for i := range n {
		key := storage.ArchiveKey("bench", "a", "c", t0.Add(time.Duration(2*i)*time.Hour), seal.Zstd, false)
		repo := fmt.Sprintf("s3:%s/%s/restic-%d", cfg.Endpoint, cfg.Bucket, i)
		kopia := fmt.Sprintf("kopia --config-file=%s ", shellQuote(filepath.Join(tmp, fmt.Sprintf("kopia-%d.config", i))))
		engineFirst := i%2 == 0
		// Full backup.
		var full childResult
		for _, first := range []bool{true, false} {
			if coldBackups { // BENCH_COLD_BACKUP: every full backup reads the tree from disk
				syscall.Sync()
				if err := os.WriteFile(dropCachesFile, []byte("3\n"), 0); err != nil {
					b.Fatalf("BENCH_COLD_BACKUP needs to drop the page cache: %v", err)
				}
			}
			if first == engineFirst {
				r, res := engineRun(b, childSpec{Op: "backup", S3: s3c, Sources: srcs, Key: key})
				full, content = res, res.ContentBytes
				tb.add("backup", "backapp", r)
				continue
			}
			if tools["restic"] {
				shell(b, env, "restic -q -r "+repo+" init")
				tb.add("backup", "restic", shell(b, env, "restic -q -r "+repo+" backup --host bench "+shellQuote(srcs...)))
			}
			if tools["kopia"] {
				shell(b, env, kopia+fmt.Sprintf("repository create s3 --bucket=%s --prefix=kopia-%d/ --endpoint=%s --disable-tls --access-key=%s --secret-access-key=%s --region=%s",
					cfg.Bucket, i, strings.TrimPrefix(cfg.Endpoint, "http://"), cfg.AccessKey, cfg.SecretKey, cfg.Region))
				shell(b, env, kopia+"policy set --global --compression=zstd-fastest")
				tb.add("backup", "kopia (zstd-fastest)", shell(b, env, kopia+"snapshot create --no-progress "+shellQuote(srcs...)))
			}
		}
		for k, set := range envSets("BENCH_BACKUP_ENV") {
			vkey := storage.ArchiveKey("bench", "a", "c", t0.Add(time.Duration(2*i)*time.Hour+time.Duration(k+1)*time.Minute), seal.Zstd, false)
			r, _ := engineRun(b, childSpec{Op: "backup", S3: s3c, Sources: srcs, Key: vkey, Env: strings.Fields(set)})
			tb.add("backup", "backapp "+set, r)
		}
		if tools["pigz"] {
			tb.add("backup", "tar | pigz -6 | rclone", shell(b, env, fmt.Sprintf("tar %s | pigz -6 | rclone rcat bench:%s/pigz-%d.tar.gz", tarArgs, cfg.Bucket, i)))
		}
		// Unchanged re-measured.
		for _, first := range []bool{true, false} {
			if first == engineFirst {
				ikey := storage.ArchiveKey("bench", "a", "c", t0.Add(time.Duration(2*i+1)*time.Hour), seal.Zstd, false)
				r, res := engineRun(b, childSpec{Op: "backup", S3: s3c, Sources: srcs, Key: ikey, Delta: true, Chain: []childResult{full}})
				if res.Stored != 0 {
					b.Logf("unchanged re-measured stored %d entries (the tree changed?)", res.Stored)
				}
				tb.add("unchanged", "backapp", r)
				continue
			}
			if tools["restic"] {
				tb.add("unchanged", "restic", shell(b, env, "restic -q -r "+repo+" backup --host bench "+shellQuote(srcs...)))
			}
			if tools["kopia"] {
				tb.add("unchanged", "kopia (zstd-fastest)", shell(b, env, kopia+"snapshot create --no-progress "+shellQuote(srcs...)))
			}
		}
		// Restore: every tool from a cold page cache, timed until its files are on disk
		// (coldRestore).
		for _, first := range []bool{true, false} {
			dir := benchTarget(b, targets, fmt.Sprintf("restore-%d-%v", i, first))
			if first == engineFirst {
				tb.add("restore", "backapp", cold.run(b, dir, func() measured {
					r, _ := engineRun(b, childSpec{Op: "restore", S3: s3c, Target: dir, Prev: &full})
					return r
				}))
				continue
			}
			if tools["restic"] {
				tb.add("restore", "restic", cold.run(b, dir, func() measured {
					return shell(b, env, "restic -q -r "+repo+" restore latest --target "+shellQuote(dir))
				}))
			}
			if tools["kopia"] {
				// One snapshot per source: each restored under its own directory.
				d := dir + "-kopia"
				var script []string
				for k, s := range srcs {
					script = append(script, kopia+"snapshot restore --no-progress "+shellQuote(s, filepath.Join(d, strconv.Itoa(k))))
				}
				tb.add("restore", "kopia (zstd-fastest)", cold.run(b, d, func() measured {
					return shell(b, env, strings.Join(script, " && "))
				}))
			}
		}
		for _, set := range envSets("BENCH_RESTORE_ENV") {
			dir := benchTarget(b, targets, fmt.Sprintf("restore-%d-env", i))
			tb.add("restore", "backapp "+set, cold.run(b, dir, func() measured {
				r, _ := engineRun(b, childSpec{Op: "restore", S3: s3c, Target: dir, Prev: &full, Env: strings.Fields(set)})
				return r
			}))
		}
		if os.Getenv("BENCH_RESTORE_PHASES") != "" { // what each layer of the restore costs alone
			for _, op := range []string{"download", "decompress", "untar"} {
				tb.add("restore", "backapp: "+op+" only", cold.run(b, "", func() measured {
					r, _ := engineRun(b, childSpec{Op: op, S3: s3c, Prev: &full})
					return r
				}))
			}
		}
		if tools["pigz"] {
			dir := benchTarget(b, targets, fmt.Sprintf("restore-%d-pigz", i))
			tb.add("restore", "rclone | pigz -d | tar", cold.run(b, dir, func() measured {
				return shell(b, env, fmt.Sprintf("mkdir -p %[1]s && rclone cat bench:%[2]s/pigz-%[3]d.tar.gz | pigz -d | tar -C %[1]s -xf -", shellQuote(dir), cfg.Bucket, i))
			}))
		}
		// The disk's own bound for the restore: the same bytes written sequentially
		// and fsynced, measured like the restores.
		ddFile := benchTarget(b, targets, fmt.Sprintf("dd-%d", i))
		tb.add("restore", "dd conv=fsync (disk bound)", cold.run(b, ddFile, func() measured {
			return shell(b, nil, fmt.Sprintf("dd if=/dev/zero of=%s bs=1M count=%d conv=fsync status=none", shellQuote(ddFile), max(content>>20, 1)))
		}))
		os.Remove(ddFile)
		if cold.dropped && i < n-1 {
			// The next round's backups start from a warm cache, as the first round's do
			// after the read above.
			shell(b, env, "tar "+tarArgs+" | cat >/dev/null")
		}
	}
	mb := float64(content) / 1e6
	var out bytes.Buffer
	fmt.Fprintf(&out, "\nBenchmarkEngineTree: %s — %.0f MB of file content, %d rounds, GOMAXPROCS %d\n", strings.Join(srcs, " "), mb, n, runtime.GOMAXPROCS(0))
	fmt.Fprintln(&out, cold.method())
	tb.print(&out, mb)
	fmt.Print(out.String())
	b.ReportMetric(mb/median(walls(tb.get("backup", "backapp"))).Seconds(), "backup-MB/s")
	b.ReportMetric(mb/median(walls(tb.get("restore", "backapp"))).Seconds(), "restore-MB/s")
	b.ReportMetric(median(walls(tb.get("unchanged", "backapp"))).Seconds(), "unchanged-s")
	var rss int64
	for _, r := range tb.get("backup", "backapp") {
		rss = max(rss, r.MaxRSS)
	}
	b.ReportMetric(float64(rss>>20), "backup-peak-RSS-MB")
	if rs := tb.get("backup", "restic"); len(rs) > 0 {
		for _, op := range []string{"backup", "unchanged", "restore"} {
			w, _ := ratio(tb.get(op, "backapp"), tb.get(op, "restic"))
			b.ReportMetric(w, op+"-vs-restic")
		}
	}
}

// coldRestore makes every timed restore start alike and end alike, whatever the
// previous run left behind: without it, the writeback of an earlier 830 MB restore (or
// of deleting it) lands in the next one, and restore times say more about the disk's
// queue than about the tool.
//
// Before each restore, outside the timed region: everything is synced and the page
// cache dropped (as root), so the tool reads the S3 server's files and writes into an
// empty cache like the others. Targets are new directories and are only removed when
// the benchmark ends: on this VM's ext4 (mounted with discard) deleting 68,000 files
// slowed every file creation of the next minutes 2-5x, so a restore that followed the
// deletion of an earlier target measured that deletion. Where the cache cannot be dropped the
// fallback is sync and a short settle, and the table says so. The timed region ends
// after a sync that follows the tool's exit: restore times are "on disk" for every tool,
// since none of them fsyncs what it restores and a "page cache" time would reward
// whoever leaves the most dirty pages behind.
type coldRestore struct {
	dropped    bool  // the page cache was dropped before every restore so far
	dropErr    error // why it could not be dropped (once tried and failed, not retried)
	restores   int
	flushTotal time.Duration // sum of the final syncs, for the method line
}

// settle is the pause that stands in for dropping the page cache when that is not
// permitted: sync has returned, but the device may still be busy with what it got.
const settle = 2 * time.Second

const dropCachesFile = "/proc/sys/vm/drop_caches"

// run times restore (which restores into dir, a new directory) from a cold start until
// its files are on disk.
func (c *coldRestore) run(b *testing.B, dir string, restore func() measured) measured {
	b.Helper()
	if _, err := os.Lstat(dir); dir != "" && err == nil {
		b.Fatalf("restore target %s exists: each restore needs a new one", dir)
	}
	syscall.Sync()
	if c.dropErr == nil {
		// drop_caches frees only clean pages: the sync above comes first.
		// A failure is said once, in the table's header (method).
		c.dropErr = os.WriteFile(dropCachesFile, []byte("3\n"), 0)
	}
	if c.dropErr != nil {
		time.Sleep(settle)
	}
	c.dropped = c.dropErr == nil
	r := restore()
	start := time.Now()
	syscall.Sync()
	flush := time.Since(start)
	r.Wall += flush
	c.restores++
	c.flushTotal += flush
	return r
}

// method is the line of the table's header that says how restores were measured.
func (c *coldRestore) method() string {
	if c.restores == 0 {
		return "restore: not run"
	}
	how := "after sync and dropping the page cache"
	if !c.dropped {
		how = fmt.Sprintf("after sync and a %v settle, page cache NOT dropped (%v)", settle, c.dropErr)
	}
	return fmt.Sprintf("restore: each %s; wall includes the final sync (on disk; the syncs took %.1fs on average)",
		how, (c.flushTotal / time.Duration(c.restores)).Seconds())
}

func shellQuote(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// scanTree returns a directory of n empty files (1000 per directory), made once and
// kept under $TMPDIR for later runs: creating a million files takes minutes.
func scanTree(b *testing.B, n int) string {
	b.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("backapp-bench-scan-%d", n))
	done := dir + ".complete"
	if _, err := os.Stat(done); err == nil {
		return dir
	}
	if err := os.RemoveAll(dir); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	mtime := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, err := fillDirs(dir, n, func(d string, from, count int) (int64, error) {
		return 0, makeScanDir(d, from, count, mtime)
	}); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	b.Logf("created %d files under %s in %v (kept for the next run)", n, dir, time.Since(start).Round(time.Second))
	return dir
}

// fillDirs makes n files under dir in directories d0000, d0001, … of 1,000 each, by
// calling mk for each directory on 4 goroutines; it returns the bytes mk reports and
// the first error.
func fillDirs(dir string, n int, mk func(d string, from, count int) (int64, error)) (int64, error) {
	const per = 1000
	var mu sync.Mutex
	var total int64
	var first error
	dirs := make(chan int)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for d := range dirs {
				size, err := mk(filepath.Join(dir, fmt.Sprintf("d%04d", d)), d*per, min(per, n-d*per))
				mu.Lock()
				total += size
				first = cmpOr(first, err)
				mu.Unlock()
			}
		})
	}
	for d := 0; d*per < n; d++ {
		dirs <- d
	}
	close(dirs)
	wg.Wait()
	return total, first
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func makeScanDir(dir string, from, count int, mtime time.Time) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := range count {
		// mknod makes an empty file in one system call (open + close is two).
		p := filepath.Join(dir, fmt.Sprintf("f%07d", from+i))
		if err := syscall.Mknod(p, syscall.S_IFREG|0o644, 0); err != nil && !errors.Is(err, fs.ErrExist) {
			return &fs.PathError{Op: "mknod", Path: p, Err: err}
		}
	}
	return os.Chtimes(dir, mtime, mtime)
}

// BenchmarkEngineScan1M backs up a tree of BENCH_SCAN_FILES (default 1,000,000) empty
// files, then runs the unchanged incremental against that manifest and reports its
// files/s and peak RSS (the issue's bound: under 256 MB).
func BenchmarkEngineScan1M(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("BENCH_SCAN_FILES")); err == nil && v > 0 {
		n = v
	}
	dir := scanTree(b, n)
	cfg := s3test.NewConfig(b)
	s3c := s3Of(cfg)
	var tb table
	var full, inc childResult
	var r measured
	rounds := 1
	if v, err := strconv.Atoi(os.Getenv("BENCH_SCAN_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	for i := range rounds {
		key := storage.ArchiveKey("bench", "a", "scan", t0.Add(time.Duration(2*i)*time.Hour), seal.Zstd, false)
		r, full = engineRun(b, childSpec{Op: "backup", S3: s3c, Sources: []string{dir}, Key: key})
		tb.add("full", "backapp", r)
		ikey := storage.ArchiveKey("bench", "a", "scan", t0.Add(time.Duration(2*i+1)*time.Hour), seal.Zstd, false)
		r, inc = engineRun(b, childSpec{Op: "backup", S3: s3c, Sources: []string{dir}, Key: ikey, Prev: &full})
		if inc.Stored != 0 {
			b.Logf("unchanged incremental stored %d entries (the tree changed?)", inc.Stored)
		}
		tb.add("unchanged", "backapp", r)
	}
	fmt.Printf("\nBenchmarkEngineScan1M: %d entries (%s), GOMAXPROCS %d\n", full.Entries, dir, runtime.GOMAXPROCS(0))
	fmt.Printf("%-10s %9s %12s %9s %9s %s\n", "run", "wall", "files/s", "CPU", "peak RSS", "rounds (wall)")
	var rss int64
	for _, op := range []string{"full", "unchanged"} {
		rs := tb.get(op, "backapp")
		w := median(walls(rs))
		var each []string
		var m int64
		for _, r := range rs {
			each = append(each, fmt.Sprintf("%.1f", r.Wall.Seconds()))
			m = max(m, r.MaxRSS)
		}
		if op == "unchanged" {
			rss = m
		}
		fmt.Printf("%-10s %8.1fs %12.0f %8.1fs %6d MB %s\n", op, w.Seconds(), float64(full.Entries)/w.Seconds(), median(cpus(rs)).Seconds(), m>>20, strings.Join(each, " "))
	}
	b.ReportMetric(float64(inc.Entries)/median(walls(tb.get("unchanged", "backapp"))).Seconds(), "incremental-files/s")
	b.ReportMetric(float64(rss>>20), "incremental-peak-RSS-MB")
}

// BenchmarkEngineCodecs backs up the same tree as BenchmarkEngineTree once per codec
// and level (BENCH_CODECS, default "zstd:1 zstd:3 zstd:7 gzip:1 gzip:6 none"), for the
// choice of the default: wall and CPU time and stored size.
func BenchmarkEngineCodecs(b *testing.B) {
	srcs := benchSources(b)
	cfg := s3test.NewConfig(b)
	s3c := s3Of(cfg)
	codecs := strings.Fields(os.Getenv("BENCH_CODECS"))
	if len(codecs) == 0 {
		codecs = []string{"zstd:1", "zstd:3", "zstd:7", "gzip:1", "gzip:6", "none"}
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "\nBenchmarkEngineCodecs: %s, GOMAXPROCS %d\n", strings.Join(srcs, " "), runtime.GOMAXPROCS(0))
	fmt.Fprintf(&out, "%-8s %9s %9s %9s %10s %7s %9s\n", "codec", "wall", "MB/s", "CPU", "stored MB", "ratio", "peak RSS")
	for i, c := range codecs {
		codec, lv, _ := strings.Cut(c, ":")
		level, _ := strconv.Atoi(lv)
		o := seal.Options{Codec: codec, Level: level}
		if _, err := o.Normalize(); err != nil {
			b.Fatal(err)
		}
		key := storage.ArchiveKey("bench", "a", "codecs", t0.Add(time.Duration(i)*time.Hour), codec, false)
		r, res := engineRun(b, childSpec{Op: "backup", S3: s3c, Sources: srcs, Key: key, Codec: codec, Level: level})
		mb := float64(res.ContentBytes) / 1e6
		fmt.Fprintf(&out, "%-8s %8.1fs %9.0f %8.1fs %10.0f %6.2f× %6d MB\n", c, r.Wall.Seconds(), mb/r.Wall.Seconds(), r.CPU.Seconds(),
			float64(res.Size)/1e6, float64(res.ContentBytes)/float64(res.Size), r.MaxRSS>>20)
	}
	fmt.Print(out.String())
}
