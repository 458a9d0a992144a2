//! kcat's `-X key=value` and `-F file`: librdkafka / Java client
//! properties reach the client, producer and consumer; a property that is
//! unknown, unsupported, badly valued or of no use to the command ends it
//! with one line (never showing a secret) before anything connects.

use std::path::PathBuf;

use super::support::{kafka, kafkite, kafkite_consume, kcat_consume, new_topic, run};

/// No broker listens here; the commands below fail before connecting.
const NOWHERE: &str = "127.0.0.1:1";

/// A properties file, removed when dropped.
struct PropertiesFile(PathBuf);

impl PropertiesFile {
    fn new(text: &str) -> Self {
        let name = kafkite_testkit::unique_name("cli-properties");
        let path = std::env::temp_dir().join(format!("{name}.properties"));
        std::fs::write(&path, text).expect("writing the properties file");
        PropertiesFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temporary path")
    }
}

impl Drop for PropertiesFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn an_unknown_property_is_one_line_suggesting_the_known_one() {
    let finished = run(
        kafkite(&["-b", NOWHERE, "produce", "-t", "x", "-X", "lingr.ms=5"]),
        b"",
    );
    assert_eq!(finished.status.code(), Some(1));
    finished.one_line_error("unknown property \"lingr.ms\" (did you mean linger.ms?)");
}

#[test]
fn a_property_the_command_does_not_use_is_one_line() {
    let finished = run(
        kafkite(&["-b", NOWHERE, "-X", "linger.ms=5", "consume", "-t", "x"]),
        b"",
    );
    assert_eq!(finished.status.code(), Some(1));
    finished
        .one_line_error("consume does not use the property linger.ms: it is a producer property");
    run(
        kafkite(&["-b", NOWHERE, "metadata", "-X", "group.id=g"]),
        b"",
    )
    .one_line_error("metadata does not use the property group.id");
}

#[test]
fn an_unsupported_property_or_value_says_so() {
    run(
        kafkite(&[
            "-b",
            NOWHERE,
            "-X",
            "ssl.keystore.location=/k.jks",
            "metadata",
        ]),
        b"",
    )
    .one_line_error("ssl.keystore.location is not supported");
    run(
        kafkite(&[
            "-b",
            NOWHERE,
            "consume",
            "-t",
            "x",
            "-G",
            "g",
            "-X",
            "group.protocol=consumer",
        ]),
        b"",
    )
    .one_line_error("KIP-848");
}

#[test]
fn a_bad_value_is_one_line_naming_the_property_and_the_choices() {
    let finished = run(
        kafkite(&["-b", NOWHERE, "produce", "-t", "x", "-X", "acks=2"]),
        b"",
    );
    assert_eq!(finished.status.code(), Some(1));
    finished.one_line_error("acks=\"2\" is invalid: expected one of 0, 1, all, -1");
}

#[test]
fn a_secret_never_reaches_the_error_line() {
    let secret = "S3CRET-from-the-command-line";
    let pair = format!("sasl.password={secret}");
    let line = run(kafkite(&["-b", NOWHERE, "-X", &pair, "metadata"]), b"")
        .one_line_error("sasl.password: set, but security.protocol is not");
    assert!(!line.contains(secret), "{line}");

    // -X without = is refused by the parser (exit 2) without echoing it.
    let finished = run(kafkite(&["-X", secret, "metadata"]), b"");
    assert_eq!(finished.status.code(), Some(2));
    let line = finished.one_line_error("-X takes key=value");
    assert!(!line.contains(secret), "{line}");

    let file = PropertiesFile::new(&format!("sasl.password {secret}\n"));
    let line = run(
        kafkite(&["-b", NOWHERE, "-F", file.path(), "metadata"]),
        b"",
    )
    .one_line_error("line 1: expected key=value");
    assert!(!line.contains(secret), "{line}");
}

#[test]
fn a_missing_properties_file_is_one_line_naming_it() {
    run(
        kafkite(&["-F", "/nonexistent/client.properties", "topics", "list"]),
        b"",
    )
    .one_line_error("reading /nonexistent/client.properties");
}

#[test]
fn bootstrap_servers_from_a_file_beats_kafka_bootstrap() {
    let topic = new_topic("cli-props-bootstrap", 1);
    let file = PropertiesFile::new(&format!(
        "# the shared broker\nbootstrap.servers={}\nclient.id=props-test\n",
        kafka()
    ));
    let mut cmd = kafkite(&["-F", file.path(), "topics", "list"]);
    cmd.env("KAFKA_BOOTSTRAP", NOWHERE);
    let out = run(cmd, b"").success();
    let listed = String::from_utf8_lossy(&out);
    assert!(listed.lines().any(|l| l == topic), "{listed}");
}

#[test]
fn producer_properties_reach_the_producer() {
    let topic = new_topic("cli-props-produce", 1);
    let file = PropertiesFile::new(
        "compression.type=gzip\nlinger.ms=0\nacks=1\nenable.idempotence=false\n",
    );
    let mut args = vec!["-b", kafka(), "-F", file.path(), "produce", "-t", &topic];
    args.extend(["-X", "batch.size=1000", "-X", "message.timeout.ms=30000"]);
    run(kafkite(&args), b"a\nb\n").success();
    assert_eq!(kcat_consume(&topic, r"%s\n"), b"a\nb\n");

    // Properties are read, not just accepted: idempotence needs acks=all.
    run(
        kafkite(&[
            "-b",
            kafka(),
            "produce",
            "-t",
            &topic,
            "-X",
            "enable.idempotence=true",
            "-X",
            "acks=1",
        ]),
        b"c\n",
    )
    .one_line_error("enable.idempotence: idempotence needs acks=all");
}

#[test]
fn consumer_properties_reach_the_group_member() {
    let topic = new_topic("cli-props-consume", 1);
    run(
        kafkite(&["-b", kafka(), "produce", "-t", &topic]),
        b"a\nb\n",
    )
    .success();
    // A new group starts where auto.offset.reset says: at the end, so
    // there is nothing to print.
    let group = kafkite_testkit::unique_name("cli-props-latest");
    let latest = kafkite_consume(
        &topic,
        &[
            "-G",
            &group,
            "-X",
            "auto.offset.reset=latest",
            "-X",
            "session.timeout.ms=10000",
            "-X",
            "partition.assignment.strategy=roundrobin",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&latest), "");
    // group.id names the group when -G does not; this one starts at the
    // beginning.
    let group = format!(
        "group.id={}",
        kafkite_testkit::unique_name("cli-props-earliest")
    );
    let earliest = kafkite_consume(&topic, &["-X", &group, "-X", "fetch.wait.max.ms=100"]);
    assert_eq!(String::from_utf8_lossy(&earliest), "a\nb\n");
}
