package fila

import (
	"context"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// RetryPolicy says how the Client retries a call that failed because the broker was
// unavailable (UNAVAILABLE: not reachable, restarting, or its storage could not write), and
// how fast consumers re-open their streams. Retries wait with exponential backoff and jitter,
// and never outlast the call's deadline.
//
// A call that failed with UNAVAILABLE may have taken effect (the connection broke after the
// broker acted): delivery is at-least-once, so a retried Enqueue can store a message twice.
type RetryPolicy struct {
	// MaxAttempts is the most attempts of one call, the first included; 1 turns retries off,
	// 0 retries until the call's deadline.
	MaxAttempts int
	// InitialBackoff is the wait before the first retry (default 50ms); each retry doubles it
	// up to MaxBackoff (default 2s).
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// RetryOverloaded also retries calls the broker refused as overloaded (RESOURCE_EXHAUSTED),
	// waiting at least its retry-after hint. Off by default: the caller sees ErrOverloaded
	// and decides.
	RetryOverloaded bool
}

// DefaultRetryPolicy retries unavailable calls until their deadline.
var DefaultRetryPolicy = RetryPolicy{InitialBackoff: 50 * time.Millisecond, MaxBackoff: 2 * time.Second}

// maxRedirects bounds how many leader redirects one call follows.
const maxRedirects = 5

func (p RetryPolicy) normalized() RetryPolicy {
	if p.InitialBackoff <= 0 {
		p.InitialBackoff = DefaultRetryPolicy.InitialBackoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = DefaultRetryPolicy.MaxBackoff
	}
	if p.MaxBackoff < p.InitialBackoff {
		p.MaxBackoff = p.InitialBackoff
	}
	return p
}

// backoff is the wait before retry number n (1 for the first retry): exponential, capped,
// with "equal jitter" (between half and all of it).
func (p RetryPolicy) backoff(n int) time.Duration {
	d := p.InitialBackoff
	for i := 1; i < n && d < p.MaxBackoff; i++ {
		d *= 2
	}
	if d > p.MaxBackoff {
		d = p.MaxBackoff
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

func (p RetryPolicy) retryable(err *Error) bool {
	switch err.Code {
	case codes.Unavailable:
		return true
	case codes.ResourceExhausted:
		return p.RetryOverloaded
	}
	return false
}

// sleepCtx waits d, or less if ctx ends first (then it returns false).
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// withDeadline gives ctx the client's default timeout when it has no deadline of its own.
func (c *Client) withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || c.opts.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.opts.timeout)
}

// rpc is one attempt of a unary call on a connection.
type rpc[T any] func(ctx context.Context, cn *conn, opts ...grpc.CallOption) (T, error)

// invoke runs a unary call with the client's deadline, retries and leader redirects, and
// turns its failure into an *Error.
func invoke[T any](ctx context.Context, c *Client, op string, call rpc[T]) (T, error) {
	var zero T
	if c.isClosed() {
		return zero, closedError("client")
	}
	ctx, cancel := c.withDeadline(ctx)
	defer cancel()
	policy := c.opts.retry
	redirects := 0
	for attempt := 1; ; attempt++ {
		cn := c.current()
		var header, trailer metadata.MD
		resp, err := call(ctx, cn, grpc.Header(&header), grpc.Trailer(&trailer))
		if err == nil {
			return resp, nil
		}
		st := status.Convert(err)
		if addr := leaderAddr(trailer, header); addr != "" && st.Code() == codes.Unavailable &&
			redirects < maxRedirects && ctx.Err() == nil {
			redirects++
			attempt--
			if err := c.follow(cn, addr); err != nil {
				return zero, err
			}
			continue
		}
		fe := newError(op, st, trailer)
		if !policy.retryable(fe) || (policy.MaxAttempts > 0 && attempt >= policy.MaxAttempts) || c.isClosed() {
			return zero, fe
		}
		wait := policy.backoff(attempt)
		if fe.RetryAfter > wait {
			wait = fe.RetryAfter
		}
		if !sleepCtx(ctx, wait) {
			return zero, fe // the deadline came first: report why the last attempt failed
		}
	}
}
