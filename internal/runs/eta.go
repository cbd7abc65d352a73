package runs

import (
	"context"
	"errors"
	"fmt"

	"github.com/backapp/backapp/internal/store"
)

// ExpectedBytes is about how many bytes run will read in all, for its time left:
// what its configuration's last completed backup read when that was of the same
// kind (full or incremental: an incremental reads what changed); 0 when unknown.
// run is one the caller was allowed to see.
func (s *Service) ExpectedBytes(ctx context.Context, run Run) (int64, error) {
	last, err := s.st.LastCompletedRun(ctx, run.ConfigID)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("last completed run of config %s: %w", run.ConfigID, err)
	}
	if last.Full != run.Full {
		return 0, nil
	}
	return last.TotalBytes, nil
}
