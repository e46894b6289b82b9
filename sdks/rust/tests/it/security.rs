//! TLS with a private CA, mutual TLS, API keys and ACLs, with certificates the test makes.

use std::time::Duration;

use fila::{
    ApiKeyOptions, Client, ConsumerSettings, Error, OutgoingMessage, Permission, QueueConfig,
    RetryPolicy, TlsConfig,
};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use crate::{Broker, Options, TempDir, enqueue_n, new_queue, take};

/// A CA the test makes, and a server and a client certificate it signed, as PEM (and files).
struct Pki {
    dir: TempDir,
    ca: String,
    server: (String, String),
    client: (String, String),
}

impl Pki {
    fn new() -> Pki {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.distinguished_name.push(DnType::CommonName, "fila test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let leaf = |name: &str, usage: ExtendedKeyUsagePurpose| {
            let mut p =
                CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                    .unwrap();
            p.distinguished_name.push(DnType::CommonName, name);
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            p.extended_key_usages = vec![usage];
            let key = KeyPair::generate().unwrap();
            (p.signed_by(&key, &ca).unwrap().pem(), key.serialize_pem())
        };
        let pki = Pki {
            dir: TempDir::new("pki"),
            ca: ca.pem(),
            server: leaf("fila broker", ExtendedKeyUsagePurpose::ServerAuth),
            client: leaf("fila client", ExtendedKeyUsagePurpose::ClientAuth),
        };
        pki.write("ca.pem", &pki.ca);
        pki.write("server.pem", &pki.server.0);
        pki.write("server.key", &pki.server.1);
        pki.write("client.pem", &pki.client.0);
        pki.write("client.key", &pki.client.1);
        pki
    }

    fn write(&self, name: &str, data: &str) {
        std::fs::write(self.dir.0.join(name), data).unwrap();
    }

    fn path(&self, name: &str) -> String {
        self.dir.0.join(name).display().to_string()
    }

    fn server_args(&self) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            self.path("server.pem"),
            "--tls-key".into(),
            self.path("server.key"),
        ]
    }
}

async fn connect(addr: &str, tls: Option<TlsConfig>) -> fila::Result<Client> {
    let b = Client::builder(addr).timeout(Duration::from_secs(20));
    match tls {
        Some(t) => b.tls(t).connect().await,
        None => b.connect().await,
    }
}

/// Whether a client configured so cannot talk to the broker: refused when it connects, or
/// (TLS 1.3 reports a refused client certificate after the handshake) at its first call.
async fn refused(addr: &str, tls: Option<TlsConfig>) -> bool {
    let b = Client::builder(addr).timeout(Duration::from_secs(3)).retry(RetryPolicy::none());
    let b = match tls {
        Some(t) => b.tls(t),
        None => b,
    };
    match b.connect().await {
        Err(e) => e.is_temporary() || matches!(e, Error::Config(_)),
        Ok(c) => matches!(c.list_queues().await, Err(Error::Unavailable { .. })),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_custom_ca() {
    let pki = Pki::new();
    let b = Broker::must_start(Options { args: pki.server_args(), ..Default::default() });
    let c = connect(&b.addr, Some(TlsConfig::ca_file(pki.path("ca.pem")))).await.unwrap();
    let q = new_queue(&c, QueueConfig::new()).await;
    c.enqueue(OutgoingMessage::new(&q, "over TLS")).await.unwrap();
    // The same through "localhost", which the certificate also names.
    let c2 = connect(&format!("localhost:{}", b.port), Some(TlsConfig::ca_pem(pki.ca.clone())))
        .await
        .unwrap();
    c2.list_queues().await.unwrap();
    // A plain client, or one trusting only the system roots, cannot talk to it.
    assert!(refused(&b.addr, None).await, "a plain client talked to a TLS broker");
    assert!(
        refused(&b.addr, Some(TlsConfig::system_roots())).await,
        "system roots trusted a private CA"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls() {
    let pki = Pki::new();
    let mut args = pki.server_args();
    args.extend(["--tls-ca".to_string(), pki.path("ca.pem")]);
    let b = Broker::must_start(Options { args, ..Default::default() });
    let tls =
        TlsConfig::ca_pem(pki.ca.clone()).identity(pki.client.0.clone(), pki.client.1.clone());
    let c = connect(&b.addr, Some(tls)).await.unwrap();
    let q = new_queue(&c, QueueConfig::new()).await;
    enqueue_n(&c, &q, 1, &[]).await;
    let mut cons = c.lease(&q, ConsumerSettings::default());
    let m = take(&mut cons, 1, Duration::from_secs(10)).await.remove(0);
    m.ack_with_result().await.expect("ack over mTLS");
    cons.close().await.unwrap();
    // From files, too.
    let tls = TlsConfig::ca_file(pki.path("ca.pem"))
        .identity_files(pki.path("client.pem"), pki.path("client.key"));
    connect(&b.addr, Some(tls))
        .await
        .unwrap()
        .list_queues()
        .await
        .expect("client certificate from files");
    // Without a client certificate the broker refuses the connection.
    assert!(
        refused(&b.addr, Some(TlsConfig::ca_pem(pki.ca.clone()))).await,
        "no client certificate, yet served"
    );
    let junk = TlsConfig::ca_pem(pki.ca.clone()).identity("junk", "junk");
    let err = connect(&b.addr, Some(junk)).await.unwrap_err();
    assert!(matches!(err, Error::Config(_)), "a junk client certificate: {err:?}");
    let missing = TlsConfig::ca_file(pki.path("nope.pem"));
    assert!(matches!(connect(&b.addr, Some(missing)).await, Err(Error::Config(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_and_acls() {
    const BOOTSTRAP: &str = "test-bootstrap-key-0123456789"; // made up for this test's broker
    let env = vec![("FILA_BOOTSTRAP_APIKEY".to_string(), BOOTSTRAP.to_string())];
    let b = Broker::must_start(Options { env, ..Default::default() });
    let with_key = |key: &str| {
        Client::builder(&b.addr).api_key(key).timeout(Duration::from_secs(20)).connect()
    };
    let root = with_key(BOOTSTRAP).await.unwrap();
    let q = new_queue(&root, QueueConfig::new()).await;

    let none = connect(&b.addr, None).await.unwrap();
    let err = none.enqueue(OutgoingMessage::new(&q, "x")).await.unwrap_err();
    assert!(matches!(err, Error::Unauthenticated { .. }), "no key: {err:?}");
    let wrong = with_key("fila_nope_nope").await.unwrap();
    assert!(
        matches!(wrong.list_queues().await, Err(Error::Unauthenticated { .. })),
        "an unknown key"
    );

    let key = root.create_api_key("worker", ApiKeyOptions::default()).await.unwrap();
    assert!(!key.id.is_empty() && !key.key.is_empty() && !format!("{key:?}").contains(&key.key));
    root.set_acl(&key.id, &[Permission::consume(&q)]).await.unwrap();
    let acl = root.get_acl(&key.id).await.unwrap();
    assert_eq!((acl.permissions, acl.superadmin), (vec![Permission::consume(&q)], false));
    let keys = root.list_api_keys().await.unwrap();
    assert!(
        matches!(&keys[..], [k] if k.id == key.id && k.name == "worker" && k.created_at.is_some()),
        "{keys:?}"
    );

    let worker = with_key(&key.key).await.unwrap();
    let err = worker.enqueue(OutgoingMessage::new(&q, "x")).await.unwrap_err();
    assert!(
        matches!(err, Error::PermissionDenied { .. }),
        "a consume-only key enqueueing: {err:?}"
    );
    let err = worker.create_queue(&format!("{q}-2"), QueueConfig::new()).await.unwrap_err();
    assert!(
        matches!(err, Error::PermissionDenied { .. }),
        "a consume-only key creating a queue: {err:?}"
    );
    enqueue_n(&root, &q, 1, &[]).await;
    let mut cons = worker.lease(&q, ConsumerSettings::default());
    let m = take(&mut cons, 1, Duration::from_secs(10)).await.remove(0);
    m.ack_with_result().await.expect("a consume-only key acking");
    cons.close().await.unwrap();
    let mut other = worker.lease(&format!("{q}-elsewhere"), ConsumerSettings::default());
    let first = tokio::time::timeout(Duration::from_secs(10), other.next()).await.unwrap();
    assert!(
        matches!(first, Some(Err(Error::PermissionDenied { .. }))),
        "leasing a queue it may not: {first:?}"
    );

    root.revoke_api_key(&key.id).await.unwrap();
    assert!(
        matches!(worker.list_queues().await, Err(Error::Unauthenticated { .. })),
        "a revoked key"
    );
}
