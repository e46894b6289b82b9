// Command bench measures the batched lifecycle through the Go SDK: it produces N messages
// with the batching Producer while a consumer leases them and acks them (acks batched by the
// client), and prints the acked messages per second.
//
//	go run ./bench                      # starts its own broker (../../.venv), N=200,000
//	go run ./bench -addr 127.0.0.1:5555 -n 50000 -size 100
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	fila "github.com/fila-project/fila/sdks/go"
	"github.com/fila-project/fila/sdks/go/internal/testbroker"
)

func main() {
	addr := flag.String("addr", os.Getenv("FILA_ADDR"), "broker address (default: start a broker of this checkout)")
	n := flag.Int("n", 200_000, "messages")
	size := flag.Int("size", 100, "payload bytes")
	credit := flag.Int("credit", 1000, "consumer credit (unacked messages held)")
	batch := flag.Int("batch", 1000, "producer MaxMessages per EnqueueBatch")
	linger := flag.Duration("linger", 5*time.Millisecond, "producer linger")
	flag.Parse()
	if *addr == "" {
		b, err := testbroker.Start(testbroker.Options{})
		if err != nil {
			log.Fatalf("starting a broker: %v", err)
		}
		defer b.Cleanup()
		*addr = b.Addr
		fmt.Printf("started fila serve on %s\n", b.Addr)
	}
	if err := run(*addr, *n, *size, *credit, *batch, *linger); err != nil {
		log.Fatal(err)
	}
}

func run(addr string, n, size, credit, batch int, linger time.Duration) error {
	ctx := context.Background()
	client, err := fila.NewClient(addr, fila.WithTimeout(time.Minute))
	if err != nil {
		return err
	}
	defer client.Close()
	queue := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	if err := client.CreateQueue(ctx, queue, nil); err != nil {
		return err
	}
	defer client.DeleteQueue(ctx, queue)

	consumer := client.Lease(ctx, queue, &fila.ConsumerSettings{Credit: credit, MaxBatch: min(credit, 1000)})
	consumed := make(chan time.Duration, 1)
	start := time.Now()
	go func() {
		seen := make(map[string]struct{}, n)
		for msg := range consumer.Messages() {
			msg.Ack()
			seen[msg.ID] = struct{}{}
			if len(seen) == n {
				break
			}
		}
		_ = consumer.Close() // waits until every ack is answered
		consumed <- time.Since(start)
	}()

	producer := client.NewProducer(&fila.ProducerSettings{MaxMessages: batch, Linger: linger})
	payload := make([]byte, size)
	results := make([]*fila.PublishResult, n)
	for i := range results {
		results[i] = producer.Publish(fila.OutgoingMessage{Queue: queue, Payload: payload})
	}
	for i, r := range results {
		if _, err := r.Get(ctx); err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
	}
	produced := time.Since(start)
	_ = producer.Close()
	var took time.Duration
	select {
	case took = <-consumed:
	case <-time.After(10 * time.Minute):
		return fmt.Errorf("consumer stopped early or stalled: %v", cmp.Or(consumer.Err(), fmt.Errorf("timeout")))
	}
	if err := consumer.Err(); err != nil {
		return err
	}
	st := producer.Stats()
	fmt.Printf("produced %d x %d B in %.2fs (%.0f msg/s, %d EnqueueBatch RPCs)\n",
		n, size, produced.Seconds(), float64(n)/produced.Seconds(), st.Batches)
	fmt.Printf("acked    %d in %.2fs: %.0f acked msg/s\n", n, took.Seconds(), float64(n)/took.Seconds())
	return nil
}
