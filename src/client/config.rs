//! The client's settings, each named after the Java client's and
//! librdkafka's setting where one exists, with the same default.

use std::path::Path;
use std::time::Duration;

use super::versions::ApiVersionTable;
use crate::properties::{Properties, PropertyError};
use crate::security::{SaslConfig, SecurityProtocol, TlsConfig};

/// Settings for the core client. Build with [`ClientConfig::new`] and the
/// `with_*` methods.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Brokers to bootstrap from, `host:port`, tried in turn
    /// (`bootstrap.servers`).
    pub bootstrap_servers: Vec<String>,
    /// Sent in every request header (`client.id`). Default "kafkite".
    pub client_id: String,
    /// How long a request may wait for its response, queueing included
    /// (`request.timeout.ms`). Default 30 s.
    pub request_timeout: Duration,
    /// How long a TCP connect may take (`socket.connection.setup.timeout.ms`).
    /// Default 10 s.
    pub connect_timeout: Duration,
    /// First reconnect delay (`reconnect.backoff.ms`). Default 100 ms.
    pub reconnect_backoff: Duration,
    /// Longest reconnect delay (`reconnect.backoff.max.ms`). Default 10 s.
    pub reconnect_backoff_max: Duration,
    /// Metadata older than this is refreshed (`metadata.max.age.ms`).
    /// Default 5 min.
    pub metadata_max_age: Duration,
    /// Requests in flight per connection
    /// (`max.in.flight.requests.per.connection`). Default 5.
    pub max_in_flight_per_connection: usize,
    /// The largest response frame accepted; a larger one is an error and
    /// drops the connection (`receive.message.max.bytes`). Default 256 MiB,
    /// well above a default fetch (50 MiB), because some brokers ignore the
    /// fetch size limits.
    pub max_response_size: usize,
    /// Versions to assume for a broker that closes the connection on
    /// ApiVersions (Kafka 0.8 and 0.9) (`broker.version.fallback`). Default:
    /// Kafka 0.8.2's versions.
    pub api_version_fallback: ApiVersionTable,
    /// Whether Metadata requests may create topics (`allow.auto.create.topics`).
    /// Default false.
    pub allow_auto_topic_creation: bool,
    /// Seed for backoff jitter and random broker choice. The same seed and
    /// inputs give the same run.
    pub seed: u64,
    /// TLS for every connection (`security.protocol` SSL or SASL_SSL), or
    /// `None` for plaintext. The core never sees ciphertext: the driver
    /// wraps each socket (see [`crate::security::TlsConnector`]).
    pub tls: Option<TlsConfig>,
    /// SASL login on every connection (`security.protocol`
    /// SASL_PLAINTEXT or SASL_SSL), or `None`.
    pub sasl: Option<SaslConfig>,
}

impl ClientConfig {
    /// A config for `bootstrap_servers` (`host:port` each) with every other
    /// setting at its default.
    pub fn new<S: Into<String>>(bootstrap_servers: impl IntoIterator<Item = S>) -> Self {
        ClientConfig {
            bootstrap_servers: bootstrap_servers.into_iter().map(Into::into).collect(),
            client_id: "kafkite".into(),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            reconnect_backoff: Duration::from_millis(100),
            reconnect_backoff_max: Duration::from_secs(10),
            metadata_max_age: Duration::from_secs(300),
            max_in_flight_per_connection: 5,
            max_response_size: 256 * 1024 * 1024,
            api_version_fallback: ApiVersionTable::kafka_0_8_2(),
            allow_auto_topic_creation: false,
            seed: 0x6b61_666b_6974_6521,
            tls: None,
            sasl: None,
        }
    }

    /// The config librdkafka or Java client properties describe: the
    /// client scope's (`bootstrap.servers`, required; timeouts and
    /// backoffs; `security.protocol` with the `ssl.*` and `sasl.*`
    /// properties), each onto the field that names it, the rest at these
    /// defaults. Properties of the producer and consumer scopes are left
    /// for their configs; unknown or unsupported ones are errors (see
    /// [`crate::properties`]).
    ///
    /// ```
    /// use kafkite::client::ClientConfig;
    /// use kafkite::properties::Properties;
    /// use kafkite::security::SecurityProtocol;
    ///
    /// let properties = Properties::parse(
    ///     "bootstrap.servers=broker-1:9093,broker-2:9093\n\
    ///      security.protocol=SASL_SSL\n\
    ///      sasl.mechanism=SCRAM-SHA-512\n\
    ///      sasl.username=alice\n\
    ///      sasl.password=alice-secret\n\
    ///      request.timeout.ms=20000\n",
    /// )?;
    /// let config = ClientConfig::from_properties(&properties)?;
    /// assert_eq!(config.security_protocol(), SecurityProtocol::SaslSsl);
    /// assert_eq!(config.request_timeout.as_secs(), 20);
    /// assert!(!format!("{config:?}").contains("alice-secret"));
    ///
    /// // No setting is ignored: PLAINTEXT with a TLS setting is an error.
    /// let mut wrong = properties.clone();
    /// wrong.set("security.protocol", "PLAINTEXT");
    /// let err = ClientConfig::from_properties(&wrong).unwrap_err();
    /// assert!(err.to_string().contains("does not log in with SASL"));
    /// # Ok::<(), kafkite::properties::PropertyError>(())
    /// ```
    pub fn from_properties(properties: &Properties) -> Result<Self, PropertyError> {
        properties.client_config()
    }

    /// [`ClientConfig::from_properties`] of a properties file (`key=value`
    /// lines, as [`Properties::parse`] reads them).
    pub fn from_properties_file(path: impl AsRef<Path>) -> Result<Self, PropertyError> {
        Properties::from_file(path)?.client_config()
    }

    /// Parses a comma-separated bootstrap list ("a:9092,b:9092").
    pub fn from_bootstrap(list: &str) -> Self {
        Self::new(
            list.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        )
    }

    /// Sets [`client_id`](Self::client_id).
    pub fn with_client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = id.into();
        self
    }

    /// Sets [`request_timeout`](Self::request_timeout).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the first and the longest reconnect delay.
    pub fn with_reconnect_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.reconnect_backoff = first;
        self.reconnect_backoff_max = max;
        self
    }

    /// Sets [`metadata_max_age`](Self::metadata_max_age).
    pub fn with_metadata_max_age(mut self, age: Duration) -> Self {
        self.metadata_max_age = age;
        self
    }

    /// Sets [`max_in_flight_per_connection`](Self::max_in_flight_per_connection);
    /// 0 is taken as 1.
    pub fn with_max_in_flight_per_connection(mut self, n: usize) -> Self {
        self.max_in_flight_per_connection = n.max(1);
        self
    }

    /// Sets [`max_response_size`](Self::max_response_size), in bytes.
    pub fn with_max_response_size(mut self, bytes: usize) -> Self {
        self.max_response_size = bytes;
        self
    }

    /// Sets [`api_version_fallback`](Self::api_version_fallback).
    pub fn with_api_version_fallback(mut self, table: ApiVersionTable) -> Self {
        self.api_version_fallback = table;
        self
    }

    /// Sets [`allow_auto_topic_creation`](Self::allow_auto_topic_creation).
    pub fn with_allow_auto_topic_creation(mut self, allow: bool) -> Self {
        self.allow_auto_topic_creation = allow;
        self
    }

    /// Sets [`seed`](Self::seed).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Encrypt every connection with TLS.
    pub fn with_tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Log in with SASL on every connection.
    pub fn with_sasl(mut self, sasl: SaslConfig) -> Self {
        self.sasl = Some(sasl);
        self
    }

    /// `security.protocol`, as the TLS and SASL settings make it.
    pub fn security_protocol(&self) -> SecurityProtocol {
        match (self.tls.is_some(), self.sasl.is_some()) {
            (false, false) => SecurityProtocol::Plaintext,
            (true, false) => SecurityProtocol::Ssl,
            (false, true) => SecurityProtocol::SaslPlaintext,
            (true, true) => SecurityProtocol::SaslSsl,
        }
    }
}
