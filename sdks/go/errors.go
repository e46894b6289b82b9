package fila

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Sentinel errors, for use with errors.Is. Every error the SDK returns for a failed call is
// an *Error that matches the sentinel of its kind (and, for the two kinds of "not found",
// ErrNotFound too):
//
//	if errors.Is(err, fila.ErrQueueNotFound) { ... }
//	var fe *fila.Error
//	if errors.As(err, &fe) && fe.RetryAfter > 0 { time.Sleep(fe.RetryAfter) }
var (
	// ErrNotFound: something named in the call does not exist (a queue, a leased message,
	// a config key, an API key). ErrQueueNotFound and ErrMessageNotFound are its two
	// common cases; both also match ErrNotFound.
	ErrNotFound = errors.New("fila: not found")
	// ErrQueueNotFound: the queue does not exist.
	ErrQueueNotFound = errors.New("fila: queue not found")
	// ErrMessageNotFound: the message is not leased (unknown id, already acked, or its
	// lease expired).
	ErrMessageNotFound = errors.New("fila: message not found")
	// ErrInvalidArgument: bad input; the message names the field.
	ErrInvalidArgument = errors.New("fila: invalid argument")
	// ErrAlreadyExists: a queue created twice.
	ErrAlreadyExists = errors.New("fila: already exists")
	// ErrFailedPrecondition: well formed but not allowed now, e.g. a stale lease id.
	ErrFailedPrecondition = errors.New("fila: failed precondition")
	// ErrOverloaded: the broker refused the call to protect itself (RESOURCE_EXHAUSTED);
	// retry after Error.RetryAfter.
	ErrOverloaded = errors.New("fila: overloaded")
	// ErrUnavailable: the broker cannot be reached, is shutting down, or cannot write.
	ErrUnavailable = errors.New("fila: unavailable")
	// ErrUnauthenticated: no API key, or an unknown, revoked or expired one.
	ErrUnauthenticated = errors.New("fila: unauthenticated")
	// ErrPermissionDenied: the API key's ACL does not allow the call.
	ErrPermissionDenied = errors.New("fila: permission denied")
	// ErrClosed: the Client, Producer or Consumer was closed.
	ErrClosed = errors.New("fila: closed")
)

// Error is the error of a call the broker refused or that did not reach it: the gRPC status
// code, the broker's message (which names the field or thing at fault), and for overload
// the broker's hint of when to retry. Use errors.Is with the Err* sentinels to test its
// kind, and errors.As to read its fields.
type Error struct {
	// Op is the RPC that failed, e.g. "Enqueue" or "AckBatch".
	Op string
	// Code is the gRPC status code (for one item of a batch RPC, the code the single-item
	// RPC would have returned).
	Code codes.Code
	// Message is the broker's description.
	Message string
	// RetryAfter is set on ErrOverloaded errors: how long the broker asks the client to
	// wait before it retries (its `retry-after-ms` trailer).
	RetryAfter time.Duration

	kind error // the sentinel this error matches
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Code.String()
	}
	if e.Op == "" {
		return "fila: " + msg
	}
	return "fila: " + e.Op + ": " + msg
}

// Is reports whether target is the sentinel of this error's kind (or ErrNotFound for either
// kind of "not found"), or the context error a DEADLINE_EXCEEDED / CANCELLED status stands for.
func (e *Error) Is(target error) bool {
	switch {
	case target == nil:
		return false
	case target == e.kind:
		return true
	case target == ErrNotFound:
		return e.kind == ErrQueueNotFound || e.kind == ErrMessageNotFound
	case target == context.DeadlineExceeded:
		return e.Code == codes.DeadlineExceeded
	case target == context.Canceled:
		return e.Code == codes.Canceled
	}
	return false
}

// GRPCStatus lets status.FromError and status.Code see the underlying gRPC status.
func (e *Error) GRPCStatus() *status.Status { return status.New(e.Code, e.Message) }

// Temporary reports whether retrying the same call later may succeed (overload or an
// unreachable broker).
func (e *Error) Temporary() bool {
	return e.Code == codes.Unavailable || e.Code == codes.ResourceExhausted
}

const (
	retryAfterKey = "retry-after-ms"
	// LeaderAddrKey is the trailer a broker in a cluster sends with UNAVAILABLE when another
	// node leads the queue: the address of that node. The Client follows it by itself.
	LeaderAddrKey = "x-fila-leader-addr"
)

// kindOf picks the sentinel for a status code; NOT_FOUND is told apart by what the broker
// says it did not find, and by the call (an ack's NOT_FOUND item is a message).
func kindOf(op string, code codes.Code, msg string) error {
	switch code {
	case codes.NotFound:
		lower := strings.ToLower(msg)
		switch {
		case strings.HasPrefix(lower, "queue"):
			return ErrQueueNotFound
		case strings.HasPrefix(lower, "message"):
			return ErrMessageNotFound
		case op == "Ack" || op == "Nack" || op == "AckBatch" || op == "NackBatch" || op == "ExtendLease":
			if strings.Contains(lower, "queue") && !strings.Contains(lower, "message") {
				return ErrQueueNotFound
			}
			return ErrMessageNotFound
		case strings.Contains(lower, "queue"):
			return ErrQueueNotFound
		}
		return ErrNotFound
	case codes.InvalidArgument, codes.OutOfRange:
		return ErrInvalidArgument
	case codes.AlreadyExists:
		return ErrAlreadyExists
	case codes.FailedPrecondition:
		return ErrFailedPrecondition
	case codes.ResourceExhausted:
		return ErrOverloaded
	case codes.Unavailable:
		return ErrUnavailable
	case codes.Unauthenticated:
		return ErrUnauthenticated
	case codes.PermissionDenied:
		return ErrPermissionDenied
	}
	return nil
}

// newError builds the *Error of a failed call from its status and trailing metadata.
func newError(op string, st *status.Status, trailer metadata.MD) *Error {
	e := &Error{Op: op, Code: st.Code(), Message: st.Message()}
	e.kind = kindOf(op, e.Code, e.Message)
	if e.Code == codes.ResourceExhausted {
		e.RetryAfter = retryAfter(trailer)
	}
	return e
}

// errorFrom turns any error of a gRPC call into an *Error (a context error stays as it is).
func errorFrom(op string, err error, trailer metadata.MD) error {
	if err == nil {
		return nil
	}
	var fe *Error
	if errors.As(err, &fe) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		if _, ok := status.FromError(err); !ok {
			return err
		}
	}
	return newError(op, status.Convert(err), trailer)
}

// itemError is the error of one failed item of a batch RPC: its code is a status code name.
func itemError(op, code, message string) *Error {
	c, ok := codeByName[code]
	if !ok {
		c = codes.Unknown
	}
	e := &Error{Op: op, Code: c, Message: message}
	if message == "" {
		e.Message = code
	}
	e.kind = kindOf(op, c, message)
	return e
}

// codeByName maps the status code names of ItemError.code to codes.
var codeByName = map[string]codes.Code{
	"OK": codes.OK, "CANCELLED": codes.Canceled, "UNKNOWN": codes.Unknown,
	"INVALID_ARGUMENT": codes.InvalidArgument, "DEADLINE_EXCEEDED": codes.DeadlineExceeded,
	"NOT_FOUND": codes.NotFound, "ALREADY_EXISTS": codes.AlreadyExists,
	"PERMISSION_DENIED": codes.PermissionDenied, "RESOURCE_EXHAUSTED": codes.ResourceExhausted,
	"FAILED_PRECONDITION": codes.FailedPrecondition, "ABORTED": codes.Aborted,
	"OUT_OF_RANGE": codes.OutOfRange, "UNIMPLEMENTED": codes.Unimplemented,
	"INTERNAL": codes.Internal, "UNAVAILABLE": codes.Unavailable, "DATA_LOSS": codes.DataLoss,
	"UNAUTHENTICATED": codes.Unauthenticated,
}

func retryAfter(md metadata.MD) time.Duration {
	for _, v := range md.Get(retryAfterKey) {
		if ms, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && ms >= 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	return 0
}

func leaderAddr(md ...metadata.MD) string {
	for _, m := range md {
		if v := m.Get(LeaderAddrKey); len(v) > 0 && v[0] != "" {
			return v[0]
		}
	}
	return ""
}

// closedError is ErrClosed with the name of what was closed.
func closedError(what string) error { return fmt.Errorf("%w: %s", ErrClosed, what) }
