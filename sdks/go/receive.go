package fila

import (
	"context"
	"sync"
	"time"
)

// Receive leases messages from queue and calls handler for each, concurrently (at most
// s.Credit at once), until ctx is cancelled or the stream fails for good. When handler
// returns nil the message is acked; when it returns an error the message is nacked with the
// error's text (the queue's retry policy or on_failure hook decides what next). The handler
// may also Ack or Nack the message itself. While a handler runs, the message's lease is
// extended (ConsumerSettings.ExtendEvery), so long work is not delivered twice.
//
// Receive returns nil after ctx is cancelled, once every running handler has returned and
// its ack is answered; otherwise the error that stopped the stream (ErrQueueNotFound,
// ErrPermissionDenied, ...). The context handed to handler is cancelled when Receive stops.
func (c *Client) Receive(ctx context.Context, queue string, s *ConsumerSettings,
	handler func(context.Context, *Message) error) error {
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cons := c.Lease(hctx, queue, s)
	var wg sync.WaitGroup
	for msg := range cons.Messages() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := handler(hctx, msg); err != nil {
				msg.Nack(err.Error())
			} else {
				msg.Ack()
			}
		}()
	}
	err := cons.Err()
	if err != nil {
		cancel() // the stream failed for good: tell the running handlers
	}
	wg.Wait()
	if cerr := cons.Close(); err == nil && cerr != nil && ctx.Err() == nil {
		err = cerr
	}
	return err
}

// extendLeases keeps the leases of the messages the consumer holds alive, every ExtendEvery,
// until MaxExtension after each lease began.
func (k *Consumer) extendLeases() {
	every, extend := k.s.ExtendEvery, k.s.LeaseExtension
	if every <= 0 {
		every = 10 * time.Second
		if vt := k.visibilityTimeout(); vt > 0 {
			every = vt / 3
		}
	}
	every = max(every, 10*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-k.ctx.Done():
			return
		case <-t.C:
		}
		leases := k.dueLeases(time.Now(), every/2)
		for len(leases) > 0 {
			n := min(len(leases), maxBatchItems)
			// Errors are not fatal: a lease that ended is the broker's to deliver again.
			_, _ = k.c.ExtendLease(k.ctx, k.queue, leases[:n], extend)
			leases = leases[n:]
		}
	}
}

// dueLeases are the held messages leased at least minAge ago and less than MaxExtension ago.
func (k *Consumer) dueLeases(now time.Time, minAge time.Duration) []LeaseRef {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []LeaseRef
	for m := range k.held {
		began := m.LeasedAt
		if began.IsZero() || began.After(m.received) {
			began = m.received
		}
		age := now.Sub(began)
		if age >= minAge && age < k.s.MaxExtension {
			out = append(out, LeaseRef{m.ID, m.LeaseID})
		}
	}
	return out
}

// visibilityTimeout is the queue's visibility timeout, if this client may read the queue's
// settings; 0 otherwise.
func (k *Consumer) visibilityTimeout() time.Duration {
	ctx, cancel := context.WithTimeout(k.ctx, 5*time.Second)
	defer cancel()
	q, err := k.c.GetQueue(ctx, k.queue)
	if err != nil {
		return 0
	}
	return q.Config.VisibilityTimeout
}
