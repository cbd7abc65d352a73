package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/notify/webhook"
	"github.com/backapp/backapp/internal/testenv"
)

// holdingReceiver is a webhook receiver that, while holding, keeps every request
// open without answering (a slow remote), and otherwise accepts it, verifying its
// signature and counting it by delivery id.
type holdingReceiver struct {
	*httptest.Server
	secret   string
	release  chan struct{}
	mu       sync.Mutex
	holding  bool
	held     map[string]bool
	accepted map[string]int
	bad      []string
}

func newHoldingReceiver(t *testing.T, secret string) *holdingReceiver {
	h := &holdingReceiver{secret: secret, release: make(chan struct{}), holding: true, held: map[string]bool{}, accepted: map[string]int{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get(webhook.HeaderDelivery)
		h.mu.Lock()
		holding := h.holding
		if holding {
			h.held[id] = true
		}
		h.mu.Unlock()
		if holding {
			select { // the server is killed with this request open
			case <-r.Context().Done():
			case <-h.release:
			}
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if err := webhook.Verify(h.secret, r.Header.Get(webhook.HeaderSignature), r.Header.Get(webhook.HeaderTimestamp), body,
			time.Now(), 5*time.Minute); err != nil {
			h.bad = append(h.bad, err.Error())
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		h.accepted[id]++
		w.Write([]byte("ok"))
	}))
	t.Cleanup(func() {
		h.stopHolding()
		h.Close()
	})
	return h
}

func (h *holdingReceiver) stopHolding() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.holding {
		h.holding = false
		close(h.release)
	}
}

func (h *holdingReceiver) counts() (held, accepted int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.held), len(h.accepted)
}

// TestNotificationsSurviveSIGKILL: five failing backups queue five webhook
// notifications; the receiver holds them open while the server sends, and the server
// is killed with SIGKILL mid-delivery. After a restart on the same database, once the
// killed server's lease has run out, each message is delivered — exactly once.
func TestNotificationsSurviveSIGKILL(t *testing.T) {
	const lease = 40 * time.Second
	const n = 5
	rc := newHoldingReceiver(t, "e2e-secret-0123456789")
	args := []string{"--webhook-allow", "127.0.0.1", "--notify-lease", lease.String()}
	a := startApp(t, args...)
	w := a.w

	var ch struct {
		ID string `json:"id"`
	}
	w.do("POST", "/api/notifications/channels", map[string]any{"name": "hook", "kind": "webhook", "target": rc.URL + "/hook",
		"secret": "e2e-secret-0123456789", "events": []string{"failure"}}, &ch)
	// The configurations read a directory allowed when they are made, and no longer
	// when they run: each run fails.
	allowed := t.TempDir()
	w.do("PUT", "/api/settings/server-mode", map[string]any{"allowedDirs": []string{allowed}}, nil)
	var ids []string
	for i := range n {
		src := filepath.Join(allowed, fmt.Sprint(i))
		if err := os.MkdirAll(src, 0o755); err != nil {
			t.Fatal(err)
		}
		var cfg struct {
			ID string `json:"id"`
		}
		w.do("POST", "/api/configs", map[string]any{"name": fmt.Sprintf("outside %d", i), "enabled": true, "executionMode": "server",
			"sources": []map[string]any{{"path": src}}, "destination": map[string]any{"destinationId": ""},
			"options": map[string]any{"type": "full"}}, &cfg)
		ids = append(ids, cfg.ID)
	}
	w.do("PUT", "/api/settings/server-mode", map[string]any{"allowedDirs": []string{t.TempDir()}}, nil)
	for _, id := range ids {
		w.do("POST", "/api/backups/execute/"+id, nil, nil)
	}
	testenv.EventuallyWithin(t, 2*time.Minute, "all five notifications held open by the receiver", func() bool {
		held, _ := rc.counts()
		return held == n
	})

	if err := a.p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-a.p.done
	killed := time.Now()
	rc.stopHolding()

	addr := strings.TrimPrefix(a.base, "http://")
	a.p = start(t, "server after SIGKILL", a.env, a.serverBin, append([]string{"serve", "--listen", addr, "--data-dir", a.data}, args...)...)
	testenv.EventuallyWithin(t, lease+2*time.Minute, "every message delivered after the restart", func() bool {
		_, accepted := rc.counts()
		return accepted == n
	})
	if since := time.Since(killed); since < lease-5*time.Second {
		t.Errorf("delivered %s after the kill, before the killed server's lease (%s) ran out", since, lease)
	}
	// Nothing more comes: each message once.
	var atts struct {
		Attempts []struct {
			OK bool `json:"ok"`
		} `json:"attempts"`
	}
	testenv.EventuallyWithin(t, time.Minute, "the attempts recorded", func() bool {
		w.do("GET", "/api/notifications/channels/"+ch.ID+"/attempts", nil, &atts)
		return len(atts.Attempts) >= n
	})
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for id, k := range rc.accepted {
		if k != 1 {
			t.Errorf("message %s delivered %d times", id, k)
		}
	}
	for id := range rc.held {
		if rc.accepted[id] != 1 {
			t.Errorf("message %s, in flight at the kill, delivered %d times after the restart", id, rc.accepted[id])
		}
	}
	if len(rc.bad) > 0 {
		t.Errorf("refused signatures: %v", rc.bad)
	}
	ok := 0
	for _, at := range atts.Attempts {
		if at.OK {
			ok++
		}
	}
	if ok != n {
		t.Errorf("%d successful attempts recorded, want %d", ok, n)
	}
}
