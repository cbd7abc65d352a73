package destinations

import (
	"context"
	"errors"
	"fmt"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/store"
)

// Target says what to test or list buckets of: a saved destination
// (DestinationID), settings not saved yet (Settings and Credentials), or a saved
// destination with changed settings, as in an edit form before saving (all three;
// empty Credentials then mean the saved ones).
type Target struct {
	DestinationID string
	Settings      *Settings
	Credentials   Credentials
}

// TestResult is the outcome of a connection test that could run.
type TestResult struct {
	OK bool
	// Cause is storage's classification of the failure ("" when OK): wrong
	// credentials, missing bucket, unreachable endpoint, clock skew, …
	Cause storage.Cause
	// Message says what was found, naming the cause and what to fix.
	Message string
	// Field is the form field the cause points at ("" for none).
	Field string
}

// target builds the storage t names, for actor. needBucket is false for listing
// buckets. Invalid settings are an Invalid error listing every problem.
func (s *Service) target(ctx context.Context, actor store.User, t Target, needBucket bool) (storage.Destination, string, error) {
	f := apperr.Fields{}
	var set Settings
	if t.Settings != nil {
		set = t.Settings.normalize()
	}
	creds := t.Credentials.normalize()
	if t.DestinationID == "" {
		set.check(f, needBucket)
		creds.check(f, credsRequired)
		if err := f.Err(); err != nil {
			return nil, "", err
		}
		dest, err := s.newS3(set, creds)
		return dest, where(set), err
	}
	d, err := s.get(ctx, actor, t.DestinationID)
	if err != nil {
		return nil, "", err
	}
	if d.Kind == store.DestinationLocal {
		return s.local, "the server's disk", nil
	}
	if t.Settings == nil {
		v := s.view(d)
		dest, err := s.storageFor(d, nil, nil)
		return dest, where(v.Settings), err
	}
	set.check(f, needBucket)
	creds.check(f, credsOptional)
	if err := f.Err(); err != nil {
		return nil, "", err
	}
	dest, err := s.storageFor(d, &set, &creds)
	return dest, where(set), err
}

// where names the bucket and server for messages.
func where(set Settings) string {
	server := set.Endpoint
	if server == "" {
		region := set.Region
		if region == "" {
			region = "us-east-1"
		}
		server = "AWS S3 (" + region + ")"
	}
	if set.Bucket == "" {
		return server
	}
	return fmt.Sprintf("bucket %q at %s", set.Bucket, server)
}

// Test checks that the target answers, accepts the credentials, has the bucket and
// lets backapp write and delete an object there. A failed test is a TestResult whose
// message names the cause; the error is for what kept the test from running
// (invalid settings, unknown destination).
func (s *Service) Test(ctx context.Context, actor store.User, t Target) (TestResult, error) {
	dest, what, err := s.target(ctx, actor, t, true)
	if err != nil {
		return TestResult{}, err
	}
	tctx, cancel := context.WithTimeout(ctx, s.cfg.TestTimeout)
	defer cancel()
	res := TestResult{OK: true, Message: fmt.Sprintf("connection works: %s accepts the credentials, and backapp wrote and deleted a test object", what)}
	if err := dest.Test(tctx); err != nil {
		cause := storage.CauseOf(err)
		s.log.Info("destination test failed", "actor", actor.ID, "destination", t.DestinationID, "cause", cause, "err", err)
		res = TestResult{Cause: cause, Message: err.Error(), Field: causeField(cause)}
	}
	// A saved destination tested as it is: its alert follows the outcome.
	if r := s.reporter.Load(); r != nil && t.DestinationID != "" && t.Settings == nil {
		if d, err := s.get(ctx, actor, t.DestinationID); err == nil {
			(*r).DestinationChecked(ctx, d, res)
		}
	}
	return res, nil
}

// CheckReporter hears the outcome of every test of a saved destination as it is
// (internal/alerts raises or resolves the destination's alert).
type CheckReporter interface {
	DestinationChecked(ctx context.Context, d store.Destination, r TestResult)
}

// ReportChecks sends the outcome of tests of saved destinations to r.
func (s *Service) ReportChecks(r CheckReporter) { s.reporter.Store(&r) }

// ListBuckets lists the buckets the target's credentials can see; the bucket setting
// is not needed. Failures are errors whose message names the cause.
func (s *Service) ListBuckets(ctx context.Context, actor store.User, t Target) ([]string, error) {
	dest, _, err := s.target(ctx, actor, t, false)
	if err != nil {
		return nil, err
	}
	s3, ok := dest.(*storage.S3)
	if !ok {
		return nil, apperr.New(apperr.Invalid, "the built-in local destination has no buckets")
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.TestTimeout)
	defer cancel()
	names, err := s3.ListBuckets(ctx)
	if err != nil {
		return nil, storageErr(err)
	}
	if names == nil {
		names = []string{}
	}
	return names, nil
}

// Usage is the space actor's backups take in a destination they may see (under
// users/<their id>/). It lists objects, so it costs one request per 1,000 objects
// on S3.
func (s *Service) Usage(ctx context.Context, actor store.User, id string) (storage.Usage, error) {
	dest, _, err := s.target(ctx, actor, Target{DestinationID: id}, true)
	if err != nil {
		return storage.Usage{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.TestTimeout)
	defer cancel()
	u, err := dest.Usage(ctx, storage.UserPrefix(actor.ID))
	if err != nil {
		return storage.Usage{}, storageErr(err)
	}
	return u, nil
}

// storageErr turns a storage failure into an error for the client whose message
// names the cause, attached to the field to fix where there is one.
func storageErr(err error) error {
	cause := storage.CauseOf(err)
	kind := apperr.Invalid
	switch {
	case errors.Is(err, context.Canceled):
		kind = apperr.Unavailable
	case cause == storage.CauseOther:
		kind = apperr.Unavailable
	}
	e := apperr.Wrap(kind, err, "%s", err.Error())
	if f := causeField(cause); f != "" && kind == apperr.Invalid {
		e.Fields = map[string]string{f: err.Error()}
	}
	return e
}
