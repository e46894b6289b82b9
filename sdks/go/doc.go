// Package fila is the Go client of Fila, a message broker with fair scheduling (weighted
// round robin over fairness keys, e.g. tenants) and per-key throttling, decided by Lua hooks.
// It speaks the broker's gRPC contract, fila.v1 (the generated stubs are in package filapb).
//
//	client, err := fila.NewClient("127.0.0.1:5555")
//	if err != nil { ... }
//	defer client.Close()
//
//	// Produce: one call, or a Producer that batches for many goroutines.
//	id, err := client.Enqueue(ctx, "jobs", []byte("hello"), map[string]string{"tenant": "acme"})
//	producer := client.NewProducer(nil)
//	defer producer.Close()
//	id, err = producer.Enqueue(ctx, "jobs", []byte("hello"), nil)
//
//	// Consume: a handler (nil: ack, error: nack) ...
//	err = client.Receive(ctx, "jobs", nil, func(ctx context.Context, m *fila.Message) error {
//		return work(m.Payload)
//	})
//	// ... or a channel.
//	cons := client.Lease(ctx, "jobs", &fila.ConsumerSettings{Credit: 10})
//	for msg := range cons.Messages() {
//		msg.Ack()
//	}
//
// Every call has a deadline (WithTimeout, or the context's own) and is retried with backoff
// while the broker is unavailable (RetryPolicy); consumers re-open their streams by
// themselves. Errors are *Error values: test them with errors.Is against ErrQueueNotFound,
// ErrOverloaded and the other sentinels, and read RetryAfter with errors.As.
package fila
