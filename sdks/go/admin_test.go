package fila_test

import (
	"context"
	"errors"
	"testing"
	"time"

	fila "github.com/fila-project/fila/sdks/go"
)

func TestQueueAdministration(t *testing.T) {
	t.Parallel()
	c := newClient(t, "")
	q := newQueue(t, c, &fila.QueueConfig{VisibilityTimeout: 5 * time.Second, MaxAttempts: 3})

	got, err := c.GetQueue(ctx(t), q)
	if err != nil || got.Name != q || got.Config.VisibilityTimeout != 5*time.Second || got.Config.MaxAttempts != 3 || got.DLQOf != "" {
		t.Fatalf("GetQueue: %+v, %v", got, err)
	}
	if got.Config.RetryBackoffBase != 100*time.Millisecond {
		t.Fatalf("defaults are filled in: %+v", got.Config)
	}
	dlq, err := c.GetQueue(ctx(t), fila.DLQName(q))
	if err != nil || dlq.DLQOf != q {
		t.Fatalf("GetQueue(dlq): %+v, %v", dlq, err)
	}
	cfg := got.Config
	cfg.MaxAttempts = 1
	cfg.OnEnqueueScript = `function on_enqueue(msg) return { fairness_key = "k" } end`
	if err := c.UpdateQueue(ctx(t), q, &cfg); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.GetQueue(ctx(t), q); got.Config.MaxAttempts != 1 || got.Config.OnEnqueueScript != cfg.OnEnqueueScript {
		t.Fatalf("after UpdateQueue: %+v", got.Config)
	}

	queues, err := c.ListQueues(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, info := range queues {
		names[info.Name] = true
	}
	if !names[q] || !names[fila.DLQName(q)] {
		t.Fatalf("ListQueues lacks %s or its DLQ", q)
	}

	// One failure dead-letters a message (MaxAttempts 1); peek at it, then redrive it.
	id, err := c.Enqueue(ctx(t), q, []byte("doomed"), map[string]string{"n": "1"})
	if err != nil {
		t.Fatal(err)
	}
	cons := c.Lease(ctx(t), q, nil)
	m := take(t, cons, 1, 10*time.Second)[0]
	if m.FairnessKey != "k" {
		t.Fatalf("the updated hook did not run: key %q", m.FairnessKey)
	}
	if err := m.NackWithResult("broken").Get(ctx(t)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the dead letter", func() bool { return stats(t, c, q).DLQDepth == 1 })
	peeked, err := c.Peek(ctx(t), fila.DLQName(q), 10)
	if err != nil || len(peeked) != 1 || peeked[0].ID != id || peeked[0].LastError != "broken" ||
		peeked[0].AttemptCount != 1 || peeked[0].Queue != fila.DLQName(q) || peeked[0].Headers["n"] != "1" {
		t.Fatalf("Peek(dlq): %+v, %v", peeked, err)
	}
	n, err := c.Redrive(ctx(t), fila.DLQName(q), 0)
	if err != nil || n != 1 {
		t.Fatalf("Redrive: %d, %v", n, err)
	}
	back := take(t, cons, 1, 10*time.Second)[0]
	if back.ID != id || back.AttemptCount != 0 {
		t.Fatalf("redriven: %s attempts %d", back.ID, back.AttemptCount)
	}
	back.Ack()
	if err := cons.Close(); err != nil {
		t.Fatal(err)
	}
	s := stats(t, c, q)
	if s.Totals.Redriven != 1 || s.Totals.DeadLettered != 1 || s.Totals.Acked != 1 || len(s.Hooks) == 0 {
		t.Fatalf("stats: %+v", s)
	}

	if err := c.DeleteQueue(ctx(t), q); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetQueue(ctx(t), q); !errors.Is(err, fila.ErrQueueNotFound) {
		t.Fatalf("GetQueue after DeleteQueue: %v", err)
	}
}

func TestRuntimeConfigAndThrottles(t *testing.T) {
	t.Parallel()
	c := newClient(t, "")
	q := newQueue(t, c, &fila.QueueConfig{OnEnqueueScript: `function on_enqueue(msg)
  return { fairness_key = "k", throttle_keys = { "provider:" .. msg.headers.provider } }
end`})
	prefix := q + "."
	if err := c.SetConfig(ctx(t), prefix+"a", "1"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetConfig(ctx(t), prefix+"b", "2"); err != nil {
		t.Fatal(err)
	}
	if v, err := c.GetConfig(ctx(t), prefix+"a"); v != "1" || err != nil {
		t.Fatalf("GetConfig: %q, %v", v, err)
	}
	all, err := c.ListConfig(ctx(t), prefix)
	if err != nil || len(all) != 2 || all[prefix+"b"] != "2" {
		t.Fatalf("ListConfig: %v, %v", all, err)
	}
	if err := c.SetConfig(ctx(t), prefix+"a", ""); err != nil { // empty deletes
		t.Fatal(err)
	}
	if _, err := c.GetConfig(ctx(t), prefix+"a"); !errors.Is(err, fila.ErrNotFound) {
		t.Fatalf("a deleted key: %v", err)
	}

	slow := "provider:" + q // a bucket of this test's own: buckets are broker-wide
	if err := c.SetThrottle(ctx(t), slow, 0.5, 2); err != nil {
		t.Fatal(err)
	}
	if v, _ := c.GetConfig(ctx(t), "throttle."+slow); v != "0.5,2" {
		t.Fatalf("throttle entry = %q", v)
	}
	enqueueN(t, c, q, 5, map[string]string{"provider": q})
	cons := c.Lease(ctx(t), q, &fila.ConsumerSettings{Credit: 10})
	defer cons.Close()
	for _, m := range take(t, cons, 2, 10*time.Second) { // the burst of 2, then the bucket is dry
		m.Ack()
	}
	waitFor(t, 5*time.Second, "the bucket to hold messages back", func() bool {
		s := stats(t, c, q)
		return len(s.Throttles) == 1 && s.Throttles[0].Key == slow && s.Throttles[0].Waiting == 3 &&
			s.Throttles[0].RatePerSecond == 0.5 && s.Throttles[0].Burst == 2
	})
	ex, err := c.Explain(ctx(t), q, "k")
	if err != nil || ex.Summary == "" || ex.Pending != 3 {
		t.Fatalf("Explain: %+v, %v", ex, err)
	}
	if err := c.ClearThrottle(ctx(t), slow); err != nil {
		t.Fatal(err)
	}
	for _, m := range take(t, cons, 3, 10*time.Second) { // no bucket, no limit
		m.Ack()
	}
}

func TestReceiveStopsWhenItsQueueIsDeleted(t *testing.T) {
	t.Parallel()
	c := newClient(t, "")
	q := newQueue(t, c, nil)
	enqueueN(t, c, q, 1, nil)
	handled := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- c.Receive(ctx(t), q, nil, func(context.Context, *fila.Message) error {
			handled <- struct{}{}
			return nil
		})
	}()
	<-handled
	if err := c.DeleteQueue(ctx(t), q); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, fila.ErrQueueNotFound) {
			t.Fatalf("Receive returned %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Receive did not stop when its queue was deleted")
	}
}
