package fila

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// maxBatchItems is the most items the broker takes in one batch RPC.
const maxBatchItems = 10_000

// batcher turns many single calls into batch RPCs, per key (a queue, or one key for all).
// Batching adapts to load like Nagle's algorithm without its delay: when no RPC is in flight
// for a key, an item goes out at once; while one is, items gather and go when it returns,
// when maxItems or maxBytes of them wait, or after linger at the latest. At most maxInFlight
// RPCs per key are out at once. Every item gets its own outcome.
type batcher[I, R any] struct {
	send   func(ctx context.Context, key string, items []I) ([]outcome[R], error)
	limits batchLimits

	mu      sync.Mutex
	groups  map[string]*group[I, R]
	closed  bool
	pending waitCounter // items submitted and not yet answered

	rpcs  atomic.Int64 // batch RPCs sent
	items atomic.Int64 // items sent
}

type batchLimits struct {
	linger      time.Duration
	maxItems    int
	maxBytes    int
	maxInFlight int
}

type group[I, R any] struct {
	items    []waiting[I, R]
	bytes    int
	busy     int // RPCs in flight
	timer    *time.Timer
	timerGen int
}

type waiting[I, R any] struct {
	item I
	size int
	f    *future[R]
}

// outcome is the result of one item: a value or an error.
type outcome[R any] struct {
	val R
	err error
}

// future is an outcome to come.
type future[R any] struct {
	done chan struct{}
	out  outcome[R]
	then func() // called once the outcome is in, if set
}

func newFuture[R any]() *future[R] { return &future[R]{done: make(chan struct{})} }

func (f *future[R]) resolve(o outcome[R]) {
	f.out = o
	close(f.done)
	if f.then != nil {
		f.then()
	}
}

func (f *future[R]) wait(ctx context.Context) (R, error) {
	select {
	case <-f.done:
		return f.out.val, f.out.err
	case <-ctx.Done():
		var zero R
		return zero, ctx.Err()
	}
}

func newBatcher[I, R any](send func(context.Context, string, []I) ([]outcome[R], error), l batchLimits) *batcher[I, R] {
	if l.maxItems < 1 || l.maxItems > maxBatchItems {
		l.maxItems = maxBatchItems
	}
	if l.maxBytes < 1 {
		l.maxBytes = 4 << 20
	}
	if l.maxInFlight < 1 {
		l.maxInFlight = 1
	}
	if l.linger < 0 {
		l.linger = 0
	}
	return &batcher[I, R]{send: send, limits: l, groups: make(map[string]*group[I, R])}
}

// submit queues item (of about size bytes) for key and returns its future outcome; then,
// if not nil, is called once the outcome is in.
func (b *batcher[I, R]) submit(key string, item I, size int, then func()) *future[R] {
	f := newFuture[R]()
	f.then = then
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		f.resolve(outcome[R]{err: ErrClosed})
		return f
	}
	g := b.groups[key]
	if g == nil {
		g = &group[I, R]{}
		b.groups[key] = g
	}
	if len(g.items) > 0 && g.bytes+size > b.limits.maxBytes {
		b.flushLocked(key, g) // this item would overflow the batch: send what waits first
	}
	g.items = append(g.items, waiting[I, R]{item, size, f})
	g.bytes += size
	b.pending.add(1)
	switch {
	case g.busy == 0, len(g.items) >= b.limits.maxItems, g.bytes >= b.limits.maxBytes:
		b.flushLocked(key, g) // idle: go now; or the batch is full
	case g.timer == nil:
		b.armLocked(key, g)
	}
	return f
}

// armLocked starts the linger timer of a group that has items waiting.
func (b *batcher[I, R]) armLocked(key string, g *group[I, R]) {
	gen := g.timerGen
	g.timer = time.AfterFunc(b.limits.linger, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if g.timerGen == gen {
			g.timer = nil
			b.flushLocked(key, g)
		}
	})
}

// flushLocked sends what waits in g, as many RPCs as it takes and the in-flight limit allows.
func (b *batcher[I, R]) flushLocked(key string, g *group[I, R]) {
	for len(g.items) > 0 && g.busy < b.limits.maxInFlight {
		if g.timer != nil {
			g.timer.Stop()
			g.timer = nil
		}
		g.timerGen++
		n, bytes := 0, 0
		for n < len(g.items) && n < b.limits.maxItems && (n == 0 || bytes+g.items[n].size <= b.limits.maxBytes) {
			bytes += g.items[n].size
			n++
		}
		batch := make([]waiting[I, R], n)
		copy(batch, g.items[:n])
		g.items = g.items[n:]
		g.bytes -= bytes
		g.busy++
		go b.run(key, g, batch)
		if len(g.items) < b.limits.maxItems && g.bytes < b.limits.maxBytes {
			break // what is left is not a full batch: it waits for company
		}
	}
	if len(g.items) > 0 && g.timer == nil && g.busy < b.limits.maxInFlight {
		b.armLocked(key, g)
	}
}

func (b *batcher[I, R]) run(key string, g *group[I, R], batch []waiting[I, R]) {
	items := make([]I, len(batch))
	for i, w := range batch {
		items[i] = w.item
	}
	b.rpcs.Add(1)
	b.items.Add(int64(len(items)))
	outs, err := b.send(context.Background(), key, items)
	for i, w := range batch {
		switch {
		case err != nil:
			w.f.resolve(outcome[R]{err: err})
		case i < len(outs):
			w.f.resolve(outs[i])
		default:
			w.f.resolve(outcome[R]{err: &Error{Op: "batch", Message: "the broker answered fewer results than items"}})
		}
	}
	b.mu.Lock()
	g.busy--
	if len(g.items) > 0 {
		b.flushLocked(key, g) // what gathered while this call was out goes now
	} else if g.busy == 0 {
		delete(b.groups, key)
	}
	b.mu.Unlock()
	b.pending.add(-len(batch))
}

// flush sends everything waiting now and returns once every item submitted so far has its
// outcome (or ctx ends).
func (b *batcher[I, R]) flush(ctx context.Context) error {
	b.mu.Lock()
	for key, g := range b.groups {
		b.flushLocked(key, g)
	}
	b.mu.Unlock()
	return b.pending.waitZero(ctx)
}

// close refuses new items, then flushes.
func (b *batcher[I, R]) close(ctx context.Context) error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return b.flush(ctx)
}

// waitCounter counts outstanding work; waitZero returns when it drops to zero.
type waitCounter struct {
	mu      sync.Mutex
	n       int
	waiters []chan struct{}
}

func (w *waitCounter) add(d int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n += d
	if w.n <= 0 {
		w.n = 0
		for _, ch := range w.waiters {
			close(ch)
		}
		w.waiters = nil
	}
}

func (w *waitCounter) waitZero(ctx context.Context) error {
	w.mu.Lock()
	if w.n == 0 {
		w.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	w.waiters = append(w.waiters, ch)
	w.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
