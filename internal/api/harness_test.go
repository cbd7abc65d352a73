package api_test

import "github.com/backapp/backapp/internal/server/servertest"

// The API is tested through the assembled server (package servertest), by the
// names these tests use.
type (
	client   = servertest.Client
	response = servertest.Response
)

var (
	dialects    = servertest.Dialects
	start       = servertest.Start
	want        = servertest.Want
	userID      = servertest.UserID
	goodConfig  = servertest.GoodConfig
	with        = servertest.With
	fields      = servertest.Fields
	startAgents = servertest.StartWithClock
)

const pw = servertest.Password
