//! Secured connections on smol against a secured Apache Kafka 4.4: TLS,
//! mutual TLS, SASL (PLAIN, SCRAM, OAUTHBEARER) over plaintext and TLS,
//! re-authentication and refusals; and the Java client and
//! confluent-kafka reading back what kafkite wrote over SASL_SSL.

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    smol::block_on(future)
}

kafkite_conformance::security_tests!(kafkite_smol::SmolRuntime, block_on);

#[test]
fn java_and_confluent_read_what_kafkite_wrote_over_sasl_ssl() {
    use kafkite_conformance::security::peers_read_what_kafkite_wrote_over_sasl_ssl;
    block_on(peers_read_what_kafkite_wrote_over_sasl_ssl::<
        kafkite_smol::SmolRuntime,
    >(kafkite_testkit::shared_secure()))
}

/// Re-authentication with the other mechanisms too (the macro's test uses
/// SCRAM-SHA-512): OAUTHBEARER, whose session also ends with its token,
/// and PLAIN.
#[test]
fn reauthenticates_with_oauthbearer_and_plain() {
    use kafkite_conformance::security::{
        reauth_lock, reauthenticates_without_losing_anything, Mechanism,
    };
    for mechanism in [Mechanism::OAuthBearer, Mechanism::Plain] {
        let _one_at_a_time = reauth_lock();
        block_on(reauthenticates_without_losing_anything::<
            kafkite_smol::SmolRuntime,
        >(kafkite_testkit::shared_secure(), mechanism))
    }
}
