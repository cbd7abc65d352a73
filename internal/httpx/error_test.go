package httpx

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"

	"github.com/backapp/backapp/internal/apperr"
)

// A database outage is "try again" (503); other unclassified errors stay 500, and
// classified ones keep their status.
func TestWriteErrorStatus(t *testing.T) {
	down := fmt.Errorf("get session: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	for _, c := range []struct {
		err  error
		want int
	}{
		{down, http.StatusServiceUnavailable},
		{errors.New("boom"), http.StatusInternalServerError},
		{apperr.New(apperr.NotFound, "no such thing"), http.StatusNotFound},
	} {
		rec := httptest.NewRecorder()
		WriteError(rec, httptest.NewRequest("GET", "/", nil), nil, c.err)
		if rec.Code != c.want {
			t.Errorf("WriteError(%v): status %d, want %d", c.err, rec.Code, c.want)
		}
	}
}
