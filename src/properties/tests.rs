//! Properties as a whole: the file format, setting and aliases, unknown
//! and unsupported names, scopes, and that no secret reaches a message
//! or a `Debug` output. Each builder's own mapping is tested beside it.

use std::time::Duration;

use super::keys::{Prop, NAMES};
use super::{Properties, PropertyError, Scope};

fn pairs(pairs: &[(&str, &str)]) -> Properties {
    Properties::from_pairs(pairs.iter().copied())
}

#[test]
fn a_properties_file_is_key_value_lines_with_comments() {
    let properties = Properties::parse(
        "\u{feff}# Kafka\n\
         ! a Java comment\n\
         \n\
         \x20 bootstrap.servers = a:9092,b:9092 \r\n\
         client.id=id=with=equals\n\
         sasl.username=\n\
         linger.ms=1\n\
         linger.ms=2\n",
    )
    .unwrap();
    let entries: Vec<(&str, &str)> = properties.iter().collect();
    assert_eq!(
        entries,
        [
            ("bootstrap.servers", "a:9092,b:9092"),
            ("client.id", "id=with=equals"),
            ("sasl.username", ""),
            ("linger.ms", "2"),
        ]
    );
}

#[test]
fn a_bad_line_is_an_error_with_its_number_and_never_its_text() {
    let err = Properties::parse("a=1\nsasl.password hunter2\n").unwrap_err();
    assert!(
        matches!(err, PropertyError::Syntax { line: 2, .. }),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "line 2: expected key=value");
    assert!(!format!("{err:?}").contains("hunter2"));
    let err = Properties::parse("=x").unwrap_err().to_string();
    assert_eq!(err, "line 1: no key before the =");
    let err = Properties::parse("sasl.jaas.config=a \\\n  b").unwrap_err();
    assert!(err.to_string().contains("continuation"), "{err}");
}

#[test]
fn a_file_is_read_and_its_errors_name_it() {
    let dir = std::env::temp_dir().join(format!("kafkite-properties-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.properties");
    std::fs::write(&good, "bootstrap.servers=a:1\nacks=1\n").unwrap();
    let properties = Properties::from_file(&good).unwrap();
    assert_eq!(properties.get("acks"), Some("1"));
    let bad = dir.join("bad.properties");
    std::fs::write(&bad, "# x\nnonsense\n").unwrap();
    let err = Properties::from_file(&bad).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("{}: line 2: expected key=value", bad.display())
    );
    let missing = dir.join("missing.properties");
    let err = Properties::from_file(&missing).unwrap_err();
    assert!(matches!(err, PropertyError::Io { .. }));
    assert!(err.to_string().contains("missing.properties"), "{err}");
    let client = crate::client::ClientConfig::from_properties_file(&good).unwrap();
    assert_eq!(client.bootstrap_servers, ["a:1"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn setting_a_property_by_another_name_replaces_it() {
    let mut properties = pairs(&[("linger.ms", "5"), ("acks", "1")]);
    properties.set("queue.buffering.max.ms", "9");
    assert_eq!(properties.len(), 2);
    assert_eq!(properties.get("linger.ms"), Some("9"));
    assert_eq!(
        properties.producer_config().unwrap().linger,
        Duration::from_millis(9)
    );
    assert_eq!(
        properties.remove("queue.buffering.max.ms"),
        Some("9".into())
    );
    assert_eq!(properties.get("linger.ms"), None);
    // Unknown names are kept apart, by exact name.
    properties.set("x.y", "1").set(" x.y ", "2");
    assert_eq!(properties.get("x.y"), Some("2"));
    assert_eq!(properties.len(), 2);

    let mut merged = pairs(&[("sasl.mechanisms", "PLAIN"), ("acks", "1")]);
    merged.merge(pairs(&[("sasl.mechanism", "SCRAM-SHA-256")]));
    assert_eq!(merged.get("sasl.mechanisms"), Some("SCRAM-SHA-256"));
    let collected: Properties = [("acks", "0")].into_iter().collect();
    assert_eq!(collected, Properties::new().with("acks", "0"));
    assert!(Properties::new().is_empty());
}

#[test]
fn an_unknown_property_is_an_error_whatever_is_built() {
    let properties = pairs(&[("bootstrap.servers", "a:1"), ("lingr.ms", "5")]);
    let expected = "unknown property \"lingr.ms\" (did you mean linger.ms?)";
    assert_eq!(
        properties.client_config().unwrap_err().to_string(),
        expected
    );
    assert_eq!(
        properties.producer_config().unwrap_err().to_string(),
        expected
    );
    assert_eq!(properties.fetch_config().unwrap_err().to_string(), expected);
    let err = properties.check_scopes(&[Scope::Producer]).unwrap_err();
    assert!(matches!(
        err,
        PropertyError::Unknown {
            suggestion: Some("linger.ms"),
            ..
        }
    ));
    let err = pairs(&[("frobnicate", "1")]).fetch_config().unwrap_err();
    assert_eq!(err.to_string(), "unknown property \"frobnicate\"");
}

#[test]
fn unsupported_properties_say_so_and_what_to_do() {
    for (key, says) in [
        ("sasl.kerberos.service.name", "Kerberos"),
        ("sasl.kerberos.keytab", "Kerberos"),
        ("ssl.keystore.location", "ssl.certificate.location"),
        ("ssl.keystore.password", "PEM"),
        ("ssl.truststore.location", "ssl.ca.location"),
        ("sasl.jaas.config", "sasl.username"),
        (
            "sasl.oauthbearer.token.endpoint.url",
            "SaslConfig::oauthbearer",
        ),
        ("sasl.oauthbearer.client.secret", "SaslConfig::oauthbearer"),
        ("enable.auto.offset.store", "GroupConsumer::consumed"),
        ("enable.partition.eof", "high watermark"),
        ("retries", "delivery.timeout.ms"),
        ("partitioner", "murmur2"),
        ("max.poll.records", "max.partition.fetch.bytes"),
        ("value.serializer", "bytes"),
        ("group.remote.assignor", "KIP-848"),
        ("ssl.cipher.suites", "rustls"),
        ("debug", "logging"),
    ] {
        let err = pairs(&[(key, "S3CRET-value")])
            .producer_config()
            .unwrap_err();
        assert!(matches!(err, PropertyError::Unsupported { .. }), "{key}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("{key} is not supported: ")),
            "{text}"
        );
        assert!(text.contains(says), "{text}");
        assert!(!text.contains("S3CRET"), "{text}");
    }
}

#[test]
fn check_scopes_finds_a_property_no_builder_in_use_takes() {
    let properties = pairs(&[
        ("bootstrap.servers", "a:1"),
        ("retry.backoff.ms", "10"),
        ("linger.ms", "5"),
    ]);
    assert!(properties
        .check_scopes(&[Scope::Client, Scope::Producer])
        .is_ok());
    let err = properties
        .check_scopes(&[Scope::Client, Scope::Consumer])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "linger.ms is a producer property, which is not used here"
    );
    let err = pairs(&[("request.timeout.ms", "1")])
        .check_scopes(&[Scope::Consumer])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "request.timeout.ms is a client or producer property, which is not used here"
    );
    let err = pairs(&[("session.timeout.ms", "1")])
        .check_scopes(&[Scope::Client, Scope::Consumer])
        .unwrap_err();
    assert!(err.to_string().contains("consumer group property"), "{err}");
    assert!(pairs(&[("isolation.level", "read_committed")])
        .check_scopes(&[Scope::Group])
        .is_ok());
    assert!(Properties::new().check_scopes(&[]).is_ok());
}

/// A valid value unlike the default, for every property that maps to a
/// field by itself (security properties need each other: see security.rs).
fn sample(prop: Prop) -> Option<&'static str> {
    use Prop::*;
    Some(match prop {
        BootstrapServers => "b:2",
        ClientId | GroupId => "other",
        GroupInstanceId | ClientRack => "x",
        MaxInFlight => "2",
        Acks => "1",
        Compression => "gzip",
        AllowAutoCreateTopics => "true",
        Idempotence | AutoCommit => "false",
        BufferKbytes => "1",
        AutoOffsetReset => "latest",
        IsolationLevel => "read_committed",
        AssignmentStrategy => "roundrobin",
        // Classic is the only protocol, and 0.8.2 the only fallback: both
        // accepted values are the defaults.
        GroupProtocol | BrokerVersionFallback => return None,
        p if p.is_tls() || p.is_sasl() || p == SecurityProtocol => return None,
        _ => "1234",
    })
}

fn built(properties: &Properties, scope: Scope) -> String {
    let mut properties = properties.clone();
    if properties.get("bootstrap.servers").is_none() {
        properties.set("bootstrap.servers", "a:1");
    }
    if properties.get("group.id").is_none() {
        properties.set("group.id", "g");
    }
    match scope {
        Scope::Client => format!("{:?}", properties.client_config().unwrap()),
        Scope::Producer => format!("{:?}", properties.producer_config().unwrap()),
        Scope::Consumer => format!("{:?}", properties.fetch_config().unwrap()),
        // The group consumer's fetch settings are the consumer scope's.
        Scope::Group => format!(
            "{:?} {:?}",
            properties.group_config().unwrap(),
            properties.group_consumer_config().unwrap().auto_commit
        ),
    }
}

#[test]
fn every_property_changes_the_configs_of_its_scopes_and_no_other() {
    let all = [
        Scope::Client,
        Scope::Producer,
        Scope::Consumer,
        Scope::Group,
    ];
    for &(name, prop) in NAMES {
        let Some(value) = sample(prop) else { continue };
        let set = Properties::new().with(name, value);
        for scope in all {
            let changed = built(&set, scope) != built(&Properties::new(), scope);
            let applies = prop.scopes().contains(&scope);
            assert_eq!(changed, applies, "{name}={value} in {scope:?}");
        }
    }
}

const SECRET: &str = "S3CRET-do-not-print";

#[test]
fn debug_shows_values_but_not_secrets_or_unknown_names() {
    let properties = pairs(&[
        ("bootstrap.servers", "a:1"),
        ("sasl.password", SECRET),
        ("ssl.key.password", SECRET),
        ("ssl.key.pem", SECRET),
        ("sasl.oauthbearer.config", SECRET),
        ("sasl.pasword", SECRET),
        ("sasl.jaas.config", SECRET),
    ]);
    let debug = format!("{properties:?}");
    assert!(
        debug.starts_with("Properties {\"bootstrap.servers\": \"a:1\""),
        "{debug}"
    );
    assert!(debug.contains("\"sasl.password\": <redacted>"), "{debug}");
    assert!(!debug.contains(SECRET), "{debug}");
    assert!(!format!("{properties:#?}").contains(SECRET));
}

#[test]
fn a_secret_never_reaches_an_error_or_a_config_debug() {
    let secured = [
        ("bootstrap.servers", "a:1"),
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "SCRAM-SHA-512"),
        ("sasl.username", "alice"),
        ("sasl.password", SECRET),
        ("ssl.certificate.pem", "cert"),
        ("ssl.key.pem", SECRET),
        ("ssl.key.password", SECRET),
    ];
    let config = pairs(&secured).client_config().unwrap();
    assert!(!format!("{config:?}").contains(SECRET));
    assert!(!format!("{config:#?}").contains(SECRET));

    let failing: Vec<Vec<(&str, &str)>> = vec![
        vec![("sasl.password", SECRET)],
        vec![
            ("security.protocol", "PLAINTEXT"),
            ("sasl.password", SECRET),
        ],
        vec![("security.protocol", "PLAINTEXT"), ("ssl.key.pem", SECRET)],
        vec![("security.protocol", "SSL"), ("ssl.key.pem", SECRET)],
        vec![("security.protocol", "SSL"), ("ssl.key.password", SECRET)],
        vec![
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.password", SECRET),
        ],
        vec![
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "OAUTHBEARER"),
            ("enable.sasl.oauthbearer.unsecure.jwt", "true"),
            ("sasl.oauthbearer.config", SECRET),
        ],
        vec![
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "OAUTHBEARER"),
            ("sasl.oauthbearer.config", SECRET),
        ],
        vec![("sasl.pasword", SECRET)],
        vec![("sasl.oauthbearer.client.secret", SECRET)],
        vec![("ssl.keystore.password", SECRET)],
        vec![("sasl.jaas.config", SECRET)],
    ];
    for case in failing {
        let mut properties = pairs(&case);
        properties.set("bootstrap.servers", "a:1");
        let err = properties.client_config().unwrap_err();
        assert!(!err.to_string().contains(SECRET), "{err}");
        assert!(!format!("{err:?}").contains(SECRET), "{err:?}");
        let err = properties.check_scopes(&[]).unwrap_err();
        assert!(!format!("{err} {err:?}").contains(SECRET), "{err}");
    }
}
