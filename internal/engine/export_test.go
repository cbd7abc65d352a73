package engine

import "testing"

// SetSyncFS replaces the restore's filesystem sync until the test ends.
func SetSyncFS(t testing.TB, f func(dir string) error) {
	old := syncFS
	syncFS = f
	t.Cleanup(func() { syncFS = old })
}

// SyncFilesystem is syncFilesystem.
var SyncFilesystem = syncFilesystem

// SetManifestInMemory changes the largest manifest a restore keeps in memory until the
// test ends.
func SetManifestInMemory(t testing.TB, n int64) {
	old := manifestInMemory
	manifestInMemory = n
	t.Cleanup(func() { manifestInMemory = old })
}

// SetReadAheadBytes changes the size of the backup's read-ahead ring until the test
// ends.
func SetReadAheadBytes(t testing.TB, n int) {
	old := readAheadBytes
	readAheadBytes = n
	t.Cleanup(func() { readAheadBytes = old })
}
