package agent

import (
	"context"
	"log/slog"
	"testing"
)

// The lines queued when the shipper stops (the daemon's last: how the runs it stopped
// ended) are sent even when the server fails the first try (a 503 while it restarts,
// a kept-alive connection it just closed): there is no later flush to carry them.
func TestLogShipperFinalFlushRetries(t *testing.T) {
	f := newFakeServer(t)
	ship := NewLogShipper(f.client(t))
	log := slog.New(ship.Handler(slog.DiscardHandler, slog.LevelInfo))
	log.Warn("backup cancelled", "run", "r1")
	f.set(func(f *fakeServer) { f.fail503 = 2 })
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // stopped: Run only sends what is left
	ship.Run(ctx)
	f.set(func(f *fakeServer) {
		if len(f.logs) != 1 || f.logs[0].Message != "backup cancelled" || f.logs[0].Metadata["run"] != "r1" {
			t.Errorf("lines shipped at shutdown, the server failing twice: %+v; want the backup cancelled line", f.logs)
		}
	})
}
