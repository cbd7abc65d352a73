package engine

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// TestCompressorsBounded: under a soft memory limit the compressors' buffers stay
// within about a third of it (at least two compressors), whatever the cores; without
// a limit there is one per core.
func TestCompressorsBounded(t *testing.T) {
	procs := runtime.GOMAXPROCS(64)
	defer runtime.GOMAXPROCS(procs)
	for _, limit := range []int64{64 << 20, 112 << 20, 256 << 20, 1 << 30} {
		n := compressors(limit)
		if n < 2 || n > 64 || n > 2 && int64(n)*perCompressor > limit/3 {
			t.Errorf("limit %d MiB: %d compressors", limit>>20, n)
		}
	}
	if n := compressors(112 << 20); n != 2 {
		t.Errorf("112 MiB: %d compressors, want 2", n)
	}
	if n := compressors(0); n != 64 {
		t.Errorf("no limit: %d compressors, want one per core (64)", n)
	}
	runtime.GOMAXPROCS(1)
	if n := compressors(1 << 30); n != 1 {
		t.Errorf("one core: %d compressors, want 1", n)
	}
}

// TestDefaultMemoryLimit: the agent's default soft limit is 100 MiB up to two cores
// and grows by 40 MiB a core to eight, so that every core gets a compressor.
func TestDefaultMemoryLimit(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(procs)
	for _, tc := range []struct {
		procs       int
		limit       int64 // MiB
		compressors int
	}{{1, 100, 1}, {2, 100, 2}, {3, 140, 3}, {4, 180, 4}, {5, 220, 5}, {6, 260, 6}, {7, 300, 7}, {8, 340, 8}, {12, 340, 8}, {64, 340, 8}} {
		limit := DefaultMemoryLimit(tc.procs)
		runtime.GOMAXPROCS(tc.procs)
		if n := compressors(limit); limit != tc.limit<<20 || n != tc.compressors {
			t.Errorf("%d cores: limit %d MiB, %d compressors; want %d MiB, %d", tc.procs, limit>>20, n, tc.limit, tc.compressors)
		}
	}
}

// TestMemoryLimit reads the soft limit the process runs under.
func TestMemoryLimit(t *testing.T) {
	old := debug.SetMemoryLimit(100 << 20)
	defer debug.SetMemoryLimit(old)
	if l := memoryLimit(); l != 100<<20 {
		t.Errorf("memoryLimit() = %d, want 100 MiB", l)
	}
	debug.SetMemoryLimit(1<<63 - 1)
	if l := memoryLimit(); l != 0 {
		t.Errorf("no limit: memoryLimit() = %d, want 0", l)
	}
}
