package storage

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// Cause says in a word why a storage operation failed, so the API can map it to a
// status and the UI to advice.
type Cause string

// The causes a person can act on; CauseOther covers the rest.
const (
	CauseCredentials  Cause = "credentials"   // access key unknown or secret wrong
	CauseAccessDenied Cause = "access-denied" // credentials valid but not allowed
	CauseNoSuchBucket Cause = "no-such-bucket"
	CauseNotFound     Cause = "not-found" // object or upload missing
	CauseUnreachable  Cause = "unreachable"
	CauseTLS          Cause = "tls"
	CauseClockSkew    Cause = "clock-skew"
	CauseNotSupported Cause = "not-supported"
	CauseInvalid      Cause = "invalid" // the request was wrong (bad key, too-small part, …)
	CauseCanceled     Cause = "canceled"
	CauseOther        Cause = "other"
)

// Error is a failed storage operation with a cause a person can act on. Its message
// reads "<op>: <what is wrong, in words>: <server's code or the network error>".
// It unwraps to the underlying error and, for CauseNotFound and CauseNotSupported,
// also to ErrNotFound and ErrNotSupported.
type Error struct {
	Op    string // what was being done, e.g. `list objects in bucket "b"`
	Cause Cause
	Msg   string // the cause in words
	Err   error  // the underlying error (SDK, network or file system)
}

func (e *Error) Error() string {
	s := e.Op + ": " + e.Msg
	if d := errorDetail(e.Err); d != "" {
		s += ": " + d
	}
	return s
}

// Unwrap returns the underlying error and the matching sentinel, if any.
func (e *Error) Unwrap() []error {
	errs := []error{e.Err}
	switch e.Cause {
	case CauseNotFound:
		errs = append(errs, ErrNotFound)
	case CauseNotSupported:
		errs = append(errs, ErrNotSupported)
	}
	return errs
}

// CauseOf returns the Cause of err when it is (or wraps) an *Error, else CauseOther.
func CauseOf(err error) Cause {
	var e *Error
	if errors.As(err, &e) {
		return e.Cause
	}
	return CauseOther
}

// errorDetail is the short technical part of a message: the server's error code and
// message, or the network error, without the SDK's long operation prefix.
func errorDetail(err error) string {
	if err == nil {
		return ""
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		if m := api.ErrorMessage(); m != "" && m != api.ErrorCode() {
			return api.ErrorCode() + ": " + m
		}
		return api.ErrorCode()
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Error()
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.Error()
	}
	return err.Error()
}

// classifyS3 turns an error from the AWS SDK into an *Error that names the cause for a
// person: wrong credentials, missing bucket, unreachable endpoint, clock skew and so on.
// endpoint and bucket are named in the messages because they are what a person fixes.
func classifyS3(op, endpoint, bucket string, err error) error {
	if err == nil {
		return nil
	}
	e := &Error{Op: op, Err: err}
	var api smithy.APIError
	var respErr *awshttp.ResponseError
	status := 0
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	var dnsErr *net.DNSError
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	var certInvalid x509.CertificateInvalidError
	switch {
	case errors.Is(err, context.Canceled):
		e.Cause, e.Msg = CauseCanceled, "canceled"
	case errors.As(err, &api):
		switch api.ErrorCode() {
		case "InvalidAccessKeyId", "XAdminUserNotFound": // versitygw's name for the same
			e.Cause, e.Msg = CauseCredentials, "wrong credentials: the server does not know this access key"
		case "SignatureDoesNotMatch":
			e.Cause, e.Msg = CauseCredentials, "wrong credentials: the secret key does not match the access key"
		case "InvalidToken", "ExpiredToken", "TokenRefreshRequired":
			e.Cause, e.Msg = CauseCredentials, "wrong credentials: the session token is invalid or expired"
		case "AccessDenied", "AllAccessDisabled", "AccountProblem":
			e.Cause, e.Msg = CauseAccessDenied, "access denied: the credentials are valid but not allowed to do this (check the key's policy and the bucket policy)"
		case "NoSuchBucket":
			e.Cause, e.Msg = CauseNoSuchBucket, fmt.Sprintf("bucket %q does not exist at %s", bucket, endpoint)
		case "RequestTimeTooSkewed", "RequestExpired":
			e.Cause, e.Msg = CauseClockSkew, "clock skew: this server's clock differs too much from the storage server's; synchronise the clock (NTP)"
		case "NoSuchKey", "NoSuchUpload", "NotFound":
			e.Cause, e.Msg = CauseNotFound, "not found"
		case "NotImplemented", "NotSupported", "MethodNotAllowed":
			e.Cause, e.Msg = CauseNotSupported, "not supported by this server"
		case "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException":
			e.Cause, e.Msg = CauseInvalid, "wrong region or endpoint for this bucket"
		case "EntityTooSmall":
			e.Cause, e.Msg = CauseInvalid, "a part other than the last is smaller than the 5 MiB minimum"
		case "InvalidPart", "InvalidPartOrder":
			e.Cause, e.Msg = CauseInvalid, "a part is missing, out of order or its ETag does not match"
		case "InvalidBucketName":
			e.Cause, e.Msg = CauseInvalid, fmt.Sprintf("invalid bucket name %q", bucket)
		case "BucketAlreadyExists", "BucketAlreadyOwnedByYou":
			e.Cause, e.Msg = CauseInvalid, fmt.Sprintf("bucket %q already exists", bucket)
		case "Forbidden":
			// HEAD requests carry no body, so the server's code is lost.
			e.Cause, e.Msg = CauseAccessDenied, "access denied (wrong credentials, or not allowed)"
		default:
			switch {
			case status == http.StatusNotImplemented:
				e.Cause, e.Msg = CauseNotSupported, "not supported by this server"
			case status == http.StatusNotFound:
				e.Cause, e.Msg = CauseNotFound, "not found"
			default:
				e.Cause, e.Msg = CauseOther, fmt.Sprintf("the storage server answered with an error (status %d)", status)
			}
		}
	case errors.As(err, &dnsErr):
		e.Cause, e.Msg = CauseUnreachable, fmt.Sprintf("cannot reach %s: the host name does not resolve", endpoint)
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Cause, e.Msg = CauseUnreachable, fmt.Sprintf("cannot reach %s: connection refused (nothing listens on that port)", endpoint)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		e.Cause, e.Msg = CauseUnreachable, fmt.Sprintf("cannot reach %s: no route to the host", endpoint)
	case errors.Is(err, syscall.ECONNRESET):
		e.Cause, e.Msg = CauseUnreachable, fmt.Sprintf("cannot reach %s: the connection was reset", endpoint)
	case errors.As(err, &unknownAuthority), errors.As(err, &hostnameErr), errors.As(err, &certInvalid):
		e.Cause, e.Msg = CauseTLS, fmt.Sprintf("the TLS certificate of %s is not trusted", endpoint)
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		e.Cause, e.Msg = CauseUnreachable, fmt.Sprintf("cannot reach %s: timed out", endpoint)
	case status == http.StatusNotImplemented:
		e.Cause, e.Msg = CauseNotSupported, "not supported by this server"
	case status == http.StatusNotFound:
		e.Cause, e.Msg = CauseNotFound, "not found"
	default:
		e.Cause, e.Msg = CauseOther, "storage request failed"
	}
	return e
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
