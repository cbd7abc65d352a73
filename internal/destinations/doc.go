// Package destinations manages users' saved storage destinations (their rows are
// kept by package store; package storage talks to the buckets and disk): users' S3
// destinations with their credentials sealed under the master key (never returned
// after saving), the built-in local destination on the server's disk that exists
// out of the box, and Resolve, which turns a destination id into a
// storage.Destination for the engine and the agent API.
package destinations
