//go:build !linux

package engine

const prefetchSupported = false

func prefetch(string) {}
