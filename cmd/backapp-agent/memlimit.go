package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/backapp/backapp/internal/engine"
)

// defaultMemoryLimit is the agent's soft memory limit (runtime/debug.SetMemoryLimit)
// when neither --memory-limit nor GOMEMLIMIT says otherwise: 100 MiB on one or two
// cores, 40 MiB more for each further core up to eight (340 MiB), see
// engine.DefaultMemoryLimit. The garbage collector works harder as the heap nears it,
// so a backup of millions of files does not grow the agent's memory with garbage it
// has not collected yet. It is soft: a run that needs more gets more (the collector
// then takes at most half the CPU). The engine sizes its fixed buffers from it (upload
// parts, download chunks, compressors: about 45 MB live at 100 MiB), which leaves the
// collector as much room as it takes without a limit: a backup or restore of 300,000
// files peaks at 100-110 MB and spends under 1 % of its CPU collecting
// (docs/benchmarks.md, "Memory bounded by the limit"). The 40 MiB a core buys each
// core its compressor; a larger limit buys more parts in flight and larger download
// chunks.
func defaultMemoryLimit() int64 { return engine.DefaultMemoryLimit(runtime.GOMAXPROCS(0)) }

// applyMemoryLimit sets the soft memory limit from the --memory-limit flag: a size
// ("512MiB", "1GiB", "200MB", bytes), or "off"; "" keeps GOMEMLIMIT when set, else
// defaultMemoryLimit.
func applyMemoryLimit(flag string) error {
	if flag == "" {
		if os.Getenv("GOMEMLIMIT") != "" {
			return nil // the runtime applied it
		}
		debug.SetMemoryLimit(defaultMemoryLimit())
		return nil
	}
	if strings.EqualFold(flag, "off") {
		debug.SetMemoryLimit(math.MaxInt64)
		return nil
	}
	n, err := parseSize(flag)
	if err != nil || n <= 0 {
		return fmt.Errorf("--memory-limit %q: want a size such as 128MiB, 1GiB or 200MB, or off", flag)
	}
	debug.SetMemoryLimit(n)
	return nil
}

// parseSize reads a byte count with an optional unit (B, KB, MB, GB, KiB, MiB, GiB).
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if len(s) > len(u.suffix) && strings.EqualFold(s[len(s)-len(u.suffix):], u.suffix) {
			s, mult = strings.TrimSpace(s[:len(s)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, err
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%s: too large", s)
	}
	return n * mult, nil
}
