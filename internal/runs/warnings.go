package runs

import (
	"bytes"

	"github.com/backapp/backapp/internal/store"
)

// WithWarnings reports whether r completed but left something out: a file or directory
// skipped by the walk (unreadable, vanished, a symlink loop, a special file), or a
// problem such as a failed post hook. Such a run is "completed with warnings", never
// plain "completed": a backup that silently leaves data out is the worst failure a
// backup system can have. The status column stays "completed" (the seed's statuses);
// the warnings are the run's files skipped and its errors list.
func WithWarnings(r store.Run) bool {
	if r.Status != StatusCompleted {
		return false
	}
	errs := bytes.TrimSpace(r.Errors)
	return r.FilesSkipped > 0 || (len(errs) > 0 && !bytes.Equal(errs, []byte("null")) && !bytes.Equal(errs, []byte("[]")))
}
