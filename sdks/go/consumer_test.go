package fila_test

import (
	"testing"
	"time"

	fila "github.com/fila-project/fila/sdks/go"
)

func TestLeaseNeverHoldsMoreThanItsCredit(t *testing.T) {
	t.Parallel()
	c := newClient(t, "")
	q := newQueue(t, c, nil)
	enqueueN(t, c, q, 60, nil)
	cons := c.Lease(ctx(t), q, &fila.ConsumerSettings{Credit: 5, MaxBatch: 2})
	defer cons.Close()

	held := take(t, cons, 5, 10*time.Second)
	waitFor(t, 5*time.Second, "5 in flight", func() bool { return stats(t, c, q).InFlight == 5 })
	// Holding 5 unacked messages, the consumer gets no sixth: watch the broker for a while.
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
		select {
		case m := <-cons.Messages():
			t.Fatalf("a sixth message arrived while 5 were unacked: %s", m.ID)
		case <-time.After(20 * time.Millisecond):
		}
		if s := stats(t, c, q); s.InFlight > 5 {
			t.Fatalf("in flight %d > credit 5", s.InFlight)
		}
	}
	// Acking frees one slot each: the rest flows through, never more than 5 held at once.
	maxHeld := 0
	for got := 5; got < 60; got++ {
		held[0].Ack()
		held = held[1:]
		m := take(t, cons, 1, 10*time.Second)[0]
		held = append(held, m)
		if h := cons.Stats().Held; h > maxHeld {
			maxHeld = h
		}
		if s := stats(t, c, q); s.InFlight > 5 {
			t.Fatalf("in flight %d > credit 5", s.InFlight)
		}
	}
	if maxHeld > 5 {
		t.Fatalf("held %d messages at once with credit 5", maxHeld)
	}
	// Raising the credit is sent to the broker on the open stream.
	enqueueN(t, c, q, 10, nil)
	cons.SetCredit(12)
	take(t, cons, 7, 10*time.Second)
	waitFor(t, 5*time.Second, "12 in flight", func() bool { return stats(t, c, q).InFlight == 12 })
}

func TestConsumerCountsItself(t *testing.T) {
	t.Parallel()
	c := newClient(t, "")
	q := newQueue(t, c, nil)
	enqueueN(t, c, q, 3, nil)
	cons := c.Lease(ctx(t), q, nil)
	msgs := take(t, cons, 3, 10*time.Second)
	if st := cons.Stats(); st.Delivered != 3 || st.Held != 3 || st.Reconnects != 0 {
		t.Fatalf("stats %+v", st)
	}
	for _, m := range msgs {
		m.Ack()
	}
	if err := cons.Close(); err != nil {
		t.Fatal(err)
	}
	if st := cons.Stats(); st.Held != 0 {
		t.Fatalf("after acks: %+v", st)
	}
	// Close waited for the acks: they are on the broker.
	if s := stats(t, c, q); s.Totals.Acked != 3 {
		t.Fatalf("acked %d", s.Totals.Acked)
	}
	if _, ok := <-cons.Messages(); ok {
		t.Fatal("Messages still open after Close")
	}
}
