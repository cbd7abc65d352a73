//go:build !linux

package server_test

import "time"

// cpuTime is not measured off Linux: the benchmarks that print it print 0.
func cpuTime() time.Duration { return 0 }
