package fila_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	fila "github.com/fila-project/fila/sdks/go"
)

// rawCodec passes messages through as bytes.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// legacyBroker puts the real broker behind a proxy that offers only the original broker's
// RPCs: Fila's additions (the batch RPCs, Lease, ExtendLease) answer UNIMPLEMENTED, as an
// original broker does. Everything else goes through, byte for byte.
func legacyBroker(t *testing.T, upstreamAddr string) (addr string, calls func(string) int) {
	t.Helper()
	upstream, err := grpc.NewClient(upstreamAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = upstream.Close() })
	additions := map[string]bool{"EnqueueBatch": true, "AckBatch": true, "NackBatch": true, "Lease": true, "ExtendLease": true}
	var mu sync.Mutex
	seen := map[string]int{}
	proxy := func(_ any, ss grpc.ServerStream) error {
		method, _ := grpc.MethodFromServerStream(ss)
		name := method[strings.LastIndex(method, "/")+1:]
		mu.Lock()
		seen[name]++
		mu.Unlock()
		if additions[name] {
			return status.Errorf(codes.Unimplemented, "unknown method %s", name)
		}
		cs, err := upstream.NewStream(ss.Context(), &grpc.StreamDesc{ServerStreams: true, ClientStreams: true},
			method, grpc.ForceCodec(rawCodec{}))
		if err != nil {
			return err
		}
		go func() {
			for {
				var b []byte
				if ss.RecvMsg(&b) != nil {
					_ = cs.CloseSend()
					return
				}
				if cs.SendMsg(&b) != nil {
					return
				}
			}
		}()
		for {
			var b []byte
			if err := cs.RecvMsg(&b); err != nil {
				ss.SetTrailer(cs.Trailer())
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			if err := ss.SendMsg(&b); err != nil {
				return err
			}
		}
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}), grpc.UnknownServiceHandler(proxy))
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), func(name string) int {
		mu.Lock()
		defer mu.Unlock()
		return seen[name]
	}
}

func TestWithoutFilasAdditionsTheSingleRPCsAreUsed(t *testing.T) {
	t.Parallel()
	addr, calls := legacyBroker(t, shared.Addr)
	c := newClient(t, addr)
	q := newQueue(t, c, &fila.QueueConfig{RetryBackoffBase: 10 * time.Millisecond})

	p := c.NewProducer(nil)
	results := make([]*fila.PublishResult, 30)
	for i := range results {
		results[i] = p.Publish(fila.OutgoingMessage{Queue: q, Payload: []byte("old school")})
	}
	ids := map[string]bool{}
	for _, r := range results {
		id, err := r.Get(ctx(t))
		if err != nil {
			t.Fatalf("Publish through a broker without EnqueueBatch: %v", err)
		}
		ids[id] = true
	}
	// The first EnqueueBatch is refused (and any sent at the same time); then singles only.
	if len(ids) != 30 || calls("EnqueueBatch") < 1 || calls("EnqueueBatch") > 4 || calls("Enqueue") != 30 {
		t.Fatalf("%d ids; %d EnqueueBatch, %d Enqueue calls", len(ids), calls("EnqueueBatch"), calls("Enqueue"))
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	cons := c.Lease(ctx(t), q, &fila.ConsumerSettings{ExtendEvery: time.Minute})
	defer cons.Close()
	got := take(t, cons, 30, 10*time.Second)
	if calls("Lease") != 1 || calls("Consume") != 1 {
		t.Fatalf("%d Lease, %d Consume streams", calls("Lease"), calls("Consume"))
	}
	nacked := got[0]
	if err := nacked.NackWithResult("again").Get(ctx(t)); err != nil {
		t.Fatalf("Nack without NackBatch: %v", err)
	}
	for _, m := range got[1:] {
		if err := m.AckWithResult().Get(ctx(t)); err != nil {
			t.Fatalf("Ack without AckBatch: %v", err)
		}
	}
	again := take(t, cons, 1, 10*time.Second)[0]
	if again.ID != nacked.ID || again.AttemptCount != 1 {
		t.Fatalf("redelivered %s attempts %d", again.ID, again.AttemptCount)
	}
	if err := c.Ack(context.Background(), q, again.ID, again.LeaseID); err != nil {
		t.Fatal(err)
	}
	if calls("Ack") != 30 || calls("Nack") != 1 {
		t.Fatalf("%d Ack, %d Nack calls", calls("Ack"), calls("Nack"))
	}
}
