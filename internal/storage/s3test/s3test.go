// Package s3test gives tests a fresh bucket on the real S3-compatible test server
// (versitygw, started by scripts/services/s3.sh) and removes it when the test ends.
//
//	dest := s3test.New(t) // *storage.S3 on a new, empty bucket
//
// Without TEST_S3_ENDPOINT the test is skipped on a developer's machine and fails in CI
// (see internal/testenv).
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/testenv"
)

const how = "run the tests with `make test`, or `source scripts/services/s3.sh`"

// Config returns the test server's settings (TEST_S3_ENDPOINT, TEST_S3_ACCESS_KEY,
// TEST_S3_SECRET_KEY, TEST_S3_REGION) with path-style addressing and no bucket.
// It skips or fails the test (testenv.Env) when the server is not configured.
func Config(t testing.TB) storage.S3Config {
	t.Helper()
	cfg := storage.S3Config{
		Endpoint:  testenv.Env(t, "TEST_S3_ENDPOINT", how),
		AccessKey: testenv.Env(t, "TEST_S3_ACCESS_KEY", how),
		SecretKey: testenv.Env(t, "TEST_S3_SECRET_KEY", how),
		Region:    os.Getenv("TEST_S3_REGION"),
		PathStyle: true,
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return cfg
}

// NewConfig creates a fresh, uniquely named bucket and returns the configuration of
// a destination on it. The bucket and everything in it are removed when the test
// ends. Use it to tweak settings (e.g. a wrong secret) before storage.NewS3.
func NewConfig(t testing.TB) storage.S3Config {
	t.Helper()
	cfg := Config(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	cfg.Bucket = "backapp-test-" + hex.EncodeToString(b)

	dest, err := storage.NewS3(cfg)
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := dest.CreateBucket(ctx); err != nil {
		t.Fatalf("s3test: %v", err)
	}
	t.Cleanup(func() {
		if err := removeBucket(cfg); err != nil {
			t.Errorf("s3test: remove bucket %q: %v", cfg.Bucket, err)
		}
	})
	return cfg
}

// New returns a destination on a fresh bucket that is removed when the test ends.
func New(t testing.TB) *storage.S3 {
	t.Helper()
	dest, err := storage.NewS3(NewConfig(t))
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	return dest
}

// removeBucket aborts the bucket's uploads, deletes its objects, then the bucket.
func removeBucket(cfg storage.S3Config) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dest, err := storage.NewS3(cfg)
	if err != nil {
		return err
	}
	uploads, err := dest.ListUploads(ctx, "")
	if err != nil {
		return err
	}
	for _, u := range uploads {
		if err := dest.AbortMultipart(ctx, u.Key, u.UploadID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
	}
	objs, err := dest.List(ctx, "")
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := dest.Delete(ctx, o.Key); err != nil {
			return err
		}
	}
	client := s3.New(s3.Options{
		Region:       cfg.Region,
		BaseEndpoint: aws.String(cfg.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, ""),
	})
	_, err = client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &cfg.Bucket})
	return err
}
