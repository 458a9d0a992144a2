//! The secured Kafka peer and its helpers: every listener of
//! [`SecureKafka`] behaves as documented (TLS handshakes that must pass or
//! fail, SASL mechanisms per listener, re-authentication), [`TcpProxy`]
//! counts connections and requests (including the pre-1.0 SaslHandshake v0
//! framing of Kafka 0.10.2.2's SASL PLAIN listener), and the read-back
//! witnesses read over SASL_SSL. The clients are Python's `ssl` module and
//! confluent-kafka (librdkafka 2.16), and kafka-clients 4.4 for the Java
//! read-back.

mod common;

use std::net::TcpStream;
use std::time::Duration;

use common::api_versions_v0;
use kafkite_testkit::release::KafkaRelease;
use kafkite_testkit::{
    confluent_read_back_with, java_read_back_with, run_python, shared_secure, unique_name,
    Listener, SecureKafka, TcpProxy, ALICE_PASSWORD, ALICE_USER,
};

/// Connects to each `NAME=ADDR` argument with TLS (trusting CA, checking
/// the name 127.0.0.1, presenting CERT/KEY when they are not `-`), sends
/// an ApiVersions v0 request and prints `NAME ok` if the answer echoes the
/// correlation id, else `NAME error <reason>`.
const TLS_PROBE: &str = r#"
import socket, ssl, struct, sys
ca, cert, key = sys.argv[1:4]
for arg in sys.argv[4:]:
    name, _, addr = arg.partition("=")
    host, _, port = addr.rpartition(":")
    ctx = ssl.create_default_context(cafile=ca)
    if cert != "-":
        ctx.load_cert_chain(cert, key)
    try:
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=host) as s:
                body = struct.pack(">hhih", 18, 0, 4242, 5) + b"probe"
                s.sendall(struct.pack(">i", len(body)) + body)
                head = s.recv(8)
                if len(head) < 8 or struct.unpack(">i", head[4:8])[0] != 4242:
                    raise RuntimeError(f"no ApiVersions answer: {head!r}")
        print(name, "ok")
    except Exception as e:
        print(name, "error", type(e).__name__, str(e).replace("\n", " "))
"#;

/// `PROBE ARGS` → the outcome line per listener name.
fn tls_probe(ca: &str, cert: Option<(&str, &str)>, targets: &[(&str, &str)]) -> Vec<String> {
    let (cert, key) = cert.unwrap_or(("-", "-"));
    let mut args = vec![ca.to_string(), cert.to_string(), key.to_string()];
    args.extend(targets.iter().map(|(n, a)| format!("{n}={a}")));
    let out = run_python(TLS_PROBE, &args).expect("TLS probe ran");
    out.lines().map(str::to_string).collect()
}

fn path(p: std::path::PathBuf) -> String {
    p.display().to_string()
}

#[test]
fn tls_listeners_pass_and_fail_as_configured() {
    let kafka = shared_secure();
    let ca = path(kafka.ca_pem());
    let good = tls_probe(
        &ca,
        None,
        &[
            ("ssl", kafka.listener(Listener::Ssl)),
            ("sasl_ssl", kafka.listener(Listener::SaslSsl)),
            ("expired", kafka.listener(Listener::Expired)),
            ("wronghost", kafka.listener(Listener::WrongHost)),
            ("mtls", kafka.listener(Listener::Mtls)),
        ],
    );
    assert_eq!(good[0], "ssl ok", "{good:?}");
    assert_eq!(good[1], "sasl_ssl ok", "{good:?}");
    assert!(
        good[2].starts_with("expired error") && good[2].contains("certificate has expired"),
        "{good:?}"
    );
    assert!(
        good[3].starts_with("wronghost error") && good[3].contains("IP address mismatch"),
        "{good:?}"
    );
    // TLS 1.3: the handshake completes on the client side; the broker's
    // alert arrives on the first read.
    assert!(good[4].starts_with("mtls error"), "{good:?}");

    let (client, key) = (path(kafka.client_pem()), path(kafka.client_key()));
    let (ec, ec_key) = (path(kafka.client_ec_pem()), path(kafka.client_ec_pk8_key()));
    let mtls = kafka.listener(Listener::Mtls);
    assert_eq!(
        tls_probe(&ca, Some((&client, &key)), &[("mtls", mtls)]),
        ["mtls ok"]
    );
    assert_eq!(
        tls_probe(&ca, Some((&ec, &ec_key)), &[("mtls", mtls)]),
        ["mtls ok"]
    );
    let untrusted = (
        path(kafka.untrusted_client_pem()),
        path(kafka.untrusted_client_key()),
    );
    let refused = tls_probe(&ca, Some((&untrusted.0, &untrusted.1)), &[("mtls", mtls)]);
    assert!(refused[0].starts_with("mtls error"), "{refused:?}");

    let other_ca = tls_probe(
        &path(kafka.other_ca_pem()),
        None,
        &[("ssl", kafka.listener(Listener::Ssl))],
    );
    assert!(
        other_ca[0].starts_with("ssl error") && other_ca[0].contains("certificate verify failed"),
        "{other_ca:?}"
    );
}

#[test]
fn plaintext_and_sasl_plaintext_listeners_answer_api_versions() {
    let kafka = shared_secure();
    for addr in [
        kafka.plaintext_bootstrap(),
        kafka.listener(Listener::SaslPlaintext),
        kafka.listener(Listener::Reauth),
        kafka.listener(Listener::ScramOnly),
    ] {
        api_versions_v0(addr).unwrap_or_else(|e| panic!("{addr}: {e}"));
    }
}

/// Per `LISTENER MECHANISM EXPECT` line on stdin (MECHANISM `-` for none,
/// EXPECT `ok` or `fail`), with the `KEY=VALUE` config lines that follow it
/// up to an empty line: produces one record to TOPIC with confluent-kafka
/// and prints `LISTENER MECHANISM ok` once it is delivered, or
/// `LISTENER MECHANISM fail <error>` once librdkafka reports an error
/// (authentication, TLS) or 20 s pass.
const PRODUCE_EACH: &str = r#"
import sys, time
from confluent_kafka import Producer
topic = sys.argv[1]
blocks = sys.stdin.read().strip().split("\n\n")
for block in blocks:
    lines = block.strip().split("\n")
    label = lines[0]
    conf = dict(l.split("=", 1) for l in lines[1:])
    errors, delivered = [], []
    conf["error_cb"] = lambda e: errors.append(e)
    conf["message.timeout.ms"] = 20000
    p = Producer(conf)
    p.produce(topic, value=label.encode(), on_delivery=lambda e, m: delivered.append(e))
    deadline = time.monotonic() + 20
    while not delivered and not errors and time.monotonic() < deadline:
        p.poll(0.05)
    if delivered and delivered[0] is None:
        print(label, "ok", flush=True)
    else:
        print(label, "fail", (errors or delivered or ["timeout"])[0], flush=True)
    p.purge()
    p.flush(1)
"#;

/// One PRODUCE_EACH block.
fn block(
    label: &str,
    bootstrap: &str,
    props: &[(String, String)],
    overrides: &[(&str, &str)],
) -> String {
    let mut b = format!("{label}\nbootstrap.servers={bootstrap}\n");
    for (k, v) in props {
        if !overrides.iter().any(|(ok, _)| ok == k) {
            b.push_str(&format!("{k}={v}\n"));
        }
    }
    for (k, v) in overrides {
        b.push_str(&format!("{k}={v}\n"));
    }
    b.push('\n');
    b
}

fn produce_each(topic: &str, blocks: &str) -> Vec<String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    kafkite_testkit::ensure_python().expect("venv");
    let mut child = Command::new(kafkite_testkit::python())
        .arg("-c")
        .arg(PRODUCE_EACH)
        .arg(topic)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .expect("stdin piped")
        .write_all(blocks.as_bytes())
        .expect("blocks written");
    let out = child.wait_with_output().expect("python finished");
    assert!(
        out.status.success(),
        "PRODUCE_EACH failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn every_listener_and_mechanism_takes_a_record_and_bad_credentials_do_not() {
    let kafka = shared_secure();
    let topic = unique_name("secure-each");
    let mut blocks = String::new();
    let mut expected = Vec::new();
    for listener in Listener::ALL {
        if !listener.accepts_good_clients() {
            continue;
        }
        let mechanisms: Vec<Option<&str>> = if listener.sasl_mechanisms().is_empty() {
            vec![None]
        } else {
            listener
                .sasl_mechanisms()
                .iter()
                .copied()
                .map(Some)
                .collect()
        };
        for m in mechanisms {
            let label = format!("{listener} {}", m.unwrap_or("-"));
            let props = kafka.librdkafka_props(listener, m);
            blocks.push_str(&block(&label, kafka.listener(listener), &props, &[]));
            expected.push(format!("{label} ok"));
        }
    }
    let bad = [
        (
            "wrong-password",
            Listener::SaslPlaintext,
            Some("SCRAM-SHA-512"),
            vec![("sasl.password", "nope")],
        ),
        (
            "wrong-password-plain",
            Listener::SaslSsl,
            Some("PLAIN"),
            vec![("sasl.password", "nope")],
        ),
        (
            "not-enabled",
            Listener::ScramOnly,
            Some("SCRAM-SHA-512"),
            vec![],
        ),
        ("expired", Listener::Expired, None, vec![]),
        ("wronghost", Listener::WrongHost, None, vec![]),
        (
            "no-client-cert",
            Listener::Mtls,
            None,
            vec![("ssl.certificate.location", ""), ("ssl.key.location", "")],
        ),
    ];
    for (label, listener, m, overrides) in &bad {
        let mut props = kafka.librdkafka_props(*listener, *m);
        props.retain(|(k, _)| !overrides.iter().any(|(o, v)| o == k && v.is_empty()));
        let overrides: Vec<_> = overrides
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .copied()
            .collect();
        blocks.push_str(&block(
            &format!("{label} -"),
            kafka.listener(*listener),
            &props,
            &overrides,
        ));
    }
    let got = produce_each(&topic, &blocks);
    assert_eq!(got[..expected.len()], expected[..], "{got:#?}");
    let failures = &got[expected.len()..];
    assert_eq!(failures.len(), bad.len(), "{got:#?}");
    for (line, (label, ..)) in failures.iter().zip(&bad) {
        assert!(line.starts_with(&format!("{label} - fail")), "{got:#?}");
    }
    assert!(failures[0].contains("invalid credentials"), "{failures:?}");
    assert!(
        failures[2].contains("Unsupported SASL mechanism"),
        "{failures:?}"
    );
}

/// Produces `COUNT` records (values `v0`, `v1`, ...) to TOPIC with the
/// `KEY=VALUE` config arguments and waits for their delivery.
const PRODUCE: &str = r#"
import sys
from confluent_kafka import Producer
bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
conf = dict(a.split("=", 1) for a in sys.argv[4:])
conf["bootstrap.servers"] = bootstrap
p = Producer(conf)
failed = []
for i in range(count):
    p.produce(topic, value=f"v{i}".encode(), key=b"k", on_delivery=lambda e, m: e and failed.append(e))
if p.flush(60) or failed:
    sys.exit(f"not delivered: {failed}")
"#;

fn produce(bootstrap: &str, topic: &str, count: usize, props: &[(String, String)]) {
    let mut args = vec![bootstrap.to_string(), topic.to_string(), count.to_string()];
    args.extend(props.iter().map(|(k, v)| format!("{k}={v}")));
    run_python(PRODUCE, &args).expect("records produced");
}

#[test]
fn read_back_witnesses_read_over_sasl_ssl_and_oauthbearer() {
    let kafka = shared_secure();
    let topic = unique_name("secure-read-back");
    let scram = Some("SCRAM-SHA-512");
    let addr = kafka.listener(Listener::SaslSsl);
    produce(
        addr,
        &topic,
        3,
        &kafka.librdkafka_props(Listener::SaslSsl, scram),
    );
    let timeout = Duration::from_secs(30);
    let java = java_read_back_with(
        addr,
        &topic,
        3,
        timeout,
        &kafka.java_props(Listener::SaslSsl, scram),
    )
    .expect("java reads over SASL_SSL with SCRAM-SHA-512");
    let confluent = confluent_read_back_with(
        addr,
        &topic,
        3,
        timeout,
        &kafka.librdkafka_props(Listener::SaslSsl, scram),
    )
    .expect("confluent-kafka reads over SASL_SSL with SCRAM-SHA-512");
    let values = |records: &[kafkite_testkit::ConsumedRecord]| -> Vec<Vec<u8>> {
        records.iter().filter_map(|r| r.value.clone()).collect()
    };
    let want = vec![b"v0".to_vec(), b"v1".to_vec(), b"v2".to_vec()];
    assert_eq!(values(&java), want);
    assert_eq!(values(&confluent), want);

    // The Java client with an unsecured OAUTHBEARER token, and with its
    // PEM keystore on the mutual-TLS listener.
    let oauth = Some("OAUTHBEARER");
    let plain_sasl = kafka.listener(Listener::SaslPlaintext);
    let java_oauth = java_read_back_with(
        plain_sasl,
        &topic,
        3,
        timeout,
        &kafka.java_props(Listener::SaslPlaintext, oauth),
    )
    .expect("java reads over SASL_PLAINTEXT with OAUTHBEARER");
    assert_eq!(values(&java_oauth), want);
    let java_mtls = java_read_back_with(
        kafka.listener(Listener::Mtls),
        &topic,
        3,
        timeout,
        &kafka.java_props(Listener::Mtls, None),
    )
    .expect("java reads over mutual TLS");
    assert_eq!(values(&java_mtls), want);
    // A property name the tools cannot take is refused before running.
    assert!(confluent_read_back_with(addr, &topic, 3, timeout, &[("a=b", "c")]).is_err());
}

/// Fetches metadata through BOOTSTRAP with the `KEY=VALUE` config
/// arguments (raises on failure).
const METADATA: &str = r#"
import sys
from confluent_kafka.admin import AdminClient
conf = dict(a.split("=", 1) for a in sys.argv[2:])
conf["bootstrap.servers"] = sys.argv[1]
md = AdminClient(conf).list_topics(timeout=20)
print(len(md.brokers))
"#;

fn metadata(bootstrap: &str, props: &[(String, String)]) {
    let mut args = vec![bootstrap.to_string()];
    args.extend(props.iter().map(|(k, v)| format!("{k}={v}")));
    let out = run_python(METADATA, &args).expect("metadata fetched");
    assert_eq!(out.trim(), "1", "brokers in metadata via {bootstrap}");
}

#[test]
fn proxy_counts_connections_and_requests_of_a_sasl_client() {
    let kafka = shared_secure();
    let proxy = TcpProxy::start(kafka.listener(Listener::SaslPlaintext)).expect("proxy");
    assert_eq!(proxy.connections(), 0);
    metadata(
        proxy.addr(),
        &kafka.librdkafka_props(Listener::SaslPlaintext, Some("SCRAM-SHA-256")),
    );
    assert!(proxy.connections() >= 1, "{proxy:?}");
    // ApiVersions, SaslHandshake v1, SaslAuthenticate (SCRAM: 2), Metadata.
    let counts = proxy.request_counts();
    assert!(proxy.requests(18) >= 1, "{counts:?}");
    assert!(proxy.requests(17) >= 1, "{counts:?}");
    assert!(proxy.requests(36) >= 2, "{counts:?}");
    assert!(proxy.requests(3) >= 1, "{counts:?}");
    assert_eq!(proxy.raw_sasl_frames(), 0);

    // A TLS client is forwarded, not parsed.
    let tls = TcpProxy::start(kafka.listener(Listener::SaslSsl)).expect("proxy");
    metadata(
        tls.addr(),
        &kafka.librdkafka_props(Listener::SaslSsl, Some("PLAIN")),
    );
    assert!(tls.connections() >= 1);
    assert!(
        tls.request_counts().is_empty(),
        "{:?}",
        tls.request_counts()
    );

    let addr = proxy.addr().to_string();
    drop(proxy);
    assert!(
        TcpStream::connect(&addr).is_err(),
        "the proxy still listens after drop"
    );
}

#[test]
fn kafka_0_10_2_2_speaks_sasl_plain_with_the_v0_framing() {
    let release = KafkaRelease::start_with_sasl_plain("0.10.2.2").expect("0.10.2.2 with SASL");
    let sasl = release.sasl_plaintext().expect("SASL listener").to_string();
    let proxy = TcpProxy::start(&sasl).expect("proxy");
    let props = |password: &str| {
        [
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.username", ALICE_USER),
            ("sasl.password", password),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    };
    metadata(proxy.addr(), &props(ALICE_PASSWORD));
    let counts = proxy.request_counts();
    // ApiVersions, SaslHandshake v0, one raw PLAIN token, then requests again.
    assert!(proxy.requests(18) >= 1, "{counts:?}");
    assert!(proxy.requests(17) >= 1, "{counts:?}");
    assert_eq!(proxy.requests(36), 0, "{counts:?}");
    assert!(proxy.raw_sasl_frames() >= 1, "{counts:?}");
    assert!(proxy.requests(3) >= 1, "{counts:?}");

    let topic = unique_name("old-sasl");
    produce(&sasl, &topic, 2, &props(ALICE_PASSWORD));
    let got = confluent_read_back_with(
        &sasl,
        &topic,
        2,
        Duration::from_secs(30),
        &props(ALICE_PASSWORD),
    )
    .expect("read back over 0.10.2.2's SASL listener");
    assert_eq!(got.len(), 2);

    let mut blocks = block("bad -", &sasl, &props("nope"), &[]);
    blocks.push_str(&block("good -", &sasl, &props(ALICE_PASSWORD), &[]));
    let outcome = produce_each(&topic, &blocks);
    assert!(outcome[0].starts_with("bad - fail"), "{outcome:?}");
    assert_eq!(outcome[1], "good - ok");
}

#[test]
fn a_custom_reauth_time_reaches_the_broker() {
    // Its own broker: the shared one keeps the default.
    let kafka = SecureKafka::start_with_reauth_ms(1500).expect("secured kafka");
    assert_eq!(kafka.reauth_ms(), 1500);
    let config = std::fs::read_to_string(kafka.data_dir().join("server.properties"))
        .expect("server.properties");
    assert!(
        config.contains("listener.name.reauth.connections.max.reauth.ms=1500"),
        "{config}"
    );
    // A client session there is re-authenticated: the broker announces the
    // lifetime and librdkafka re-authenticates at ~90% of it.
    let out = run_python(REAUTH_WATCH, [kafka.listener(Listener::Reauth).to_string()])
        .expect("reauth watch ran");
    let reauths: usize = out.trim().parse().expect("a count");
    assert!(reauths >= 2, "re-authentications in 4 s: {reauths}");
    let data_dir = kafka.data_dir().to_path_buf();
    drop(kafka);
    assert!(!data_dir.exists(), "data dir removed on drop");
}

/// Produces a record every 200 ms for 4 s over ADDR (PLAIN) with
/// librdkafka's security debug log on, and prints how many times it
/// re-authenticated ("Auth in state REAUTH").
const REAUTH_WATCH: &str = r#"
import logging, sys, time
from confluent_kafka import Producer
lines = []
class H(logging.Handler):
    def emit(self, r): lines.append(r.getMessage())
log = logging.getLogger("rdkafka"); log.addHandler(H()); log.setLevel(logging.DEBUG)
p = Producer({"bootstrap.servers": sys.argv[1], "security.protocol": "SASL_PLAINTEXT",
              "sasl.mechanism": "PLAIN", "sasl.username": "alice", "sasl.password": "alice-secret",
              "debug": "security", "linger.ms": 0}, logger=log)
end = time.monotonic() + 4
while time.monotonic() < end:
    p.produce("reauth-watch", value=b"x")
    p.poll(0.2)
if p.flush(20):
    sys.exit("undelivered")
p.poll(0)
print(sum("Auth in state REAUTH" in l for l in lines))
"#;
