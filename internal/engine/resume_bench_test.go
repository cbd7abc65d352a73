//go:build unix

package engine_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/engine"
	"github.com/backapp/backapp/internal/engine/seal"
	"github.com/backapp/backapp/internal/engine/upload"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/storage/s3test"
	"github.com/backapp/backapp/internal/testenv/presigned"
)

// BenchmarkResumedBackup compares, on the S3 test server, a resumable backup run
// through with the same backup interrupted halfway (its context cancelled, as a kill
// would stop it, after a checkpoint) and resumed at once: the bound is that
// the two attempts together take at most 10 % more than the uninterrupted run (plus
// the downtime, none here). It also times the same backup without checkpoints, for
// their cost. BACKAPP_BENCH_RESUME_MB sets the tree's size (default 1024: half
// incompressible, half text-like).
func BenchmarkResumedBackup(b *testing.B) {
	mb := 1024
	if s := os.Getenv("BACKAPP_BENCH_RESUME_MB"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 64 {
			b.Fatalf("BACKAPP_BENCH_RESUME_MB=%q: want MiB, at least 64", s)
		}
		mb = n
	}
	dest := s3test.New(b)
	src := filepath.Join(b.TempDir(), "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		b.Fatal(err)
	}
	text := []byte("the quick brown fox jumps over the lazy dog 0123456789\n")
	for i := 0; i < mb/32; i++ {
		buf := make([]byte, 32<<20)
		if i%2 == 0 {
			rand.Read(buf)
		} else {
			for j := 0; j < len(buf); j += len(text) {
				copy(buf[j:], text)
				buf[j] = byte(i + j)
			}
		}
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%03d", i)), buf, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	n := 0
	var lastCPU time.Duration // of the last backup call
	backup := func(b *testing.B, checkpoints bool, stopAt int64, resume *engine.Checkpoint, as, ms upload.Session, spool *os.File, k string) (*engine.Checkpoint, time.Duration, error) {
		o := engine.BackupOptions{Name: k, Sources: []string{src}, Archive: killable{as}, Manifest: killable{ms},
			Upload: upload.Options{Client: &http.Client{Transport: http.DefaultTransport}}}
		var mu sync.Mutex
		var last *engine.Checkpoint
		rctx, stop := context.WithCancel(ctx)
		defer stop()
		if checkpoints {
			o.Checkpoint = &engine.CheckpointOptions{Spool: spool, Resume: resume, Save: func(cp engine.Checkpoint) error {
				mu.Lock()
				defer mu.Unlock()
				last = &cp
				if stopAt > 0 && cp.Size >= stopAt {
					stop()
				}
				return nil
			}}
		}
		start, cpu0 := time.Now(), cpuTime()
		_, err := engine.Backup(rctx, o)
		d := time.Since(start)
		lastCPU = cpuTime() - cpu0
		mu.Lock()
		defer mu.Unlock()
		return last, d, err
	}
	session := func(b *testing.B) (upload.Session, upload.Session, *os.File, string) {
		n++
		k := key(n, seal.Options{})
		as, err := presigned.NewSession(ctx, dest, k)
		if err != nil {
			b.Fatal(err)
		}
		ms, err := presigned.NewSession(ctx, dest, storage.ManifestKey(k))
		if err != nil {
			b.Fatal(err)
		}
		spool, err := os.Create(filepath.Join(b.TempDir(), "spool.zst"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { spool.Close() })
		return as, ms, spool, k
	}
	for b.Loop() {
		var plains, wholes, totals []time.Duration
		var ratios, cpuRatios []float64
		for r := range rounds() {
			as, ms, spool, k := session(b)
			_, plain, err := backup(b, false, 0, nil, as, ms, spool, k)
			if err != nil {
				b.Fatal(err)
			}
			as, ms, spool, k = session(b)
			_, whole, err := backup(b, true, 0, nil, as, ms, spool, k)
			if err != nil {
				b.Fatal(err)
			}
			wholeCPU := lastCPU
			as, ms, spool, k = session(b)
			// Stopped about halfway: the stored archive is about half the tree (the
			// text compresses to almost nothing).
			cp, first, err := backup(b, true, int64(mb)<<18, nil, as, ms, spool, k)
			if err == nil || cp == nil {
				b.Fatalf("the interrupted backup: %v, checkpoint %v", err, cp != nil)
			}
			firstCPU := lastCPU
			_, second, err := backup(b, true, 0, cp, as, ms, spool, k)
			if err != nil {
				b.Fatalf("resume: %v", err)
			}
			total := first + second
			cpuRatio := (firstCPU + lastCPU).Seconds() / wholeCPU.Seconds()
			cpuRatios = append(cpuRatios, cpuRatio)
			plains, wholes, totals = append(plains, plain), append(wholes, whole), append(totals, total)
			ratios = append(ratios, total.Seconds()/whole.Seconds())
			b.Logf("round %d, %d MiB: without checkpoints %.1fs, uninterrupted %.1fs, interrupted at part %d (%.1fs) + resumed (%.1fs) = %.1fs: %.2fx wall, %.2fx CPU",
				r+1, mb, plain.Seconds(), whole.Seconds(), cp.Next, first.Seconds(), second.Seconds(), total.Seconds(), total.Seconds()/whole.Seconds(), cpuRatio)
		}
		b.ReportMetric(median(plains).Seconds(), "plain-s")
		b.ReportMetric(median(wholes).Seconds(), "uninterrupted-s")
		b.ReportMetric(median(totals).Seconds(), "resumed-total-s")
		b.ReportMetric(medianF(ratios), "resumed/uninterrupted")
		b.ReportMetric(medianF(cpuRatios), "resumed/uninterrupted-cpu")
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
