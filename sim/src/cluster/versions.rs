//! What the simulated brokers speak: a modern table (the versions a
//! Kafka 3.x broker and this codec share, for the APIs simulated) and
//! Kafka 0.8.2's.

use kafkite::protocol::messages::api_versions_response::ApiVersion;
use kafkite::protocol::{ApiKey, VersionRange};

/// The modern table: (api, min, max). Minimums follow what Kafka 3.x
/// still serves; maximums stop where a version would need a feature the
/// simulation lacks (topic ids in Fetch v13+, Produce v12's KIP-890).
const MODERN: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 9),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 0, 7),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::OffsetCommit, 0, 8),
    (ApiKey::OffsetFetch, 0, 8),
    (ApiKey::FindCoordinator, 0, 4),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::CreateTopics, 0, 7),
    (ApiKey::DeleteTopics, 0, 6),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::AddPartitionsToTxn, 0, 3),
    (ApiKey::AddOffsetsToTxn, 0, 3),
    (ApiKey::EndTxn, 0, 3),
    (ApiKey::TxnOffsetCommit, 0, 3),
];

/// Kafka 0.8.2: no ApiVersions at all (the broker closes the connection).
const KAFKA_0_8_2: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 0, 0),
    (ApiKey::Fetch, 0, 0),
    (ApiKey::ListOffsets, 0, 0),
    (ApiKey::Metadata, 0, 0),
    (ApiKey::OffsetCommit, 0, 1),
    (ApiKey::OffsetFetch, 0, 1),
    (ApiKey::FindCoordinator, 0, 0),
];

/// The versions a broker serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokerVersions {
    legacy: bool,
}

impl BrokerVersions {
    /// Kafka 0.8.2's table when `legacy_0_8_2`, else the modern one.
    pub fn new(legacy_0_8_2: bool) -> Self {
        BrokerVersions {
            legacy: legacy_0_8_2,
        }
    }

    fn table(self) -> &'static [(ApiKey, i16, i16)] {
        if self.legacy {
            KAFKA_0_8_2
        } else {
            MODERN
        }
    }

    /// The range served for `api`, if any (capped at what the codec knows).
    pub fn range(self, api: ApiKey) -> Option<VersionRange> {
        let (_, min, max) = self.table().iter().find(|(k, _, _)| *k == api)?;
        VersionRange {
            min: *min,
            max: *max,
        }
        .intersect(&api.versions())
    }

    /// Whether the broker serves `api` at `version`.
    pub fn supports(self, api: ApiKey, version: i16) -> bool {
        self.range(api).is_some_and(|r| r.contains(version))
    }

    /// The ApiVersions answer's list.
    pub fn advertised(self) -> Vec<ApiVersion> {
        self.table()
            .iter()
            .filter_map(|(k, _, _)| {
                let r = self.range(*k)?;
                Some(ApiVersion {
                    api_key: k.key(),
                    min_version: r.min,
                    max_version: r.max,
                    ..Default::default()
                })
            })
            .collect()
    }
}
