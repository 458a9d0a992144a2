//! [`GroupOffsets`]: a group's committed offsets, read and written from
//! outside the group. The requests and their reading come from
//! [`kafkite::consumer`]; this file sends them to
//! the group's coordinator and retries while the coordinator is loading,
//! moving or not found yet.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use kafkite::admin::OffsetSpec;
use kafkite::client::Target;
use kafkite::consumer::{
    offset_commit_outcome, offset_commit_request, offset_fetch_outcome, offset_fetch_requests,
    reset_offsets, Committer, OffsetAndMetadata, OffsetError,
};

use crate::error::Error;
use crate::event_loop::command::Command;
use crate::runtime::Runtime;
use crate::session::Session;

/// A topic and a partition of it.
pub use kafkite::TopicPartition;

/// Backoff before asking the coordinator again; doubles up to
/// [`BACKOFF_MAX`]. Short: a coordinator finishes loading, or a moved one
/// is found, within a few hundred milliseconds on a healthy cluster.
const BACKOFF_FIRST: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// A consumer group's committed offsets, for a client that does not join
/// the group: it commits with generation -1 and no member id, which the
/// broker accepts while the group has no active members (Kafka's "simple"
/// consumer groups, and what admin tools do to move a group's offsets).
///
/// A committed offset is the next offset to read: after processing the
/// record at offset 41, commit 42.
///
/// Each call is bounded by the session's request timeout, retries
/// included; the coordinator is looked up by the client, and looked up
/// again when it answers NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE.
pub struct GroupOffsets<R: Runtime> {
    session: Session<R>,
    name: String,
}

impl<R: Runtime> Clone for GroupOffsets<R> {
    fn clone(&self) -> Self {
        GroupOffsets {
            session: self.session.clone(),
            name: self.name.clone(),
        }
    }
}

impl<R: Runtime> std::fmt::Debug for GroupOffsets<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupOffsets")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<R: Runtime> GroupOffsets<R> {
    /// The group `name` on `session`'s cluster. Nothing is sent until a
    /// method is called; the group need not exist.
    pub fn new(session: Session<R>, name: impl Into<String>) -> Self {
        GroupOffsets {
            session,
            name: name.into(),
        }
    }

    /// The group's id.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The committed offset of each partition asked for: `None` where the
    /// group has committed nothing. Offsets of open transactions are
    /// returned as they stand (OffsetFetch without `require_stable`, as
    /// Kafka's admin client reads them).
    pub async fn fetch_offsets(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>, Error> {
        self.rounds(partitions.to_vec(), |pending, timeout| async move {
            let phrasings = offset_fetch_requests(&self.name, Some(&pending), false);
            let answer = self
                .session
                .call_phrased(self.coordinator(), phrasings, Some(timeout))
                .await?;
            let outcome =
                offset_fetch_outcome(&self.name, Some(&pending), &answer.body, answer.version)?;
            Ok(outcome)
        })
        .await
    }

    /// Commits `offsets` (each the next offset to read) with their
    /// metadata. Fails with the first partition the broker refused.
    pub async fn commit_offsets(
        &self,
        offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<(), Error> {
        let committer = Committer::standalone(self.name.clone());
        let committer = &committer;
        let keys: Vec<TopicPartition> = offsets.keys().cloned().collect();
        self.rounds(keys, |pending, timeout| async move {
            let asked: BTreeMap<TopicPartition, OffsetAndMetadata> = pending
                .iter()
                .filter_map(|tp| Some((tp.clone(), offsets.get(tp)?.clone())))
                .collect();
            let phrasing = offset_commit_request(committer, &asked);
            let answer = self
                .session
                .call_phrased(self.coordinator(), vec![phrasing], Some(timeout))
                .await?;
            Ok(offset_commit_outcome(&self.name, &asked, &answer.body))
        })
        .await?;
        Ok(())
    }

    /// Moves the group's offsets for `partitions` of `topic` to their
    /// earliest (log start) or latest (high watermark) offset, with
    /// `metadata`, and returns what was committed.
    pub async fn reset_offsets(
        &self,
        topic: &str,
        partitions: &[i32],
        spec: OffsetSpec,
        metadata: &str,
    ) -> Result<BTreeMap<TopicPartition, OffsetAndMetadata>, Error> {
        let listed = self.session.list_offsets(topic, partitions, spec).await?;
        let listed = listed.into_iter().map(|(p, o)| (p, Ok(o))).collect();
        let offsets = reset_offsets(topic, &listed, metadata);
        self.commit_offsets(&offsets).await?;
        Ok(offsets)
    }

    fn coordinator(&self) -> Target {
        Target::GroupCoordinator(self.name.clone())
    }

    /// Runs `round` (given the partitions still pending and the time left)
    /// until every partition has a final outcome or the session's request
    /// timeout has passed. Retriable failures, of the whole round or of one
    /// partition, are asked again after a backoff; when the coordinator
    /// moved, the client is told to look it up again first.
    async fn rounds<T, F, Fut>(
        &self,
        partitions: Vec<TopicPartition>,
        mut round: F,
    ) -> Result<BTreeMap<TopicPartition, T>, Error>
    where
        F: FnMut(Vec<TopicPartition>, Duration) -> Fut,
        Fut: Future<Output = Result<BTreeMap<TopicPartition, Result<T, OffsetError>>, Error>>,
    {
        let deadline = Instant::now() + self.session.config().request_timeout;
        let mut done = BTreeMap::new();
        let mut pending = partitions;
        let mut backoff = BACKOFF_FIRST;
        while !pending.is_empty() {
            let timeout = deadline.saturating_duration_since(Instant::now());
            let failure = match round(pending.clone(), timeout).await {
                Ok(results) => {
                    let mut retry = Vec::new();
                    let mut last = None;
                    for (tp, result) in results {
                        match result {
                            Ok(value) => {
                                done.insert(tp, value);
                            }
                            Err(e) if e.is_retriable() => {
                                retry.push(tp);
                                // Any partition saying so is enough.
                                if !last.as_ref().is_some_and(OffsetError::coordinator_moved) {
                                    last = Some(e);
                                }
                            }
                            Err(e) => return Err(e.into()),
                        }
                    }
                    pending = retry;
                    match last {
                        Some(e) => Error::from(e),
                        None => break,
                    }
                }
                Err(e) => e,
            };
            let retry_at = Instant::now() + backoff;
            if !failure.is_retriable() || retry_at >= deadline {
                return Err(failure);
            }
            if matches!(&failure, Error::Offset(e) if e.coordinator_moved()) {
                self.session
                    .command(Command::CoordinatorMoved(self.name.clone()))
                    .await?;
            }
            self.session.sleep_until(retry_at).await;
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
        Ok(done)
    }
}
