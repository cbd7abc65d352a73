package storage

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/smithy-go"
)

// The real server cannot be made to skew its clock or lose its DNS name, so these
// causes are checked on errors shaped as the SDK returns them; the others are
// reproduced against versitygw in s3_test.go.
func TestClassifyS3(t *testing.T) {
	api := func(code string) error {
		return fmt.Errorf("operation error S3: ListObjectsV2: %w", &smithy.GenericAPIError{Code: code, Message: "msg of " + code})
	}
	tests := []struct {
		name      string
		err       error
		wantCause Cause
		wantMsg   string
		wantIs    error
	}{
		{"clock skew", api("RequestTimeTooSkewed"), CauseClockSkew, "clock skew", nil},
		{"dns", fmt.Errorf("send: %w", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "s3.nowhere.invalid", IsNotFound: true}}),
			CauseUnreachable, "host name does not resolve", nil},
		{"refused", fmt.Errorf("send: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), CauseUnreachable, "connection refused", nil},
		{"timeout", fmt.Errorf("send: %w", context.DeadlineExceeded), CauseUnreachable, "timed out", nil},
		{"canceled", fmt.Errorf("send: %w", context.Canceled), CauseCanceled, "canceled", nil},
		{"access denied", api("AccessDenied"), CauseAccessDenied, "access denied", nil},
		{"no such key", api("NoSuchKey"), CauseNotFound, "not found", ErrNotFound},
		{"no such upload", api("NoSuchUpload"), CauseNotFound, "not found", ErrNotFound},
		{"not implemented", api("NotImplemented"), CauseNotSupported, "not supported by this server", ErrNotSupported},
		{"wrong region", api("AuthorizationHeaderMalformed"), CauseInvalid, "wrong region", nil},
		{"part too small", api("EntityTooSmall"), CauseInvalid, "5 MiB", nil},
		{"other", api("SlowDown"), CauseOther, "answered with an error", nil},
	}
	for _, tt := range tests {
		err := classifyS3("test bucket \"b\"", "http://s3.example", "b", tt.err)
		if got := CauseOf(err); got != tt.wantCause {
			t.Errorf("%s: cause %q, want %q (%v)", tt.name, got, tt.wantCause, err)
		}
		if !strings.HasPrefix(err.Error(), `test bucket "b": `) || !strings.Contains(err.Error(), tt.wantMsg) {
			t.Errorf("%s: error %q, want the operation and %q", tt.name, err, tt.wantMsg)
		}
		if !errors.Is(err, tt.err) {
			t.Errorf("%s: error does not wrap the SDK's error", tt.name)
		}
		if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
			t.Errorf("%s: error does not wrap %v", tt.name, tt.wantIs)
		}
	}
	if err := classifyS3("op", "e", "b", nil); err != nil {
		t.Errorf("classifyS3(nil) = %v, want nil", err)
	}
}
