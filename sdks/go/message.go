package fila

import (
	"context"
	"sync"
	"time"

	"github.com/fila-project/fila/sdks/go/filapb"
)

// Message is a message as the broker delivered it (from a Consumer) or showed it (Peek).
type Message struct {
	// ID is the broker-assigned id, the same on every delivery: a good deduplication key.
	ID string
	// Queue is the queue the message is in.
	Queue   string
	Headers map[string]string
	Payload []byte
	// FairnessKey, Weight and ThrottleKeys are what the queue's on_enqueue hook decided.
	FairnessKey  string
	Weight       uint32
	ThrottleKeys []string
	// AttemptCount is 0 on the first delivery and counts the failures (nacks and expired
	// leases) since; LastError is why the last attempt failed.
	AttemptCount uint32
	LastError    string
	// LeaseID identifies this delivery; Ack and Nack send it back so that the broker refuses
	// them if the lease expired and the message was delivered to someone else since.
	LeaseID    string
	EnqueuedAt time.Time
	LeasedAt   time.Time

	client   *Client
	cons     *Consumer // nil for a peeked message
	gen      uint64    // the consumer's stream generation it came on
	received time.Time // when the consumer read it

	once   sync.Once
	result *AckResult
}

func newMessage(m *filapb.Message, c *Client) *Message {
	md := m.GetMetadata()
	ts := m.GetTimestamps()
	msg := &Message{
		ID:           m.GetId(),
		Queue:        md.GetQueueId(),
		Headers:      m.GetHeaders(),
		Payload:      m.GetPayload(),
		FairnessKey:  md.GetFairnessKey(),
		Weight:       md.GetWeight(),
		ThrottleKeys: md.GetThrottleKeys(),
		AttemptCount: md.GetAttemptCount(),
		LastError:    md.GetLastError(),
		LeaseID:      md.GetLeaseId(),
		client:       c,
	}
	if msg.Headers == nil {
		msg.Headers = map[string]string{}
	}
	if t := ts.GetEnqueuedAt(); t != nil && (t.GetSeconds() != 0 || t.GetNanos() != 0) {
		msg.EnqueuedAt = t.AsTime()
	}
	if t := ts.GetLeasedAt(); t != nil && (t.GetSeconds() != 0 || t.GetNanos() != 0) {
		msg.LeasedAt = t.AsTime()
	}
	return msg
}

// AckResult is the outcome of an ack or nack to come.
type AckResult struct{ f *future[struct{}] }

func resolvedResult(err error) *AckResult {
	f := newFuture[struct{}]()
	f.resolve(outcome[struct{}]{err: err})
	return &AckResult{f}
}

// Ready is closed once the broker has answered.
func (r *AckResult) Ready() <-chan struct{} { return r.f.done }

// Get waits for the broker's answer (or ctx) and returns the error of the ack or nack:
// nil once it is on disk.
func (r *AckResult) Get(ctx context.Context) error {
	_, err := r.f.wait(ctx)
	return err
}

// Ack acknowledges the message (it is done and deleted). It does not wait: acks travel in
// batches, and a failed ack (say, its lease expired) means the message is delivered again.
// Only the first Ack or Nack of a message counts. Use AckWithResult to learn the outcome.
func (m *Message) Ack() { m.AckWithResult() }

// Nack reports that processing failed, with why: the queue's on_failure hook or its retry
// policy decides what next. It does not wait (see Ack).
func (m *Message) Nack(reason string) { m.NackWithResult(reason) }

// AckWithResult is Ack, returning the outcome to come.
func (m *Message) AckWithResult() *AckResult {
	return m.settle(func() *AckResult {
		return &AckResult{m.client.acks.submit(m.Queue, ackItem{m.ID, m.LeaseID},
			len(m.ID)+len(m.LeaseID)+8, m.counted())}
	})
}

// NackWithResult is Nack, returning the outcome to come.
func (m *Message) NackWithResult(reason string) *AckResult {
	return m.settle(func() *AckResult {
		item := &filapb.NackItem{MessageId: m.ID, LeaseId: m.LeaseID, Error: reason}
		return &AckResult{m.client.nacks.submit(m.Queue, item,
			len(m.ID)+len(m.LeaseID)+len(reason)+12, m.counted())}
	})
}

// ExtendLease makes this message's lease end `extend` from now (0: the queue's visibility
// timeout). A Consumer does this by itself for the messages it holds (ConsumerSettings).
func (m *Message) ExtendLease(ctx context.Context, extend time.Duration) error {
	errs, err := m.client.ExtendLease(ctx, m.Queue, []LeaseRef{{m.ID, m.LeaseID}}, extend)
	if err != nil {
		return err
	}
	return errs[0]
}

func (m *Message) settle(do func() *AckResult) *AckResult {
	m.once.Do(func() {
		if m.client == nil {
			m.result = resolvedResult(closedError("message has no client"))
			return
		}
		if m.cons != nil {
			m.cons.release(m)
		}
		m.result = do()
	})
	return m.result
}

// counted counts an ack or nack of a consumer's message until it is answered (so that
// Consumer.Close can wait for it); it returns the callback that ends the count.
func (m *Message) counted() func() {
	cons := m.cons
	if cons == nil {
		return nil
	}
	cons.acking.add(1)
	return func() { cons.acking.add(-1) }
}
