package fila_test

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	fila "github.com/fila-project/fila/sdks/go"
	"github.com/fila-project/fila/sdks/go/internal/testbroker"
)

func TestConsumerAndProducerSurviveABrokerRestart(t *testing.T) {
	t.Parallel()
	b := testbroker.MustStart(t, testbroker.Options{})
	c := newClient(t, b.Addr, fila.WithTimeout(30*time.Second))
	q := newQueue(t, c, nil)
	cons := c.Lease(ctx(t), q, &fila.ConsumerSettings{Credit: 10})
	defer cons.Close()

	before := enqueueN(t, c, q, 6, nil)
	got := take(t, cons, 6, 10*time.Second)
	for _, m := range got[:5] {
		if err := m.AckWithResult().Get(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}
	unacked := got[5] // leased when the broker dies: ready again after the restart

	b.Kill()
	// A message enqueued while the broker is down waits (retrying) until it is back.
	p := c.NewProducer(nil)
	defer p.Close()
	during := p.Publish(fila.OutgoingMessage{Queue: q, Payload: []byte("sent while down")})
	if err := b.Restart(); err != nil {
		t.Fatalf("restarting the broker on port %d: %v", b.Port, err)
	}
	duringID, err := during.Get(ctx(t))
	if err != nil {
		t.Fatalf("the message published while the broker was down: %v", err)
	}
	after := enqueueN(t, c, q, 3, nil)

	want := map[string]bool{unacked.ID: true, duringID: true}
	for _, id := range after {
		want[id] = true
	}
	for _, m := range take(t, cons, len(want), 30*time.Second) {
		if !want[m.ID] {
			t.Fatalf("unexpected delivery %s (acked before the restart: %v)", m.ID, before[:5])
		}
		if m.ID == unacked.ID && m.AttemptCount != 0 {
			t.Fatalf("a restart counted as a failure: attempts %d", m.AttemptCount)
		}
		delete(want, m.ID)
		m.Ack()
	}
	unacked.Ack() // its old lease died with the broker: refused, and harmless
	if st := cons.Stats(); st.Reconnects < 1 {
		t.Fatalf("stats %+v: the stream was never re-opened", st)
	}
	if err := cons.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the queue to drain", func() bool {
		s := stats(t, c, q)
		return s.Depth == 0 && s.InFlight == 0
	})
}

// follower stands in for a node of a cluster that does not lead the queue: it answers every
// call with UNAVAILABLE and the leader's address in the x-fila-leader-addr trailer, as the
// original broker's followers do. The leader is the real broker.
func follower(t *testing.T, leader string) (addr string, hits *atomic.Int64) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hits = new(atomic.Int64)
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		hits.Add(1)
		stream.SetTrailer(metadata.Pairs(fila.LeaderAddrKey, leader))
		return status.Error(codes.Unavailable, "not the leader of this queue")
	}))
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), hits
}

func TestCallsAndStreamsFollowTheLeaderRedirect(t *testing.T) {
	t.Parallel()
	addr, hits := follower(t, shared.Addr)

	c := newClient(t, addr)
	q := newQueue(t, c, nil) // CreateQueue is redirected to the leader
	if c.Addr() != shared.Addr || hits.Load() != 1 {
		t.Fatalf("after a redirect the client talks to %s (follower hit %d times)", c.Addr(), hits.Load())
	}
	id, err := c.Enqueue(ctx(t), q, []byte("via the leader"), nil)
	if err != nil || hits.Load() != 1 {
		t.Fatalf("Enqueue: %v (follower hit %d times)", err, hits.Load())
	}

	// A consumer whose stream is the first call of its client follows the redirect too.
	c2 := newClient(t, addr)
	// (ExtendEvery set: the consumer does not look up the queue's visibility timeout.)
	cons := c2.Lease(ctx(t), q, &fila.ConsumerSettings{ExtendEvery: 10 * time.Second})
	defer cons.Close()
	m := take(t, cons, 1, 10*time.Second)[0]
	if m.ID != id || hits.Load() != 2 || c2.Addr() != shared.Addr {
		t.Fatalf("leased %s (want %s), follower hit %d times", m.ID, id, hits.Load())
	}
	if err := m.AckWithResult().Get(ctx(t)); err != nil {
		t.Fatal(err)
	}
}
