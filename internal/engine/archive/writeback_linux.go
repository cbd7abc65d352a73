package archive

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing a restored file's data to disk
// (sync_file_range with SYNC_FILE_RANGE_WRITE: it queues the writes and returns). A
// restore ends by syncing its filesystem; without this the kernel would write nothing
// before then, since a few hundred MB stay under its dirty-page thresholds, and the
// final sync would write every byte while the CPUs idle. Only large files, written by
// Extract itself: for small ones a write each costs more than the final sync saves.
// A failure only means the final sync does the work.
func startWriteback(f *os.File) {
	raw, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) { _ = unix.SyncFileRange(int(fd), 0, 0, unix.SYNC_FILE_RANGE_WRITE) })
}
