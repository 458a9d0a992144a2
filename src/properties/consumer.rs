//! The consumer scope onto [`FetchConfig`], and the consumer group scope
//! onto [`GroupConfig`] and [`GroupConsumerConfig`]'s auto-commit.

use crate::consumer::group::{Assignor, GroupConfig};
use crate::consumer::{FetchConfig, GroupConsumerConfig, OffsetReset};

use super::keys::Prop;
use super::value::{one_of, Entry};
use super::{PropertyError, Resolved};

pub(super) fn fetch_config(properties: &Resolved<'_>) -> Result<FetchConfig, PropertyError> {
    let mut config = FetchConfig::default();
    for entry in properties.iter() {
        match entry.prop {
            Prop::FetchMaxBytes => config.max_bytes = entry.number(1)?,
            Prop::FetchMinBytes => config.min_bytes = entry.number(0)?,
            Prop::FetchMaxWait => config.max_wait = entry.millis(0)?,
            Prop::PartitionFetchMaxBytes => config.partition_max_bytes = entry.number(1)?,
            Prop::QueuedMaxKbytes => {
                config.max_buffered_bytes = entry.number::<usize>(1)?.saturating_mul(1024)
            }
            Prop::AutoOffsetReset => config.offset_reset = offset_reset(entry)?,
            Prop::IsolationLevel => config.read_committed = read_committed(entry)?,
            Prop::RetryBackoff => config.retry_backoff = entry.millis(0)?,
            _ => {}
        }
    }
    Ok(config)
}

pub(super) fn group_config(properties: &Resolved<'_>) -> Result<GroupConfig, PropertyError> {
    let group_id = properties
        .get(Prop::GroupId)
        .ok_or_else(|| PropertyError::Missing {
            key: "group.id",
            reason: "a consumer group member needs its group's name".into(),
        })?
        .non_empty()?;
    let mut config = GroupConfig::new(group_id);
    for entry in properties.iter() {
        match entry.prop {
            Prop::GroupInstanceId => config.group_instance_id = Some(entry.non_empty()?.into()),
            Prop::SessionTimeout => config.session_timeout = entry.millis(1)?,
            Prop::MaxPollInterval => config.rebalance_timeout = entry.millis(1)?,
            Prop::HeartbeatInterval => config.heartbeat_interval = entry.millis(1)?,
            Prop::AssignmentStrategy => config.assignors = assignors(entry)?,
            Prop::RetryBackoff => config.retry_backoff = entry.millis(0)?,
            Prop::ClientRack => config.rack_id = Some(entry.non_empty()?.into()),
            Prop::DefaultApiTimeout => config.offsets_timeout = entry.millis(1)?,
            // The Java client asks for stable offsets under read_committed.
            Prop::IsolationLevel => config.require_stable_offsets = read_committed(entry)?,
            Prop::GroupProtocol => group_protocol(entry)?,
            _ => {}
        }
    }
    Ok(config)
}

pub(super) fn group_consumer_config(
    properties: &Resolved<'_>,
) -> Result<GroupConsumerConfig, PropertyError> {
    let mut config = GroupConsumerConfig::new("");
    config.group = group_config(properties)?;
    config.fetch = fetch_config(properties)?;
    if let Some(entry) = properties.get(Prop::AutoCommitInterval) {
        config.auto_commit = Some(entry.millis(1)?);
    }
    if let Some(entry) = properties.get(Prop::AutoCommit) {
        if !entry.boolean()? {
            config.auto_commit = None;
        }
    }
    Ok(config)
}

fn offset_reset(entry: Entry<'_>) -> Result<OffsetReset, PropertyError> {
    entry.choice(&[
        ("earliest", OffsetReset::Earliest),
        ("smallest", OffsetReset::Earliest),
        ("beginning", OffsetReset::Earliest),
        ("latest", OffsetReset::Latest),
        ("largest", OffsetReset::Latest),
        ("end", OffsetReset::Latest),
        ("error", OffsetReset::Error),
        ("none", OffsetReset::Error),
    ])
}

fn read_committed(entry: Entry<'_>) -> Result<bool, PropertyError> {
    entry.choice(&[("read_committed", true), ("read_uncommitted", false)])
}

fn group_protocol(entry: Entry<'_>) -> Result<(), PropertyError> {
    if entry.choice(&[("classic", true), ("consumer", false)])? {
        return Ok(());
    }
    Err(entry.unsupported(
        "the consumer group protocol of KIP-848 is not built yet: kafkite's groups use \
         the classic protocol (JoinGroup and SyncGroup), group.protocol=classic",
    ))
}

const JAVA_PACKAGE: &str = "org.apache.kafka.clients.consumer.";

const ASSIGNORS: [(&str, Assignor); 6] = [
    ("range", Assignor::Range),
    ("roundrobin", Assignor::RoundRobin),
    ("cooperative-sticky", Assignor::CooperativeSticky),
    ("RangeAssignor", Assignor::Range),
    ("RoundRobinAssignor", Assignor::RoundRobin),
    ("CooperativeStickyAssignor", Assignor::CooperativeSticky),
];

/// A comma-separated list of librdkafka's names or the Java client's
/// classes, preferred first.
fn assignors(entry: Entry<'_>) -> Result<Vec<Assignor>, PropertyError> {
    let expected = || {
        format!(
            "a comma-separated list of {} (or the Java classes {JAVA_PACKAGE}RangeAssignor, \
             RoundRobinAssignor, CooperativeStickyAssignor)",
            one_of(ASSIGNORS[..3].iter().map(|(name, _)| *name))
        )
    };
    let mut assignors = Vec::new();
    for name in entry
        .text()
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        let short = name.strip_prefix(JAVA_PACKAGE).unwrap_or(name);
        if short == "StickyAssignor" {
            return Err(entry.unsupported(
                "the eager sticky assignor is not built: cooperative-sticky keeps \
                 partitions where they are too",
            ));
        }
        let assignor = ASSIGNORS
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(short))
            .map(|&(_, a)| a)
            .ok_or_else(|| entry.bad(expected()))?;
        if !assignors.contains(&assignor) {
            assignors.push(assignor);
        }
    }
    if assignors.is_empty() {
        return Err(entry.bad(expected()));
    }
    Ok(assignors)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::consumer::group::{Assignor, GroupConfig};
    use crate::consumer::{FetchConfig, GroupConsumerConfig, OffsetReset};
    use crate::properties::{Properties, PropertyError};

    fn properties(pairs: &[(&str, &str)]) -> Properties {
        Properties::from_pairs(pairs.iter().copied())
    }

    fn group(pairs: &[(&str, &str)]) -> Result<GroupConfig, PropertyError> {
        let mut p = properties(pairs);
        if p.get("group.id").is_none() {
            p.set("group.id", "g");
        }
        p.group_config()
    }

    #[test]
    fn every_fetch_property_reaches_its_field() {
        let config = properties(&[
            ("fetch.max.bytes", "1000000"),
            ("fetch.min.bytes", "0"),
            ("fetch.wait.max.ms", "100"),
            ("max.partition.fetch.bytes", "65536"),
            ("auto.offset.reset", "latest"),
            ("isolation.level", "read_committed"),
            ("retry.backoff.ms", "20"),
            ("linger.ms", "left for the producer"),
        ])
        .fetch_config()
        .unwrap();
        assert_eq!(config.max_bytes, 1_000_000);
        assert_eq!(config.min_bytes, 0);
        assert_eq!(config.max_wait, Duration::from_millis(100));
        assert_eq!(config.partition_max_bytes, 65536);
        assert_eq!(config.offset_reset, OffsetReset::Latest);
        assert!(config.read_committed);
        assert_eq!(config.retry_backoff, Duration::from_millis(20));
        let java = properties(&[("fetch.max.wait.ms", "7")])
            .fetch_config()
            .unwrap();
        assert_eq!(java.max_wait, Duration::from_millis(7));
        let default = properties(&[]).fetch_config().unwrap();
        assert_eq!(
            format!("{default:?}"),
            format!("{:?}", FetchConfig::default())
        );
    }

    #[test]
    fn offset_reset_takes_both_clients_names() {
        for (name, reset) in [
            ("earliest", OffsetReset::Earliest),
            ("smallest", OffsetReset::Earliest),
            ("beginning", OffsetReset::Earliest),
            ("latest", OffsetReset::Latest),
            ("largest", OffsetReset::Latest),
            ("end", OffsetReset::Latest),
            ("error", OffsetReset::Error),
            ("none", OffsetReset::Error),
        ] {
            let config = properties(&[("auto.offset.reset", name)]).fetch_config();
            assert_eq!(config.unwrap().offset_reset, reset, "{name}");
        }
        let err = properties(&[("auto.offset.reset", "soon")])
            .fetch_config()
            .unwrap_err()
            .to_string();
        assert!(err.contains("auto.offset.reset=\"soon\""), "{err}");
        assert!(err.contains("earliest"), "{err}");
    }

    #[test]
    fn every_group_property_reaches_its_field() {
        let config = group(&[
            ("group.id", "billing"),
            ("group.instance.id", "billing-1"),
            ("session.timeout.ms", "10000"),
            ("max.poll.interval.ms", "60000"),
            ("heartbeat.interval.ms", "1000"),
            ("partition.assignment.strategy", "roundrobin,range"),
            ("retry.backoff.ms", "50"),
            ("client.rack", "eu-1a"),
            ("default.api.timeout.ms", "20000"),
            ("isolation.level", "read_committed"),
            ("group.protocol", "classic"),
        ])
        .unwrap();
        assert_eq!(config.group_id, "billing");
        assert_eq!(config.group_instance_id.as_deref(), Some("billing-1"));
        assert_eq!(config.session_timeout, Duration::from_secs(10));
        assert_eq!(config.rebalance_timeout, Duration::from_secs(60));
        assert_eq!(config.heartbeat_interval, Duration::from_secs(1));
        assert_eq!(config.assignors, [Assignor::RoundRobin, Assignor::Range]);
        assert_eq!(config.retry_backoff, Duration::from_millis(50));
        assert_eq!(config.rack_id.as_deref(), Some("eu-1a"));
        assert_eq!(config.offsets_timeout, Duration::from_secs(20));
        assert!(config.require_stable_offsets);
        assert_eq!(group(&[]).unwrap(), GroupConfig::new("g"));
    }

    #[test]
    fn assignors_take_librdkafka_names_and_java_classes() {
        let assignors =
            |value| group(&[("partition.assignment.strategy", value)]).map(|c| c.assignors);
        assert_eq!(
            assignors(
                "org.apache.kafka.clients.consumer.CooperativeStickyAssignor, \
                 org.apache.kafka.clients.consumer.RangeAssignor"
            )
            .unwrap(),
            [Assignor::CooperativeSticky, Assignor::Range]
        );
        assert_eq!(
            assignors("cooperative-sticky,cooperative-sticky").unwrap(),
            [Assignor::CooperativeSticky]
        );
        let err = assignors("org.apache.kafka.clients.consumer.StickyAssignor").unwrap_err();
        assert!(
            matches!(err, PropertyError::UnsupportedValue { .. }),
            "{err}"
        );
        let err = assignors("fair").unwrap_err().to_string();
        assert!(
            err.contains("range, roundrobin, cooperative-sticky"),
            "{err}"
        );
        assert!(assignors(" , ").is_err());
    }

    #[test]
    fn the_kip_848_protocol_is_not_supported_yet() {
        let err = group(&[("group.protocol", "consumer")]).unwrap_err();
        assert!(matches!(err, PropertyError::UnsupportedValue { .. }));
        assert!(err.to_string().contains("KIP-848"), "{err}");
        assert!(group(&[("group.protocol", "CLASSIC")]).is_ok());
        assert!(group(&[("group.protocol", "modern")]).is_err());
    }

    #[test]
    fn a_group_needs_its_id() {
        let err = properties(&[("session.timeout.ms", "10000")])
            .group_consumer_config()
            .unwrap_err();
        assert!(matches!(
            err,
            PropertyError::Missing {
                key: "group.id",
                ..
            }
        ));
        assert!(group(&[("group.id", " ")]).is_err());
    }

    #[test]
    fn auto_commit_follows_both_properties() {
        let auto_commit = |pairs: &[(&str, &str)]| {
            let mut p = properties(pairs);
            p.set("group.id", "g");
            p.group_consumer_config().map(|c| c.auto_commit)
        };
        assert_eq!(auto_commit(&[]).unwrap(), Some(Duration::from_secs(5)));
        assert_eq!(
            auto_commit(&[("auto.commit.interval.ms", "1000")]).unwrap(),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            auto_commit(&[
                ("enable.auto.commit", "false"),
                ("auto.commit.interval.ms", "1000")
            ])
            .unwrap(),
            None
        );
        assert_eq!(
            auto_commit(&[("enable.auto.commit", "true")]).unwrap(),
            Some(Duration::from_secs(5))
        );
    }

    #[test]
    fn a_group_consumer_gets_fetch_and_group_settings() {
        let config = properties(&[
            ("group.id", "g"),
            ("fetch.min.bytes", "10"),
            ("session.timeout.ms", "6000"),
        ])
        .group_consumer_config()
        .unwrap();
        assert_eq!(config.fetch.min_bytes, 10);
        assert_eq!(config.group.session_timeout, Duration::from_secs(6));
        let default = GroupConsumerConfig::new("g");
        assert_eq!(config.auto_commit, default.auto_commit);
    }
}
