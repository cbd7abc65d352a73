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
