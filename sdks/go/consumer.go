package fila

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/fila-project/fila/sdks/go/filapb"
)

// ConsumerSettings tune a Consumer (Client.Lease, Client.Consume) and Client.Receive. The
// zero value of each field means its default.
type ConsumerSettings struct {
	// Credit is the most messages the consumer holds at once: delivered and not yet acked
	// or nacked (flow control; Pub/Sub's MaxOutstandingMessages). The broker never leases
	// the stream more. 1 to 10,000; default 100. The classic Consume stream has no credit.
	Credit int
	// MaxBatch is the most messages per delivery from the broker (default: the broker's, 100).
	MaxBatch int
	// ExtendEvery is how often the leases of the messages the consumer holds are extended,
	// so that a message being worked on is not delivered again when its visibility timeout
	// passes. Default: a third of the queue's visibility timeout when the consumer may read
	// the queue's settings (GetQueue), else 10s: set it below your queue's visibility timeout
	// if it is shorter than that and the consumer's key has no admin permission.
	ExtendEvery time.Duration
	// LeaseExtension is how long each extension makes a lease last from then (default: the
	// queue's visibility timeout).
	LeaseExtension time.Duration
	// MaxExtension is how long after its lease began a held message stops being extended
	// (default 1h); negative turns automatic extension off.
	MaxExtension time.Duration
}

// DefaultConsumerSettings are the settings used for zero fields.
var DefaultConsumerSettings = ConsumerSettings{Credit: 100, MaxExtension: time.Hour}

const maxCredit = 10_000

func (s *ConsumerSettings) normalized() ConsumerSettings {
	var out ConsumerSettings
	if s != nil {
		out = *s
	}
	if out.Credit <= 0 {
		out.Credit = DefaultConsumerSettings.Credit
	}
	if out.Credit > maxCredit {
		out.Credit = maxCredit
	}
	if out.MaxBatch < 0 {
		out.MaxBatch = 0
	}
	if out.MaxExtension == 0 {
		out.MaxExtension = DefaultConsumerSettings.MaxExtension
	}
	return out
}

// Consumer reads a queue's lease stream and hands its messages out on a channel. It
// re-opens the stream by itself when it breaks (the broker restarted, a network blip), with
// backoff, and follows a cluster's redirect to the queue's leader. It ends when its context
// is cancelled, when Close is called, or on an error that retrying cannot fix (the queue does
// not exist, the key may not consume it): then Messages is closed and Err says why.
//
// Ack or Nack every message (Message.Ack): until then it counts against the credit, and its
// lease is extended while the consumer runs (ConsumerSettings.ExtendEvery).
type Consumer struct {
	c       *Client
	queue   string
	s       ConsumerSettings
	classic bool // reads the classic Consume stream (guarded by mu)

	ctx    context.Context
	cancel context.CancelFunc
	out    chan *Message
	done   chan struct{}
	err    error // why it stopped; written before out is closed

	mu           sync.Mutex
	held         map[*Message]struct{} // handed out, not yet acked or nacked
	oldHeld      int                   // of those, the ones from earlier streams
	gen          uint64                // the current stream's generation
	credit       int                   // the credit asked for
	streamCredit int                   // the current stream's credit: credit - oldHeld
	wake         chan struct{}         // the current stream's credit sender looks again
	released     chan struct{}         // a held message was released

	acking     waitCounter // acks and nacks sent and not yet answered
	reconnects atomic.Int64
	delivered  atomic.Int64
}

// Lease opens the credit-controlled lease stream on queue: the consumer holds at most
// s.Credit unacknowledged messages (nil s: DefaultConsumerSettings). Cancel ctx, or call
// Close, to stop it.
//
//	cons := client.Lease(ctx, "jobs", &fila.ConsumerSettings{Credit: 10})
//	defer cons.Close()
//	for msg := range cons.Messages() {
//		work(msg.Payload)
//		msg.Ack()
//	}
//	if err := cons.Err(); err != nil { ... }
func (c *Client) Lease(ctx context.Context, queue string, s *ConsumerSettings) *Consumer {
	return c.startConsumer(ctx, queue, s, false)
}

// Consume opens the classic Consume stream on queue (the original broker's): the broker
// pushes ready messages as fast as the consumer reads them, up to its own limit of
// unacknowledged ones ([lease] consume_max_unacked); s.Credit does not apply. Prefer Lease.
func (c *Client) Consume(ctx context.Context, queue string, s *ConsumerSettings) *Consumer {
	return c.startConsumer(ctx, queue, s, true)
}

func (c *Client) startConsumer(ctx context.Context, queue string, s *ConsumerSettings, classic bool) *Consumer {
	ns := s.normalized()
	cctx, cancel := context.WithCancel(ctx)
	k := &Consumer{
		c: c, queue: queue, s: ns, classic: classic, ctx: cctx, cancel: cancel,
		out: make(chan *Message), done: make(chan struct{}),
		held: make(map[*Message]struct{}), credit: ns.Credit,
		wake: make(chan struct{}, 1), released: make(chan struct{}, 1),
	}
	if c.isClosed() {
		k.err = closedError("client")
		close(k.out)
		close(k.done)
		cancel()
		return k
	}
	go k.run()
	if ns.MaxExtension > 0 {
		go k.extendLeases()
	}
	return k
}

// Messages is the channel the consumer's messages arrive on. It is closed when the consumer
// stops (then Err says why).
func (k *Consumer) Messages() <-chan *Message { return k.out }

// Err is why the consumer stopped: nil while it runs and after its context was cancelled or
// Close was called; an *Error (ErrQueueNotFound, ErrPermissionDenied, ...) when the broker
// refused the stream in a way retrying cannot fix.
func (k *Consumer) Err() error {
	select {
	case <-k.done:
		return k.err
	default:
		return nil
	}
}

// Done is closed when the consumer has stopped.
func (k *Consumer) Done() <-chan struct{} { return k.done }

// Close stops the consumer and waits (at most the client's timeout) until the acks and nacks
// of its messages are answered. Messages it was sent and had not handed out stay leased
// until their visibility timeout passes.
func (k *Consumer) Close() error {
	k.cancel()
	<-k.done
	ctx, cancel := k.c.withDeadline(context.Background())
	defer cancel()
	return k.acking.waitZero(ctx)
}

// SetCredit changes how many unacknowledged messages the consumer may hold (1 to 10,000),
// telling the broker at once.
func (k *Consumer) SetCredit(n int) {
	if n < 1 {
		n = 1
	}
	if n > maxCredit {
		n = maxCredit
	}
	k.mu.Lock()
	k.credit = n
	k.streamCredit = max(1, n-k.oldHeld)
	poke(k.wake)
	k.mu.Unlock()
}

// ConsumerStats are a consumer's counters.
type ConsumerStats struct {
	Delivered  int64 // messages handed out
	Held       int   // handed out and not yet acked or nacked
	Reconnects int64 // streams re-opened after they broke
}

// Stats returns the consumer's counters.
func (k *Consumer) Stats() ConsumerStats {
	k.mu.Lock()
	held := len(k.held)
	k.mu.Unlock()
	return ConsumerStats{Delivered: k.delivered.Load(), Held: held, Reconnects: k.reconnects.Load()}
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// run opens streams one after the other until the consumer stops.
func (k *Consumer) run() {
	// On the way out: stop the extender, then done (so that Err is set for whoever sees
	// Messages close), then Messages.
	defer close(k.out)
	defer close(k.done)
	defer k.cancel()
	policy := k.c.opts.retry
	failures, redirects := 0, 0
	for {
		got, redirected, err := k.session()
		if k.ctx.Err() != nil {
			return
		}
		if unimplemented(err) && !k.isClassic() {
			k.setClassic() // a broker without the Lease stream: read Consume (legacy.go)
			continue
		}
		if permanent(err) {
			k.err = err
			return
		}
		if k.c.isClosed() {
			k.err = closedError("client")
			return
		}
		if got {
			failures, redirects = 0, 0
		}
		k.reconnects.Add(1)
		if redirected && redirects < maxRedirects {
			redirects++
			continue // to the leader, at once
		}
		failures++
		if !sleepCtx(k.ctx, policy.backoff(failures)) {
			return
		}
	}
}

// permanent reports whether a stream error is one that re-opening the stream cannot fix.
func permanent(err error) bool {
	var fe *Error
	if !errors.As(err, &fe) {
		return false
	}
	switch fe.Code {
	case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.PermissionDenied,
		codes.FailedPrecondition, codes.Unauthenticated, codes.Unimplemented, codes.OutOfRange:
		return true
	}
	return false
}

// session runs one stream until it breaks: whether it delivered anything, whether the
// broker redirected the consumer to another node, and the error that ended it.
func (k *Consumer) session() (got, redirected bool, err error) {
	credit, gen, wake, ok := k.openCredit()
	if !ok {
		return false, false, k.ctx.Err()
	}
	sctx, cancel := context.WithCancel(k.ctx)
	defer cancel()
	cn := k.c.current()
	op := "Lease"
	var recv func() ([]*filapb.Message, error)
	var trailer func() metadata.MD
	if k.isClassic() {
		op = "Consume"
		stream, err := cn.svc.Consume(sctx, &filapb.ConsumeRequest{Queue: k.queue})
		if err != nil {
			return false, false, errorFrom(op, err, nil)
		}
		recv = func() ([]*filapb.Message, error) {
			resp, err := stream.Recv()
			return []*filapb.Message{resp.GetMessage()}, err
		}
		trailer = stream.Trailer
	} else {
		stream, err := cn.svc.Lease(sctx)
		if err != nil {
			return false, false, errorFrom(op, err, nil)
		}
		first := &filapb.LeaseRequest{Queue: k.queue, Credit: uint32(credit), MaxBatch: uint32(k.s.MaxBatch)}
		if err := stream.Send(first); err == nil {
			go k.sendCredit(sctx, stream.Send, gen, wake, credit)
		} // else Recv below reports why the stream ended
		recv = func() ([]*filapb.Message, error) {
			resp, err := stream.Recv()
			return resp.GetMessages(), err
		}
		trailer = stream.Trailer
	}
	for {
		msgs, err := recv()
		if err != nil {
			tr := trailer()
			if addr := leaderAddr(tr); addr != "" && status.Code(err) == codes.Unavailable {
				if ferr := k.c.follow(cn, addr); ferr == nil {
					redirected = true
				}
			}
			return got, redirected, errorFrom(op, err, tr)
		}
		got = true
		for _, m := range msgs {
			if m == nil {
				continue
			}
			msg := k.adopt(m, gen)
			select {
			case k.out <- msg:
				k.delivered.Add(1)
			case <-sctx.Done():
				k.drop(msg)
				return got, false, sctx.Err()
			}
		}
	}
}

func (k *Consumer) isClassic() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.classic
}

func (k *Consumer) setClassic() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.classic = true
}

// openCredit waits until the consumer may hold more messages than it holds from earlier
// streams, and starts a new stream generation with the credit left.
func (k *Consumer) openCredit() (credit int, gen uint64, wake chan struct{}, ok bool) {
	for {
		k.mu.Lock()
		k.oldHeld = len(k.held)
		avail := k.credit - k.oldHeld
		if k.classic || avail >= 1 {
			k.gen++
			k.streamCredit = avail
			k.wake = make(chan struct{}, 1)
			gen, wake = k.gen, k.wake
			k.mu.Unlock()
			return avail, gen, wake, true
		}
		k.mu.Unlock()
		select {
		case <-k.released:
		case <-k.ctx.Done():
			return 0, 0, nil, false
		}
	}
}

// sendCredit tells the broker each new credit of the stream of generation gen.
func (k *Consumer) sendCredit(ctx context.Context, send func(*filapb.LeaseRequest) error,
	gen uint64, wake chan struct{}, sent int) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
		k.mu.Lock()
		want, current := k.streamCredit, k.gen
		k.mu.Unlock()
		if current != gen {
			return
		}
		if want != sent {
			if send(&filapb.LeaseRequest{Credit: uint32(want)}) != nil {
				return
			}
			sent = want
		}
	}
}

func (k *Consumer) adopt(m *filapb.Message, gen uint64) *Message {
	msg := newMessage(m, k.c)
	if msg.Queue == "" {
		msg.Queue = k.queue
	}
	msg.cons, msg.gen, msg.received = k, gen, time.Now()
	k.mu.Lock()
	k.held[msg] = struct{}{}
	k.mu.Unlock()
	return msg
}

// drop forgets a message that was never handed out.
func (k *Consumer) drop(msg *Message) {
	k.mu.Lock()
	delete(k.held, msg)
	k.mu.Unlock()
}

// release is called when msg is acked or nacked: it no longer counts against the credit.
// A message of an earlier stream gives its slot back to the current stream.
func (k *Consumer) release(msg *Message) {
	k.mu.Lock()
	if _, ok := k.held[msg]; !ok {
		k.mu.Unlock()
		return
	}
	delete(k.held, msg)
	if msg.gen != k.gen && k.oldHeld > 0 {
		k.oldHeld--
		if k.streamCredit < k.credit {
			k.streamCredit++
			poke(k.wake)
		}
	}
	k.mu.Unlock()
	poke(k.released)
}
