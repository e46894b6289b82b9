package fila_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	fila "github.com/fila-project/fila/sdks/go"
)

// rpcCounter counts the unary RPCs a client sends, by method.
type rpcCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (r *rpcCounter) interceptor() grpc.DialOption {
	r.n = map[string]int{}
	return grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any,
		cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		r.mu.Lock()
		r.n[method[strings.LastIndex(method, "/")+1:]]++
		r.mu.Unlock()
		return invoker(ctx, method, req, reply, cc, opts...)
	})
}

func (r *rpcCounter) get(method string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[method]
}

func TestProducerBatchesFor64Goroutines(t *testing.T) {
	t.Parallel()
	var rpcs rpcCounter
	c := newClient(t, "", fila.WithDialOptions(rpcs.interceptor()))
	q := newQueue(t, c, nil)
	p := c.NewProducer(&fila.ProducerSettings{Linger: 5 * time.Millisecond, MaxMessages: 100})
	const workers, each = 64, 20
	ids := make([][]string, workers)
	var refused atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				queue := q
				if w == 7 && i == 3 {
					queue = q + "-missing" // one caller's message is refused: only it hears so
				}
				id, err := p.Enqueue(ctx(t), queue, []byte(fmt.Sprintf("%d/%d", w, i)), nil)
				switch {
				case queue != q:
					if !errors.Is(err, fila.ErrQueueNotFound) {
						t.Errorf("message to a missing queue: %q, %v", id, err)
					}
					refused.Add(1)
				case err != nil || id == "":
					t.Errorf("worker %d message %d: %q, %v", w, i, id, err)
				default:
					ids[w] = append(ids[w], id)
				}
			}
		}()
	}
	wg.Wait()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, list := range ids {
		for _, id := range list {
			if seen[id] {
				t.Fatalf("id %s returned to two callers", id)
			}
			seen[id] = true
		}
	}
	total := workers*each - 1
	if len(seen) != total || refused.Load() != 1 {
		t.Fatalf("%d distinct ids, %d refused; want %d and 1", len(seen), refused.Load(), total)
	}
	batches, singles := rpcs.get("EnqueueBatch"), rpcs.get("Enqueue")
	st := p.Stats()
	t.Logf("%d messages in %d EnqueueBatch RPCs", st.Messages, batches)
	if batches == 0 || batches >= total/4 || singles != 0 || st.Batches != int64(batches) {
		t.Fatalf("%d EnqueueBatch and %d Enqueue RPCs for %d messages (stats %+v)", batches, singles, total, st)
	}
	if s := stats(t, c, q); s.Depth != uint64(total) {
		t.Fatalf("depth %d, want %d", s.Depth, total)
	}
	// Every message is in the queue, with the payload its caller sent.
	peeked, err := c.Peek(ctx(t), q, 2000)
	if err != nil || len(peeked) != total {
		t.Fatalf("Peek: %d, %v", len(peeked), err)
	}
	for _, m := range peeked {
		if !seen[m.ID] {
			t.Fatalf("peeked %s, which no caller was given", m.ID)
		}
	}
	if _, err := p.Enqueue(ctx(t), q, nil, nil); !errors.Is(err, fila.ErrClosed) {
		t.Fatalf("Enqueue after Close = %v", err)
	}
}

func TestProducerLoneMessageGoesAtOnce(t *testing.T) {
	t.Parallel()
	c := newClient(t, "")
	q := newQueue(t, c, nil)
	// A linger far longer than the test's patience: a lone message must not wait for it.
	p := c.NewProducer(&fila.ProducerSettings{Linger: time.Minute})
	defer p.Close()
	cctx, cancel := context.WithTimeout(ctx(t), 10*time.Second)
	defer cancel()
	for i := range 3 {
		if _, err := p.Enqueue(cctx, q, []byte("solo"), nil); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	res := p.Publish(fila.OutgoingMessage{Queue: q, Payload: []byte("async")})
	select {
	case <-res.Ready():
	case <-cctx.Done():
		t.Fatal("a published message never got its outcome")
	}
	if id, err := res.Get(cctx); err != nil || id == "" {
		t.Fatalf("Publish: %q, %v", id, err)
	}
}

func TestEnqueueBatchResultPerMessage(t *testing.T) {
	t.Parallel()
	c := newClient(t, "")
	q := newQueue(t, c, nil)
	res, err := c.EnqueueBatch(ctx(t), []fila.OutgoingMessage{
		{Queue: q, Payload: []byte("a")},
		{Queue: q + "-nope", Payload: []byte("b")},
		{Queue: "", Payload: []byte("c")},
		{Queue: q, Payload: []byte("d")},
	})
	if err != nil || len(res) != 4 {
		t.Fatalf("EnqueueBatch: %v, %v", res, err)
	}
	if res[0].Err != nil || res[3].Err != nil || res[0].ID == "" || res[0].ID == res[3].ID {
		t.Fatalf("accepted ones: %+v %+v", res[0], res[3])
	}
	if !errors.Is(res[1].Err, fila.ErrQueueNotFound) || !errors.Is(res[2].Err, fila.ErrInvalidArgument) {
		t.Fatalf("refused ones: %v / %v", res[1].Err, res[2].Err)
	}
}
