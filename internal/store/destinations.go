package store

// Destinations stores storage destinations (issue 3: S3 and local), with their
// credentials sealed under the master key.
type Destinations interface {
}
