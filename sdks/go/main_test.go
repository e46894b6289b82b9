package fila_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	fila "github.com/fila-project/fila/sdks/go"
	"github.com/fila-project/fila/sdks/go/internal/testbroker"
)

// shared is the broker most tests use (each on queues of its own); tests that need a broker
// configured otherwise (TLS, API keys, restarts) start their own.
var shared *testbroker.Broker

func TestMain(m *testing.M) {
	b, err := testbroker.Start(testbroker.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: cannot start the broker for the tests:", err)
		os.Exit(1)
	}
	shared = b
	code := m.Run()
	b.Cleanup()
	os.Exit(code)
}

// newClient is a client of addr (the shared broker if empty), closed when the test ends.
func newClient(t *testing.T, addr string, opts ...fila.Option) *fila.Client {
	t.Helper()
	if addr == "" {
		addr = shared.Addr
	}
	opts = append([]fila.Option{fila.WithTimeout(20 * time.Second)}, opts...)
	c, err := fila.NewClient(addr, opts...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

var queueSeq atomic.Int64
var unsafeChars = regexp.MustCompile(`[^a-zA-Z0-9_-]+`)

// newQueue creates a queue named after the test and returns its name.
func newQueue(t *testing.T, c *fila.Client, cfg *fila.QueueConfig) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", strings.ToLower(unsafeChars.ReplaceAllString(t.Name(), "-")), queueSeq.Add(1))
	if err := c.CreateQueue(ctx(t), name, cfg); err != nil {
		t.Fatalf("CreateQueue(%s): %v", name, err)
	}
	return name
}

// ctx is a context for one test: cancelled when it ends, with a deadline well inside go
// test's own.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// take reads n messages from a consumer, failing the test if they do not come in time.
func take(t *testing.T, cons *fila.Consumer, n int, timeout time.Duration) []*fila.Message {
	t.Helper()
	var got []*fila.Message
	deadline := time.After(timeout)
	for len(got) < n {
		select {
		case m, ok := <-cons.Messages():
			if !ok {
				t.Fatalf("consumer stopped after %d of %d messages: %v", len(got), n, cons.Err())
			}
			got = append(got, m)
		case <-deadline:
			t.Fatalf("got %d of %d messages in %s", len(got), n, timeout)
		}
	}
	return got
}

func enqueueN(t *testing.T, c *fila.Client, queue string, n int, headers map[string]string) []string {
	t.Helper()
	msgs := make([]fila.OutgoingMessage, n)
	for i := range msgs {
		msgs[i] = fila.OutgoingMessage{Queue: queue, Headers: headers, Payload: []byte(fmt.Sprintf("m%d", i))}
	}
	res, err := c.EnqueueBatch(ctx(t), msgs)
	if err != nil {
		t.Fatalf("EnqueueBatch: %v", err)
	}
	ids := make([]string, n)
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("message %d refused: %v", i, r.Err)
		}
		ids[i] = r.ID
	}
	return ids
}

func stats(t *testing.T, c *fila.Client, queue string) *fila.QueueStats {
	t.Helper()
	s, err := c.GetStats(ctx(t), queue)
	if err != nil {
		t.Fatalf("GetStats: %v", err)
	}
	return s
}
