//go:build unix

package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/engine"
	"github.com/backapp/backapp/internal/engine/seal"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/storage/s3test"
)

// smallTree returns a directory of n files of 0–max bytes (1000 per directory), made
// once and kept under $TMPDIR for later runs, and its content bytes. It is built
// under a name of its own and renamed into place when complete, so that two benches
// starting at once never delete or half-see each other's tree.
func smallTree(b *testing.B, n, maxSize int) (string, int64) {
	b.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("backapp-bench-small-%d", n))
	if maxSize != defaultSmallMax {
		dir += fmt.Sprintf("-max%d", maxSize)
	}
	done := dir + ".complete"
	if size, ok := treeDone(done); ok {
		return dir, size
	}
	build, err := os.MkdirTemp(os.TempDir(), filepath.Base(dir)+".building-*")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(build) // left only when another bench finished first
	start := time.Now()
	total, err := fillDirs(build, n, func(d string, from, count int) (int64, error) {
		return makeSmallDir(d, from, count, maxSize)
	})
	if err != nil {
		b.Fatal(err)
	}
	if size, ok := treeDone(done); ok { // another bench made it meanwhile
		return dir, size
	}
	// A leftover of an interrupted run (never marked complete) is replaced.
	if err := os.RemoveAll(dir); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(build, dir); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(done, []byte(strconv.FormatInt(total, 10)), 0o644); err != nil {
		b.Fatal(err)
	}
	b.Logf("created %d files (%d MB) under %s in %v (kept for the next run)", n, total>>20, dir, time.Since(start).Round(time.Second))
	return dir, total
}

// treeDone reads a tree's completion mark: its content bytes.
func treeDone(done string) (int64, bool) {
	m, err := os.ReadFile(done)
	if err != nil {
		return 0, false
	}
	size, _ := strconv.ParseInt(strings.TrimSpace(string(m)), 10, 64)
	return size, true
}

func makeSmallDir(dir string, from, count, maxSize int) (int64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	var total int64
	for i := range count {
		data := smallContent(uint64(from+i), 0, maxSize)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%07d", from+i)), data, 0o644); err != nil {
			return 0, err
		}
		total += int64(len(data))
	}
	return total, nil
}

// defaultSmallMax is the largest file of the small-file tree unless BENCH_SMALL_MAX
// says otherwise (a tree of millions of files fits the disk with 512).
const defaultSmallMax = 8 << 10

// smallContent is file i's content in version v: 0–maxSize bytes, half random bytes
// and half repeated text, so it compresses about as much as ordinary small files.
func smallContent(i, v uint64, maxSize int) []byte {
	r := rand.New(rand.NewPCG(i, v))
	data := make([]byte, r.IntN(maxSize+1))
	half := len(data) / 2
	for j := 0; j < half; j += 8 {
		x := r.Uint64()
		for k := 0; k < 8 && j+k < half; k++ {
			data[j+k] = byte(x >> (8 * k))
		}
	}
	copy(data[half:], bytes.Repeat([]byte(fmt.Sprintf("line %d of file %d\n", v, i)), len(data)/16+1))
	return data
}

// changeSmall rewrites every 100th file of the tree (1 %) with new content of version
// v: the files a "1 % changed" run finds changed.
func changeSmall(b *testing.B, dir string, n, maxSize int, v uint64) {
	b.Helper()
	for i := 0; i < n; i += 100 {
		p := filepath.Join(dir, fmt.Sprintf("d%04d", i/1000), fmt.Sprintf("f%07d", i))
		if err := os.WriteFile(p, smallContent(uint64(i), v, maxSize), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEngineSmallFiles backs up a tree of BENCH_SMALL_FILES (default 300,000)
// files of 0–8 KiB (0–BENCH_SMALL_MAX bytes) to the S3 test server, beside restic and kopia where installed
// (scripts/bench.d): full backup, unchanged re-run, a run with 1 % of the files
// changed, and a cold restore of that last point in time (until on disk), with the
// bytes each run added to the destination and peak RSS, and the disk's own bound for
// the restore: dd of the same byte count with conv=fsync. The engine runs as the agent
// does (deltas, the agent's default soft memory limit: 100 MiB on 2 cores); BENCH_DELTAS=0, BENCH_GOMEMLIMIT and
// BENCH_ENGINE_ONLY compare other settings.
func BenchmarkEngineSmallFiles(b *testing.B) {
	n := 300_000
	if v, err := strconv.Atoi(os.Getenv("BENCH_SMALL_FILES")); err == nil && v > 0 {
		n = v
	}
	maxSize := defaultSmallMax
	if v, err := strconv.Atoi(os.Getenv("BENCH_SMALL_MAX")); err == nil && v > 0 {
		maxSize = v
	}
	dir, content := smallTree(b, n, maxSize)
	cfg := s3test.NewConfig(b)
	s3c := s3Of(cfg)
	dest, err := storage.NewS3(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	usage := func(prefix string) int64 {
		u, err := dest.Usage(ctx, prefix)
		if err != nil {
			b.Fatal(err)
		}
		return u.Bytes
	}
	tmp := b.TempDir()
	targets := tmp
	if d := os.Getenv("BENCH_KEEP_RESTORES"); d != "" {
		targets = d
	}
	tools := map[string]bool{"restic": have("restic"), "kopia": have("kopia")}
	if os.Getenv("BENCH_ENGINE_ONLY") != "" {
		tools = map[string]bool{}
	}
	// BENCH_PEERS="kopia" compares with those alone; BENCH_RESTORE=0 leaves the
	// restores out (kopia's takes a quarter of an hour here): for the backups' ratios
	// measured side by side, under the same load.
	if peers := strings.Fields(os.Getenv("BENCH_PEERS")); len(peers) > 0 {
		for t := range tools {
			tools[t] = tools[t] && slices.Contains(peers, t)
		}
	}
	restores := os.Getenv("BENCH_RESTORE") != "0"
	// The engine runs as the agent does: with deltas and the agent's default soft
	// memory limit (cmd/backapp-agent). BENCH_DELTAS=0 writes whole manifests (agents before deltas);
	// BENCH_GOMEMLIMIT sets another limit ("off": none).
	deltas := os.Getenv("BENCH_DELTAS") != "0"
	childEnv := []string{fmt.Sprintf("GOMEMLIMIT=%d", engine.DefaultMemoryLimit(runtime.GOMAXPROCS(0)))} // as cmd/backapp-agent's default
	switch v := os.Getenv("BENCH_GOMEMLIMIT"); v {
	case "":
	case "off":
		childEnv = nil
	default:
		childEnv = []string{"GOMEMLIMIT=" + v}
	}
	for t, ok := range tools {
		if !ok {
			b.Logf("%s not installed: its rows are left out", t)
		}
	}
	env := []string{
		"RESTIC_PASSWORD=bench", "AWS_ACCESS_KEY_ID=" + cfg.AccessKey, "AWS_SECRET_ACCESS_KEY=" + cfg.SecretKey,
		"AWS_DEFAULT_REGION=" + cfg.Region, "RESTIC_CACHE_DIR=" + filepath.Join(tmp, "restic-cache"),
		"KOPIA_PASSWORD=bench", "KOPIA_CHECK_FOR_UPDATES=false",
	}
	var tb table
	added := map[string][]int64{} // op\x00tool → bytes added per round
	var addedKeys []string
	addBytes := func(op, tool string, n int64) {
		k := op + "\x00" + tool
		if _, ok := added[k]; !ok {
			addedKeys = append(addedKeys, k)
		}
		added[k] = append(added[k], n)
	}
	var cold coldRestore
	version := uint64(1)
	for i := range rounds() {
		prefix := fmt.Sprintf("users/bench/agents/a/configs/small-%d/", i)
		key := func(h int) string {
			return storage.ArchiveKey("bench", "a", fmt.Sprintf("small-%d", i), t0.Add(time.Duration(h)*time.Hour), seal.Zstd, false)
		}
		resticPrefix := fmt.Sprintf("restic-small-%d", i)
		repo := fmt.Sprintf("s3:%s/%s/%s", cfg.Endpoint, cfg.Bucket, resticPrefix)
		kopiaPrefix := fmt.Sprintf("kopia-small-%d/", i)
		kopiaCfg := filepath.Join(tmp, fmt.Sprintf("kopia-%d.config", i))
		kopia := fmt.Sprintf("kopia --config-file=%s ", shellQuote(kopiaCfg))
		engineFirst := i%2 == 0
		var chain []childResult
		step := func(op string) {
			for _, first := range []bool{true, false} {
				if first == engineFirst {
					before := usage(prefix)
					s := childSpec{Op: "backup", S3: s3c, Sources: []string{dir}, Key: key(len(chain)), Delta: deltas, Chain: chain, Env: childEnv}
					if !deltas && len(chain) > 0 {
						s.Chain, s.Prev = nil, &chain[len(chain)-1]
					}
					r, res := engineRun(b, s)
					chain = append(chain, res)
					tb.add(op, "backapp", r)
					addBytes(op, "backapp", usage(prefix)-before)
					continue
				}
				if tools["restic"] {
					if op == "backup" {
						shell(b, env, "restic -q -r "+repo+" init")
					}
					before := usage(resticPrefix + "/")
					tb.add(op, "restic", shell(b, env, "restic -q -r "+repo+" backup --host bench "+shellQuote(dir)))
					addBytes(op, "restic", usage(resticPrefix+"/")-before)
				}
				if tools["kopia"] {
					if op == "backup" {
						shell(b, env, kopia+fmt.Sprintf("repository create s3 --bucket=%s --prefix=%s --endpoint=%s --disable-tls --access-key=%s --secret-access-key=%s --region=%s",
							cfg.Bucket, kopiaPrefix, strings.TrimPrefix(cfg.Endpoint, "http://"), cfg.AccessKey, cfg.SecretKey, cfg.Region))
						shell(b, env, kopia+"policy set --global --compression=zstd-fastest")
					}
					before := usage(kopiaPrefix)
					tb.add(op, "kopia (zstd-fastest)", shell(b, env, kopia+"snapshot create --no-progress "+shellQuote(dir)))
					addBytes(op, "kopia (zstd-fastest)", usage(kopiaPrefix)-before)
				}
			}
		}
		step("backup")
		step("unchanged")
		version++
		changeSmall(b, dir, n, maxSize, version)
		step("1% changed")
		for _, first := range []bool{true, false} {
			if !restores {
				break
			}
			d := benchTarget(b, targets, fmt.Sprintf("small-restore-%d-%v", i, first))
			if first == engineFirst {
				tb.add("restore", "backapp", cold.run(b, d, func() measured {
					r, _ := engineRun(b, childSpec{Op: "restore", S3: s3c, Target: d, Chain: chain, Env: childEnv})
					return r
				}))
				continue
			}
			if tools["restic"] {
				tb.add("restore", "restic", cold.run(b, d, func() measured {
					return shell(b, env, "restic -q -r "+repo+" restore latest --target "+shellQuote(d))
				}))
			}
			if tools["kopia"] {
				d := d + "-kopia"
				tb.add("restore", "kopia (zstd-fastest)", cold.run(b, d, func() measured {
					return shell(b, env, kopia+"snapshot restore --no-progress "+shellQuote(dir)+" "+shellQuote(d))
				}))
			}
		}
		if !restores {
			continue
		}
		// The disk's own bound: the same bytes written sequentially and fsynced.
		ddFile := filepath.Join(targets, fmt.Sprintf("dd-%d", i))
		tb.add("restore", "dd conv=fsync (disk bound)", cold.run(b, ddFile, func() measured {
			return shell(b, nil, fmt.Sprintf("dd if=/dev/zero of=%s bs=1M count=%d conv=fsync status=none", shellQuote(ddFile), max(content>>20, 1)))
		}))
		os.Remove(ddFile)
	}
	mb := float64(content) / 1e6
	var out bytes.Buffer
	fmt.Fprintf(&out, "\nBenchmarkEngineSmallFiles: %d files, %.0f MB (%s), %d rounds, GOMAXPROCS %d, deltas %v, engine env %q\n", n, mb, dir, rounds(), runtime.GOMAXPROCS(0), deltas, childEnv)
	fmt.Fprintln(&out, cold.method())
	tb.print(&out, mb)
	fmt.Fprintf(&out, "\n%-12s %-22s %14s %12s %s\n", "run", "tool", "bytes added", "vs backapp", "rounds")
	for _, k := range addedKeys {
		op, tool, _ := strings.Cut(k, "\x00")
		ns := added[k]
		var each []string
		for _, x := range ns {
			each = append(each, strconv.FormatInt(x, 10))
		}
		rel := ""
		if eng := added[op+"\x00backapp"]; tool != "backapp" && len(eng) > 0 && ns[0] > 0 {
			rel = fmt.Sprintf("%.2f×", float64(eng[0])/float64(ns[0]))
		}
		fmt.Fprintf(&out, "%-12s %-22s %14s %12s %s\n", op, tool, humanSize(ns[0]), rel, strings.Join(each, " "))
	}
	fmt.Print(out.String())
	b.ReportMetric(float64(added["unchanged\x00backapp"][0]), "unchanged-bytes-added")
	b.ReportMetric(float64(added["1% changed\x00backapp"][0]), "changed-bytes-added")
}

func humanSize(n int64) string {
	switch {
	case n >= 10<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 10<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
