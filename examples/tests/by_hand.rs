//! The by-hand driver (`by_hand.rs`: blocking sockets, rustls's sans-IO
//! connection, no runtime) against a secured Apache Kafka 4.4: the core
//! logs in and TLS works with no async driver at all, and a refused
//! certificate is the same typed error the async drivers give.

use std::time::Duration;

use kafkite::client::{ClientConfig, RequestError};
use kafkite::security::{AuthError, SaslConfig, TlsConfig, TlsError, UnsecuredJwsConfig};
use kafkite_examples::by_hand::{list_topics, ByHandError};
use kafkite_smol::{NewTopic, Session};
use kafkite_testkit::{shared_secure, unique_name, Listener, ALICE_PASSWORD, ALICE_USER};

const LIMIT: Duration = Duration::from_secs(30);

/// A topic made over the plaintext listener, which each listing must show.
fn a_topic() -> String {
    let topic = unique_name("by-hand");
    smol::block_on(async {
        let config = ClientConfig::from_bootstrap(shared_secure().plaintext_bootstrap());
        let session = Session::connect(config).await.expect("plaintext session");
        session
            .create_topics(&[NewTopic::new(&topic, 1, 1)])
            .await
            .expect("create topic");
        session.close().await;
    });
    topic
}

fn config(listener: Listener) -> ClientConfig {
    ClientConfig::from_bootstrap(shared_secure().listener(listener))
        .with_request_timeout(Duration::from_secs(10))
}

#[test]
fn lists_topics_over_tls_and_sasl_without_a_runtime() {
    let kafka = shared_secure();
    let topic = a_topic();
    let tls = || TlsConfig::new().ca_file(kafka.ca_pem());
    let cases = [
        ("SSL", config(Listener::Ssl).with_tls(tls())),
        (
            "mutual TLS",
            config(Listener::Mtls).with_tls(
                tls().client_certificate_files(kafka.client_ec_pem(), kafka.client_ec_key()),
            ),
        ),
        (
            "SASL_SSL SCRAM-SHA-256",
            config(Listener::SaslSsl)
                .with_tls(tls())
                .with_sasl(SaslConfig::scram_sha_256(ALICE_USER, ALICE_PASSWORD)),
        ),
        (
            "SASL_PLAINTEXT OAUTHBEARER",
            config(Listener::SaslPlaintext).with_sasl(SaslConfig::oauthbearer_unsecured(
                UnsecuredJwsConfig::new(ALICE_USER),
            )),
        ),
    ];
    for (what, config) in cases {
        let topics = list_topics(config, LIMIT).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(topics.contains(&topic), "{what}: {topics:?}");
    }
}

#[test]
fn an_untrusted_certificate_is_a_typed_error() {
    let kafka = shared_secure();
    let config = config(Listener::Ssl).with_tls(TlsConfig::new().ca_file(kafka.other_ca_pem()));
    match list_topics(config, LIMIT) {
        Err(ByHandError::Request(RequestError::Authentication {
            error: AuthError::Tls(TlsError::UnknownIssuer),
            ..
        })) => {}
        other => panic!("expected an untrusted-certificate error, got {other:?}"),
    }
}
