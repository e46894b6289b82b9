package fila

import (
	"context"
	"time"

	"github.com/fila-project/fila/sdks/go/filapb"
)

// ProducerSettings tune a Producer's batching (Pub/Sub's PublishSettings). The zero value of
// each field means its default.
type ProducerSettings struct {
	// Linger is the longest a message waits for company while a batch is in flight
	// (default 5ms). When no batch is in flight a message goes at once.
	Linger time.Duration
	// MaxMessages and MaxBytes bound one EnqueueBatch RPC (defaults 1,000 messages and
	// 4 MiB; at most 10,000 messages): a batch that reaches either goes at once.
	MaxMessages int
	MaxBytes    int
	// MaxInFlight is the most EnqueueBatch RPCs out at once (default 4).
	MaxInFlight int
}

// DefaultProducerSettings are the settings used for zero fields.
var DefaultProducerSettings = ProducerSettings{
	Linger: 5 * time.Millisecond, MaxMessages: 1000, MaxBytes: 4 << 20, MaxInFlight: 4,
}

// Producer enqueues messages for many callers at once, in EnqueueBatch RPCs, and tells each
// caller the outcome of its own message: its id once it is on disk, or why it was refused.
// Batching adapts to load: a lone message goes at once; while a batch is in flight, messages
// gather (up to Linger, MaxMessages or MaxBytes) and go when it returns. It is safe for
// concurrent use. Close it to send what waits and stop.
type Producer struct {
	c *Client
	b *batcher[*filapb.EnqueueRequest, string]
}

// NewProducer returns a batching producer (nil s: DefaultProducerSettings).
func (c *Client) NewProducer(s *ProducerSettings) *Producer {
	var ns ProducerSettings
	if s != nil {
		ns = *s
	}
	d := DefaultProducerSettings
	if ns.Linger <= 0 {
		ns.Linger = d.Linger
	}
	if ns.MaxMessages <= 0 {
		ns.MaxMessages = d.MaxMessages
	}
	if ns.MaxBytes <= 0 {
		ns.MaxBytes = d.MaxBytes
	}
	if ns.MaxInFlight <= 0 {
		ns.MaxInFlight = d.MaxInFlight
	}
	p := &Producer{c: c}
	p.b = newBatcher(p.send, batchLimits{linger: ns.Linger, maxItems: ns.MaxMessages,
		maxBytes: ns.MaxBytes, maxInFlight: ns.MaxInFlight})
	return p
}

func (p *Producer) send(ctx context.Context, _ string, items []*filapb.EnqueueRequest) ([]outcome[string], error) {
	return p.c.enqueueBatch(ctx, items)
}

// PublishResult is the outcome of one published message, to come.
type PublishResult struct{ f *future[string] }

// Ready is closed once the outcome is known.
func (r *PublishResult) Ready() <-chan struct{} { return r.f.done }

// Get waits for the outcome (or ctx) and returns the message's id, or why it was refused.
func (r *PublishResult) Get(ctx context.Context) (string, error) { return r.f.wait(ctx) }

// Publish queues msg for the next batch and returns at once; the result tells its outcome.
// Do not modify msg's Headers or Payload until the result is ready.
func (p *Producer) Publish(msg OutgoingMessage) *PublishResult {
	return &PublishResult{p.b.submit("", msg.proto(), msg.size(), nil)}
}

// Enqueue is Publish, waiting for the outcome: the message's id once it is on disk. If ctx
// ends first, Enqueue returns ctx's error, and the message may still be enqueued.
func (p *Producer) Enqueue(ctx context.Context, queue string, payload []byte, headers map[string]string) (string, error) {
	return p.Publish(OutgoingMessage{Queue: queue, Headers: headers, Payload: payload}).Get(ctx)
}

// Flush sends what waits now and returns once every message published so far has its
// outcome (or ctx ends).
func (p *Producer) Flush(ctx context.Context) error { return p.b.flush(ctx) }

// Close sends what waits, waits for the outcomes (at most the client's timeout), and makes
// later Publish calls fail with ErrClosed.
func (p *Producer) Close() error {
	ctx, cancel := p.c.withDeadline(context.Background())
	defer cancel()
	return p.b.close(ctx)
}

// ProducerStats are a producer's counters.
type ProducerStats struct {
	Messages int64 // messages sent
	Batches  int64 // EnqueueBatch RPCs sent
}

// Stats returns the producer's counters.
func (p *Producer) Stats() ProducerStats {
	return ProducerStats{Messages: p.b.items.Load(), Batches: p.b.rpcs.Load()}
}
