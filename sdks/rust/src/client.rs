//! The client: connections (TLS, API key, redirects), its builder, and closing.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::batcher::{Batcher, Limits, MAX_BATCH_ITEMS};
use crate::error::{Error, Result};
use crate::hotpath::AckItem;
use crate::proto::NackItem;
use crate::proto::fila_admin_client::FilaAdminClient;
use crate::proto::fila_service_client::FilaServiceClient;
use crate::retry::{RetryPolicy, bearer};

/// The largest gRPC message the client sends or accepts (as the broker does).
const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// A connection to a Fila broker: the hot path (enqueue, lease, ack, ...) and the admin
/// API. Cheap to clone (the clones share the connection and the ack batches): make one per
/// broker and share it between tasks.
///
/// A call made while the broker is unreachable is retried with backoff within its deadline
/// ([`RetryPolicy`]). When a broker of a cluster answers that another node leads the queue
/// (the `x-fila-leader-addr` trailer), the client dials that node and sends the call there.
///
/// [`close`](Client::close) sends the acks and nacks still waiting in their batches and
/// refuses later calls. Dropping every clone without closing also lets the waiting acks go
/// out in the background (while the Tokio runtime runs); only `close` waits for them.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
    timeout: Duration,
}

pub(crate) struct Inner {
    pub(crate) retry: RetryPolicy,
    pub(crate) auth: Option<MetadataValue<Ascii>>,
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) acks: Batcher<AckItem, ()>,
    pub(crate) nacks: Batcher<NackItem, ()>,
    /// The broker answered UNIMPLEMENTED to a batch RPC: it is the original broker
    /// (legacy.rs).
    pub(crate) no_batch_rpcs: AtomicBool,
    tls: Option<ClientTlsConfig>,
    connect_timeout: Duration,
    conns: Mutex<Conns>,
    closed: tokio::sync::watch::Sender<bool>,
}

struct Conns {
    current: Conn,
    by_addr: HashMap<String, Conn>,
}

/// One HTTP/2 connection (kept up, and re-made after it breaks, by tonic) and its address.
#[derive(Clone)]
pub(crate) struct Conn {
    pub(crate) addr: Arc<str>,
    channel: Channel,
}

impl Conn {
    pub(crate) fn svc(&self) -> FilaServiceClient<Channel> {
        FilaServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    pub(crate) fn admin(&self) -> FilaAdminClient<Channel> {
        FilaAdminClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("addr", &self.addr())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Where TLS trust and identity come from; see [`ClientBuilder::tls`].
///
/// ```no_run
/// # async fn demo() -> fila::Result<()> {
/// let tls = fila::TlsConfig::ca_file("ca.pem")            // trust a private CA
///     .identity_files("client.pem", "client.key");          // mTLS
/// let client = fila::Client::builder("broker.internal:5555").tls(tls).connect().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct TlsConfig {
    ca: Option<Source>,
    identity: Option<(Source, Source)>,
    domain: Option<String>,
}

#[derive(Debug, Clone)]
enum Source {
    Pem(Vec<u8>),
    File(PathBuf),
}

impl Source {
    fn read(&self) -> Result<Vec<u8>> {
        match self {
            Source::Pem(p) => Ok(p.clone()),
            Source::File(f) => {
                std::fs::read(f).map_err(|e| Error::Config(format!("reading {}: {e}", f.display())))
            }
        }
    }
}

impl TlsConfig {
    /// TLS, verifying the broker against the system's root certificates.
    pub fn system_roots() -> Self {
        TlsConfig::default()
    }

    /// TLS, trusting only this CA (PEM): a broker started with `--tls-cert`/`--tls-key`
    /// whose certificate it signed.
    pub fn ca_pem(pem: impl Into<Vec<u8>>) -> Self {
        TlsConfig { ca: Some(Source::Pem(pem.into())), ..TlsConfig::default() }
    }

    /// [`ca_pem`](Self::ca_pem), read from a file when the client connects.
    pub fn ca_file(path: impl Into<PathBuf>) -> Self {
        TlsConfig { ca: Some(Source::File(path.into())), ..TlsConfig::default() }
    }

    /// Present this client certificate and key (PEM) for mutual TLS (a broker started
    /// with `--tls-ca`).
    pub fn identity(mut self, cert_pem: impl Into<Vec<u8>>, key_pem: impl Into<Vec<u8>>) -> Self {
        self.identity = Some((Source::Pem(cert_pem.into()), Source::Pem(key_pem.into())));
        self
    }

    /// [`identity`](Self::identity), read from files when the client connects.
    pub fn identity_files(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.identity = Some((Source::File(cert.into()), Source::File(key.into())));
        self
    }

    /// The name the broker's certificate must carry (default: the host of the address).
    pub fn domain_name(mut self, name: impl Into<String>) -> Self {
        self.domain = Some(name.into());
        self
    }

    fn resolve(&self) -> Result<ClientTlsConfig> {
        let mut cfg = ClientTlsConfig::new();
        cfg = match &self.ca {
            Some(ca) => cfg.ca_certificate(Certificate::from_pem(ca.read()?)),
            None => cfg.with_native_roots(),
        };
        if let Some((cert, key)) = &self.identity {
            cfg = cfg.identity(Identity::from_pem(cert.read()?, key.read()?));
        }
        if let Some(d) = &self.domain {
            cfg = cfg.domain_name(d.clone());
        }
        Ok(cfg)
    }
}

/// Builds a [`Client`]: `Client::builder(addr).api_key(key).tls(tls).connect().await`.
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until connect()"]
pub struct ClientBuilder {
    addr: String,
    api_key: Option<String>,
    tls: Option<TlsConfig>,
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryPolicy,
    ack_linger: Duration,
    ack_max: usize,
}

impl ClientBuilder {
    /// Send `authorization: Bearer <key>` on every call (see the broker's API keys). It is
    /// sent over plain connections too: a broker on loopback may take keys without TLS.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Speak TLS: [`TlsConfig::system_roots`], a private CA, and/or a client certificate.
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The deadline of every call, retries included (default 30s). One call can have its
    /// own through [`Client::with_timeout`]. Lease streams have none.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long [`connect`](Self::connect) and each later (re)connection may take (default
    /// 5s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How calls that failed with `UNAVAILABLE` are retried (default: with backoff until
    /// their deadline).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// How acks and nacks are batched: a batch goes when `max` wait or `linger` after the
    /// first, and at once while no batch is in flight (defaults 1ms, 1000).
    pub fn ack_batching(mut self, linger: Duration, max: usize) -> Self {
        self.ack_linger = linger;
        self.ack_max = max;
        self
    }

    /// Dials the broker and returns once the connection is up (or fails with
    /// [`Error::Unavailable`] within the connect timeout; a bad certificate is
    /// [`Error::Config`]). Call it from within a Tokio runtime, which the client then uses
    /// for its background work.
    pub async fn connect(self) -> Result<Client> {
        let client = self.build()?;
        let conn = client.current();
        let endpoint = client.endpoint(&conn.addr)?;
        let channel = match tokio::time::timeout(self.connect_timeout, endpoint.connect()).await {
            Ok(Ok(channel)) => channel,
            Ok(Err(e)) => return Err(unavailable(&conn.addr, &e)),
            Err(_) => {
                let message =
                    format!("connecting to {} took over {:?}", conn.addr, self.connect_timeout);
                return Err(Error::Unavailable { op: "connect".into(), message });
            }
        };
        let conn = Conn { addr: conn.addr.clone(), channel };
        let mut conns = client.inner.conns.lock().unwrap();
        conns.by_addr.insert(conn.addr.to_string(), conn.clone());
        conns.current = conn;
        drop(conns);
        Ok(client)
    }

    /// Returns a client at once; the first call connects. For a broker that may not be up
    /// yet. Call it within a Tokio runtime (else [`Error::Config`]).
    pub fn connect_lazy(self) -> Result<Client> {
        self.build()
    }

    fn build(&self) -> Result<Client> {
        if self.addr.is_empty() {
            return Err(Error::Config("empty broker address".into()));
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::Config("a client needs a Tokio runtime: connect from async code".into())
        })?;
        let tls = self.tls.as_ref().map(TlsConfig::resolve).transpose()?;
        let auth = self.api_key.as_deref().map(bearer).transpose()?;
        let ack_limits = Limits {
            linger: self.ack_linger,
            max_items: self.ack_max.clamp(1, MAX_BATCH_ITEMS),
            max_bytes: 4 << 20,
            max_in_flight: 4,
        };
        let endpoint = make_endpoint(&self.addr, tls.as_ref(), self.connect_timeout)?;
        let current = Conn { addr: self.addr.as_str().into(), channel: endpoint.connect_lazy() };
        let mut by_addr = HashMap::new();
        by_addr.insert(self.addr.clone(), current.clone());
        let inner = Inner {
            retry: self.retry.clone().normalized(),
            auth,
            runtime,
            acks: Batcher::new("client", crate::hotpath::send_acks, ack_limits.clone()),
            nacks: Batcher::new("client", crate::hotpath::send_nacks, ack_limits),
            no_batch_rpcs: AtomicBool::new(false),
            tls,
            connect_timeout: self.connect_timeout,
            conns: Mutex::new(Conns { current, by_addr }),
            closed: tokio::sync::watch::Sender::new(false),
        };
        Ok(Client { inner: Arc::new(inner), timeout: self.timeout })
    }
}

fn make_endpoint(
    addr: &str,
    tls: Option<&ClientTlsConfig>,
    connect_timeout: Duration,
) -> Result<Endpoint> {
    let ep = Endpoint::from_shared(uri(addr, tls.is_some()))
        .map_err(|e| Error::Config(format!("bad broker address {addr:?}: {e}")))?
        .connect_timeout(connect_timeout)
        .tcp_nodelay(true);
    match tls {
        Some(t) => ep.tls_config(t.clone()).map_err(|e| Error::Config(chain(&e))),
        None => Ok(ep),
    }
}

fn uri(addr: &str, tls: bool) -> String {
    if addr.contains("://") {
        addr.to_string()
    } else if tls {
        format!("https://{addr}")
    } else {
        format!("http://{addr}")
    }
}

/// An error and its sources on one line: tonic's transport errors say little at the top.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            // (tonic's errors often print their source already)
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

fn unavailable(addr: &str, e: &dyn std::error::Error) -> Error {
    Error::Unavailable { op: "connect".into(), message: format!("{addr}: {}", chain(e)) }
}

impl Client {
    /// A builder for a client of the broker at `addr` (`"host:port"`, or a URI).
    pub fn builder(addr: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            addr: addr.into(),
            api_key: None,
            tls: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            ack_linger: Duration::from_millis(1),
            ack_max: 1000,
        }
    }

    /// A client of `addr` with the defaults (plain connection, no API key, 30s deadline).
    pub async fn connect(addr: impl Into<String>) -> Result<Client> {
        Client::builder(addr).connect().await
    }

    /// This client with another deadline for its calls; it shares everything else (the
    /// connection, the ack batches) with `self`.
    pub fn with_timeout(&self, timeout: Duration) -> Client {
        Client { inner: self.inner.clone(), timeout }
    }

    /// The deadline of this client's calls.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The address calls go to now: the one given to the builder, or the leader the client
    /// was redirected to.
    pub fn addr(&self) -> String {
        self.current().addr.to_string()
    }

    pub(crate) fn current(&self) -> Conn {
        self.inner.conns.lock().unwrap().current.clone()
    }

    fn endpoint(&self, addr: &str) -> Result<Endpoint> {
        make_endpoint(addr, self.inner.tls.as_ref(), self.inner.connect_timeout)
    }

    /// Makes `addr` (a leader named by the broker reached through `from`) the connection
    /// calls go to; a no-op if another call already moved on from `from`.
    pub(crate) fn follow(&self, from: &Conn, addr: &str) -> Result<()> {
        self.check_open()?;
        let mut conns = self.inner.conns.lock().unwrap();
        if conns.current.addr != from.addr || &*conns.current.addr == addr {
            return Ok(());
        }
        let conn = match conns.by_addr.get(addr) {
            Some(c) => c.clone(),
            None => {
                let channel = self.endpoint(addr)?.connect_lazy();
                let conn = Conn { addr: addr.into(), channel };
                conns.by_addr.insert(addr.to_string(), conn.clone());
                conn
            }
        };
        conns.current = conn;
        Ok(())
    }

    pub(crate) fn is_closed(&self) -> bool {
        *self.inner.closed.borrow()
    }

    /// Completes when the client is closed (the consumers' streams end with it).
    pub(crate) async fn closed(&self) {
        let mut rx = self.inner.closed.subscribe();
        let _ = rx.wait_for(|closed| *closed).await;
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.is_closed() {
            return Err(Error::Closed("client"));
        }
        Ok(())
    }

    /// Sends the acks and nacks still waiting in their batches, waits for their answers (at
    /// most the client's timeout), and makes later calls of every clone fail with
    /// [`Error::Closed`]. Close the client's consumers and producers first.
    pub async fn close(&self) -> Result<()> {
        if self.is_closed() {
            return Ok(());
        }
        let flushed = tokio::time::timeout(self.timeout, async {
            self.inner.acks.close(self).await;
            self.inner.nacks.close(self).await;
        })
        .await;
        self.inner.closed.send_replace(true);
        flushed.map_err(|_| Error::DeadlineExceeded {
            op: "close".into(),
            message: "acks still unanswered when the client's timeout passed".into(),
        })
    }

    /// The generated `FilaService` stub on the current connection: an escape hatch for
    /// what the SDK does not wrap. Calls made on it get no API key, retries or error
    /// mapping (add the key with [`Client::api_key_header`]).
    pub fn service(&self) -> FilaServiceClient<Channel> {
        self.current().svc()
    }

    /// The generated `FilaAdmin` stub on the current connection (see [`Client::service`]).
    pub fn admin(&self) -> FilaAdminClient<Channel> {
        self.current().admin()
    }

    /// The `authorization` value this client sends, if it has an API key.
    pub fn api_key_header(&self) -> Option<MetadataValue<Ascii>> {
        self.inner.auth.clone()
    }
}
