package fila

import (
	"time"

	"github.com/fila-project/fila/sdks/go/filapb"
)

// DLQSuffix ends the name of every dead-letter queue: queue q's is q + DLQSuffix.
const DLQSuffix = ".dlq"

// DLQName is the name of queue's dead-letter queue.
func DLQName(queue string) string { return queue + DLQSuffix }

// QueueConfig is a queue's settings; a zero field means the broker's default.
type QueueConfig struct {
	// OnEnqueueScript is Lua source defining on_enqueue(msg), which returns the message's
	// fairness_key, weight and throttle_keys (empty: key "default", weight 1).
	OnEnqueueScript string
	// OnFailureScript is Lua source defining on_failure(msg), which returns
	// { action = "retry", delay_ms = N } or { action = "dlq" } (empty: retry with backoff).
	OnFailureScript string
	// VisibilityTimeout is how long a lease lasts (default 30s, at most 12h; ms precision).
	VisibilityTimeout time.Duration
	// MaxAttempts is how many failures dead-letter a message under the default policy (10).
	MaxAttempts uint32
	// RetryBackoffBase and RetryBackoffMax shape the default retry delay:
	// min(base * 2^(attempts-1), max), defaults 100ms and 60s.
	RetryBackoffBase time.Duration
	RetryBackoffMax  time.Duration
	// Lua limits of this queue's hooks (0: the broker's defaults).
	LuaInstructionBudget uint64
	LuaMemoryBytes       uint64
	LuaTimeLimit         time.Duration
}

func ms(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	return uint64(d / time.Millisecond)
}

func fromMS(v uint64) time.Duration { return time.Duration(v) * time.Millisecond }

func (q *QueueConfig) proto() *filapb.QueueConfig {
	if q == nil {
		return &filapb.QueueConfig{}
	}
	return &filapb.QueueConfig{
		OnEnqueueScript:      q.OnEnqueueScript,
		OnFailureScript:      q.OnFailureScript,
		VisibilityTimeoutMs:  ms(q.VisibilityTimeout),
		MaxAttempts:          q.MaxAttempts,
		RetryBackoffBaseMs:   ms(q.RetryBackoffBase),
		RetryBackoffMaxMs:    ms(q.RetryBackoffMax),
		LuaInstructionBudget: q.LuaInstructionBudget,
		LuaMemoryBytes:       q.LuaMemoryBytes,
		LuaTimeLimitMs:       uint32(ms(q.LuaTimeLimit)),
	}
}

func queueConfigFrom(c *filapb.QueueConfig) QueueConfig {
	return QueueConfig{
		OnEnqueueScript:      c.GetOnEnqueueScript(),
		OnFailureScript:      c.GetOnFailureScript(),
		VisibilityTimeout:    fromMS(c.GetVisibilityTimeoutMs()),
		MaxAttempts:          c.GetMaxAttempts(),
		RetryBackoffBase:     fromMS(c.GetRetryBackoffBaseMs()),
		RetryBackoffMax:      fromMS(c.GetRetryBackoffMaxMs()),
		LuaInstructionBudget: c.GetLuaInstructionBudget(),
		LuaMemoryBytes:       c.GetLuaMemoryBytes(),
		LuaTimeLimit:         fromMS(uint64(c.GetLuaTimeLimitMs())),
	}
}

// Queue is a queue's settings as GetQueue returns them (defaults filled in).
type Queue struct {
	Name   string
	Config QueueConfig
	// DLQOf is, for a dead-letter queue, the queue whose failures it holds.
	DLQOf string
}

// QueueInfo is one queue of ListQueues.
type QueueInfo struct {
	Name            string
	Depth           uint64 // messages ready or waiting (not leased)
	InFlight        uint64 // leased
	ActiveConsumers uint32
}

// KeyStats is one fairness key of a queue in GetStats.
type KeyStats struct {
	Key          string
	Pending      uint64
	Deficit      int64 // DRR credit left
	Weight       uint32
	Delivered    uint64  // leased since the key was last active
	DeliveryRate float64 // deliveries per second, recent
	FairShare    float64 // the part of the deliveries the key can get
	ActualShare  float64 // the part it got, recently
	FairRate     float64 // deliveries per second it can get (0: unbounded)
	LimitedBy    string  // throttle key(s), "consumers", or ""
}

// ThrottleStats is one token bucket in GetStats.
type ThrottleStats struct {
	Key           string
	Tokens        float64
	RatePerSecond float64
	Burst         float64
	Passed        uint64 // checks that found a token
	Hits          uint64 // checks that found the bucket empty
	Waiting       uint64 // ready messages held back now by this bucket
}

// HookStats is one Lua hook of a queue in GetStats.
type HookStats struct {
	Hook            string // "on_enqueue" or "on_failure"
	Configured      bool
	Calls, Errors   uint64
	P50, P99        time.Duration
	BreakerState    string // "closed", "open" or "half-open"
	BreakerOpenings uint64
}

// Totals are a queue's counters since the broker started.
type Totals struct {
	Enqueued, Leased, Acked, Nacked, Expired, DeadLettered, Redriven uint64
}

// QueueStats is GetStats of one queue.
type QueueStats struct {
	Depth              uint64 // ready or waiting (not leased)
	InFlight           uint64
	Ready              uint64
	Delayed            uint64 // waiting for a retry delay
	DLQDepth           uint64
	ActiveFairnessKeys uint64
	ActiveConsumers    uint32
	Quantum            uint32
	DRRRounds          uint64
	Keys               []KeyStats
	Throttles          []ThrottleStats
	Hooks              []HookStats
	Totals             Totals
	DeliveryRate       float64 // per second, recent
	EnqueueRate        float64
	LeaderNodeID       uint64
	ReplicationCount   uint32
}

func us(v float64) time.Duration { return time.Duration(v * float64(time.Microsecond)) }

func queueStatsFrom(r *filapb.GetStatsResponse) *QueueStats {
	s := &QueueStats{
		Depth: r.GetDepth(), InFlight: r.GetInFlight(), Ready: r.GetReady(), Delayed: r.GetDelayed(),
		DLQDepth: r.GetDlqDepth(), ActiveFairnessKeys: r.GetActiveFairnessKeys(),
		ActiveConsumers: r.GetActiveConsumers(), Quantum: r.GetQuantum(), DRRRounds: r.GetDrrRounds(),
		Totals: Totals{
			Enqueued: r.GetEnqueuedTotal(), Leased: r.GetLeasedTotal(), Acked: r.GetAckedTotal(),
			Nacked: r.GetNackedTotal(), Expired: r.GetExpiredTotal(),
			DeadLettered: r.GetDeadLetteredTotal(), Redriven: r.GetRedrivenTotal(),
		},
		DeliveryRate: r.GetDeliveryRate(), EnqueueRate: r.GetEnqueueRate(),
		LeaderNodeID: r.GetLeaderNodeId(), ReplicationCount: r.GetReplicationCount(),
	}
	for _, k := range r.GetPerKeyStats() {
		s.Keys = append(s.Keys, KeyStats{
			Key: k.GetKey(), Pending: k.GetPendingCount(), Deficit: k.GetCurrentDeficit(),
			Weight: k.GetWeight(), Delivered: k.GetDelivered(), DeliveryRate: k.GetDeliveryRate(),
			FairShare: k.GetFairShare(), ActualShare: k.GetActualShare(), FairRate: k.GetFairRate(),
			LimitedBy: k.GetLimitedBy(),
		})
	}
	for _, t := range r.GetPerThrottleStats() {
		s.Throttles = append(s.Throttles, ThrottleStats{
			Key: t.GetKey(), Tokens: t.GetTokens(), RatePerSecond: t.GetRatePerSecond(),
			Burst: t.GetBurst(), Passed: t.GetPassed(), Hits: t.GetHits(), Waiting: t.GetWaiting(),
		})
	}
	for _, h := range r.GetHooks() {
		s.Hooks = append(s.Hooks, HookStats{
			Hook: h.GetHook(), Configured: h.GetConfigured(), Calls: h.GetCalls(), Errors: h.GetErrors(),
			P50: us(h.GetP50Us()), P99: us(h.GetP99Us()), BreakerState: h.GetBreakerState(),
			BreakerOpenings: h.GetBreakerOpenings(),
		})
	}
	return s
}

// Explanation says why a fairness key is waiting, in plain words (Explain).
type Explanation struct {
	Summary    string   // the main reason
	Reasons    []string // every reason that applies, most important first
	Pending    uint64
	InFlight   uint64
	Delayed    uint64
	Weight     uint32
	ActiveKeys uint64
	Consumers  uint32
}

// Permission kinds of an ACL.
const (
	PermProduce = "produce"
	PermConsume = "consume"
	PermAdmin   = "admin"
)

// Permission allows one kind of call (PermProduce, PermConsume, PermAdmin) on the queues a
// pattern names: "*", a queue name, or a prefix pattern such as "orders.*".
type Permission struct {
	Kind    string
	Pattern string
}

// APIKey describes an API key (never its secret).
type APIKey struct {
	ID         string
	Name       string
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero: never
	Superadmin bool
}

// APIKeyOptions are the optional settings of CreateAPIKey.
type APIKeyOptions struct {
	ExpiresAt  time.Time // zero: never
	Superadmin bool
}

func timeFromMS(v uint64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(v))
}
