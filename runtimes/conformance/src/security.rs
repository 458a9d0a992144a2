//! Secured connections against a real Apache Kafka 4.4 (KRaft) that serves
//! TLS, mutual TLS, SASL over plaintext and over TLS, a short SASL session
//! lifetime and certificates that must be refused, with certificates and
//! users made by the test setup (`kafkite_testkit::SecureKafka`).
//!
//! Every scenario produces and reads back through the listener it tests,
//! or, for a failure, waits for one typed error within a bounded time
//! while a proxy in front of the broker counts the connections it saw:
//! a login that cannot succeed must not turn into a reconnect storm.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures_lite::{future, StreamExt};

use kafkite::client::ClientConfig;
use kafkite::consumer::FetchConfig;
use kafkite::security::{
    AuthError, SaslConfig, ScramHash, TlsConfig, TlsError, UnsecuredJwsConfig,
};
use kafkite_testkit::{
    unique_name, Listener, SecureKafka, TcpProxy, ADMIN_PASSWORD, ADMIN_USER, ALICE_PASSWORD,
    ALICE_USER, CLIENT_KEY_PASSWORD,
};

use super::group_members::{member_config, next_message};
use super::support::{
    config, log_every_request_to_test_output, send_all, within, within_stages, Stage,
    SCENARIO_LIMIT,
};
use kafkite_driver::{
    Error, FetchStart, Fetcher, GroupConsumer, GroupMessage, Producer, ProducerConfig,
    ProducerRecord, Runtime, Session,
};

/// How long a refused login may take to be reported.
const FAILURE_LIMIT: Duration = Duration::from_secs(10);

/// SaslHandshake's API key, as the proxy counts requests.
const SASL_HANDSHAKE: i16 = 17;

/// Records each round trip sends and reads back.
const RECORDS: usize = 30;

/// A SASL mechanism, as the scenarios name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// SASL/PLAIN.
    Plain,
    /// SASL/SCRAM-SHA-256.
    ScramSha256,
    /// SASL/SCRAM-SHA-512.
    ScramSha512,
    /// SASL/OAUTHBEARER with an unsecured JWS token.
    OAuthBearer,
}

impl Mechanism {
    /// Every mechanism, in the order the scenarios try them.
    pub const ALL: [Mechanism; 4] = [
        Mechanism::Plain,
        Mechanism::ScramSha256,
        Mechanism::ScramSha512,
        Mechanism::OAuthBearer,
    ];

    /// The login as alice (OAUTHBEARER: an unsecured token for her).
    pub fn login(self, password: &str) -> SaslConfig {
        match self {
            Mechanism::Plain => SaslConfig::plain(ALICE_USER, password),
            Mechanism::ScramSha256 => SaslConfig::scram_sha_256(ALICE_USER, password),
            Mechanism::ScramSha512 => SaslConfig::scram_sha_512(ALICE_USER, password),
            Mechanism::OAuthBearer => {
                SaslConfig::oauthbearer_unsecured(UnsecuredJwsConfig::new(ALICE_USER))
            }
        }
    }
}

/// The client key forms mutual TLS is tried with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKey {
    /// RSA, PKCS#8.
    RsaPkcs8,
    /// RSA, PKCS#1 ("RSA PRIVATE KEY").
    RsaPkcs1,
    /// EC P-256, SEC1 ("EC PRIVATE KEY").
    EcSec1,
    /// EC P-256, PKCS#8.
    EcPkcs8,
    /// RSA, encrypted PKCS#8 with a password.
    EncryptedPkcs8,
}

impl ClientKey {
    /// Every key form, in the order the scenarios try them.
    pub const ALL: [ClientKey; 5] = [
        ClientKey::RsaPkcs8,
        ClientKey::RsaPkcs1,
        ClientKey::EcSec1,
        ClientKey::EcPkcs8,
        ClientKey::EncryptedPkcs8,
    ];

    fn tls(self, kafka: &SecureKafka) -> TlsConfig {
        let base = TlsConfig::new().ca_file(kafka.ca_pem());
        match self {
            ClientKey::RsaPkcs8 => {
                base.client_certificate_files(kafka.client_pem(), kafka.client_key())
            }
            ClientKey::RsaPkcs1 => {
                base.client_certificate_files(kafka.client_pem(), kafka.client_rsa1_key())
            }
            ClientKey::EcSec1 => {
                base.client_certificate_files(kafka.client_ec_pem(), kafka.client_ec_key())
            }
            ClientKey::EcPkcs8 => {
                base.client_certificate_files(kafka.client_ec_pem(), kafka.client_ec_pk8_key())
            }
            ClientKey::EncryptedPkcs8 => base
                .client_certificate_files(kafka.client_pem(), kafka.client_enc_key())
                .key_password(CLIENT_KEY_PASSWORD),
        }
    }
}

/// TLS that trusts the test CA.
fn trusting(kafka: &SecureKafka) -> TlsConfig {
    TlsConfig::new().ca_file(kafka.ca_pem())
}

/// A config for `listener` with the given TLS and SASL settings.
fn secured(
    kafka: &SecureKafka,
    listener: Listener,
    tls: Option<TlsConfig>,
    sasl: Option<SaslConfig>,
) -> ClientConfig {
    let mut config = config(kafka.listener(listener));
    config.tls = tls;
    config.sasl = sasl;
    config
}

/// Produces records with keys and headers through `config`'s listener and
/// reads them back, field by field, through a second session on it.
async fn round_trip<R: Runtime + Default>(config: ClientConfig, what: &str) {
    let stage = Stage::default();
    within_stages::<R, _>(
        SCENARIO_LIMIT,
        what,
        &stage,
        round_trip_in_stages::<R>(config, what, &stage),
    )
    .await;
}

async fn round_trip_in_stages<R: Runtime + Default>(
    config: ClientConfig,
    what: &str,
    stage: &Stage,
) {
    let topic = unique_name("secure");
    stage.enter("connect");
    let session = Session::<R>::connect(config.clone())
        .await
        .unwrap_or_else(|e| panic!("{what}: connect: {e}"));
    stage.enter("create topic");
    session
        .create_topics(&[kafkite::admin::NewTopic::new(&topic, 1, 1)])
        .await
        .unwrap_or_else(|e| panic!("{what}: create topic: {e}"));
    stage.enter("open producer");
    let producer = Producer::new(&session, ProducerConfig::default())
        .await
        .unwrap_or_else(|e| panic!("{what}: producer: {e}"));
    let sent: Vec<(String, String)> = (0..RECORDS)
        .map(|i| (format!("key-{i}"), format!("value {i} over {what}")))
        .collect();
    let records = sent.iter().map(|(k, v)| {
        ProducerRecord::new(topic.as_str())
            .partition(0)
            .key(k.clone())
            .value(v.clone())
            .header("h", Some(bytes::Bytes::from_static(b"secured")))
    });
    stage.enter("send and await deliveries");
    send_all(&producer, records, what).await;
    stage.enter("close producer");
    producer.close().await;

    // Read back on a session of its own: a second login on the listener.
    stage.enter("connect reader");
    let reader = Session::<R>::connect(config)
        .await
        .unwrap_or_else(|e| panic!("{what}: reader connect: {e}"));
    stage.enter("fetch");
    let fetcher = Fetcher::new(&reader, FetchConfig::default());
    let mut stream = fetcher.fetch(vec![FetchStart::new(&topic, 0, Some(0))], Some(RECORDS));
    let mut got = Vec::new();
    while let Some(record) = stream.next().await {
        let record = record.unwrap_or_else(|e| panic!("{what}: fetch: {e}"));
        let key = String::from_utf8_lossy(record.key.as_deref().unwrap_or_default()).into_owned();
        let value =
            String::from_utf8_lossy(record.value.as_deref().unwrap_or_default()).into_owned();
        let header = record.headers.iter().next().and_then(|h| h.value);
        assert_eq!(header, Some(&b"secured"[..]), "{what}: header");
        got.push((key, value));
    }
    assert_eq!(got, sent, "{what}: what was read back");
    drop(stream);
    stage.enter("close reader");
    reader.close().await;
    stage.enter("close session");
    session.close().await;
}

/// TLS with the broker's certificate checked against the test CA.
pub async fn round_trips_over_tls<R: Runtime + Default>(kafka: &SecureKafka) {
    log_every_request_to_test_output();
    let config = secured(kafka, Listener::Ssl, Some(trusting(kafka)), None);
    round_trip::<R>(config, "SSL").await;
}

/// Certificates and keys are read once, when the session starts: with the
/// CA file and the client key deleted after the bootstrap (which goes
/// through a proxy, so the broker's advertised address is a connection
/// made later), producing and reading still work over mutual TLS.
pub async fn tls_files_are_read_once_per_session<R: Runtime + Default>(kafka: &SecureKafka) {
    log_every_request_to_test_output();
    let what = "TLS files read once";
    let dir = std::env::temp_dir().join(unique_name("tls-once"));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{what}: {e}"));
    let (ca, key) = (dir.join("ca.pem"), dir.join("client.key"));
    std::fs::copy(kafka.ca_pem(), &ca).unwrap_or_else(|e| panic!("{what}: {e}"));
    std::fs::copy(kafka.client_key(), &key).unwrap_or_else(|e| panic!("{what}: {e}"));
    let proxy = TcpProxy::start(kafka.listener(Listener::Mtls))
        .unwrap_or_else(|e| panic!("{what}: proxy: {e}"));
    let mut config = config(proxy.addr());
    config.tls = Some(
        TlsConfig::new()
            .ca_file(&ca)
            .client_certificate_files(kafka.client_pem(), &key),
    );
    within::<R, _>(SCENARIO_LIMIT, what, async {
        let session = Session::<R>::connect(config)
            .await
            .unwrap_or_else(|e| panic!("{what}: connect: {e}"));
        std::fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("{what}: {e}"));
        let topic = unique_name("tls-once");
        session
            .create_topics(&[kafkite::admin::NewTopic::new(&topic, 1, 1)])
            .await
            .unwrap_or_else(|e| panic!("{what}: create topic: {e}"));
        let producer = Producer::new(&session, ProducerConfig::default())
            .await
            .unwrap_or_else(|e| panic!("{what}: producer: {e}"));
        let records = (0..5).map(|i| ProducerRecord::new(topic.as_str()).value(format!("v{i}")));
        send_all(&producer, records, what).await;
        producer.close().await;
        session.close().await;
    })
    .await;
    assert_eq!(
        proxy.connections(),
        1,
        "{what}: only the bootstrap went through the proxy"
    );
}

/// Mutual TLS (`ssl.client.auth=required`) with each key form a client
/// certificate comes with.
pub async fn round_trips_over_mutual_tls<R: Runtime + Default>(
    kafka: &SecureKafka,
    key: ClientKey,
) {
    log_every_request_to_test_output();
    let what = format!("mutual TLS, {key:?} key");
    let config = secured(kafka, Listener::Mtls, Some(key.tls(kafka)), None);
    round_trip::<R>(config, &what).await;
}

/// SASL over plaintext or TLS with `mechanism`.
pub async fn round_trips_over_sasl<R: Runtime + Default>(
    kafka: &SecureKafka,
    listener: Listener,
    mechanism: Mechanism,
) {
    log_every_request_to_test_output();
    let what = format!("{listener} {mechanism:?}");
    let tls = listener.is_tls().then(|| trusting(kafka));
    let config = secured(kafka, listener, tls, Some(mechanism.login(ALICE_PASSWORD)));
    round_trip::<R>(config, &what).await;
}

/// A login that must be refused: where it goes, with which settings, and
/// the error it must end in.
struct Refusal<'a> {
    what: &'a str,
    target: &'a str,
    config: ClientConfig,
    check: fn(&AuthError) -> bool,
}

/// Connects through a counting proxy and expects `check` of the error
/// within [`FAILURE_LIMIT`], from one or two connections (not a storm),
/// with no secret in its message.
async fn refused<R: Runtime + Default>(refusal: Refusal<'_>) {
    let Refusal {
        what,
        target,
        mut config,
        check,
    } = refusal;
    let proxy = TcpProxy::start(target).unwrap_or_else(|e| panic!("{what}: proxy: {e}"));
    config.bootstrap_servers = vec![proxy.addr().to_string()];
    // The default request timeout, so that only a typed, prompt failure
    // can end the connect in time.
    config.request_timeout = Duration::from_secs(30);
    let started = Instant::now();
    let connect = Session::<R>::connect(config);
    let runtime = R::default();
    let limit = async {
        runtime.sleep_until(started + FAILURE_LIMIT).await;
        None
    };
    let result = future::or(async { Some(connect.await) }, limit).await;
    let error = match result {
        None => panic!("{what}: no error within {FAILURE_LIMIT:?}"),
        Some(Ok(_)) => panic!("{what}: connected"),
        Some(Err(e)) => e,
    };
    match &error {
        Error::Authentication { error, .. } if check(error) => {}
        other => panic!("{what}: unexpected error: {other}"),
    }
    // A moment later still, the connections the broker saw stay few.
    runtime
        .sleep_until(Instant::now() + Duration::from_secs(1))
        .await;
    let connections = proxy.connections();
    assert!(
        (1..=2).contains(&connections),
        "{what}: {connections} connections"
    );
    let message = error.to_string();
    for secret in [
        ALICE_PASSWORD,
        ADMIN_PASSWORD,
        CLIENT_KEY_PASSWORD,
        "wrong-secret",
    ] {
        assert!(!message.contains(secret), "{what}: a secret in {message:?}");
        assert!(
            !format!("{error:?}").contains(secret),
            "{what}: a secret in the Debug of {message:?}"
        );
    }
    eprintln!(
        "{what}: {message} ({connections} connection(s), {:?})",
        started.elapsed()
    );
}

/// Each failure the settings or the broker can cause, one typed error
/// each.
pub async fn refusals_are_typed_prompt_and_not_retried<R: Runtime + Default>(kafka: &SecureKafka) {
    log_every_request_to_test_output();
    let sasl_ssl = kafka.listener(Listener::SaslSsl);
    let tls = || Some(trusting(kafka));
    let sasl_ssl_login = |sasl| secured(kafka, Listener::SaslSsl, tls(), Some(sasl));
    let cases = [
        Refusal {
            what: "wrong password",
            target: sasl_ssl,
            config: sasl_ssl_login(SaslConfig::scram_sha_512(ALICE_USER, "wrong-secret")),
            check: |e| {
                matches!(
                    e,
                    AuthError::Failed {
                        mechanism: "SCRAM-SHA-512",
                        code: 58,
                        ..
                    }
                )
            },
        },
        Refusal {
            what: "unknown user",
            target: sasl_ssl,
            config: sasl_ssl_login(SaslConfig::plain("mallory", "wrong-secret")),
            check: |e| {
                matches!(
                    e,
                    AuthError::Failed {
                        mechanism: "PLAIN",
                        code: 58,
                        ..
                    }
                )
            },
        },
        Refusal {
            what: "mechanism not enabled",
            target: kafka.listener(Listener::ScramOnly),
            config: secured(
                kafka,
                Listener::ScramOnly,
                None,
                Some(SaslConfig::plain(ALICE_USER, ALICE_PASSWORD)),
            ),
            check: |e| {
                matches!(e, AuthError::MechanismNotEnabled { mechanism: "PLAIN", enabled }
                    if enabled == &["SCRAM-SHA-256"])
            },
        },
        Refusal {
            what: "a CA that did not sign the broker's certificate",
            target: kafka.listener(Listener::Ssl),
            config: secured(
                kafka,
                Listener::Ssl,
                Some(TlsConfig::new().ca_file(kafka.other_ca_pem())),
                None,
            ),
            check: |e| matches!(e, AuthError::Tls(TlsError::UnknownIssuer)),
        },
        Refusal {
            what: "a certificate for another host name",
            target: kafka.listener(Listener::WrongHost),
            config: secured(kafka, Listener::WrongHost, tls(), None),
            check: |e| matches!(e, AuthError::Tls(TlsError::CertificateNameMismatch { .. })),
        },
        Refusal {
            what: "an expired certificate",
            target: kafka.listener(Listener::Expired),
            config: secured(kafka, Listener::Expired, tls(), None),
            check: |e| matches!(e, AuthError::Tls(TlsError::CertificateExpired)),
        },
        Refusal {
            what: "no client certificate where one is required",
            target: kafka.listener(Listener::Mtls),
            config: secured(kafka, Listener::Mtls, tls(), None),
            check: |e| matches!(e, AuthError::Tls(TlsError::AlertReceived { .. })),
        },
        Refusal {
            what: "a client certificate from another CA",
            target: kafka.listener(Listener::Mtls),
            config: secured(
                kafka,
                Listener::Mtls,
                Some(trusting(kafka).client_certificate_files(
                    kafka.untrusted_client_pem(),
                    kafka.untrusted_client_key(),
                )),
                None,
            ),
            check: |e| matches!(e, AuthError::Tls(TlsError::AlertReceived { .. })),
        },
        Refusal {
            what: "a TLS client on a plaintext port",
            target: kafka.plaintext_bootstrap(),
            config: ClientConfig {
                tls: tls(),
                ..config(kafka.plaintext_bootstrap())
            },
            check: |e| matches!(e, AuthError::Tls(TlsError::ClosedDuringHandshake)),
        },
        Refusal {
            what: "a plaintext client on a TLS port",
            target: kafka.listener(Listener::Ssl),
            config: secured(kafka, Listener::Ssl, None, None),
            check: |e| matches!(e, AuthError::Tls(TlsError::PlaintextToTlsListener)),
        },
    ];
    for refusal in cases {
        refused::<R>(refusal).await;
    }
}

/// Held by a test around [`reauthenticates_without_losing_anything`]: the
/// scenario counts what passes the one proxy its listener is advertised
/// behind, so two at once in a test binary would count each other's.
pub fn reauth_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// With a SASL session lifetime of a few seconds (KIP-368), an idempotent
/// producer and a group consumer run across several re-authentications:
/// every record is delivered and read exactly once, nothing fails, and
/// no connection is replaced: the proxy the listener is advertised behind
/// sees two connections (one per session) and a login on each per
/// session lifetime.
pub async fn reauthenticates_without_losing_anything<R: Runtime + Default>(
    kafka: &SecureKafka,
    mechanism: Mechanism,
) {
    log_every_request_to_test_output();
    let what = format!("re-authentication, {mechanism:?}");
    within::<R, _>(Duration::from_secs(120), &what, async {
        let listener = Listener::Reauth;
        let lifetime = Duration::from_millis(kafka.reauth_ms());
        let proxy = kafka.reauth_proxy();
        let connections_before = proxy.connections();
        let logins_before = proxy.requests(SASL_HANDSHAKE);
        let config = secured(kafka, listener, None, Some(mechanism.login(ALICE_PASSWORD)));
        let session = Session::<R>::connect(config.clone())
            .await
            .unwrap_or_else(|e| panic!("{what}: connect: {e}"));
        let topic = unique_name("reauth");
        session
            .create_topics(&[kafkite::admin::NewTopic::new(&topic, 2, 1)])
            .await
            .unwrap_or_else(|e| panic!("{what}: create topic: {e}"));
        let consumer_session = Session::<R>::connect(config)
            .await
            .unwrap_or_else(|e| panic!("{what}: consumer connect: {e}"));
        let mut member = GroupConsumer::new(&consumer_session, member_config(&unique_name("g")))
            .unwrap_or_else(|e| panic!("{what}: member: {e}"));
        member
            .subscribe(&[topic.as_str()])
            .unwrap_or_else(|e| panic!("{what}: subscribe: {e}"));
        let producer = Producer::new(&session, ProducerConfig::default())
            .await
            .unwrap_or_else(|e| panic!("{what}: producer: {e}"));

        // Four lifetimes of producing a record every 50 ms, and reading.
        let run_for = lifetime * 4;
        let started = Instant::now();
        let mut sent = 0usize;
        let mut read: BTreeSet<String> = BTreeSet::new();
        let mut duplicates = Vec::new();
        let mut deliveries = Vec::new();
        while started.elapsed() < run_for {
            let value = format!("r{sent}");
            let delivery = producer
                .send(ProducerRecord::new(topic.as_str()).value(value))
                .await
                .unwrap_or_else(|e| panic!("{what}: send: {e}"));
            deliveries.push(delivery);
            sent += 1;
            let tick = async {
                R::default()
                    .sleep_until(Instant::now() + Duration::from_millis(50))
                    .await;
                None
            };
            if let Some(message) = future::or(async { Some(member.next().await) }, tick).await {
                record_message(message, &mut read, &mut duplicates, &what);
            }
        }
        for delivery in deliveries {
            delivery
                .await
                .unwrap_or_else(|e| panic!("{what}: delivery: {e}"));
        }
        while read.len() < sent {
            let message = next_message(&mut member, Duration::from_secs(30), &what).await;
            record_message(Some(Ok(message)), &mut read, &mut duplicates, &what);
        }
        assert!(duplicates.is_empty(), "{what}: read twice: {duplicates:?}");
        let expected: BTreeSet<String> = (0..sent).map(|i| format!("r{i}")).collect();
        assert_eq!(read, expected, "{what}: what was read");
        // Two sessions, one connection each (the bootstrap address is the
        // broker's advertised one), kept throughout: a connection the
        // broker dropped at the end of a session would show as a new one.
        let connections = proxy.connections() - connections_before;
        let logins = proxy.requests(SASL_HANDSHAKE) - logins_before;
        assert_eq!(connections, 2, "{what}: connections made");
        let lifetimes = (started.elapsed().as_millis() / lifetime.as_millis()) as usize;
        assert!(
            logins >= 2 * lifetimes,
            "{what}: {logins} SASL logins on 2 connections over {lifetimes} session lifetimes"
        );
        producer.close().await;
        drop(member);
        consumer_session.close().await;
        session.close().await;
        eprintln!(
            "{what}: {sent} records over {:?}, {logins} logins on {connections} connections",
            started.elapsed()
        );
    })
    .await;
}

fn record_message(
    message: Option<Result<GroupMessage, Error>>,
    read: &mut BTreeSet<String>,
    duplicates: &mut Vec<String>,
    what: &str,
) {
    match message {
        Some(Ok(GroupMessage::Record(record))) => {
            let value =
                String::from_utf8_lossy(record.value.as_deref().unwrap_or_default()).into_owned();
            if !read.insert(value.clone()) {
                duplicates.push(value);
            }
        }
        Some(Ok(_)) => {}
        Some(Err(e)) => panic!("{what}: the group consumer failed: {e}"),
        None => panic!("{what}: the group consumer ended"),
    }
}

/// What kafkite writes over SASL_SSL (SCRAM-SHA-512), the Java client and
/// confluent-kafka read back with the same settings.
pub async fn peers_read_what_kafkite_wrote_over_sasl_ssl<R: Runtime + Default>(
    kafka: &SecureKafka,
) {
    log_every_request_to_test_output();
    let what = "SASL_SSL SCRAM-SHA-512 interop";
    let config = secured(
        kafka,
        Listener::SaslSsl,
        Some(trusting(kafka)),
        Some(SaslConfig::scram_sha_512(ADMIN_USER, ADMIN_PASSWORD)),
    );
    let topic = unique_name("secure-interop");
    within::<R, _>(SCENARIO_LIMIT, what, async {
        let session = Session::<R>::connect(config)
            .await
            .unwrap_or_else(|e| panic!("{what}: connect: {e}"));
        session
            .create_topics(&[kafkite::admin::NewTopic::new(&topic, 1, 1)])
            .await
            .unwrap_or_else(|e| panic!("{what}: create topic: {e}"));
        let producer = Producer::new(&session, ProducerConfig::default())
            .await
            .unwrap_or_else(|e| panic!("{what}: producer: {e}"));
        let records = (0..RECORDS).map(|i| {
            ProducerRecord::new(topic.as_str())
                .partition(0)
                .value(format!("v{i}"))
        });
        send_all(&producer, records, what).await;
        producer.close().await;
        session.close().await;
    })
    .await;
    let expected: Vec<String> = (0..RECORDS).map(|i| format!("v{i}")).collect();
    let mechanism = Some(ScramHash::Sha512.mechanism());
    let java = kafkite_testkit::java_read_back_with(
        kafka.listener(Listener::SaslSsl),
        &topic,
        RECORDS,
        Duration::from_secs(60),
        &kafka.java_props(Listener::SaslSsl, mechanism),
    )
    .unwrap_or_else(|e| panic!("{what}: Java read back: {e}"));
    let confluent = kafkite_testkit::confluent_read_back_with(
        kafka.listener(Listener::SaslSsl),
        &topic,
        RECORDS,
        Duration::from_secs(60),
        &kafka.librdkafka_props(Listener::SaslSsl, mechanism),
    )
    .unwrap_or_else(|e| panic!("{what}: confluent-kafka read back: {e}"));
    for (client, got) in [("Java", java), ("confluent-kafka", confluent)] {
        let values: Vec<String> = got
            .iter()
            .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
            .collect();
        assert_eq!(values, expected, "{what}: {client} read");
    }
}

/// Logins with every mechanism over SASL_SSL, records produced and read
/// back, all with every `tracing` event captured at TRACE: the capture
/// holds the logins' requests, and no password, token or record payload.
/// Must run in a process of its own (it installs the subscriber).
pub async fn secrets_and_payloads_stay_out_of_the_logs<R: Runtime + Default>(kafka: &SecureKafka) {
    let logs = crate::log_capture::capture_every_log();
    for mechanism in Mechanism::ALL {
        round_trips_over_sasl::<R>(kafka, Listener::SaslSsl, mechanism).await;
    }
    let text = logs.text();
    // The capture works: the logins and the records' requests are in it.
    for expected in ["SaslAuthenticate", "Produce", "Fetch"] {
        assert!(
            text.contains(expected),
            "no {expected} request in the {} bytes captured",
            text.len()
        );
    }
    let forbidden = [
        ("alice's password", ALICE_PASSWORD.to_string()),
        ("the admin's password", ADMIN_PASSWORD.to_string()),
        // An unsecured JWS token starts with the base64 of `{"`.
        ("an OAUTHBEARER token", "eyJ".to_string()),
        ("a record value", "value 1 over SASL_SSL".to_string()),
        ("a record key", "key-17".to_string()),
    ];
    for (what, text_of) in forbidden {
        if let Some(at) = text.find(&text_of) {
            let line = text[..at].rsplit('\n').next().unwrap_or_default();
            panic!("{what} is in the logs, after: {line:?}");
        }
    }
    eprintln!(
        "{} bytes of TRACE logs over four SASL_SSL logins and round trips: no secret, no payload",
        text.len()
    );
}
