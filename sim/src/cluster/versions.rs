//! What the simulated brokers speak: a modern table (the versions a
//! Kafka 3.x broker and this codec share, for the APIs simulated) and
//! Kafka 0.8.2's.

use kafkite::protocol::messages::api_versions_response::{
    ApiVersion, FinalizedFeatureKey, SupportedFeatureKey,
};
use kafkite::protocol::messages::ApiVersionsResponse;
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

/// What a broker with `transaction.version` 2 serves on top of the
/// modern table: the versions that carry KIP-890's second protocol.
const TRANSACTION_V2: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 12),
    (ApiKey::EndTxn, 0, 5),
    (ApiKey::TxnOffsetCommit, 0, 5),
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
    transaction_v2: bool,
}

impl BrokerVersions {
    /// Kafka 0.8.2's table when `legacy_0_8_2`, else the modern one.
    pub fn new(legacy_0_8_2: bool) -> Self {
        BrokerVersions {
            legacy: legacy_0_8_2,
            transaction_v2: false,
        }
    }

    /// The table of a broker that finalized `transaction.version` 2.
    pub fn with_transaction_v2(mut self, on: bool) -> Self {
        self.transaction_v2 = on && !self.legacy;
        self
    }

    /// Whether the second transaction protocol is served.
    pub fn transaction_v2(self) -> bool {
        self.transaction_v2
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
        let v2 = if self.transaction_v2 {
            TRANSACTION_V2
        } else {
            &[]
        };
        let (_, min, max) = v2.iter().chain(self.table()).find(|(k, _, _)| *k == api)?;
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

    /// The feature fields of an ApiVersions answer (v3+): the finalized
    /// `transaction.version` (1 or 2) and its supported range.
    pub fn features(self) -> ApiVersionsResponse {
        if self.legacy {
            return ApiVersionsResponse::default();
        }
        let level = if self.transaction_v2 { 2 } else { 1 };
        ApiVersionsResponse {
            supported_features: vec![SupportedFeatureKey {
                name: "transaction.version".into(),
                min_version: 0,
                max_version: level,
                ..Default::default()
            }],
            finalized_features_epoch: 1,
            finalized_features: vec![FinalizedFeatureKey {
                name: "transaction.version".into(),
                max_version_level: level,
                min_version_level: level,
                ..Default::default()
            }],
            ..Default::default()
        }
    }
}
