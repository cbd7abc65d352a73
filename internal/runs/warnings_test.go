package runs

import (
	"encoding/json"
	"testing"

	"github.com/backapp/backapp/internal/store"
)

func TestWithWarnings(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  string
		skipped int64
		errors  string
		want    bool
	}{
		{"clean", StatusCompleted, 0, "", false},
		{"empty list", StatusCompleted, 0, "[]", false},
		{"null", StatusCompleted, 0, "null", false},
		{"a directory skipped", StatusCompleted, 1, `[{"path":"C:\\data\\d","message":"read dir: access denied"}]`, true},
		{"post hook failed", StatusCompleted, 0, `[{"path":"(post hook)","message":"post hook: exit status 1"}]`, true},
		{"failed runs are failed", StatusFailed, 3, `{"message":"boom"}`, false},
		{"running", StatusRunning, 2, "", false},
	} {
		r := store.Run{Status: tc.status, FilesSkipped: tc.skipped}
		if tc.errors != "" {
			r.Errors = json.RawMessage(tc.errors)
		}
		if got := WithWarnings(r); got != tc.want {
			t.Errorf("%s: WithWarnings = %v, want %v", tc.name, got, tc.want)
		}
	}
}
