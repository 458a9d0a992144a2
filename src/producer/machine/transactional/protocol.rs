//! Which transaction protocol the producer speaks with its coordinator,
//! and the request versions each one allows.
//!
//! KIP-890 part 2 ("transaction version 2") changes what three requests
//! mean without changing their bytes: a transactional Produce v12 adds its
//! partition to the transaction itself, TxnOffsetCommit v5 adds the group
//! itself, and EndTxn v5 makes the coordinator bump the producer epoch at
//! every transaction's end and return the new one. The coordinator takes
//! the protocol from the versions the client sends, so a client that has
//! not chosen the second protocol must stay below those versions inside a
//! transaction (Produce v11, TxnOffsetCommit v4, EndTxn v4).
//!
//! The choice follows the Java client (`TransactionManager`'s
//! `isTransactionV2Enabled`): the second protocol when the cluster has
//! finalized the `transaction.version` feature at level 2 or more (a
//! cluster-wide switch, reported in ApiVersions v3+), and the coordinator
//! speaks the three versions. It is made from the coordinator's ApiVersions
//! at every InitProducerId answer, when no transaction is open, so one
//! transaction never mixes the two.

use crate::client::ApiVersionTable;
use crate::producer::transaction::TransactionProtocol;
use crate::protocol::{ApiKey, VersionRange};

/// The finalized feature that switches the second protocol on.
const TRANSACTION_VERSION_FEATURE: &str = "transaction.version";
/// Its first level with the second protocol.
const TRANSACTION_VERSION_2: i16 = 2;

/// First versions with the second protocol's meaning.
const PRODUCE_V2: i16 = 12;
const END_TXN_V2: i16 = 5;
const TXN_OFFSET_COMMIT_V2: i16 = 5;

impl TransactionProtocol {
    /// The protocol to speak with a coordinator that advertised `table`
    /// (`None`: not known, so the first).
    pub(in crate::producer::machine) fn negotiate(table: Option<&ApiVersionTable>) -> Self {
        let Some(table) = table else {
            return TransactionProtocol::V1;
        };
        let enabled = table
            .finalized_feature(TRANSACTION_VERSION_FEATURE)
            .is_some_and(|level| level >= TRANSACTION_VERSION_2);
        let speaks = |api: ApiKey, version: i16| {
            let exactly = VersionRange {
                min: version,
                max: version,
            };
            table.choose(api, exactly).is_some()
        };
        if enabled
            && speaks(ApiKey::Produce, PRODUCE_V2)
            && speaks(ApiKey::EndTxn, END_TXN_V2)
            && speaks(ApiKey::TxnOffsetCommit, TXN_OFFSET_COMMIT_V2)
        {
            TransactionProtocol::V2
        } else {
            TransactionProtocol::V1
        }
    }

    /// Produce versions of a transactional producer. RecordBatch v2 (v3+)
    /// carries the transactional flag; under the second protocol only
    /// v12+, since an older version would write to a partition the
    /// transaction does not hold.
    pub(in crate::producer::machine) fn produce_versions(self) -> VersionRange {
        match self {
            TransactionProtocol::V1 => VersionRange {
                min: 3,
                max: PRODUCE_V2 - 1,
            },
            TransactionProtocol::V2 => from(PRODUCE_V2),
        }
    }

    /// EndTxn versions: v5+ returns the bumped epoch.
    pub(super) fn end_txn_versions(self) -> VersionRange {
        match self {
            TransactionProtocol::V1 => VersionRange {
                min: 0,
                max: END_TXN_V2 - 1,
            },
            TransactionProtocol::V2 => from(END_TXN_V2),
        }
    }

    /// TxnOffsetCommit versions: v5+ puts the group in the transaction.
    pub(super) fn txn_offset_commit_versions(self) -> VersionRange {
        match self {
            TransactionProtocol::V1 => VersionRange {
                min: 0,
                max: TXN_OFFSET_COMMIT_V2 - 1,
            },
            TransactionProtocol::V2 => from(TXN_OFFSET_COMMIT_V2),
        }
    }

    /// Whether partitions and groups join the transaction by the requests
    /// that write to them, not by AddPartitionsToTxn / AddOffsetsToTxn.
    pub(super) fn adds_implicitly(self) -> bool {
        self == TransactionProtocol::V2
    }
}

fn from(min: i16) -> VersionRange {
    VersionRange { min, max: i16::MAX }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::messages::api_versions_response::{ApiVersion, FinalizedFeatureKey};
    use crate::protocol::messages::ApiVersionsResponse;

    fn table(feature: Option<i16>, produce_max: i16) -> ApiVersionTable {
        let api = |key: ApiKey, max: i16| ApiVersion {
            api_key: key.key(),
            min_version: 0,
            max_version: max,
            ..Default::default()
        };
        let response = ApiVersionsResponse {
            api_keys: vec![
                api(ApiKey::Produce, produce_max),
                api(ApiKey::EndTxn, 5),
                api(ApiKey::TxnOffsetCommit, 5),
            ],
            finalized_features_epoch: if feature.is_some() { 1 } else { -1 },
            finalized_features: feature
                .map(|level| FinalizedFeatureKey {
                    name: TRANSACTION_VERSION_FEATURE.into(),
                    max_version_level: level,
                    min_version_level: level,
                    ..Default::default()
                })
                .into_iter()
                .collect(),
            ..Default::default()
        };
        ApiVersionTable::from_response(&response)
    }

    #[test]
    fn the_second_protocol_needs_the_feature_at_level_2_and_the_versions() {
        let negotiate = |t: ApiVersionTable| TransactionProtocol::negotiate(Some(&t));
        assert_eq!(negotiate(table(Some(2), 12)), TransactionProtocol::V2);
        assert_eq!(negotiate(table(Some(3), 13)), TransactionProtocol::V2);
        assert_eq!(negotiate(table(Some(1), 12)), TransactionProtocol::V1);
        assert_eq!(negotiate(table(None, 12)), TransactionProtocol::V1);
        assert_eq!(negotiate(table(Some(2), 11)), TransactionProtocol::V1);
        assert_eq!(
            TransactionProtocol::negotiate(None),
            TransactionProtocol::V1
        );
    }

    #[test]
    fn the_first_protocol_keeps_below_the_second_ones_versions() {
        let v1 = TransactionProtocol::V1;
        assert_eq!(v1.produce_versions(), VersionRange { min: 3, max: 11 });
        assert_eq!(v1.end_txn_versions(), VersionRange { min: 0, max: 4 });
        assert_eq!(
            v1.txn_offset_commit_versions(),
            VersionRange { min: 0, max: 4 }
        );
        let v2 = TransactionProtocol::V2;
        assert_eq!(v2.produce_versions().min, 12);
        assert_eq!(v2.end_txn_versions().min, 5);
        assert_eq!(v2.txn_offset_commit_versions().min, 5);
    }
}
