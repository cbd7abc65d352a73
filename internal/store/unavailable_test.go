package store

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
)

type sqlStateErr string

func (e sqlStateErr) Error() string    { return "pg: " + string(e) }
func (e sqlStateErr) SQLState() string { return string(e) }

func TestUnavailable(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"not found", ErrNotFound, false},
		{"plain", errors.New("syntax error"), false},
		{"unique violation", sqlStateErr("23505"), false},
		{"admin shutdown", fmt.Errorf("get run: %w", sqlStateErr("57P01")), true},
		{"connection failure", sqlStateErr("08006"), true},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"reset", fmt.Errorf("query: %w", syscall.ECONNRESET), true},
		{"cut", fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), true},
	} {
		if got := Unavailable(c.err); got != c.want {
			t.Errorf("%s: Unavailable(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
