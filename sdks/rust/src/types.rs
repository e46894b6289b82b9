//! The admin API's types: queue settings, stats, API keys and permissions.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::proto;

/// The suffix of every dead-letter queue: queue `q`'s is `q.dlq`.
pub const DLQ_SUFFIX: &str = ".dlq";

/// The name of `queue`'s dead-letter queue.
pub fn dlq_name(queue: &str) -> String {
    format!("{queue}{DLQ_SUFFIX}")
}

/// A queue's settings; a zero (or empty) field means the broker's default.
///
/// ```
/// let hook = "function on_enqueue(msg) return { fairness_key = msg.headers.tenant } end";
/// let cfg = fila::QueueConfig::new().on_enqueue(hook).visibility_timeout(std::time::Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueConfig {
    /// Lua source defining `on_enqueue(msg)`, which returns the message's `fairness_key`,
    /// `weight` and `throttle_keys` (empty: key `"default"`, weight 1).
    pub on_enqueue_script: String,
    /// Lua source defining `on_failure(msg)`, which returns `{ action = "retry", delay_ms =
    /// N }` or `{ action = "dlq" }` (empty: retry with backoff).
    pub on_failure_script: String,
    /// How long a lease lasts (default 30s, at most 12h; millisecond precision).
    pub visibility_timeout: Duration,
    /// How many failures dead-letter a message under the default policy (default 10).
    pub max_attempts: u32,
    /// The default retry delay, `min(base * 2^(attempts-1), max)`: defaults 100ms and 60s.
    pub retry_backoff_base: Duration,
    pub retry_backoff_max: Duration,
    /// Lua limits of this queue's hooks (zero: the broker's defaults).
    pub lua_instruction_budget: u64,
    pub lua_memory_bytes: u64,
    pub lua_time_limit: Duration,
}

fn ms(d: Duration) -> u64 {
    d.as_millis().try_into().unwrap_or(u64::MAX)
}

impl QueueConfig {
    /// The defaults: no hooks, 30s visibility timeout, 10 attempts.
    pub fn new() -> Self {
        QueueConfig::default()
    }

    /// With this `on_enqueue` hook.
    #[must_use]
    pub fn on_enqueue(mut self, lua: impl Into<String>) -> Self {
        self.on_enqueue_script = lua.into();
        self
    }

    /// With this `on_failure` hook.
    #[must_use]
    pub fn on_failure(mut self, lua: impl Into<String>) -> Self {
        self.on_failure_script = lua.into();
        self
    }

    /// With this visibility timeout.
    #[must_use]
    pub fn visibility_timeout(mut self, d: Duration) -> Self {
        self.visibility_timeout = d;
        self
    }

    /// With this default retry policy: `max_attempts` failures, backoff from `base`.
    #[must_use]
    pub fn retries(mut self, max_attempts: u32, base: Duration, max: Duration) -> Self {
        (self.max_attempts, self.retry_backoff_base, self.retry_backoff_max) =
            (max_attempts, base, max);
        self
    }

    pub(crate) fn to_proto(&self) -> proto::QueueConfig {
        proto::QueueConfig {
            on_enqueue_script: self.on_enqueue_script.clone(),
            on_failure_script: self.on_failure_script.clone(),
            visibility_timeout_ms: ms(self.visibility_timeout),
            max_attempts: self.max_attempts,
            retry_backoff_base_ms: ms(self.retry_backoff_base),
            retry_backoff_max_ms: ms(self.retry_backoff_max),
            lua_instruction_budget: self.lua_instruction_budget,
            lua_memory_bytes: self.lua_memory_bytes,
            lua_time_limit_ms: ms(self.lua_time_limit).try_into().unwrap_or(u32::MAX),
        }
    }

    pub(crate) fn from_proto(c: proto::QueueConfig) -> Self {
        QueueConfig {
            on_enqueue_script: c.on_enqueue_script,
            on_failure_script: c.on_failure_script,
            visibility_timeout: Duration::from_millis(c.visibility_timeout_ms),
            max_attempts: c.max_attempts,
            retry_backoff_base: Duration::from_millis(c.retry_backoff_base_ms),
            retry_backoff_max: Duration::from_millis(c.retry_backoff_max_ms),
            lua_instruction_budget: c.lua_instruction_budget,
            lua_memory_bytes: c.lua_memory_bytes,
            lua_time_limit: Duration::from_millis(c.lua_time_limit_ms.into()),
        }
    }
}

/// A queue's settings as [`Client::get_queue`](crate::Client::get_queue) returns them
/// (defaults filled in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    pub name: String,
    pub config: QueueConfig,
    /// For a dead-letter queue, the queue whose failures it holds; empty otherwise.
    pub dlq_of: String,
}

/// One queue of [`Client::list_queues`](crate::Client::list_queues): `name`, `depth`
/// (ready or waiting), `in_flight` (leased), `active_consumers`.
pub type QueueInfo = proto::QueueInfo;
/// One fairness key of a queue in [`QueueStats`]: pending messages, DRR deficit, weight,
/// deliveries and shares.
pub type KeyStats = proto::PerFairnessKeyStats;
/// One token bucket in [`QueueStats`]: tokens, rate, burst, passes, hits, waiting messages.
pub type ThrottleStats = proto::PerThrottleKeyStats;
/// One Lua hook of a queue in [`QueueStats`]: calls, errors, latency, circuit breaker.
pub type HookStats = proto::HookStats;
/// Why a fairness key is waiting, in plain words ([`Client::explain`](crate::Client::explain)):
/// `summary`, every `reasons`, and the facts they were drawn from.
pub type Explanation = proto::ExplainResponse;

/// A queue's counters since the broker started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub enqueued: u64,
    pub leased: u64,
    pub acked: u64,
    pub nacked: u64,
    pub expired: u64,
    pub dead_lettered: u64,
    pub redriven: u64,
}

/// [`Client::stats`](crate::Client::stats) of one queue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueStats {
    /// Messages ready or waiting (not leased).
    pub depth: u64,
    pub in_flight: u64,
    pub ready: u64,
    /// Waiting for a retry delay to pass.
    pub delayed: u64,
    /// Messages in the queue's dead-letter queue.
    pub dlq_depth: u64,
    pub active_fairness_keys: u64,
    pub active_consumers: u32,
    pub quantum: u32,
    pub drr_rounds: u64,
    pub keys: Vec<KeyStats>,
    pub throttles: Vec<ThrottleStats>,
    pub hooks: Vec<HookStats>,
    pub totals: Totals,
    /// Deliveries and enqueues per second, over the last few seconds.
    pub delivery_rate: f64,
    pub enqueue_rate: f64,
}

impl From<proto::GetStatsResponse> for QueueStats {
    fn from(r: proto::GetStatsResponse) -> Self {
        QueueStats {
            depth: r.depth,
            in_flight: r.in_flight,
            ready: r.ready,
            delayed: r.delayed,
            dlq_depth: r.dlq_depth,
            active_fairness_keys: r.active_fairness_keys,
            active_consumers: r.active_consumers,
            quantum: r.quantum,
            drr_rounds: r.drr_rounds,
            keys: r.per_key_stats,
            throttles: r.per_throttle_stats,
            hooks: r.hooks,
            totals: Totals {
                enqueued: r.enqueued_total,
                leased: r.leased_total,
                acked: r.acked_total,
                nacked: r.nacked_total,
                expired: r.expired_total,
                dead_lettered: r.dead_lettered_total,
                redriven: r.redriven_total,
            },
            delivery_rate: r.delivery_rate,
            enqueue_rate: r.enqueue_rate,
        }
    }
}

/// What a new API key may be ([`Client::create_api_key`](crate::Client::create_api_key)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiKeyOptions {
    /// When the key stops working (`None`: never).
    pub expires_at: Option<SystemTime>,
    /// A superadmin may do everything, ACLs and keys included.
    pub superadmin: bool,
}

/// A key just made: its id and the secret itself, which the broker shows only this once.
#[derive(Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub id: String,
    pub key: String,
    pub superadmin: bool,
}

impl std::fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret: keys end up in logs through Debug.
        f.debug_struct("NewApiKey")
            .field("id", &self.id)
            .field("superadmin", &self.superadmin)
            .finish()
    }
}

/// An API key as [`Client::list_api_keys`](crate::Client::list_api_keys) describes it
/// (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub created_at: Option<SystemTime>,
    pub expires_at: Option<SystemTime>,
    pub superadmin: bool,
}

pub(crate) fn time_from_ms(ms: u64) -> Option<SystemTime> {
    (ms != 0).then(|| UNIX_EPOCH + Duration::from_millis(ms))
}

pub(crate) fn ms_since_epoch(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, ms)
}

/// Allows one kind of call (`"produce"`, `"consume"` or `"admin"`) on the queues a pattern
/// names: `"*"`, a queue name, or a prefix pattern such as `"orders.*"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Permission {
    pub kind: String,
    pub pattern: String,
}

impl Permission {
    /// May enqueue to the queues `pattern` names.
    pub fn produce(pattern: impl Into<String>) -> Self {
        Permission { kind: "produce".into(), pattern: pattern.into() }
    }
    /// May lease, ack and nack from the queues `pattern` names.
    pub fn consume(pattern: impl Into<String>) -> Self {
        Permission { kind: "consume".into(), pattern: pattern.into() }
    }
    /// May administer the queues `pattern` names.
    pub fn admin(pattern: impl Into<String>) -> Self {
        Permission { kind: "admin".into(), pattern: pattern.into() }
    }
}

/// An API key's permissions ([`Client::get_acl`](crate::Client::get_acl)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    pub permissions: Vec<Permission>,
    pub superadmin: bool,
}
