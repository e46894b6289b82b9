package fila

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"

	"github.com/fila-project/fila/sdks/go/filapb"
)

// OutgoingMessage is a message to enqueue: its queue, headers (read by the queue's
// on_enqueue hook, e.g. the tenant) and opaque payload.
type OutgoingMessage struct {
	Queue   string
	Headers map[string]string
	Payload []byte
}

func (m OutgoingMessage) proto() *filapb.EnqueueRequest {
	return &filapb.EnqueueRequest{Queue: m.Queue, Headers: m.Headers, Payload: m.Payload}
}

// size is about how many bytes m takes in a batch.
func (m OutgoingMessage) size() int {
	n := len(m.Queue) + len(m.Payload) + 8
	for k, v := range m.Headers {
		n += len(k) + len(v) + 6
	}
	return n
}

// EnqueueResult is the outcome of one message of EnqueueBatch: its id, or why it was refused.
type EnqueueResult struct {
	ID  string
	Err error
}

// Enqueue sends one message and returns its id once the broker has it on disk.
func (c *Client) Enqueue(ctx context.Context, queue string, payload []byte, headers map[string]string) (string, error) {
	req := OutgoingMessage{Queue: queue, Headers: headers, Payload: payload}.proto()
	resp, err := invoke(ctx, c, "Enqueue", func(ctx context.Context, cn *conn, o ...grpc.CallOption) (*filapb.EnqueueResponse, error) {
		return cn.svc.Enqueue(ctx, req, o...)
	})
	if err != nil {
		return "", err
	}
	return resp.GetMessageId(), nil
}

// EnqueueBatch sends many messages (at most 10,000) in one call and returns a result per
// message, in order: one refused message does not fail the others. The error is for the
// call as a whole (nothing was enqueued, or for UNAVAILABLE, possibly some). For batching
// done for you, across goroutines, use a Producer.
func (c *Client) EnqueueBatch(ctx context.Context, msgs []OutgoingMessage) ([]EnqueueResult, error) {
	reqs := make([]*filapb.EnqueueRequest, len(msgs))
	for i, m := range msgs {
		reqs[i] = m.proto()
	}
	outs, err := c.enqueueBatch(ctx, reqs)
	if err != nil {
		return nil, err
	}
	res := make([]EnqueueResult, len(outs))
	for i, o := range outs {
		res[i] = EnqueueResult{ID: o.val, Err: o.err}
	}
	return res, nil
}

func (c *Client) enqueueBatch(ctx context.Context, reqs []*filapb.EnqueueRequest) ([]outcome[string], error) {
	if len(reqs) > maxBatchItems {
		return nil, &Error{Op: "EnqueueBatch", Message: fmt.Sprintf("%d messages; at most %d per call", len(reqs), maxBatchItems), kind: ErrInvalidArgument}
	}
	if c.noBatchRPCs.Load() {
		return c.enqueueEach(ctx, reqs), nil
	}
	req := &filapb.EnqueueBatchRequest{Messages: reqs}
	resp, err := invoke(ctx, c, "EnqueueBatch", func(ctx context.Context, cn *conn, o ...grpc.CallOption) (*filapb.EnqueueBatchResponse, error) {
		return cn.svc.EnqueueBatch(ctx, req, o...)
	})
	if unimplemented(err) {
		c.noBatchRPCs.Store(true)
		return c.enqueueEach(ctx, reqs), nil
	}
	if err != nil {
		return nil, err
	}
	outs := make([]outcome[string], len(reqs))
	for i := range outs {
		if i >= len(resp.GetResults()) {
			outs[i].err = &Error{Op: "EnqueueBatch", Message: "no result for this message"}
			continue
		}
		r := resp.GetResults()[i]
		if e := r.GetError(); e != nil {
			outs[i].err = itemError("EnqueueBatch", e.GetCode(), e.GetMessage())
		} else {
			outs[i].val = r.GetMessageId()
		}
	}
	return outs, nil
}

// ackItem is one ack waiting in a batch.
type ackItem struct{ id, leaseID string }

// Ack acknowledges (deletes) a leased message and returns once the ack is on disk. With the
// leaseID the message was delivered with, the broker refuses (ErrFailedPrecondition) an ack
// whose lease expired and whose message went to another consumer since. Acks made at about
// the same time travel together in one AckBatch RPC (WithAckBatching).
func (c *Client) Ack(ctx context.Context, queue, messageID, leaseID string) error {
	_, err := c.acks.submit(queue, ackItem{messageID, leaseID}, len(messageID)+len(leaseID)+8, nil).wait(ctx)
	return err
}

// Nack reports that processing a leased message failed, with why (up to 4,096 characters
// are kept): the queue's on_failure hook, or its retry policy, decides what happens next.
// Nacks are batched like acks.
func (c *Client) Nack(ctx context.Context, queue, messageID, leaseID, reason string) error {
	item := &filapb.NackItem{MessageId: messageID, LeaseId: leaseID, Error: reason}
	_, err := c.nacks.submit(queue, item, len(messageID)+len(leaseID)+len(reason)+12, nil).wait(ctx)
	return err
}

func (c *Client) sendAcks(ctx context.Context, queue string, items []ackItem) ([]outcome[struct{}], error) {
	if c.noBatchRPCs.Load() {
		return c.ackEach(ctx, queue, items), nil
	}
	req := &filapb.AckBatchRequest{Queue: queue, MessageIds: make([]string, len(items))}
	withLeases := false
	for i, it := range items {
		req.MessageIds[i] = it.id
		withLeases = withLeases || it.leaseID != ""
	}
	if withLeases {
		req.LeaseIds = make([]string, len(items))
		for i, it := range items {
			req.LeaseIds[i] = it.leaseID
		}
	}
	resp, err := invoke(ctx, c, "AckBatch", func(ctx context.Context, cn *conn, o ...grpc.CallOption) (*filapb.AckBatchResponse, error) {
		return cn.svc.AckBatch(ctx, req, o...)
	})
	if unimplemented(err) {
		c.noBatchRPCs.Store(true)
		return c.ackEach(ctx, queue, items), nil
	}
	if err != nil {
		return nil, err
	}
	return itemOutcomes("AckBatch", len(items), resp.GetResults()), nil
}

func (c *Client) sendNacks(ctx context.Context, queue string, items []*filapb.NackItem) ([]outcome[struct{}], error) {
	if c.noBatchRPCs.Load() {
		return c.nackEach(ctx, queue, items), nil
	}
	req := &filapb.NackBatchRequest{Queue: queue, Items: items}
	resp, err := invoke(ctx, c, "NackBatch", func(ctx context.Context, cn *conn, o ...grpc.CallOption) (*filapb.NackBatchResponse, error) {
		return cn.svc.NackBatch(ctx, req, o...)
	})
	if unimplemented(err) {
		c.noBatchRPCs.Store(true)
		return c.nackEach(ctx, queue, items), nil
	}
	if err != nil {
		return nil, err
	}
	return itemOutcomes("NackBatch", len(items), resp.GetResults()), nil
}

func itemOutcomes(op string, n int, results []*filapb.ItemResult) []outcome[struct{}] {
	outs := make([]outcome[struct{}], n)
	for i := range outs {
		switch {
		case i >= len(results):
			outs[i].err = &Error{Op: op, Message: "no result for this item"}
		case results[i].GetError() != nil:
			e := results[i].GetError()
			outs[i].err = itemError(op, e.GetCode(), e.GetMessage())
		}
	}
	return outs
}

// LeaseRef names one leased message for ExtendLease: its id and, optionally, the lease id
// it was delivered with.
type LeaseRef struct {
	MessageID string
	LeaseID   string
}

// ExtendLease makes the leases of messages end `extend` from now (0: the queue's visibility
// timeout from now), for work that takes longer than the visibility timeout. It returns one
// error per lease, in order (nil where the lease was extended), and an error for the call.
// Consumers extend the leases of the messages they hold by themselves (see
// ConsumerSettings).
func (c *Client) ExtendLease(ctx context.Context, queue string, leases []LeaseRef, extend time.Duration) ([]error, error) {
	if len(leases) > maxBatchItems {
		return nil, &Error{Op: "ExtendLease", Message: fmt.Sprintf("%d leases; at most %d per call", len(leases), maxBatchItems), kind: ErrInvalidArgument}
	}
	if extend < 0 {
		return nil, &Error{Op: "ExtendLease", Message: "extend must not be negative", kind: ErrInvalidArgument}
	}
	req := &filapb.ExtendLeaseRequest{Queue: queue, ExtendMs: uint64(extend / time.Millisecond)}
	withLeases := false
	for _, l := range leases {
		req.MessageIds = append(req.MessageIds, l.MessageID)
		withLeases = withLeases || l.LeaseID != ""
	}
	if withLeases {
		for _, l := range leases {
			req.LeaseIds = append(req.LeaseIds, l.LeaseID)
		}
	}
	resp, err := invoke(ctx, c, "ExtendLease", func(ctx context.Context, cn *conn, o ...grpc.CallOption) (*filapb.ExtendLeaseResponse, error) {
		return cn.svc.ExtendLease(ctx, req, o...)
	})
	if err != nil {
		return nil, err
	}
	outs := itemOutcomes("ExtendLease", len(leases), resp.GetResults())
	errs := make([]error, len(outs))
	for i, o := range outs {
		errs[i] = o.err
	}
	return errs, nil
}
