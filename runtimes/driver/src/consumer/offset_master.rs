//! [`OffsetMaster`]: the earliest and latest offsets of partitions,
//! through ListOffsets.

use std::collections::BTreeMap;

use kafkite::admin::OffsetSpec;

use crate::consumer::group_offsets::TopicPartition;
use crate::error::Error;
use crate::runtime::Runtime;
use crate::session::Session;

/// Looks up partitions' earliest (log start) and latest (high watermark)
/// offsets with ListOffsets, for partitions of any number of topics.
#[derive(Debug, Clone)]
pub struct OffsetMaster<R: Runtime> {
    session: Session<R>,
}

impl<R: Runtime> OffsetMaster<R> {
    /// An offset lookup on `session`'s connections.
    pub fn new(session: &Session<R>) -> Self {
        OffsetMaster {
            session: session.clone(),
        }
    }

    /// Each partition's log start offset.
    pub async fn fetch_earliest(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, i64>, Error> {
        self.fetch(partitions, OffsetSpec::Earliest).await
    }

    /// Each partition's high watermark: the offset the next record gets.
    pub async fn fetch_latest(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, i64>, Error> {
        self.fetch(partitions, OffsetSpec::Latest).await
    }

    async fn fetch(
        &self,
        partitions: &[TopicPartition],
        spec: OffsetSpec,
    ) -> Result<BTreeMap<TopicPartition, i64>, Error> {
        let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for (topic, partition) in partitions {
            by_topic.entry(topic).or_default().push(*partition);
        }
        let mut offsets = BTreeMap::new();
        for (topic, partitions) in by_topic {
            let listed = self.session.list_offsets(topic, &partitions, spec).await?;
            offsets.extend(listed.into_iter().map(|(p, o)| ((topic.to_string(), p), o)));
        }
        Ok(offsets)
    }
}
