//! The `FilaAdmin` calls: queues, runtime config, throttles, stats, dead letters, API keys.

use std::collections::BTreeMap;

use crate::client::Client;
use crate::error::Result;
use crate::message::Message;
use crate::proto;
use crate::types::{
    Acl, ApiKey, ApiKeyOptions, Explanation, NewApiKey, Permission, Queue, QueueConfig, QueueInfo,
    QueueStats, ms_since_epoch, time_from_ms,
};

/// One admin call: `$method` of the generated `FilaAdmin` stub, with the client's deadline,
/// API key, retries and error mapping.
macro_rules! admin {
    ($self:ident, $op:literal, $method:ident, $req:expr) => {
        $self.invoke($op, &$req, |c, r| async move { c.admin().$method(r).await })
    };
}

impl Client {
    /// Creates a queue, and its dead-letter queue `name.dlq`. A queue that exists already
    /// is [`Error::AlreadyExists`](crate::Error::AlreadyExists); a script that does not
    /// compile is [`Error::InvalidArgument`](crate::Error::InvalidArgument).
    pub async fn create_queue(&self, name: &str, config: QueueConfig) -> Result<()> {
        let req = proto::CreateQueueRequest { name: name.into(), config: Some(config.to_proto()) };
        admin!(self, "CreateQueue", create_queue, req).await.map(drop)
    }

    /// Replaces a queue's scripts and settings as a whole (a field left zero goes back to
    /// its default): start from [`get_queue`](Client::get_queue) to change one. A bad script
    /// changes nothing.
    pub async fn update_queue(&self, name: &str, config: QueueConfig) -> Result<()> {
        let req = proto::UpdateQueueRequest { name: name.into(), config: Some(config.to_proto()) };
        admin!(self, "UpdateQueue", update_queue, req).await.map(drop)
    }

    /// A queue's settings, defaults filled in.
    pub async fn get_queue(&self, name: &str) -> Result<Queue> {
        let r = admin!(self, "GetQueue", get_queue, proto::GetQueueRequest { name: name.into() })
            .await?;
        let config = QueueConfig::from_proto(r.config.unwrap_or_default());
        Ok(Queue { name: r.name, config, dlq_of: r.dlq_of })
    }

    /// Deletes a queue, its dead-letter queue and every message in them.
    pub async fn delete_queue(&self, name: &str) -> Result<()> {
        admin!(self, "DeleteQueue", delete_queue, proto::DeleteQueueRequest { queue: name.into() })
            .await
            .map(drop)
    }

    /// Every queue the client may see.
    pub async fn list_queues(&self) -> Result<Vec<QueueInfo>> {
        Ok(admin!(self, "ListQueues", list_queues, proto::ListQueuesRequest {}).await?.queues)
    }

    /// Sets a runtime config key (read by Lua hooks with `fila.get`); an empty value deletes
    /// it.
    pub async fn set_config(&self, key: &str, value: &str) -> Result<()> {
        let req = proto::SetConfigRequest { key: key.into(), value: value.into() };
        admin!(self, "SetConfig", set_config, req).await.map(drop)
    }

    /// A runtime config value; a key that is not set is
    /// [`Error::NotFound`](crate::Error::NotFound).
    pub async fn get_config(&self, key: &str) -> Result<String> {
        Ok(admin!(self, "GetConfig", get_config, proto::GetConfigRequest { key: key.into() })
            .await?
            .value)
    }

    /// Every runtime config key starting with `prefix`, and its value.
    pub async fn list_config(&self, prefix: &str) -> Result<BTreeMap<String, String>> {
        let r = admin!(
            self,
            "ListConfig",
            list_config,
            proto::ListConfigRequest { prefix: prefix.into() }
        )
        .await?;
        Ok(r.entries.into_iter().map(|e| (e.key, e.value)).collect())
    }

    /// Gives throttle key `key` a token bucket: `rate_per_second` tokens a second, at most
    /// `burst` of them (`burst <= 0`: `max(1, rate)`). It is the runtime config entry
    /// `throttle.<key>` = `"<rate>,<burst>"`; every queue whose messages name the key shares
    /// it.
    pub async fn set_throttle(&self, key: &str, rate_per_second: f64, burst: f64) -> Result<()> {
        let burst = if burst > 0.0 { burst } else { rate_per_second.max(1.0) };
        self.set_config(&format!("throttle.{key}"), &format!("{rate_per_second},{burst}")).await
    }

    /// Removes the token bucket of throttle key `key`: its messages are no longer limited.
    pub async fn clear_throttle(&self, key: &str) -> Result<()> {
        self.set_config(&format!("throttle.{key}"), "").await
    }

    /// A queue's depth, in-flight count, consumers, fairness keys, throttles, hooks and
    /// totals.
    pub async fn stats(&self, queue: &str) -> Result<QueueStats> {
        let r = admin!(self, "GetStats", get_stats, proto::GetStatsRequest { queue: queue.into() })
            .await?;
        Ok(r.into())
    }

    /// Moves up to `count` (0: all) ready messages of a dead-letter queue back to its
    /// queue, oldest first; how many moved.
    pub async fn redrive(&self, dlq: &str, count: u64) -> Result<u64> {
        let req = proto::RedriveRequest { dlq_queue: dlq.into(), count };
        Ok(admin!(self, "Redrive", redrive, req).await?.redriven)
    }

    /// Up to `limit` (0: 100) messages of a queue, oldest first, without leasing them.
    pub async fn peek(&self, queue: &str, limit: u32) -> Result<Vec<Message>> {
        let req = proto::PeekMessagesRequest { queue: queue.into(), limit };
        let r = admin!(self, "PeekMessages", peek_messages, req).await?;
        Ok(r.messages
            .into_iter()
            .map(|m| Message::from_proto(m, self.clone(), None, queue))
            .collect())
    }

    /// Why a fairness key of a queue is waiting, in plain words from live state.
    pub async fn explain(&self, queue: &str, fairness_key: &str) -> Result<Explanation> {
        let req = proto::ExplainRequest { queue: queue.into(), fairness_key: fairness_key.into() };
        admin!(self, "Explain", explain, req).await
    }

    /// Creates an API key (superadmins only). A new key may do nothing until
    /// [`set_acl`](Client::set_acl) gives it permissions.
    pub async fn create_api_key(&self, name: &str, options: ApiKeyOptions) -> Result<NewApiKey> {
        let req = proto::CreateApiKeyRequest {
            name: name.into(),
            expires_at_ms: options.expires_at.map_or(0, ms_since_epoch),
            is_superadmin: options.superadmin,
        };
        let r = admin!(self, "CreateApiKey", create_api_key, req).await?;
        Ok(NewApiKey { id: r.key_id, key: r.key, superadmin: r.is_superadmin })
    }

    /// Deletes a key: its next call fails, and its open streams end.
    pub async fn revoke_api_key(&self, id: &str) -> Result<()> {
        admin!(
            self,
            "RevokeApiKey",
            revoke_api_key,
            proto::RevokeApiKeyRequest { key_id: id.into() }
        )
        .await
        .map(drop)
    }

    /// Every API key (never their secrets).
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>> {
        let r = admin!(self, "ListApiKeys", list_api_keys, proto::ListApiKeysRequest {}).await?;
        Ok(r.keys
            .into_iter()
            .map(|k| ApiKey {
                id: k.key_id,
                name: k.name,
                created_at: time_from_ms(k.created_at_ms),
                expires_at: time_from_ms(k.expires_at_ms),
                superadmin: k.is_superadmin,
            })
            .collect())
    }

    /// Replaces the permissions of an API key.
    pub async fn set_acl(&self, id: &str, permissions: &[Permission]) -> Result<()> {
        let req = proto::SetAclRequest {
            key_id: id.into(),
            permissions: permissions
                .iter()
                .map(|p| proto::AclPermission { kind: p.kind.clone(), pattern: p.pattern.clone() })
                .collect(),
        };
        admin!(self, "SetAcl", set_acl, req).await.map(drop)
    }

    /// The permissions of an API key, and whether it is a superadmin.
    pub async fn get_acl(&self, id: &str) -> Result<Acl> {
        let r = admin!(self, "GetAcl", get_acl, proto::GetAclRequest { key_id: id.into() }).await?;
        let permissions = r
            .permissions
            .into_iter()
            .map(|p| Permission { kind: p.kind, pattern: p.pattern })
            .collect();
        Ok(Acl { permissions, superadmin: r.is_superadmin })
    }
}
