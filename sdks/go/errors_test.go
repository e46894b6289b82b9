package fila_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	fila "github.com/fila-project/fila/sdks/go"
	"github.com/fila-project/fila/sdks/go/internal/testbroker"
)

func TestErrorsAreMapped(t *testing.T) {
	t.Parallel()
	c := newClient(t, "")
	q := newQueue(t, c, nil)

	_, err := c.Enqueue(ctx(t), "no-such-queue", []byte("x"), nil)
	var fe *fila.Error
	if !errors.Is(err, fila.ErrQueueNotFound) || !errors.Is(err, fila.ErrNotFound) || !errors.As(err, &fe) {
		t.Fatalf("Enqueue to a missing queue: %v", err)
	}
	if fe.Op != "Enqueue" || fe.Code != codes.NotFound || !strings.Contains(fe.Message, "no-such-queue") ||
		status.Code(err) != codes.NotFound || errors.Is(err, fila.ErrMessageNotFound) {
		t.Fatalf("fields: %+v (%v)", fe, status.Code(err))
	}
	if _, err := c.GetStats(ctx(t), "no-such-queue"); !errors.Is(err, fila.ErrQueueNotFound) {
		t.Fatalf("GetStats of a missing queue: %v", err)
	}
	if _, err := c.Enqueue(ctx(t), "", nil, nil); !errors.Is(err, fila.ErrInvalidArgument) {
		t.Fatalf("empty queue name: %v", err)
	}
	err = c.CreateQueue(ctx(t), q+"-bad", &fila.QueueConfig{OnEnqueueScript: "function on_enqueue(msg) return {"})
	if !errors.Is(err, fila.ErrInvalidArgument) {
		t.Fatalf("a script that does not compile: %v", err)
	}
	if err := c.CreateQueue(ctx(t), q, nil); !errors.Is(err, fila.ErrAlreadyExists) {
		t.Fatalf("creating a queue twice: %v", err)
	}
	if _, err := c.GetConfig(ctx(t), "no.such.key"); !errors.Is(err, fila.ErrNotFound) || errors.Is(err, fila.ErrQueueNotFound) {
		t.Fatalf("a config key that is not set: %v", err)
	}
	if err := c.UpdateQueue(ctx(t), fila.DLQName(q), nil); !errors.Is(err, fila.ErrFailedPrecondition) {
		t.Fatalf("updating a DLQ: %v", err)
	}

	// A lease stream on a missing queue stops, with the reason.
	cons := c.Lease(ctx(t), "no-such-queue", nil)
	select {
	case _, ok := <-cons.Messages():
		if ok {
			t.Fatal("a message from a missing queue")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the consumer of a missing queue did not stop")
	}
	if err := cons.Err(); !errors.Is(err, fila.ErrQueueNotFound) {
		t.Fatalf("consumer Err = %v", err)
	}
	if err := cons.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOverloadedCarriesRetryAfter(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	conf := filepath.Join(dir, "fila.toml")
	if err := os.WriteFile(conf, []byte("[limits]\nmax_pending_bytes = 20000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := testbroker.MustStart(t, testbroker.Options{Args: []string{"--config", conf}})
	c := newClient(t, b.Addr)
	q := newQueue(t, c, nil)
	var err error
	accepted := 0
	for ; accepted < 1000; accepted++ {
		if _, err = c.Enqueue(ctx(t), q, make([]byte, 1000), nil); err != nil {
			break
		}
	}
	var fe *fila.Error
	if !errors.Is(err, fila.ErrOverloaded) || !errors.As(err, &fe) || !fe.Temporary() {
		t.Fatalf("after %d messages: %v", accepted, err)
	}
	if fe.RetryAfter != 100*time.Millisecond {
		t.Fatalf("RetryAfter = %v, want the broker's 100ms", fe.RetryAfter)
	}
	// In a batch, the refused messages are refused one by one.
	res, err := c.EnqueueBatch(ctx(t), []fila.OutgoingMessage{{Queue: q, Payload: make([]byte, 1000)}})
	if err != nil || !errors.Is(res[0].Err, fila.ErrOverloaded) {
		t.Fatalf("EnqueueBatch when full: %v, %v", res, err)
	}
}

func TestUnreachableBrokerIsUnavailable(t *testing.T) {
	t.Parallel()
	b := testbroker.MustStart(t, testbroker.Options{})
	b.Kill() // a port nothing listens on any more
	c := newClient(t, b.Addr, fila.WithTimeout(500*time.Millisecond))
	start := time.Now()
	_, err := c.ListQueues(context.Background()) // no deadline of its own: the client's applies
	if !errors.Is(err, fila.ErrUnavailable) {
		t.Fatalf("ListQueues with no broker: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the call took %s, its timeout is 500ms", took)
	}
	// No retries: the first failure is the answer.
	c1 := newClient(t, b.Addr, fila.WithRetry(fila.RetryPolicy{MaxAttempts: 1}))
	start = time.Now()
	if _, err := c1.ListQueues(context.Background()); !errors.Is(err, fila.ErrUnavailable) || time.Since(start) > 5*time.Second {
		t.Fatalf("ListQueues without retries: %v after %s", err, time.Since(start))
	}
}
