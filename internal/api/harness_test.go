package api_test

import "github.com/backapp/backapp/internal/server/servertest"

// The API is tested through the assembled server (package servertest), by the
// names these tests use.
type (
	client   = servertest.Client
	response = servertest.Response
	runsEnv  = servertest.RunsEnv
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
	visible     = servertest.Visible
	// Runs on a clock the test moves, and a backed-up tree to restore.
	newSchedClock   = servertest.NewSchedClock
	startRuns       = servertest.StartRuns
	startRunsWith   = servertest.StartRunsWith
	registerID      = servertest.RegisterID
	startRestoreEnv = servertest.StartRestoreEnv
	agentRunner     = servertest.AgentRunner
	backupRun       = servertest.Backup
)

const pw = servertest.Password
