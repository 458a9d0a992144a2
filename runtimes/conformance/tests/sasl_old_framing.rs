//! SASL on a broker before 1.0: Apache Kafka 0.10.2.2 with a SASL_PLAINTEXT
//! listener (PLAIN), which speaks SaslHandshake v0 only, so the tokens go
//! raw after it (no SaslAuthenticate), and which answers a wrong password
//! by hanging up.

use std::time::{Duration, Instant};

use kafkite_smol::{
    AuthError, ClientConfig, Error, FetchConfig, NewTopic, Producer, ProducerConfig,
    ProducerRecord, SaslConfig, Session,
};
use kafkite_testkit::release::KafkaRelease;
use kafkite_testkit::{unique_name, TcpProxy, ALICE_PASSWORD, ALICE_USER};
use smol::future;
use smol::stream::StreamExt;

const RELEASE: &str = "0.10.2.2";
const SASL_HANDSHAKE: i16 = 17;
const SASL_AUTHENTICATE: i16 = 36;

fn config(bootstrap: &str, sasl: SaslConfig) -> ClientConfig {
    ClientConfig::from_bootstrap(bootstrap)
        .with_request_timeout(Duration::from_secs(15))
        .with_sasl(sasl)
}

/// Fails the test if `f` takes longer than `limit`.
async fn within<T>(limit: Duration, what: &str, f: impl std::future::Future<Output = T>) -> T {
    let timeout = async {
        smol::Timer::after(limit).await;
        panic!("{what}: not done within {limit:?}");
    };
    future::or(f, timeout).await
}

#[test]
fn plain_over_the_old_framing_produces_and_consumes() {
    let kafka = KafkaRelease::start_with_sasl_plain(RELEASE).expect("Kafka 0.10.2.2 with SASL");
    let listener = kafka.sasl_plaintext().expect("a SASL_PLAINTEXT listener");
    // The bootstrap connection passes a proxy that counts what it carries.
    let proxy = TcpProxy::start(listener).expect("proxy");
    smol::block_on(within(Duration::from_secs(90), "0.10.2.2 PLAIN", async {
        let session = Session::connect(config(
            proxy.addr(),
            SaslConfig::plain(ALICE_USER, ALICE_PASSWORD),
        ))
        .await
        .expect("connect over SASL_PLAINTEXT");
        let topic = unique_name("old-sasl");
        session
            .create_topics(&[NewTopic::new(&topic, 1, 1)])
            .await
            .expect("create topic");
        let producer = Producer::new(&session, ProducerConfig::default())
            .await
            .expect("producer");
        let values: Vec<String> = (0..20).map(|i| format!("old framing {i}")).collect();
        let mut deliveries = Vec::new();
        for value in &values {
            let record = ProducerRecord::new(topic.as_str())
                .partition(0)
                .value(value.clone());
            deliveries.push(producer.send(record).await.expect("send"));
        }
        for delivery in deliveries {
            delivery.await.expect("delivered");
        }
        producer.close().await;
        let fetcher = kafkite_smol::Fetcher::new(&session, FetchConfig::default());
        let mut stream = fetcher.fetch(
            vec![kafkite_smol::FetchStart::new(&topic, 0, Some(0))],
            Some(values.len()),
        );
        let mut got = Vec::new();
        while let Some(record) = stream.next().await {
            let record = record.expect("fetch");
            got.push(
                String::from_utf8_lossy(record.value.as_deref().unwrap_or_default()).into_owned(),
            );
        }
        assert_eq!(got, values);
        drop(stream);
        session.close().await;
    }));
    // The login on the proxied connection: a v0 handshake and raw tokens.
    assert!(
        proxy.requests(SASL_HANDSHAKE) >= 1,
        "{:?}",
        proxy.request_counts()
    );
    assert_eq!(
        proxy.requests(SASL_AUTHENTICATE),
        0,
        "no SaslAuthenticate on 0.10"
    );
    assert!(
        proxy.raw_sasl_frames() >= 1,
        "raw tokens after the v0 handshake"
    );

    // A wrong password: the broker hangs up, a typed error comes at once.
    let wrong = TcpProxy::start(listener).expect("proxy");
    let started = Instant::now();
    let result = smol::block_on(within(Duration::from_secs(20), "wrong password", async {
        Session::connect(config(
            wrong.addr(),
            SaslConfig::plain(ALICE_USER, "wrong-secret"),
        ))
        .await
    }));
    match result {
        Err(Error::Authentication {
            error: AuthError::ClosedDuringAuthentication { mechanism: "PLAIN" },
            ..
        }) => {}
        other => panic!("expected a hang-up during authentication, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        wrong.connections() <= 2,
        "{} connections",
        wrong.connections()
    );
}
