package fila_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	fila "github.com/fila-project/fila/sdks/go"
)

func TestLifecycleEnqueueLeaseAck(t *testing.T) {
	t.Parallel()
	c := newClient(t, "")
	q := newQueue(t, c, &fila.QueueConfig{OnEnqueueScript: `function on_enqueue(msg)
  return { fairness_key = msg.headers.tenant, weight = 3, throttle_keys = { "t:" .. msg.headers.tenant } }
end`})
	before := time.Now().Add(-time.Second)
	id, err := c.Enqueue(ctx(t), q, []byte("hello"), map[string]string{"tenant": "acme"})
	if err != nil || id == "" {
		t.Fatalf("Enqueue = %q, %v", id, err)
	}
	cons := c.Lease(ctx(t), q, &fila.ConsumerSettings{Credit: 1})
	defer cons.Close()
	m := take(t, cons, 1, 10*time.Second)[0]
	if m.ID != id || string(m.Payload) != "hello" || m.Headers["tenant"] != "acme" || m.Queue != q {
		t.Fatalf("got %+v", m)
	}
	if m.FairnessKey != "acme" || m.Weight != 3 || len(m.ThrottleKeys) != 1 || m.ThrottleKeys[0] != "t:acme" {
		t.Fatalf("hook decisions not delivered: key %q weight %d throttle %v", m.FairnessKey, m.Weight, m.ThrottleKeys)
	}
	if m.AttemptCount != 0 || m.LeaseID == "" || m.LastError != "" {
		t.Fatalf("attempts %d lease %q last error %q", m.AttemptCount, m.LeaseID, m.LastError)
	}
	if m.EnqueuedAt.Before(before) || m.LeasedAt.Before(m.EnqueuedAt.Add(-time.Second)) {
		t.Fatalf("timestamps: enqueued %v leased %v", m.EnqueuedAt, m.LeasedAt)
	}
	if err := m.AckWithResult().Get(ctx(t)); err != nil {
		t.Fatalf("ack: %v", err)
	}
	s := stats(t, c, q)
	if s.Depth != 0 || s.InFlight != 0 || s.Totals.Acked != 1 {
		t.Fatalf("after ack: depth %d in flight %d acked %d", s.Depth, s.InFlight, s.Totals.Acked)
	}
	// A second ack of the same message is a no-op on the client: the first one counts.
	if err := m.AckWithResult().Get(ctx(t)); err != nil {
		t.Fatalf("second ack: %v", err)
	}
}

func TestNackRedeliversWithAttemptCount(t *testing.T) {
	t.Parallel()
	c := newClient(t, "")
	q := newQueue(t, c, &fila.QueueConfig{RetryBackoffBase: 10 * time.Millisecond})
	id, err := c.Enqueue(ctx(t), q, []byte("job"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cons := c.Lease(ctx(t), q, nil)
	defer cons.Close()
	first := take(t, cons, 1, 10*time.Second)[0]
	if err := first.NackWithResult("disk full").Get(ctx(t)); err != nil {
		t.Fatalf("nack: %v", err)
	}
	again := take(t, cons, 1, 10*time.Second)[0]
	if again.ID != id || again.AttemptCount != 1 || again.LastError != "disk full" {
		t.Fatalf("redelivered %q attempts %d last error %q", again.ID, again.AttemptCount, again.LastError)
	}
	if again.LeaseID == first.LeaseID {
		t.Fatal("a redelivery has a new lease id")
	}
	// The first delivery's lease is gone: acking with it is refused.
	err = c.Ack(ctx(t), q, first.ID, first.LeaseID)
	if !errors.Is(err, fila.ErrFailedPrecondition) {
		t.Fatalf("stale ack: %v", err)
	}
	again.Ack()
}

func TestAckUnknownIDIsMessageNotFound(t *testing.T) {
	t.Parallel()
	c := newClient(t, "")
	q := newQueue(t, c, nil)
	err := c.Ack(ctx(t), q, "no-such-message", "")
	var fe *fila.Error
	if !errors.Is(err, fila.ErrMessageNotFound) || !errors.Is(err, fila.ErrNotFound) || !errors.As(err, &fe) {
		t.Fatalf("Ack(unknown) = %v", err)
	}
	if fe.Op != "AckBatch" || fe.Code.String() != "NotFound" || errors.Is(err, fila.ErrQueueNotFound) {
		t.Fatalf("error fields: %+v", fe)
	}
	if err := c.Nack(ctx(t), q, "no-such-message", "", "x"); !errors.Is(err, fila.ErrMessageNotFound) {
		t.Fatalf("Nack(unknown) = %v", err)
	}
	errs, err := c.ExtendLease(ctx(t), q, []fila.LeaseRef{{MessageID: "no-such-message"}}, time.Second)
	if err != nil || len(errs) != 1 || !errors.Is(errs[0], fila.ErrMessageNotFound) {
		t.Fatalf("ExtendLease(unknown) = %v, %v", errs, err)
	}
}

func TestReceiveAcksOnNilAndNacksOnError(t *testing.T) {
	t.Parallel()
	c := newClient(t, "")
	q := newQueue(t, c, &fila.QueueConfig{RetryBackoffBase: 10 * time.Millisecond})
	ids := enqueueN(t, c, q, 10, nil)
	rctx, cancel := context.WithCancel(ctx(t))
	var handled, retried atomic.Int64
	done := make(chan error, 1)
	go func() {
		done <- c.Receive(rctx, q, &fila.ConsumerSettings{Credit: 4}, func(_ context.Context, m *fila.Message) error {
			handled.Add(1)
			if m.AttemptCount == 0 && m.ID == ids[3] {
				return fmt.Errorf("transient failure of %s", m.ID)
			}
			if m.AttemptCount == 1 {
				retried.Add(1)
			}
			return nil
		})
	}()
	waitFor(t, 15*time.Second, "10 acks", func() bool { return stats(t, c, q).Totals.Acked == 10 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Receive returned %v after cancel", err)
	}
	s := stats(t, c, q)
	if handled.Load() != 11 || retried.Load() != 1 || s.Totals.Nacked != 1 || s.Depth != 0 {
		t.Fatalf("handled %d retried %d nacked %d depth %d", handled.Load(), retried.Load(), s.Totals.Nacked, s.Depth)
	}
}

func TestLeasesOfHeldMessagesAreExtended(t *testing.T) {
	t.Parallel()
	c := newClient(t, "")
	q := newQueue(t, c, &fila.QueueConfig{VisibilityTimeout: 600 * time.Millisecond})
	enqueueN(t, c, q, 1, nil)
	var calls atomic.Int64
	rctx, cancel := context.WithCancel(ctx(t))
	done := make(chan error, 1)
	go func() {
		done <- c.Receive(rctx, q, nil, func(hctx context.Context, m *fila.Message) error {
			calls.Add(1)
			// The work: three visibility timeouts long. Without extension the lease would
			// expire and the message be delivered again.
			select {
			case <-time.After(1800 * time.Millisecond):
			case <-hctx.Done():
			}
			return nil
		})
	}()
	waitFor(t, 15*time.Second, "the ack", func() bool { return stats(t, c, q).Totals.Acked == 1 })
	cancel()
	<-done
	s := stats(t, c, q)
	if calls.Load() != 1 || s.Totals.Expired != 0 || s.Totals.Leased != 1 {
		t.Fatalf("handler calls %d, expired %d, leased %d", calls.Load(), s.Totals.Expired, s.Totals.Leased)
	}
}

func TestClassicConsumeStream(t *testing.T) {
	t.Parallel()
	c := newClient(t, "")
	q := newQueue(t, c, nil)
	ids := enqueueN(t, c, q, 5, nil)
	cons := c.Consume(ctx(t), q, nil)
	got := take(t, cons, 5, 10*time.Second)
	for i, m := range got {
		if m.ID != ids[i] {
			t.Fatalf("message %d: %s, want %s", i, m.ID, ids[i])
		}
		m.Ack()
	}
	if err := cons.Close(); err != nil {
		t.Fatal(err)
	}
	if cons.Err() != nil {
		t.Fatalf("Err after Close = %v", cons.Err())
	}
	waitFor(t, 5*time.Second, "5 acks", func() bool { return stats(t, c, q).Totals.Acked == 5 })
}
