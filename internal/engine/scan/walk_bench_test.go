//go:build unix

package scan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's CPU time so far (user and system): steadier than wall time
// on a loaded machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWalk walks a tree of 20,000 empty files (or BENCH_WALK_DIR) with the
// directory kept open for fstatat and with lstat by full path.
func BenchmarkWalk(b *testing.B) {
	src := os.Getenv("BENCH_WALK_DIR")
	if src == "" {
		src = b.TempDir()
		for d := range 20 {
			dir := filepath.Join(src, fmt.Sprintf("d%02d", d))
			if err := os.Mkdir(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			for f := range 1000 {
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d", f)), nil, 0o644); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	for _, tc := range []struct {
		name string
		open func(string) (*dir, error)
	}{{"at", openDirAt}, {"by-path", openDirByPath}} {
		b.Run(tc.name, func(b *testing.B) {
			saved := openDir
			openDir = tc.open
			defer func() { openDir = saved }()
			n := 0
			cpu0 := cpuTime()
			for b.Loop() {
				n = 0
				if err := Walk(context.Background(), []string{src}, Options{}, func(Node) error { n++; return nil }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n), "nodes")
			b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}
