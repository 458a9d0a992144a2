//! What each broker speaks: the table from its ApiVersions answer (or the
//! fallback for brokers too old to have one), and the choice of version for
//! each request.

use std::collections::BTreeMap;

use crate::protocol::messages::ApiVersionsResponse;
use crate::protocol::{ApiKey, VersionRange};

/// Versions a broker supports, per API, and the cluster's finalized
/// feature levels it reported (ApiVersions v3+, KIP-584).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiVersionTable {
    ranges: BTreeMap<i16, VersionRange>,
    /// Feature name -> finalized max level. Some protocol changes are
    /// chosen by a feature, not a request version alone: KIP-890's second
    /// transaction protocol needs `transaction.version` 2.
    finalized_features: BTreeMap<String, i16>,
}

impl ApiVersionTable {
    /// An empty table: no API supported.
    pub fn new() -> Self {
        Self::default()
    }

    /// The versions Kafka 0.8.2 speaks, used when a broker closes the
    /// connection on ApiVersions.
    pub fn kafka_0_8_2() -> Self {
        let mut t = Self::new();
        t.insert(ApiKey::Produce, 0, 0);
        t.insert(ApiKey::Fetch, 0, 0);
        t.insert(ApiKey::ListOffsets, 0, 0);
        t.insert(ApiKey::Metadata, 0, 0);
        t.insert(ApiKey::OffsetCommit, 0, 1);
        t.insert(ApiKey::OffsetFetch, 0, 1);
        t.insert(ApiKey::FindCoordinator, 0, 0);
        t
    }

    /// Records that the broker speaks `api` at versions `min..=max`,
    /// replacing any earlier range.
    pub fn insert(&mut self, api: ApiKey, min: i16, max: i16) {
        self.ranges.insert(api.key(), VersionRange { min, max });
    }

    /// The table a broker advertised.
    pub fn from_response(response: &ApiVersionsResponse) -> Self {
        let mut t = Self::new();
        for k in &response.api_keys {
            t.ranges.insert(
                k.api_key,
                VersionRange {
                    min: k.min_version,
                    max: k.max_version,
                },
            );
        }
        // The features are valid only with an epoch (-1: unknown).
        if response.finalized_features_epoch >= 0 {
            for f in &response.finalized_features {
                t.finalized_features
                    .insert(f.name.clone(), f.max_version_level);
            }
        }
        t
    }

    /// The cluster's finalized max level of `feature`, as this broker
    /// reported it; `None` when it reported none (older brokers, or the
    /// feature not finalized).
    pub fn finalized_feature(&self, feature: &str) -> Option<i16> {
        self.finalized_features.get(feature).copied()
    }

    /// The broker's range for an API (including keys this build does not know).
    pub fn get(&self, api_key: i16) -> Option<VersionRange> {
        self.ranges.get(&api_key).copied()
    }

    /// Every (key, range) the broker advertised.
    pub fn iter(&self) -> impl Iterator<Item = (i16, VersionRange)> + '_ {
        self.ranges.iter().map(|(k, v)| (*k, *v))
    }

    /// The highest version both sides speak, within `wanted` (a request may
    /// need a narrower range than this build can encode).
    pub fn choose(&self, api: ApiKey, wanted: VersionRange) -> Option<i16> {
        let ours = api.versions().intersect(&wanted)?;
        let theirs = self.get(api.key())?;
        ours.intersect(&theirs).map(|r| r.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_highest_common_version() {
        let mut t = ApiVersionTable::new();
        t.insert(ApiKey::Produce, 3, 9);
        let all = VersionRange {
            min: 0,
            max: i16::MAX,
        };
        assert_eq!(t.choose(ApiKey::Produce, all), Some(9));
        assert_eq!(
            t.choose(ApiKey::Produce, VersionRange { min: 0, max: 5 }),
            Some(5)
        );
        assert_eq!(
            t.choose(ApiKey::Produce, VersionRange { min: 0, max: 2 }),
            None
        );
        assert_eq!(t.choose(ApiKey::Fetch, all), None);
    }

    #[test]
    fn finalized_features_count_only_with_an_epoch() {
        use crate::protocol::messages::api_versions_response::FinalizedFeatureKey;
        let feature = FinalizedFeatureKey {
            name: "transaction.version".into(),
            max_version_level: 2,
            min_version_level: 2,
            ..Default::default()
        };
        let mut response = ApiVersionsResponse {
            finalized_features_epoch: 7,
            finalized_features: vec![feature],
            ..Default::default()
        };
        let t = ApiVersionTable::from_response(&response);
        assert_eq!(t.finalized_feature("transaction.version"), Some(2));
        assert_eq!(t.finalized_feature("group.version"), None);
        response.finalized_features_epoch = -1;
        let unknown = ApiVersionTable::from_response(&response);
        assert_eq!(unknown.finalized_feature("transaction.version"), None);
    }

    #[test]
    fn fallback_is_the_dart_packages_0_8_2_set() {
        let t = ApiVersionTable::kafka_0_8_2();
        let all = VersionRange {
            min: 0,
            max: i16::MAX,
        };
        assert_eq!(t.choose(ApiKey::Produce, all), Some(0));
        assert_eq!(t.choose(ApiKey::OffsetCommit, all), Some(1));
        assert_eq!(t.choose(ApiKey::ApiVersions, all), None);
    }
}
