package fila

import (
	"context"
	"errors"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/fila-project/fila/sdks/go/filapb"
)

// The batch RPCs (EnqueueBatch, AckBatch, NackBatch) and the Lease stream are Fila's
// additions to the original broker's contract. Against a broker without them (it answers
// UNIMPLEMENTED), the client sends the single-message RPCs instead, several at once, and
// consumers read the classic Consume stream: the same API, without the batching.

// legacyConcurrency is how many single-message RPCs one batch becomes at once.
const legacyConcurrency = 16

func unimplemented(err error) bool {
	var fe *Error
	return errors.As(err, &fe) && fe.Code == codes.Unimplemented
}

// each runs call for every index in [0, n) with up to legacyConcurrency at once, and
// returns an outcome per index.
func each[R any](ctx context.Context, n int, call func(context.Context, int) (R, error)) []outcome[R] {
	outs := make([]outcome[R], n)
	sem := make(chan struct{}, legacyConcurrency)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			outs[i].val, outs[i].err = call(ctx, i)
		}()
	}
	wg.Wait()
	return outs
}

func (c *Client) enqueueEach(ctx context.Context, reqs []*filapb.EnqueueRequest) []outcome[string] {
	return each(ctx, len(reqs), func(ctx context.Context, i int) (string, error) {
		resp, err := invoke(ctx, c, "Enqueue", func(ctx context.Context, cn *conn, o ...grpc.CallOption) (*filapb.EnqueueResponse, error) {
			return cn.svc.Enqueue(ctx, reqs[i], o...)
		})
		return resp.GetMessageId(), err
	})
}

func (c *Client) ackEach(ctx context.Context, queue string, items []ackItem) []outcome[struct{}] {
	return each(ctx, len(items), func(ctx context.Context, i int) (struct{}, error) {
		req := &filapb.AckRequest{Queue: queue, MessageId: items[i].id, LeaseId: items[i].leaseID}
		_, err := invoke(ctx, c, "Ack", func(ctx context.Context, cn *conn, o ...grpc.CallOption) (*filapb.AckResponse, error) {
			return cn.svc.Ack(ctx, req, o...)
		})
		return struct{}{}, err
	})
}

func (c *Client) nackEach(ctx context.Context, queue string, items []*filapb.NackItem) []outcome[struct{}] {
	return each(ctx, len(items), func(ctx context.Context, i int) (struct{}, error) {
		it := items[i]
		req := &filapb.NackRequest{Queue: queue, MessageId: it.GetMessageId(), LeaseId: it.GetLeaseId(), Error: it.GetError()}
		_, err := invoke(ctx, c, "Nack", func(ctx context.Context, cn *conn, o ...grpc.CallOption) (*filapb.NackResponse, error) {
			return cn.svc.Nack(ctx, req, o...)
		})
		return struct{}{}, err
	})
}
