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
