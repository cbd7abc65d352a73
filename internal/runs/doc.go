// Package runs owns the life of backup runs. Lifecycle runs them for agents (open.go
// opens a run and chooses full or incremental, upload.go hands out part URLs and
// records progress, complete.go completes or fails it, restart.go settles the runs
// of a restarted agent, reaper.go fails those of silent agents); Service serves
// people: queueing a run now, cancelling, the history and details, the scheduler's
// store (scheduled slots become queued runs, late ones raise an alert) and retention
// (expired archives and manifests deleted without breaking a chain).
package runs
