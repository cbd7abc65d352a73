package runs

import (
	"context"
	"fmt"
	"slices"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/store"
)

// maxChain is the longest incremental chain followed.
const maxChain = 1000

// RunGetter reads one run.
type RunGetter interface {
	GetRun(ctx context.Context, id string) (store.Run, error)
}

// Chain returns the runs from the full backup up to last, oldest first: what a
// restore of last reads, and what decides when an incremental chain gets a new full
// backup. A chain with a missing, unfinished or foreign link, or longer than 1000
// runs, is an error.
func Chain(ctx context.Context, st RunGetter, last store.Run) ([]store.Run, error) {
	out := []store.Run{last}
	for cur := last; !cur.Full; {
		if len(out) >= maxChain || cur.PreviousRunID == "" {
			return nil, fmt.Errorf("run %s: incremental chain broken or longer than %d", last.ID, maxChain)
		}
		prev, err := st.GetRun(ctx, cur.PreviousRunID)
		if err != nil {
			return nil, fmt.Errorf("run %s: previous run %s: %w", cur.ID, cur.PreviousRunID, err)
		}
		if prev.Status != agentproto.StatusCompleted || prev.UserID != last.UserID || prev.ConfigID != last.ConfigID {
			return nil, fmt.Errorf("run %s: previous run %s is %s", cur.ID, prev.ID, prev.Status)
		}
		out = append(out, prev)
		cur = prev
	}
	slices.Reverse(out)
	return out, nil
}
