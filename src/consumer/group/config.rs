//! A group member's settings, named after the Java client's, with its
//! defaults.

use std::time::Duration;

use super::assignor::Assignor;
use crate::properties::{Properties, PropertyError};

/// Settings for a [`super::GroupMember`]. Build with [`GroupConfig::new`]
/// and the `with_*` methods.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupConfig {
    /// The group to join (`group.id`).
    pub group_id: String,
    /// Makes the member static (`group.instance.id`, KIP-345): a restart
    /// within the session timeout gets its partitions back without a
    /// rebalance, and closing does not leave the group. Needs Kafka 2.3.
    pub group_instance_id: Option<String>,
    /// The coordinator removes a member it has not heard from for this long
    /// (`session.timeout.ms`). Default 45 s.
    pub session_timeout: Duration,
    /// How long the coordinator waits for members to rejoin in a rebalance
    /// (`max.poll.interval.ms`, which the Java client sends as the
    /// rebalance timeout). Default 5 min.
    pub rebalance_timeout: Duration,
    /// Time between heartbeats (`heartbeat.interval.ms`). Default 3 s.
    pub heartbeat_interval: Duration,
    /// Assignors offered in JoinGroup, preferred first
    /// (`partition.assignment.strategy`). Default range, then
    /// cooperative-sticky, as the Java client since 3.0: eager until every
    /// member offers cooperative-sticky alone.
    pub assignors: Vec<Assignor>,
    /// Delay before retrying after a retriable error (`retry.backoff.ms`).
    /// Default 100 ms.
    pub retry_backoff: Duration,
    /// The member's rack, sent in its subscription (`client.rack`).
    pub rack_id: Option<String>,
    /// How long commits and committed-offset fetches keep retrying
    /// (`default.api.timeout.ms`). Default 60 s.
    pub offsets_timeout: Duration,
    /// Ask the broker to hold back offsets of open transactions
    /// (OffsetFetch `require_stable`, v7+; the Java client does this under
    /// `isolation.level=read_committed`). Default false.
    pub require_stable_offsets: bool,
}

impl GroupConfig {
    /// The config librdkafka or Java client properties describe: the
    /// consumer group scope's (`group.id`, required; `session.timeout.ms`,
    /// `partition.assignment.strategy`, ...), the rest at the defaults
    /// (see [`crate::properties`]).
    pub fn from_properties(properties: &Properties) -> Result<Self, PropertyError> {
        properties.group_config()
    }

    /// Settings for joining `group_id`, everything else at its default.
    pub fn new(group_id: impl Into<String>) -> Self {
        GroupConfig {
            group_id: group_id.into(),
            group_instance_id: None,
            session_timeout: Duration::from_secs(45),
            rebalance_timeout: Duration::from_secs(300),
            heartbeat_interval: Duration::from_secs(3),
            assignors: vec![Assignor::Range, Assignor::CooperativeSticky],
            retry_backoff: Duration::from_millis(100),
            rack_id: None,
            offsets_timeout: Duration::from_secs(60),
            require_stable_offsets: false,
        }
    }

    /// Sets [`GroupConfig::group_instance_id`] (`group.instance.id`), making
    /// the member static (KIP-345).
    pub fn with_group_instance_id(mut self, id: impl Into<String>) -> Self {
        self.group_instance_id = Some(id.into());
        self
    }

    /// Sets [`GroupConfig::session_timeout`] (`session.timeout.ms`).
    pub fn with_session_timeout(mut self, timeout: Duration) -> Self {
        self.session_timeout = timeout;
        self
    }

    /// Sets [`GroupConfig::rebalance_timeout`] (`max.poll.interval.ms`).
    pub fn with_rebalance_timeout(mut self, timeout: Duration) -> Self {
        self.rebalance_timeout = timeout;
        self
    }

    /// Sets [`GroupConfig::heartbeat_interval`] (`heartbeat.interval.ms`).
    pub fn with_heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = interval;
        self
    }

    /// Replaces the assignor list; an empty list keeps the default.
    pub fn with_assignors(mut self, assignors: Vec<Assignor>) -> Self {
        if !assignors.is_empty() {
            self.assignors = assignors;
        }
        self
    }

    /// Sets [`GroupConfig::retry_backoff`] (`retry.backoff.ms`).
    pub fn with_retry_backoff(mut self, backoff: Duration) -> Self {
        self.retry_backoff = backoff;
        self
    }

    /// Sets [`GroupConfig::rack_id`] (`client.rack`).
    pub fn with_rack_id(mut self, rack: impl Into<String>) -> Self {
        self.rack_id = Some(rack.into());
        self
    }

    /// Sets [`GroupConfig::offsets_timeout`] (`default.api.timeout.ms`).
    pub fn with_offsets_timeout(mut self, timeout: Duration) -> Self {
        self.offsets_timeout = timeout;
        self
    }

    /// Sets [`GroupConfig::require_stable_offsets`].
    pub fn with_require_stable_offsets(mut self, require: bool) -> Self {
        self.require_stable_offsets = require;
        self
    }
}
