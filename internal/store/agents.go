package store

// Agents stores agents, their logs, backup configurations and runs (issue 4).
type Agents interface {
}
