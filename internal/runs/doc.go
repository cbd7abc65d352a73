// Package runs owns the life of backup runs outside the agent protocol: queueing a
// run now, cancelling, the history and details people see, the scheduler's store
// (scheduled slots become queued runs, late ones raise an alert) and retention
// (expired archives and manifests deleted without breaking a chain).
package runs
