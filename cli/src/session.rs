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

/// The client config for the command line's brokers and timeout.
pub fn client_config(global: &Global) -> Result<ClientConfig, CliError> {
    let list = global.brokers.as_deref().unwrap_or_default();
    let servers: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(with_default_port)
        .collect();
    if servers.is_empty() {
        return Err(CliError::NoBrokers);
    }
    Ok(ClientConfig::new(servers)
        .with_client_id("kafkite-cli")
        .with_request_timeout(global.timeout)
        .with_connect_timeout(global.timeout))
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

    #[test]
    fn a_host_without_port_gets_9092() {
        assert_eq!(with_default_port("kafka"), "kafka:9092");
        assert_eq!(with_default_port("kafka:1234"), "kafka:1234");
        assert_eq!(with_default_port("[::1]"), "[::1]:9092");
        assert_eq!(with_default_port("[::1]:19092"), "[::1]:19092");
    }

    #[test]
    fn no_brokers_is_an_error() {
        let global = Global {
            brokers: Some(" , ".into()),
            timeout: Duration::from_secs(1),
        };
        assert!(matches!(client_config(&global), Err(CliError::NoBrokers)));
    }
}
