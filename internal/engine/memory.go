package engine

import (
	"math"
	"runtime"
	"runtime/debug"
)

// memoryLimit is the process's soft memory limit (runtime/debug.SetMemoryLimit, set
// by the agent's --memory-limit or GOMEMLIMIT), or 0 when there is none.
func memoryLimit() int64 {
	if l := debug.SetMemoryLimit(-1); l < math.MaxInt64/2 {
		return l
	}
	return 0
}

// DefaultMemoryLimit is the soft memory limit the agent sets when its user sets none
// (neither --memory-limit nor GOMEMLIMIT), for procs cores (GOMAXPROCS): 100 MiB up to
// two cores, and 40 MiB more for each further core up to eight (340 MiB from eight
// on). What a limit buys beyond 100 MiB is compressors (the upload's and the
// download's buffers stop growing at 160 and 256 MiB), a third of the limit at about
// 13 MiB each, so 40 MiB a core gives every core its compressor: at 100 MiB an 8-core
// agent compressed on two. Beyond eight, zstd at level 1 (several hundred MB/s a core)
// outruns any disk or upload the agent has, and more cores would only grow the default.
func DefaultMemoryLimit(procs int) int64 {
	const (
		base    = 100 << 20
		perCore = 40 << 20 // 3 × perCompressor and some room
		cores   = 8        // the most cores the default grows for
	)
	return base + perCore*int64(min(max(procs, 2), cores)-2)
}

// perCompressor is about what a backup's compressor goroutine holds: its zstd
// history (about 4.75 MiB with a 4 MiB window) and two 4 MiB frame buffers.
const perCompressor = 13 << 20

// compressors is how many goroutines compress a backup under the soft memory limit
// limit (0: none): one per core (GOMAXPROCS), but only as many as a third of the
// limit holds (at least two), so that on a machine with many cores the compressors'
// buffers do not outgrow the limit: 2 at 112 MiB, 6 at 256 MiB.
func compressors(limit int64) int {
	n := runtime.GOMAXPROCS(0)
	if limit <= 0 || n <= 2 {
		return n
	}
	return int(min(int64(n), max(limit/3/perCompressor, 2)))
}
