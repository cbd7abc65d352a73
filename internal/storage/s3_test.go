package storage_test

import (
	"testing"

	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/storage/s3test"
	"github.com/backapp/backapp/internal/storage/storagetest"
)

func TestS3Contract(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Destination { return s3test.New(t) })
}
