package web_test

import "github.com/backapp/backapp/internal/server/servertest"

// Pages are tested here through the assembled server (package servertest) as a
// browser without scripts would use them, by the names these tests use; the tests of
// package web itself (package web) drive the handler alone.
type (
	client   = servertest.Client
	response = servertest.Response
)

var (
	dialects      = servertest.Dialects
	want          = servertest.Want
	newSchedClock = servertest.NewSchedClock
	startRuns     = servertest.StartRuns
	registerID    = servertest.RegisterID
	visible       = servertest.Visible
)
