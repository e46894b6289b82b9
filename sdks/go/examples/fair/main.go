// Fair scheduling: acme floods the queue, globex and initech send a few messages each, and
// one consumer still sees the three tenants take turns.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"

	fila "github.com/fila-project/fila/sdks/go"
)

func main() {
	ctx := context.Background()
	client, err := fila.NewClient(cmp.Or(os.Getenv("FILA_ADDR"), "127.0.0.1:5555"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	hook := `function on_enqueue(msg) return { fairness_key = msg.headers.tenant } end`
	err = client.CreateQueue(ctx, "fair-demo", &fila.QueueConfig{OnEnqueueScript: hook})
	if err != nil && !errors.Is(err, fila.ErrAlreadyExists) {
		log.Fatal(err)
	}

	var msgs []fila.OutgoingMessage // acme sends 8 messages first, then globex and initech 3 each
	for _, tenant := range strings.Fields(strings.Repeat("acme ", 8) + "globex globex globex initech initech initech") {
		msgs = append(msgs, fila.OutgoingMessage{Queue: "fair-demo", Headers: map[string]string{"tenant": tenant}})
	}
	results, err := client.EnqueueBatch(ctx, msgs)
	for _, r := range results {
		err = cmp.Or(err, r.Err)
	}
	if err != nil {
		log.Fatal(err)
	}

	consumer := client.Lease(ctx, "fair-demo", nil) // one consumer takes all 14
	var order []string
	for msg := range consumer.Messages() {
		order = append(order, msg.FairnessKey)
		msg.Ack()
		if len(order) == len(msgs) {
			break
		}
	}
	if err := consumer.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Join(order, " "))
}
