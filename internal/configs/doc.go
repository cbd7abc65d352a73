// Package configs owns backup configurations, what an agent backs up, when and where
// (the server's own settings are package config): their canonical Go shape (the JSON
// the API, the pages and the agent API read), the validation that reports every problem
// of a configuration at once, keyed by form field, and the service that creates,
// reads, changes and deletes them for a signed-in user.
package configs
