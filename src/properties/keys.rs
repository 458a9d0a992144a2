//! Every property name kafkite knows: the supported ones ([`Prop`], each
//! with its scopes and whether its value is a secret), the ones librdkafka
//! or the Java client have and kafkite does not (with the reason), and
//! the nearest known name for a misspelt one.

/// Which config a property configures, so each builder applies its own
/// keys and a caller can check that none is left unused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The connection and its security: [`ClientConfig`](crate::client::ClientConfig).
    Client,
    /// [`ProducerConfig`](crate::producer::ProducerConfig).
    Producer,
    /// Fetching: [`FetchConfig`](crate::consumer::FetchConfig).
    Consumer,
    /// Group membership and commits:
    /// [`GroupConfig`](crate::consumer::group::GroupConfig) and the
    /// auto-commit of [`GroupConsumerConfig`](crate::consumer::GroupConsumerConfig).
    Group,
}

impl Scope {
    /// How a message names the scope's properties ("a producer property").
    pub fn describe(self) -> &'static str {
        match self {
            Scope::Client => "client",
            Scope::Producer => "producer",
            Scope::Consumer => "consumer",
            Scope::Group => "consumer group",
        }
    }
}

/// A supported property, whatever name (librdkafka's or the Java
/// client's) it was given by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Prop {
    // Client: the connection.
    BootstrapServers,
    ClientId,
    RequestTimeout,
    ConnectTimeout,
    ReconnectBackoff,
    ReconnectBackoffMax,
    MetadataMaxAge,
    MaxInFlight,
    ReceiveMessageMaxBytes,
    AllowAutoCreateTopics,
    BrokerVersionFallback,
    // Client: security.
    SecurityProtocol,
    SslCaLocation,
    SslCaPem,
    SslCertificateLocation,
    SslCertificatePem,
    SslKeyLocation,
    SslKeyPem,
    SslKeyPassword,
    SslEndpointIdentification,
    SslCertificateVerification,
    SaslMechanism,
    SaslUsername,
    SaslPassword,
    SaslOAuthBearerMethod,
    SaslOAuthBearerUnsecureJwt,
    SaslOAuthBearerConfig,
    SaslOAuthBearerExtensions,
    // Producer.
    Acks,
    Linger,
    BatchSize,
    MaxRequestSize,
    BufferMemory,
    BufferKbytes,
    Compression,
    DeliveryTimeout,
    RetryBackoff,
    RetryBackoffMax,
    Idempotence,
    MaxBlock,
    TransactionalId,
    TransactionTimeout,
    // Consumer: fetching.
    FetchMaxBytes,
    FetchMinBytes,
    FetchMaxWait,
    PartitionFetchMaxBytes,
    QueuedMaxKbytes,
    AutoOffsetReset,
    IsolationLevel,
    // Consumer group.
    GroupId,
    GroupInstanceId,
    SessionTimeout,
    MaxPollInterval,
    HeartbeatInterval,
    AssignmentStrategy,
    AutoCommit,
    AutoCommitInterval,
    ClientRack,
    GroupProtocol,
    DefaultApiTimeout,
}

/// Every accepted name, librdkafka's first where the two clients differ;
/// a property's first name is the one messages use for it.
pub(super) const NAMES: &[(&str, Prop)] = &[
    ("bootstrap.servers", Prop::BootstrapServers),
    ("metadata.broker.list", Prop::BootstrapServers),
    ("client.id", Prop::ClientId),
    ("request.timeout.ms", Prop::RequestTimeout),
    ("socket.connection.setup.timeout.ms", Prop::ConnectTimeout),
    ("reconnect.backoff.ms", Prop::ReconnectBackoff),
    ("reconnect.backoff.max.ms", Prop::ReconnectBackoffMax),
    ("metadata.max.age.ms", Prop::MetadataMaxAge),
    ("max.in.flight.requests.per.connection", Prop::MaxInFlight),
    ("max.in.flight", Prop::MaxInFlight),
    ("receive.message.max.bytes", Prop::ReceiveMessageMaxBytes),
    ("allow.auto.create.topics", Prop::AllowAutoCreateTopics),
    ("broker.version.fallback", Prop::BrokerVersionFallback),
    ("security.protocol", Prop::SecurityProtocol),
    ("ssl.ca.location", Prop::SslCaLocation),
    ("ssl.ca.pem", Prop::SslCaPem),
    ("ssl.certificate.location", Prop::SslCertificateLocation),
    ("ssl.certificate.pem", Prop::SslCertificatePem),
    ("ssl.key.location", Prop::SslKeyLocation),
    ("ssl.key.pem", Prop::SslKeyPem),
    ("ssl.key.password", Prop::SslKeyPassword),
    (
        "ssl.endpoint.identification.algorithm",
        Prop::SslEndpointIdentification,
    ),
    (
        "enable.ssl.certificate.verification",
        Prop::SslCertificateVerification,
    ),
    ("sasl.mechanism", Prop::SaslMechanism),
    ("sasl.mechanisms", Prop::SaslMechanism),
    ("sasl.username", Prop::SaslUsername),
    ("sasl.password", Prop::SaslPassword),
    ("sasl.oauthbearer.method", Prop::SaslOAuthBearerMethod),
    (
        "enable.sasl.oauthbearer.unsecure.jwt",
        Prop::SaslOAuthBearerUnsecureJwt,
    ),
    ("sasl.oauthbearer.config", Prop::SaslOAuthBearerConfig),
    (
        "sasl.oauthbearer.extensions",
        Prop::SaslOAuthBearerExtensions,
    ),
    ("acks", Prop::Acks),
    ("request.required.acks", Prop::Acks),
    ("linger.ms", Prop::Linger),
    ("queue.buffering.max.ms", Prop::Linger),
    ("batch.size", Prop::BatchSize),
    ("message.max.bytes", Prop::MaxRequestSize),
    ("max.request.size", Prop::MaxRequestSize),
    ("queue.buffering.max.kbytes", Prop::BufferKbytes),
    ("buffer.memory", Prop::BufferMemory),
    ("compression.type", Prop::Compression),
    ("compression.codec", Prop::Compression),
    ("message.timeout.ms", Prop::DeliveryTimeout),
    ("delivery.timeout.ms", Prop::DeliveryTimeout),
    ("retry.backoff.ms", Prop::RetryBackoff),
    ("retry.backoff.max.ms", Prop::RetryBackoffMax),
    ("enable.idempotence", Prop::Idempotence),
    ("max.block.ms", Prop::MaxBlock),
    ("transactional.id", Prop::TransactionalId),
    ("transaction.timeout.ms", Prop::TransactionTimeout),
    ("fetch.max.bytes", Prop::FetchMaxBytes),
    ("fetch.min.bytes", Prop::FetchMinBytes),
    ("fetch.wait.max.ms", Prop::FetchMaxWait),
    ("fetch.max.wait.ms", Prop::FetchMaxWait),
    ("max.partition.fetch.bytes", Prop::PartitionFetchMaxBytes),
    ("queued.max.messages.kbytes", Prop::QueuedMaxKbytes),
    ("auto.offset.reset", Prop::AutoOffsetReset),
    ("isolation.level", Prop::IsolationLevel),
    ("group.id", Prop::GroupId),
    ("group.instance.id", Prop::GroupInstanceId),
    ("session.timeout.ms", Prop::SessionTimeout),
    ("max.poll.interval.ms", Prop::MaxPollInterval),
    ("heartbeat.interval.ms", Prop::HeartbeatInterval),
    ("partition.assignment.strategy", Prop::AssignmentStrategy),
    ("enable.auto.commit", Prop::AutoCommit),
    ("auto.commit.interval.ms", Prop::AutoCommitInterval),
    ("client.rack", Prop::ClientRack),
    ("group.protocol", Prop::GroupProtocol),
    ("default.api.timeout.ms", Prop::DefaultApiTimeout),
];

impl Prop {
    /// The property a name stands for, if kafkite supports it.
    pub(crate) fn lookup(name: &str) -> Option<Prop> {
        NAMES.iter().find(|(n, _)| *n == name).map(|&(_, p)| p)
    }

    /// The name messages use: librdkafka's where the clients differ.
    pub(crate) fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(_, p)| *p == self)
            .map_or("?", |&(n, _)| n)
    }

    /// The configs the property applies to (a few apply to more than
    /// one: `request.timeout.ms` is the client's and the Produce
    /// request's timeout).
    pub(crate) fn scopes(self) -> &'static [Scope] {
        use Prop::*;
        match self {
            BootstrapServers
            | ClientId
            | ConnectTimeout
            | ReconnectBackoff
            | ReconnectBackoffMax
            | MetadataMaxAge
            | ReceiveMessageMaxBytes
            | AllowAutoCreateTopics
            | BrokerVersionFallback
            | SecurityProtocol
            | SslCaLocation
            | SslCaPem
            | SslCertificateLocation
            | SslCertificatePem
            | SslKeyLocation
            | SslKeyPem
            | SslKeyPassword
            | SslEndpointIdentification
            | SslCertificateVerification
            | SaslMechanism
            | SaslUsername
            | SaslPassword
            | SaslOAuthBearerMethod
            | SaslOAuthBearerUnsecureJwt
            | SaslOAuthBearerConfig
            | SaslOAuthBearerExtensions => &[Scope::Client],
            RequestTimeout | MaxInFlight => &[Scope::Client, Scope::Producer],
            Acks | Linger | BatchSize | MaxRequestSize | BufferMemory | BufferKbytes
            | Compression | DeliveryTimeout | RetryBackoffMax | Idempotence | MaxBlock
            | TransactionalId | TransactionTimeout => &[Scope::Producer],
            RetryBackoff => &[Scope::Producer, Scope::Consumer, Scope::Group],
            FetchMaxBytes
            | FetchMinBytes
            | FetchMaxWait
            | PartitionFetchMaxBytes
            | QueuedMaxKbytes
            | AutoOffsetReset => &[Scope::Consumer],
            // read_committed is the fetch's isolation, and makes the
            // group's committed-offset fetches wait for stable offsets.
            IsolationLevel => &[Scope::Consumer, Scope::Group],
            GroupId | GroupInstanceId | SessionTimeout | MaxPollInterval | HeartbeatInterval
            | AssignmentStrategy | AutoCommit | AutoCommitInterval | ClientRack | GroupProtocol
            | DefaultApiTimeout => &[Scope::Group],
        }
    }

    /// A value never shown in a message or a `Debug` output.
    pub(crate) fn is_secret(self) -> bool {
        matches!(
            self,
            Prop::SslKeyPem
                | Prop::SslKeyPassword
                | Prop::SaslPassword
                // librdkafka marks it sensitive: it may carry extensions.
                | Prop::SaslOAuthBearerConfig
        )
    }

    /// One of the `ssl.*` settings that only a TLS connection uses.
    pub(crate) fn is_tls(self) -> bool {
        use Prop::*;
        matches!(
            self,
            SslCaLocation
                | SslCaPem
                | SslCertificateLocation
                | SslCertificatePem
                | SslKeyLocation
                | SslKeyPem
                | SslKeyPassword
                | SslEndpointIdentification
                | SslCertificateVerification
        )
    }

    /// One of the `sasl.*` settings that only a SASL login uses.
    pub(crate) fn is_sasl(self) -> bool {
        use Prop::*;
        matches!(
            self,
            SaslMechanism
                | SaslUsername
                | SaslPassword
                | SaslOAuthBearerMethod
                | SaslOAuthBearerUnsecureJwt
                | SaslOAuthBearerConfig
                | SaslOAuthBearerExtensions
        )
    }
}

/// Properties librdkafka or the Java client have and kafkite does not, by
/// name or by prefix (ending in `.`), with what to do instead. Checked
/// after the supported names, so `sasl.oauthbearer.config` is supported
/// while the rest of `sasl.oauthbearer.` is not.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("sasl.kerberos.", "Kerberos (GSSAPI) is not supported"),
    (
        "sasl.jaas.config",
        "JAAS is the Java client's; use sasl.mechanism with sasl.username and \
         sasl.password (or the unsecured OAUTHBEARER properties)",
    ),
    (
        "sasl.login.",
        "Java login classes are not supported; for OAUTHBEARER tokens, give a \
         provider in code (SaslConfig::oauthbearer)",
    ),
    (
        "sasl.client.callback.handler.class",
        "Java callback classes are not supported; for OAUTHBEARER tokens, give a \
         provider in code (SaslConfig::oauthbearer)",
    ),
    (
        "sasl.oauthbearer.",
        "OIDC token retrieval is not built in: give a token provider in code \
         (SaslConfig::oauthbearer)",
    ),
    (
        "ssl.keystore.",
        "JKS and PKCS#12 keystores are not supported: give the client certificate \
         and key as PEM (ssl.certificate.location and ssl.key.location)",
    ),
    (
        "ssl.truststore.",
        "JKS and PKCS#12 truststores are not supported: give the CA certificates \
         as PEM (ssl.ca.location or ssl.ca.pem)",
    ),
    (
        "ssl.cipher.suites",
        "rustls chooses the cipher suites (TLS 1.2 and 1.3, no weak suites)",
    ),
    ("ssl.curves.list", "rustls chooses the key exchange groups"),
    (
        "ssl.sigalgs.list",
        "rustls chooses the signature algorithms",
    ),
    ("ssl.enabled.protocols", "kafkite speaks TLS 1.2 and 1.3"),
    ("ssl.protocol", "kafkite speaks TLS 1.2 and 1.3"),
    (
        "ssl.crl.location",
        "certificate revocation lists are not supported",
    ),
    ("ssl.engine.", "OpenSSL engines do not apply: TLS is rustls"),
    (
        "ssl.providers",
        "OpenSSL providers do not apply: TLS is rustls",
    ),
    (
        "ssl.ca.certificate.stores",
        "the system's CA certificates are used when ssl.ca.location is not set",
    ),
    (
        "enable.auto.offset.store",
        "there is no separate offset store: a GroupConsumer commits the positions \
         passed to GroupConsumer::consumed",
    ),
    (
        "enable.partition.eof",
        "there are no end-of-partition events: each fetch reports the partition's \
         high watermark",
    ),
    (
        "partitioner",
        "records with a key go to murmur2(key) as in the Java client (librdkafka's \
         murmur2_random), records without one to a sticky partition",
    ),
    (
        "partitioner.class",
        "records with a key go to murmur2(key) as in the Java client, records \
         without one to a sticky partition",
    ),
    (
        "retries",
        "a record is retried until delivery.timeout.ms (message.timeout.ms) \
         passes: bound that instead",
    ),
    (
        "message.send.max.retries",
        "a record is retried until delivery.timeout.ms (message.timeout.ms) \
         passes: bound that instead",
    ),
    (
        "batch.num.messages",
        "batches are bounded by batch.size (bytes) only",
    ),
    (
        "max.poll.records",
        "records are handed out a fetched chunk at a time; bound a chunk with \
         max.partition.fetch.bytes",
    ),
    (
        "group.remote.assignor",
        "the consumer group protocol of KIP-848 is not built yet",
    ),
    (
        "key.serializer",
        "records are bytes: serialize keys and values in the application",
    ),
    (
        "value.serializer",
        "records are bytes: serialize keys and values in the application",
    ),
    (
        "key.deserializer",
        "records are bytes: deserialize keys and values in the application",
    ),
    (
        "value.deserializer",
        "records are bytes: deserialize keys and values in the application",
    ),
    ("interceptor.classes", "Java interceptors are not supported"),
    (
        "api.version.request",
        "kafkite always asks brokers for their versions (ApiVersions), and falls \
         back to Kafka 0.8.2's for brokers that hang up on it",
    ),
    (
        "debug",
        "kafkite has no debug logging; its events and errors say what happened",
    ),
];

/// Why kafkite does not support `name`, if librdkafka or Java has it.
pub(crate) fn unsupported(name: &str) -> Option<&'static str> {
    UNSUPPORTED
        .iter()
        .find(|(pattern, _)| {
            if pattern.ends_with('.') {
                name.starts_with(pattern)
            } else {
                name == *pattern
            }
        })
        .map(|&(_, reason)| reason)
}

/// The supported name nearest to `name` (a misspelling, a wrong case),
/// if one is near enough to be what was meant.
pub(crate) fn nearest(name: &str) -> Option<&'static str> {
    let wanted = name.to_ascii_lowercase();
    let (best, distance) = NAMES
        .iter()
        .map(|&(known, _)| (known, edit_distance(&wanted, known)))
        .min_by_key(|&(_, d)| d)?;
    // A third of the name may differ: "lingr.ms" finds linger.ms,
    // "foo" finds nothing.
    (distance <= (best.len() / 3).max(1)).then_some(best)
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_resolves_to_its_property_and_back() {
        for &(name, prop) in NAMES {
            assert_eq!(Prop::lookup(name), Some(prop), "{name}");
            assert_eq!(Prop::lookup(prop.name()), Some(prop));
            assert!(!prop.scopes().is_empty(), "{name}");
            assert!(
                !UNSUPPORTED.iter().any(|(pattern, _)| *pattern == name),
                "{name} is both"
            );
        }
    }

    #[test]
    fn aliases_name_the_same_property() {
        for (a, b) in [
            ("bootstrap.servers", "metadata.broker.list"),
            ("sasl.mechanism", "sasl.mechanisms"),
            ("linger.ms", "queue.buffering.max.ms"),
            ("compression.type", "compression.codec"),
            ("delivery.timeout.ms", "message.timeout.ms"),
            ("fetch.wait.max.ms", "fetch.max.wait.ms"),
            ("message.max.bytes", "max.request.size"),
            ("max.in.flight", "max.in.flight.requests.per.connection"),
            ("acks", "request.required.acks"),
        ] {
            assert_eq!(Prop::lookup(a), Prop::lookup(b), "{a} {b}");
            assert!(Prop::lookup(a).is_some());
        }
    }

    #[test]
    fn unsupported_names_match_exactly_or_by_prefix() {
        assert!(unsupported("sasl.kerberos.service.name").is_some());
        assert!(unsupported("ssl.keystore.location").is_some());
        assert!(unsupported("sasl.oauthbearer.token.endpoint.url").is_some());
        assert!(unsupported("sasl.oauthbearer.client.secret").is_some());
        assert!(unsupported("enable.auto.offset.store").is_some());
        assert_eq!(unsupported("retries.x"), None);
        assert_eq!(unsupported("linger.ms"), None);
    }

    #[test]
    fn a_near_miss_suggests_the_known_name() {
        assert_eq!(nearest("lingr.ms"), Some("linger.ms"));
        assert_eq!(nearest("Bootstrap.Servers"), Some("bootstrap.servers"));
        assert_eq!(nearest("sasl.pasword"), Some("sasl.password"));
        assert_eq!(nearest("foo"), None);
        assert_eq!(nearest("completely.different.thing"), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
