//! The client scope: the connection's settings, onto [`ClientConfig`]
//! (security is [`super::security`]'s).

use crate::client::{ApiVersionTable, ClientConfig};

use super::keys::Prop;
use super::security::tls_and_sasl;
use super::value::Entry;
use super::{PropertyError, Resolved};

pub(super) fn client_config(properties: &Resolved<'_>) -> Result<ClientConfig, PropertyError> {
    let servers = properties
        .get(Prop::BootstrapServers)
        .ok_or_else(|| PropertyError::Missing {
            key: "bootstrap.servers",
            reason: "the brokers to connect to first (host:port,...)".into(),
        })?;
    let mut config = ClientConfig::new(bootstrap_servers(servers)?);
    for entry in properties.iter() {
        match entry.prop {
            Prop::ClientId => config.client_id = entry.text().to_string(),
            Prop::RequestTimeout => config.request_timeout = entry.millis(1)?,
            Prop::ConnectTimeout => config.connect_timeout = entry.millis(1)?,
            Prop::ReconnectBackoff => config.reconnect_backoff = entry.millis(0)?,
            Prop::ReconnectBackoffMax => config.reconnect_backoff_max = entry.millis(0)?,
            Prop::MetadataMaxAge => config.metadata_max_age = entry.millis(1)?,
            Prop::MaxInFlight => config.max_in_flight_per_connection = entry.number(1)?,
            Prop::ReceiveMessageMaxBytes => config.max_response_size = entry.number(1)?,
            Prop::AllowAutoCreateTopics => config.allow_auto_topic_creation = entry.boolean()?,
            Prop::BrokerVersionFallback => config.api_version_fallback = version_fallback(entry)?,
            _ => {}
        }
    }
    (config.tls, config.sasl) = tls_and_sasl(properties)?;
    Ok(config)
}

/// `host:port,host:port`, as given (no default port is added).
fn bootstrap_servers(entry: Entry<'_>) -> Result<Vec<String>, PropertyError> {
    let servers: Vec<String> = entry
        .text()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if servers.is_empty() {
        return Err(entry.bad("a comma-separated list of host:port"));
    }
    Ok(servers)
}

/// Only Kafka 0.8's versions are built in: brokers from 0.10 on answer
/// ApiVersions, so they need no fallback, and 0.9 is not covered.
fn version_fallback(entry: Entry<'_>) -> Result<ApiVersionTable, PropertyError> {
    let text = entry.text();
    let numeric = text
        .split('.')
        .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    if !numeric || text.split('.').count() < 2 {
        return Err(entry.bad("a Kafka version such as 0.8.2"));
    }
    if text == "0.8" || text.starts_with("0.8.") {
        Ok(ApiVersionTable::kafka_0_8_2())
    } else {
        Err(entry.unsupported(
            "kafkite has only Kafka 0.8.2's API versions to fall back to (for brokers \
             that hang up on ApiVersions, 0.8 and 0.9); brokers from 0.10 on answer \
             ApiVersions and need no fallback",
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::properties::{Properties, PropertyError};

    fn client(pairs: &[(&str, &str)]) -> Result<crate::client::ClientConfig, PropertyError> {
        Properties::from_pairs(pairs.iter().copied()).client_config()
    }

    #[test]
    fn every_client_property_reaches_its_field() {
        let config = client(&[
            ("bootstrap.servers", " a:9092, b:9093 ,"),
            ("client.id", "billing"),
            ("request.timeout.ms", "15000"),
            ("socket.connection.setup.timeout.ms", "2500"),
            ("reconnect.backoff.ms", "50"),
            ("reconnect.backoff.max.ms", "2000"),
            ("metadata.max.age.ms", "60000"),
            ("max.in.flight.requests.per.connection", "3"),
            ("receive.message.max.bytes", "1000000"),
            ("allow.auto.create.topics", "true"),
            ("broker.version.fallback", "0.8.2.2"),
        ])
        .unwrap();
        assert_eq!(config.bootstrap_servers, ["a:9092", "b:9093"]);
        assert_eq!(config.client_id, "billing");
        assert_eq!(config.request_timeout, Duration::from_secs(15));
        assert_eq!(config.connect_timeout, Duration::from_millis(2500));
        assert_eq!(config.reconnect_backoff, Duration::from_millis(50));
        assert_eq!(config.reconnect_backoff_max, Duration::from_secs(2));
        assert_eq!(config.metadata_max_age, Duration::from_secs(60));
        assert_eq!(config.max_in_flight_per_connection, 3);
        assert_eq!(config.max_response_size, 1_000_000);
        assert!(config.allow_auto_topic_creation);
        assert_eq!(
            config.api_version_fallback,
            crate::client::ApiVersionTable::kafka_0_8_2()
        );
        assert!(config.tls.is_none() && config.sasl.is_none());
    }

    #[test]
    fn defaults_are_the_typed_builders() {
        let config = client(&[("metadata.broker.list", "a:1")]).unwrap();
        let typed = crate::client::ClientConfig::new(["a:1"]);
        assert_eq!(format!("{config:?}"), format!("{typed:?}"));
        assert_eq!(
            client(&[("bootstrap.servers", "a:1"), ("max.in.flight", "7")])
                .unwrap()
                .max_in_flight_per_connection,
            7
        );
    }

    #[test]
    fn bootstrap_servers_are_required_and_not_empty() {
        let err = client(&[("client.id", "x")]).unwrap_err();
        assert!(matches!(
            err,
            PropertyError::Missing {
                key: "bootstrap.servers",
                ..
            }
        ));
        let err = client(&[("bootstrap.servers", " , ")]).unwrap_err();
        assert!(err.to_string().contains("host:port"), "{err}");
    }

    #[test]
    fn only_kafka_0_8_has_a_fallback() {
        let fallback = |v| client(&[("bootstrap.servers", "a:1"), ("broker.version.fallback", v)]);
        assert!(fallback("0.8").is_ok());
        assert!(matches!(
            fallback("0.10.0").unwrap_err(),
            PropertyError::UnsupportedValue { .. }
        ));
        assert!(matches!(
            fallback("latest").unwrap_err(),
            PropertyError::BadValue { .. }
        ));
    }

    #[test]
    fn producer_and_consumer_properties_are_left_alone() {
        let config = client(&[
            ("bootstrap.servers", "a:1"),
            ("linger.ms", "not checked here"),
            ("group.id", "g"),
        ]);
        assert!(config.is_ok());
    }
}
