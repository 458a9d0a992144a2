//! Connecting to the cluster the command line names, and looking up the
//! topic a command works on, so a missing topic or partition is reported
//! up front instead of as a stalled producer or an empty consume.

use std::time::{Duration, Instant};

use kafkite_smol::{ClientConfig, Session};

use crate::args::Global;
use crate::error::CliError;

/// How long a topic missing from the metadata is asked for again before it
/// is reported missing: a topic created a moment ago (by another tool, or
/// by `kafkite topics create` just before) may not be in every broker's
/// metadata yet.
const TOPIC_SETTLE: Duration = Duration::from_secs(2);
const TOPIC_RETRY: Duration = Duration::from_millis(200);

/// Connects to the brokers of `-b` (or `$KAFKA_BOOTSTRAP`), waiting at most
/// `-m` seconds for the first metadata.
pub async fn connect(global: &Global) -> Result<Session, CliError> {
    Session::connect(client_config(global)?)
        .await
        .map_err(CliError::connect)
}

/// Runs a command's `work` on a session, and closes the session however
/// the work ends (so a failing command still lets go of its connections
/// in order).
pub async fn with_session<T>(
    global: &Global,
    work: impl AsyncFnOnce(&Session) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let session = connect(global).await?;
    let outcome = work(&session).await;
    session.close().await;
    outcome
}

/// How long the CLI waits for the cluster when neither -m nor the
/// properties say.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The client config for the command line's brokers, timeout and
/// properties. Brokers: -b, else bootstrap.servers from -X or -F, else
/// `$KAFKA_BOOTSTRAP`; a host without a port gets 9092, as in librdkafka.
/// Timeouts: -m, else request.timeout.ms and
/// socket.connection.setup.timeout.ms, else 10 s. Client id: client.id,
/// else `kafkite-cli`.
pub fn client_config(global: &Global) -> Result<ClientConfig, CliError> {
    let mut properties = global.properties.clone();
    let brokers = match &global.brokers {
        Some(list) => Some(list.clone()),
        None if properties.get("bootstrap.servers").is_some() => None,
        None => std::env::var("KAFKA_BOOTSTRAP").ok(),
    };
    if let Some(list) = brokers {
        let servers: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if servers.is_empty() {
            return Err(CliError::NoBrokers);
        }
        properties.set("bootstrap.servers", servers.join(","));
    }
    if properties.get("bootstrap.servers").is_none() {
        return Err(CliError::NoBrokers);
    }
    let mut config = properties.client_config()?;
    config.bootstrap_servers = config
        .bootstrap_servers
        .iter()
        .map(|s| with_default_port(s))
        .collect();
    if properties.get("client.id").is_none() {
        config.client_id = "kafkite-cli".into();
    }
    let timeout = global.timeout.unwrap_or(DEFAULT_TIMEOUT);
    if global.timeout.is_some() || properties.get("request.timeout.ms").is_none() {
        config.request_timeout = timeout;
    }
    if global.timeout.is_some()
        || properties
            .get("socket.connection.setup.timeout.ms")
            .is_none()
    {
        config.connect_timeout = timeout;
    }
    Ok(config)
}

/// kcat (librdkafka) takes a host without a port as port 9092.
fn with_default_port(server: &str) -> String {
    let has_port = match server.rfind(']') {
        // [v6]:port
        Some(close) => server[close..].contains(':'),
        None => server.contains(':'),
    };
    if has_port {
        server.to_string()
    } else {
        format!("{server}:9092")
    }
}

/// The partition ids of `topic`, sorted, once the cluster knows the topic
/// and every partition has a leader.
pub async fn topic_partitions(session: &Session, topic: &str) -> Result<Vec<i32>, CliError> {
    let deadline = Instant::now() + TOPIC_SETTLE;
    loop {
        let metadata = session
            .add_topics(&[topic])
            .await
            .map_err(CliError::cluster(format!("metadata of topic {topic:?}")))?;
        let outcome = match metadata.topics.get(topic) {
            None => Err(CliError::UnknownTopic(topic.to_string())),
            Some(t) if !t.error.is_ok() => Err(CliError::TopicError {
                topic: topic.to_string(),
                reason: format!("{:?}", t.error),
            }),
            Some(t) if t.partitions.is_empty() => Err(CliError::UnknownTopic(topic.to_string())),
            Some(t) => match t.partitions.iter().find(|p| p.leader < 0) {
                Some(p) => Err(CliError::TopicError {
                    topic: topic.to_string(),
                    reason: format!("partition {} has no leader", p.partition),
                }),
                None => Ok(t.partitions.iter().map(|p| p.partition).collect()),
            },
        };
        if outcome.is_ok() || Instant::now() + TOPIC_RETRY > deadline {
            return outcome;
        }
        smol::Timer::after(TOPIC_RETRY).await;
    }
}

/// The partitions a command reads: `only` if given (and the topic has it),
/// else every partition of `topic`.
pub async fn chosen_partitions(
    session: &Session,
    topic: &str,
    only: Option<i32>,
) -> Result<Vec<i32>, CliError> {
    let partitions = topic_partitions(session, topic).await?;
    match only {
        Some(p) => {
            check_partition(topic, &partitions, p)?;
            Ok(vec![p])
        }
        None => Ok(partitions),
    }
}

/// Checks that `partition` is one of `partitions` (of `topic`).
pub fn check_partition(topic: &str, partitions: &[i32], partition: i32) -> Result<(), CliError> {
    if partitions.contains(&partition) {
        Ok(())
    } else {
        Err(CliError::UnknownPartition {
            topic: topic.to_string(),
            partition,
            partitions: partitions.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafkite::properties::Properties;

    #[test]
    fn a_host_without_port_gets_9092() {
        assert_eq!(with_default_port("kafka"), "kafka:9092");
        assert_eq!(with_default_port("kafka:1234"), "kafka:1234");
        assert_eq!(with_default_port("[::1]"), "[::1]:9092");
        assert_eq!(with_default_port("[::1]:19092"), "[::1]:19092");
    }

    fn global(brokers: Option<&str>, timeout: Option<u64>, properties: &[(&str, &str)]) -> Global {
        Global {
            brokers: brokers.map(str::to_owned),
            timeout: timeout.map(Duration::from_secs),
            property_flags: Default::default(),
            properties: Properties::from_pairs(properties.iter().copied()),
        }
    }

    #[test]
    fn no_brokers_is_an_error() {
        let global = global(Some(" , "), Some(1), &[]);
        assert!(matches!(client_config(&global), Err(CliError::NoBrokers)));
    }

    #[test]
    fn flags_win_over_properties_which_win_over_the_defaults() {
        let config = client_config(&global(Some("a"), None, &[])).unwrap();
        assert_eq!(config.bootstrap_servers, ["a:9092"]);
        assert_eq!(config.client_id, "kafkite-cli");
        assert_eq!(config.request_timeout, DEFAULT_TIMEOUT);
        assert_eq!(config.connect_timeout, DEFAULT_TIMEOUT);

        let properties = [
            ("metadata.broker.list", "p1,p2:9093"),
            ("client.id", "mine"),
            ("request.timeout.ms", "30000"),
            ("socket.connection.setup.timeout.ms", "4000"),
        ];
        let config = client_config(&global(None, None, &properties)).unwrap();
        assert_eq!(config.bootstrap_servers, ["p1:9092", "p2:9093"]);
        assert_eq!(config.client_id, "mine");
        assert_eq!(config.request_timeout, Duration::from_secs(30));
        assert_eq!(config.connect_timeout, Duration::from_secs(4));

        let config = client_config(&global(Some("b:1"), Some(2), &properties)).unwrap();
        assert_eq!(config.bootstrap_servers, ["b:1"]);
        assert_eq!(config.request_timeout, Duration::from_secs(2));
        assert_eq!(config.connect_timeout, Duration::from_secs(2));
    }

    #[test]
    fn a_bad_client_property_is_an_error() {
        let err = client_config(&global(
            Some("a"),
            None,
            &[("reconnect.backoff.ms", "soon")],
        ))
        .unwrap_err();
        assert!(matches!(err, CliError::Property(_)), "{err}");
        assert!(err.to_string().contains("reconnect.backoff.ms"), "{err}");
    }
}
