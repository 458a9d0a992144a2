//! Configuration the way people already write it: librdkafka's and the
//! Java client's property names, as key/value pairs or a properties file,
//! turned into kafkite's typed configs ([`ClientConfig`],
//! [`ProducerConfig`], [`FetchConfig`], [`GroupConfig`],
//! [`GroupConsumerConfig`]). The typed builders stay the primary API;
//! this is a way in for a config that already exists.
//!
//! Nothing is ignored: a name kafkite does not know is an error (with the
//! nearest known name), a name librdkafka or Java has and kafkite does
//! not support is an error saying so and what to do instead, a value
//! that does not parse is an error naming the property and what it
//! takes, and settings that contradict each other (`ssl.*` under
//! `security.protocol=PLAINTEXT`, which librdkafka ignores) are an error.
//! No message and no `Debug` output shows a secret's value.
//!
//! ```
//! use kafkite::properties::{Properties, Scope};
//!
//! let properties = Properties::parse(
//!     "# the cluster\n\
//!      bootstrap.servers=kafka-1:9092,kafka-2:9092\n\
//!      linger.ms=20\n\
//!      compression.type=lz4\n",
//! )?;
//! let client = properties.client_config()?;
//! let producer = properties.producer_config()?;
//! assert_eq!(client.bootstrap_servers.len(), 2);
//! assert_eq!(producer.linger.as_millis(), 20);
//! // A consumer could not use linger.ms:
//! assert!(properties.check_scopes(&[Scope::Client, Scope::Consumer]).is_err());
//! # Ok::<(), kafkite::properties::PropertyError>(())
//! ```
//!
//! # Scopes
//!
//! Each property belongs to one or more [`Scope`]s; each builder applies
//! the properties of its scope and leaves the others for theirs. The
//! names (librdkafka's first, then the Java client's where it differs):
//!
//! | scope | properties |
//! | --- | --- |
//! | client | `bootstrap.servers` (`metadata.broker.list`), `client.id`, `request.timeout.ms`, `socket.connection.setup.timeout.ms`, `reconnect.backoff.ms`, `reconnect.backoff.max.ms`, `metadata.max.age.ms`, `max.in.flight.requests.per.connection` (`max.in.flight`), `receive.message.max.bytes`, `allow.auto.create.topics`, `broker.version.fallback` (0.8.x only) |
//! | client: security | `security.protocol`, `ssl.ca.location` (`probe`: the system's), `ssl.ca.pem`, `ssl.certificate.location`, `ssl.certificate.pem`, `ssl.key.location`, `ssl.key.pem`, `ssl.key.password`, `ssl.endpoint.identification.algorithm` (https, none), `enable.ssl.certificate.verification`, `sasl.mechanisms` (`sasl.mechanism`: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER), `sasl.username`, `sasl.password`, `sasl.oauthbearer.method` (default), `enable.sasl.oauthbearer.unsecure.jwt`, `sasl.oauthbearer.config`, `sasl.oauthbearer.extensions` |
//! | producer | `acks` (`request.required.acks`), `linger.ms` (`queue.buffering.max.ms`), `batch.size`, `message.max.bytes` (`max.request.size`), `queue.buffering.max.kbytes`, `buffer.memory`, `compression.codec` (`compression.type`), `message.timeout.ms` (`delivery.timeout.ms`), `retry.backoff.ms`, `retry.backoff.max.ms`, `enable.idempotence`, `max.block.ms`, `transactional.id`, `transaction.timeout.ms`; and `request.timeout.ms` (the Produce timeout), `max.in.flight` (at most 5) |
//! | consumer | `fetch.max.bytes`, `fetch.min.bytes`, `fetch.wait.max.ms` (`fetch.max.wait.ms`), `max.partition.fetch.bytes`, `auto.offset.reset`, `isolation.level`, `retry.backoff.ms` |
//! | consumer group | `group.id`, `group.instance.id`, `session.timeout.ms`, `max.poll.interval.ms` (the rebalance timeout), `heartbeat.interval.ms`, `partition.assignment.strategy`, `enable.auto.commit`, `auto.commit.interval.ms`, `client.rack`, `group.protocol` (classic), `default.api.timeout.ms`, `isolation.level`, `retry.backoff.ms` |
//!
//! # The file format
//!
//! [`Properties::parse`] reads the common subset of a Java `.properties`
//! file and librdkafka's (kcat's `-F`) config file: one `key=value` per
//! line, split at the first `=`, with whitespace around the key and the
//! value removed; blank lines and lines starting with `#` or `!` are
//! skipped. Values are taken as written: no escapes (`\n`, `\uXXXX`), no
//! `:` or space as the separator, and no continuation lines (a line
//! ending in `\` is an error rather than half a value). A later line for
//! the same property replaces an earlier one.
//!
//! [`ClientConfig`]: crate::client::ClientConfig
//! [`ProducerConfig`]: crate::producer::ProducerConfig
//! [`FetchConfig`]: crate::consumer::FetchConfig
//! [`GroupConfig`]: crate::consumer::group::GroupConfig
//! [`GroupConsumerConfig`]: crate::consumer::GroupConsumerConfig

mod client;
mod consumer;
mod error;
mod keys;
mod oauthbearer;
mod producer;
mod security;
mod value;

use std::fmt;
use std::path::Path;

use crate::client::ClientConfig;
use crate::consumer::group::GroupConfig;
use crate::consumer::{FetchConfig, GroupConsumerConfig};
use crate::producer::ProducerConfig;

pub use error::PropertyError;
pub use keys::Scope;

use keys::Prop;
use value::Entry;

/// Properties in the order they were set, one entry per property (a
/// property set again, by either of its names, replaces its entry).
/// Reading them is free of checks; each builder checks every property
/// (unknown and unsupported names are errors whichever builder is
/// called) and the values of its own scope.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Properties {
    entries: Vec<(String, String)>,
}

impl Properties {
    /// An empty set of properties.
    pub fn new() -> Self {
        Properties::default()
    }

    /// Parses the text of a properties file (see the [module
    /// docs](self#the-file-format) for what is accepted).
    pub fn parse(text: &str) -> Result<Properties, PropertyError> {
        parse_lines(text, None)
    }

    /// Reads and parses a properties file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Properties, PropertyError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| PropertyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        parse_lines(&text, Some(path))
    }

    /// Properties from `key`, `value` pairs (`-X key=value` flags, an
    /// environment, a map), set in order. Keys are trimmed; values are
    /// kept as given (a password may end in a space).
    pub fn from_pairs<K: AsRef<str>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Properties {
        let mut properties = Properties::new();
        for (key, value) in pairs {
            properties.set(key.as_ref(), value);
        }
        properties
    }

    /// Sets a property, replacing the entry it had under either of its
    /// names. Not checked until a builder is called.
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        let key = key.trim();
        self.remove(key);
        self.entries.push((key.to_string(), value.into()));
        self
    }

    /// [`Properties::set`], by value.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.set(key, value);
        self
    }

    /// Sets every property of `other` here, in its order.
    pub fn merge(&mut self, other: Properties) -> &mut Self {
        for (key, value) in other.entries {
            self.set(&key, value);
        }
        self
    }

    /// A property's value, looked up by any of its names.
    pub fn get(&self, key: &str) -> Option<&str> {
        let key = key.trim();
        self.entries
            .iter()
            .find(|(k, _)| same_property(k, key))
            .map(|(_, v)| v.as_str())
    }

    /// Removes a property (by any of its names), returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let key = key.trim();
        let at = self
            .entries
            .iter()
            .position(|(k, _)| same_property(k, key))?;
        Some(self.entries.remove(at).1)
    }

    /// The properties, as set and in order: values of secrets included.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The number of properties set.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no property is set.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The client's config: the client scope's properties (the
    /// connection and its security). `bootstrap.servers` is required;
    /// TLS and SASL follow `security.protocol`, which must be set when
    /// any `ssl.*` or `sasl.*` property is.
    pub fn client_config(&self) -> Result<ClientConfig, PropertyError> {
        client::client_config(&self.resolve()?)
    }

    /// The producer's config: the producer scope's properties.
    pub fn producer_config(&self) -> Result<ProducerConfig, PropertyError> {
        producer::producer_config(&self.resolve()?)
    }

    /// The fetch config: the consumer scope's properties.
    pub fn fetch_config(&self) -> Result<FetchConfig, PropertyError> {
        consumer::fetch_config(&self.resolve()?)
    }

    /// A group member's config: the consumer group scope's properties.
    /// `group.id` is required.
    pub fn group_config(&self) -> Result<GroupConfig, PropertyError> {
        consumer::group_config(&self.resolve()?)
    }

    /// A group consumer's config: the consumer and consumer group
    /// scopes' properties. `group.id` is required.
    pub fn group_consumer_config(&self) -> Result<GroupConsumerConfig, PropertyError> {
        consumer::group_consumer_config(&self.resolve()?)
    }

    /// Checks that every property is supported and belongs to one of
    /// `scopes`: that the configs a caller builds use them all (a
    /// consumer given `linger.ms` would otherwise drop it). Values are
    /// checked by the builders.
    pub fn check_scopes(&self, scopes: &[Scope]) -> Result<(), PropertyError> {
        for entry in self.resolve()?.iter() {
            if !entry.prop.scopes().iter().any(|s| scopes.contains(s)) {
                return Err(PropertyError::NotUsed {
                    key: entry.key.to_string(),
                    scopes: entry.prop.scopes(),
                });
            }
        }
        Ok(())
    }

    /// Every entry as a supported property; the first unknown or
    /// unsupported one is the error.
    fn resolve(&self) -> Result<Resolved<'_>, PropertyError> {
        let entries = self
            .entries
            .iter()
            .map(|(key, value)| match Prop::lookup(key) {
                Some(prop) => Ok(Entry { prop, key, value }),
                None => Err(match keys::unsupported(key) {
                    Some(reason) => PropertyError::Unsupported {
                        key: key.clone(),
                        reason,
                    },
                    None => PropertyError::Unknown {
                        key: key.clone(),
                        suggestion: keys::nearest(key),
                    },
                }),
            })
            .collect::<Result<_, _>>()?;
        Ok(Resolved { entries })
    }
}

impl<K: AsRef<str>, V: Into<String>> FromIterator<(K, V)> for Properties {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        Properties::from_pairs(pairs)
    }
}

/// Values of secrets, and of names kafkite does not support (a misspelt
/// `sasl.pasword` is still a password), print as `<redacted>`.
impl fmt::Debug for Properties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Value<'a>(Option<&'a str>);
        impl fmt::Debug for Value<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.0 {
                    Some(value) => fmt::Debug::fmt(value, f),
                    None => f.write_str("<redacted>"),
                }
            }
        }
        let entries = self.entries.iter().map(|(key, value)| {
            let public = Prop::lookup(key).is_some_and(|p| !p.is_secret());
            (key, Value(public.then_some(value.as_str())))
        });
        f.write_str("Properties ")?;
        f.debug_map().entries(entries).finish()
    }
}

/// Whether two names are the same property (a name and its alias, or
/// the same unknown name).
fn same_property(a: &str, b: &str) -> bool {
    a == b || matches!((Prop::lookup(a), Prop::lookup(b)), (Some(x), Some(y)) if x == y)
}

fn parse_lines(text: &str, file: Option<&Path>) -> Result<Properties, PropertyError> {
    let mut properties = Properties::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (index, line) in text.lines().enumerate() {
        let syntax = |problem| PropertyError::Syntax {
            file: file.map(Path::to_path_buf),
            line: index + 1,
            problem,
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        if line.ends_with('\\') {
            return Err(syntax(
                "ends with \\, a continuation line, which is not supported: \
                 write the value on one line",
            ));
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(syntax("expected key=value"));
        };
        if key.trim().is_empty() {
            return Err(syntax("no key before the ="));
        }
        properties.set(key, value.trim());
    }
    Ok(properties)
}

/// Properties checked to be supported, for the builders.
struct Resolved<'a> {
    entries: Vec<Entry<'a>>,
}

impl<'a> Resolved<'a> {
    fn get(&self, prop: Prop) -> Option<Entry<'a>> {
        self.entries.iter().find(|e| e.prop == prop).copied()
    }

    fn iter(&self) -> impl Iterator<Item = Entry<'a>> + '_ {
        self.entries.iter().copied()
    }
}

#[cfg(test)]
mod tests;
