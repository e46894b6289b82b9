package fila

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/fila-project/fila/sdks/go/filapb"
)

// maxMessageBytes is the largest gRPC message the client sends or accepts (as the broker).
const maxMessageBytes = 64 << 20

// Client is a connection to a Fila broker: the hot path (Enqueue, Lease, Ack, ...) and the
// admin API. It is safe for concurrent use; make one per broker and share it. Close it when
// done: that flushes pending acks and closes the connection.
//
// The connection is made lazily and kept up by gRPC; a call made while the broker is
// unreachable is retried with backoff within its deadline (see RetryPolicy). When a broker of
// a cluster answers that another node leads the queue (the x-fila-leader-addr trailer), the
// client dials that node and sends the call there.
type Client struct {
	opts     clientOptions
	dialOpts []grpc.DialOption

	mu     sync.Mutex
	cur    *conn
	conns  map[string]*conn // every address dialled, by address
	closed bool

	acks  *batcher[ackItem, struct{}]
	nacks *batcher[*filapb.NackItem, struct{}]

	noBatchRPCs atomic.Bool // the broker answered UNIMPLEMENTED to a batch RPC (legacy.go)
}

// conn is one gRPC connection and its stubs.
type conn struct {
	addr  string
	cc    *grpc.ClientConn
	svc   filapb.FilaServiceClient
	admin filapb.FilaAdminClient
}

// NewClient returns a client of the broker at addr ("host:port"). Options add TLS, an API
// key, a default timeout and retry policy. It does not wait for the connection: the first
// call does (and fails with ErrUnavailable if the broker cannot be reached in time).
func NewClient(addr string, opts ...Option) (*Client, error) {
	if addr == "" {
		return nil, errors.New("fila: NewClient: empty address")
	}
	o := defaultClientOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if len(o.errs) > 0 {
		return nil, errors.Join(o.errs...)
	}
	o.retry = o.retry.normalized()
	if o.ackMax < 1 || o.ackMax > maxBatchItems {
		o.ackMax = 1000
	}
	tlsCfg, err := o.tlsClientConfig()
	if err != nil {
		return nil, err
	}
	creds := insecure.NewCredentials()
	if tlsCfg != nil {
		creds = credentials.NewTLS(tlsCfg)
	}
	dialOpts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessageBytes),
			grpc.MaxCallSendMsgSize(maxMessageBytes)),
		// Reconnect soon after a broker comes back (gRPC's own default waits up to 2 min).
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6,
				Jitter: 0.2, MaxDelay: o.retry.MaxBackoff},
			MinConnectTimeout: 5 * time.Second,
		}),
	}
	if o.apiKey != "" {
		dialOpts = append(dialOpts, grpc.WithPerRPCCredentials(bearer{"Bearer " + o.apiKey}))
	}
	dialOpts = append(dialOpts, o.dialOpts...)
	c := &Client{opts: o, dialOpts: dialOpts, conns: make(map[string]*conn)}
	cn, err := c.dial(addr)
	if err != nil {
		return nil, err
	}
	c.cur = cn
	c.acks = newBatcher(c.sendAcks, batchLimits{linger: o.ackLinger, maxItems: o.ackMax,
		maxBytes: 4 << 20, maxInFlight: 4})
	c.nacks = newBatcher(c.sendNacks, batchLimits{linger: o.ackLinger, maxItems: o.ackMax,
		maxBytes: 4 << 20, maxInFlight: 4})
	return c, nil
}

// dial makes (or reuses) the connection to addr; c.mu held or not yet shared.
func (c *Client) dial(addr string) (*conn, error) {
	if cn, ok := c.conns[addr]; ok {
		return cn, nil
	}
	cc, err := grpc.NewClient(addr, c.dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("fila: connecting to %s: %w", addr, err)
	}
	cn := &conn{addr: addr, cc: cc, svc: filapb.NewFilaServiceClient(cc), admin: filapb.NewFilaAdminClient(cc)}
	c.conns[addr] = cn
	return cn, nil
}

// current is the connection calls go to now.
func (c *Client) current() *conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

// follow makes addr (a leader named by a broker reached through from) the connection
// calls go to; a no-op if another call already moved on from `from`.
func (c *Client) follow(from *conn, addr string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return closedError("client")
	}
	if c.cur != from || c.cur.addr == addr {
		return nil
	}
	cn, err := c.dial(addr)
	if err != nil {
		return err
	}
	c.cur = cn
	return nil
}

// Addr is the address calls go to now: the one given to NewClient, or the leader the
// client was redirected to.
func (c *Client) Addr() string { return c.current().addr }

func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Close sends the acks and nacks still waiting in their batches, waits for their answers
// (at most the client's timeout), and closes the connections. Consumers and producers of
// the client should be closed first.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	ctx, cancel := c.withDeadline(context.Background())
	defer cancel()
	c.acks.close(ctx)
	c.nacks.close(ctx)
	c.mu.Lock()
	c.closed = true
	conns := c.conns
	c.mu.Unlock()
	var errs []error
	for _, cn := range conns {
		if err := cn.cc.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Service is the generated FilaService stub on the current connection: an escape hatch for
// what the SDK does not wrap. Calls made on it get no retries and no error mapping.
func (c *Client) Service() filapb.FilaServiceClient { return c.current().svc }

// Admin is the generated FilaAdmin stub on the current connection (see Service).
func (c *Client) Admin() filapb.FilaAdminClient { return c.current().admin }

// bearer sends the API key on every call. It does not require TLS: a broker on loopback
// may take keys over a plain connection.
type bearer struct{ value string }

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": b.value}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }
