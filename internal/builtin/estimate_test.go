package builtin_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/configs"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/testenv"
	"github.com/backapp/backapp/internal/testenv/treetest"
)

// TestServerModeEstimate: a server-mode configuration's size estimate is scanned by
// its owner's built-in agent, in-process, under the same guard as its backups: exact
// for a source in an allowed directory, refused (failed, saying why) for one outside.
func TestServerModeEstimate(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		svc, err := configs.New(configs.ServiceConfig{Store: e.st, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		builtinID := e.builtinAgent(e.admin.ID).ID
		wait := func(id string) configs.Estimate {
			t.Helper()
			var got configs.Estimate
			testenv.EventuallyWithin(t, 30*time.Second, "the estimate of config "+id, func() bool {
				var err error
				if got, err = svc.GetEstimate(ctx, e.admin, id); err != nil {
					t.Fatal(err)
				}
				return got.Finished()
			})
			return got
		}

		inside := filepath.Join(e.allowed, "ok")
		treetest.Write(t, inside, map[string]string{"a.txt": "aaaa", "sub/b.txt": "bb"})
		c := e.serverConfig(e.admin, `{"type":"full","compression":"gzip"}`, inside)
		asked, err := svc.RequestEstimate(ctx, e.admin, c.ID, auth.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		if asked.Status != store.EstimatePending || asked.AgentID != builtinID {
			t.Errorf("asked = %+v, want pending for the built-in agent %s", asked, builtinID)
		}
		got := wait(c.ID)
		if got.Status != store.EstimateDone || got.Files != 2 || got.Dirs != 2 || got.Bytes != 6 || got.Issues != 0 {
			t.Errorf("estimate = %+v, want done: 2 files, 2 dirs, 6 bytes", got)
		}

		outside := t.TempDir()
		treetest.Write(t, outside, map[string]string{"secret.txt": "the server's own file"})
		c = e.serverConfig(e.admin, `{"type":"full"}`, outside)
		if _, err := svc.RequestEstimate(ctx, e.admin, c.ID, auth.Meta{}); err != nil {
			t.Fatal(err)
		}
		got = wait(c.ID)
		if got.Status != store.EstimateFailed || !strings.Contains(got.Error, "server mode refused") || got.Files != 0 || got.Bytes != 0 {
			t.Errorf("estimate outside the allowed directories = %+v, want failed: server mode refused", got)
		}
	})
}
