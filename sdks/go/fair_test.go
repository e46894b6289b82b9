package fila_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	fila "github.com/fila-project/fila/sdks/go"
)

// The quickstart's hook (docs/quickstart.md): schedule every message by its tenant, and give
// each tenant its own throttle key.
const tenantHook = `-- Schedule every message by its tenant, and give each tenant its own rate limit key.
function on_enqueue(msg)
  local tenant = msg.headers.tenant or "anonymous"
  return {
    fairness_key = tenant,
    throttle_keys = { "tenant:" .. tenant },
  }
end`

func TestFairSchedulingAcrossThreeTenants(t *testing.T) {
	t.Parallel()
	c := newClient(t, "")
	q := newQueue(t, c, &fila.QueueConfig{OnEnqueueScript: tenantHook})
	// acme floods the queue first; globex and initech come after it.
	enqueueN(t, c, q, 40, map[string]string{"tenant": "acme"})
	enqueueN(t, c, q, 10, map[string]string{"tenant": "globex"})
	enqueueN(t, c, q, 10, map[string]string{"tenant": "initech"})

	s := stats(t, c, q)
	if s.ActiveFairnessKeys != 3 || len(s.Keys) != 3 {
		t.Fatalf("%d active keys: %+v", s.ActiveFairnessKeys, s.Keys)
	}
	cons := c.Lease(ctx(t), q, &fila.ConsumerSettings{Credit: 60})
	defer cons.Close()
	var order []string
	for _, m := range take(t, cons, 60, 10*time.Second) {
		if m.ThrottleKeys[0] != "tenant:"+m.FairnessKey {
			t.Fatalf("throttle keys %v for %s", m.ThrottleKeys, m.FairnessKey)
		}
		order = append(order, m.FairnessKey)
		m.Ack()
	}
	// A FIFO queue would deliver 40 acme messages first. DRR serves the tenants in turn:
	// every round of three has each tenant once, until only acme has messages left.
	for round := 0; round < 10; round++ {
		got := map[string]int{}
		for _, k := range order[round*3 : round*3+3] {
			got[k]++
		}
		if got["acme"] != 1 || got["globex"] != 1 || got["initech"] != 1 {
			t.Fatalf("round %d is %v; deliveries: %s", round, order[round*3:round*3+3], strings.Join(order, " "))
		}
	}
	for i, k := range order[30:] {
		if k != "acme" {
			t.Fatalf("delivery %d is %s after globex and initech ran out", 30+i, k)
		}
	}
	t.Log(fmt.Sprint(order[:9]))
}
