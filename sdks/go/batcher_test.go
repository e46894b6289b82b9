package fila

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// recorder is a batcher's send function that records each batch and answers when released.
type recorder struct {
	mu      sync.Mutex
	batches [][]int
	gate    chan struct{} // each send waits for one token (nil: answer at once)
}

func (r *recorder) send(_ context.Context, _ string, items []int) ([]outcome[int], error) {
	r.mu.Lock()
	r.batches = append(r.batches, append([]int(nil), items...))
	r.mu.Unlock()
	if r.gate != nil {
		<-r.gate
	}
	outs := make([]outcome[int], len(items))
	for i, v := range items {
		if v < 0 {
			outs[i].err = errors.New("negative")
		} else {
			outs[i].val = v * 10
		}
	}
	return outs, nil
}

func (r *recorder) sizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for _, b := range r.batches {
		out = append(out, len(b))
	}
	return out
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBatcherSendsAtOnceWhenIdleAndGathersWhileBusy(t *testing.T) {
	r := &recorder{gate: make(chan struct{})}
	b := newBatcher(r.send, batchLimits{linger: time.Hour, maxItems: 100, maxBytes: 1 << 20, maxInFlight: 1})
	first := b.submit("q", 1, 1, nil)
	waitUntil(t, "the first item to go alone", func() bool { return len(r.sizes()) == 1 })
	var rest []*future[int]
	for i := 2; i <= 6; i++ {
		rest = append(rest, b.submit("q", i, 1, nil))
	}
	if got := r.sizes(); len(got) != 1 {
		t.Fatalf("sent %v while a batch was in flight", got)
	}
	r.gate <- struct{}{} // the first call returns: what gathered goes now, in one batch
	if v, err := first.wait(context.Background()); v != 10 || err != nil {
		t.Fatalf("first = %d, %v", v, err)
	}
	waitUntil(t, "the gathered batch", func() bool { return len(r.sizes()) == 2 })
	r.gate <- struct{}{}
	for i, f := range rest {
		if v, err := f.wait(context.Background()); v != (i+2)*10 || err != nil {
			t.Fatalf("item %d = %d, %v", i+2, v, err)
		}
	}
	if got := r.sizes(); got[0] != 1 || got[1] != 5 {
		t.Fatalf("batches %v, want [1 5]", got)
	}
}

func TestBatcherLimits(t *testing.T) {
	r := &recorder{gate: make(chan struct{}, 100)}
	b := newBatcher(r.send, batchLimits{linger: time.Hour, maxItems: 3, maxBytes: 10, maxInFlight: 2})
	b.submit("q", 0, 1, nil) // goes alone (idle), and stays in flight
	waitUntil(t, "the first batch", func() bool { return len(r.sizes()) == 1 })
	for i := 1; i <= 3; i++ { // a full batch (maxItems) goes without waiting for linger
		b.submit("q", i, 1, nil)
	}
	waitUntil(t, "the full batch", func() bool { return len(r.sizes()) == 2 })
	// Two in flight: more items wait, then go in batches of at most maxItems and maxBytes.
	var fs []*future[int]
	for i := 4; i <= 8; i++ {
		fs = append(fs, b.submit("q", i, 4, nil)) // 4 bytes each: two fit in 10
	}
	for range 10 {
		r.gate <- struct{}{}
	}
	for _, f := range fs {
		if _, err := f.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range r.sizes()[2:] {
		if n > 2 {
			t.Fatalf("batches %v: one is over maxBytes", r.sizes())
		}
	}
}

func TestBatcherLingerFlushesAndPerItemErrors(t *testing.T) {
	r := &recorder{gate: make(chan struct{}, 100)}
	b := newBatcher(r.send, batchLimits{linger: 20 * time.Millisecond, maxItems: 100, maxBytes: 1 << 20, maxInFlight: 4})
	blocker := b.submit("q", 1, 1, nil) // in flight until released
	waitUntil(t, "the first batch", func() bool { return len(r.sizes()) == 1 })
	bad := b.submit("q", -1, 1, nil)
	good := b.submit("q", 2, 1, nil)
	// No call returns, but linger passes: the two go (a second call is allowed in flight).
	waitUntil(t, "linger to flush", func() bool { return len(r.sizes()) == 2 })
	r.gate <- struct{}{}
	r.gate <- struct{}{}
	if _, err := bad.wait(context.Background()); err == nil {
		t.Fatal("the bad item got no error")
	}
	if v, err := good.wait(context.Background()); v != 20 || err != nil {
		t.Fatalf("good = %d, %v", v, err)
	}
	if _, err := blocker.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.submit("q", 3, 1, nil).wait(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestItemErrorMapping(t *testing.T) {
	cases := []struct {
		op, code, msg string
		want          error
	}{
		{"AckBatch", "NOT_FOUND", "message 'x' is not leased from queue 'q'", ErrMessageNotFound},
		{"EnqueueBatch", "NOT_FOUND", "queue 'q' does not exist", ErrQueueNotFound},
		{"GetConfig", "NOT_FOUND", "config key 'k' is not set", ErrNotFound},
		{"EnqueueBatch", "RESOURCE_EXHAUSTED", "max_pending_bytes", ErrOverloaded},
		{"Enqueue", "PERMISSION_DENIED", "", ErrPermissionDenied},
		{"Enqueue", "UNAUTHENTICATED", "", ErrUnauthenticated},
		{"Enqueue", "UNAVAILABLE", "", ErrUnavailable},
		{"Enqueue", "INVALID_ARGUMENT", "", ErrInvalidArgument},
	}
	for _, c := range cases {
		err := itemError(c.op, c.code, c.msg)
		if !errors.Is(err, c.want) {
			t.Errorf("%s %s %q: %v is not %v", c.op, c.code, c.msg, err, c.want)
		}
	}
	if errors.Is(itemError("GetConfig", "NOT_FOUND", "config key"), ErrQueueNotFound) {
		t.Error("a config key is not a queue")
	}
}
