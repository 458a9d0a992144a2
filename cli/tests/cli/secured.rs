//! The command line against a secured Kafka 4.4 (`kafkite_testkit::SecureKafka`):
//! kcat's `-X` / `-F` security properties produce and consume over
//! SASL_SSL and mutual TLS, and a refused login or certificate ends the
//! command within seconds in one line, with no secret in it.

use std::time::{Duration, Instant};

use kafkite_testkit::{
    shared_secure, unique_name, Listener, ALICE_PASSWORD, ALICE_USER, CLIENT_KEY_PASSWORD,
};

use super::support::{kafkite, run};

/// `-X` arguments for SASL_SSL with SCRAM-SHA-512 as alice, with `password`.
fn sasl_ssl(password: &str) -> Vec<String> {
    let kafka = shared_secure();
    [
        "security.protocol=SASL_SSL".to_string(),
        "sasl.mechanism=SCRAM-SHA-512".into(),
        format!("sasl.username={ALICE_USER}"),
        format!("sasl.password={password}"),
        format!("ssl.ca.location={}", kafka.ca_pem().display()),
    ]
    .into_iter()
    .flat_map(|p| ["-X".to_string(), p])
    .collect()
}

fn args<'a>(head: &[&'a str], properties: &'a [String], tail: &[&'a str]) -> Vec<&'a str> {
    let mut all: Vec<&str> = head.to_vec();
    all.extend(properties.iter().map(String::as_str));
    all.extend_from_slice(tail);
    all
}

#[test]
fn produce_and_consume_over_sasl_ssl() {
    let kafka = shared_secure();
    let bootstrap = kafka.listener(Listener::SaslSsl);
    let props = sasl_ssl(ALICE_PASSWORD);
    let topic = unique_name("cli-secured");
    run(
        kafkite(&args(
            &["-b", bootstrap],
            &props,
            &["topics", "create", &topic, "-P", "1"],
        )),
        b"",
    )
    .success();
    let lines = b"one\ntwo\nthree\n";
    run(
        kafkite(&args(
            &["-b", bootstrap],
            &props,
            &["produce", "-t", &topic],
        )),
        lines,
    )
    .success();
    let out = run(
        kafkite(&args(
            &["-b", bootstrap],
            &props,
            &["consume", "-t", &topic, "-e"],
        )),
        b"",
    )
    .success();
    assert_eq!(String::from_utf8_lossy(&out), "one\ntwo\nthree\n");
}

#[test]
fn mutual_tls_from_a_properties_file_with_an_encrypted_key() {
    let kafka = shared_secure();
    let file = std::env::temp_dir().join(format!("{}.properties", unique_name("mtls")));
    std::fs::write(
        &file,
        format!(
            "security.protocol=SSL\nssl.ca.location={}\nssl.certificate.location={}\nssl.key.location={}\nssl.key.password={CLIENT_KEY_PASSWORD}\n",
            kafka.ca_pem().display(),
            kafka.client_pem().display(),
            kafka.client_enc_key().display(),
        ),
    )
    .expect("write the properties file");
    let path = file.to_string_lossy().into_owned();
    let finished = run(
        kafkite(&[
            "-b",
            kafka.listener(Listener::Mtls),
            "-F",
            &path,
            "metadata",
        ]),
        b"",
    );
    let _ = std::fs::remove_file(&file);
    let out = String::from_utf8_lossy(&finished.success()).into_owned();
    assert!(out.contains("broker"), "{out}");
}

/// Runs `metadata` with `properties` against `listener` and expects one
/// line naming `needle`, within seconds, without `secret`.
fn refused(listener: Listener, properties: &[String], needle: &str, secret: &str) {
    let kafka = shared_secure();
    let started = Instant::now();
    let finished = run(
        kafkite(&args(
            &["-b", kafka.listener(listener), "-m", "30"],
            properties,
            &["metadata"],
        )),
        b"",
    );
    let elapsed = started.elapsed();
    assert_eq!(finished.status.code(), Some(1));
    assert!(!finished.stderr.contains(secret), "{}", finished.stderr);
    let line = finished.one_line_error(needle);
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}: {line}");
}

#[test]
fn a_wrong_password_is_one_line_at_once() {
    refused(
        Listener::SaslSsl,
        &sasl_ssl("wrong-secret"),
        "SCRAM-SHA-512 authentication failed",
        "wrong-secret",
    );
}

#[test]
fn an_untrusted_broker_certificate_is_one_line_at_once() {
    let kafka = shared_secure();
    let props: Vec<String> = [
        "security.protocol=SSL".to_string(),
        format!("ssl.ca.location={}", kafka.other_ca_pem().display()),
    ]
    .into_iter()
    .flat_map(|p| ["-X".to_string(), p])
    .collect();
    refused(
        Listener::Ssl,
        &props,
        "not signed by a trusted CA",
        ALICE_PASSWORD,
    );
}
