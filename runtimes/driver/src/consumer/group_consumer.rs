//! [`GroupConsumer`]: a member of a consumer group that reads the
//! partitions the group assigns it, as a stream of records and rebalance
//! events, with auto-commit by default.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_lite::Stream;

use kafkite::consumer::{
    ConsumerEvent, GroupConsumerConfig, OffsetAndMetadata, RecordChunkIntoIter,
};

use crate::consumer::consumed_record::ConsumedRecord;
use crate::consumer::group_offsets::TopicPartition;
use crate::error::Error;
use crate::event_loop::command::Command;
use crate::event_loop::command::{GroupRequest, Positions};
use crate::oneshot;
use crate::runtime::Runtime;
use crate::session::Session;

/// What a [`GroupConsumer`] stream yields.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupMessage {
    /// The next record of an assigned partition, in offset order per
    /// partition.
    Record(ConsumedRecord),
    /// These partitions are now this member's.
    Assigned(Vec<TopicPartition>),
    /// These partitions are being taken away. With auto-commit their
    /// processed positions were committed already; without it, commit what
    /// was processed and call [`GroupConsumer::revocation_done`] (the group
    /// waits for that).
    Revoked(Vec<TopicPartition>),
    /// These partitions were lost without a chance to commit (the session
    /// expired); another member may own them already.
    Lost(Vec<TopicPartition>),
}

/// A consumer group member (JoinGroup/SyncGroup/Heartbeat with the standard
/// "consumer" protocol, so it shares groups with the Java client,
/// librdkafka and others). The group's partitions are fetched from their
/// committed offsets; a record counts as processed once the stream is
/// polled again after it (as the Java client's `poll`), and auto-commit
/// (on by default, every 5 s and before partitions are revoked) stores
/// that: at least once, never a gap.
///
/// Dropping it leaves the group; [`GroupConsumer::close`] does so and
/// waits for it.
///
/// Give each member its own [`Session`]: a broker answers one request per
/// connection at a time, and it holds a JoinGroup until every member has
/// joined, so members sharing a session's connections would hold up each
/// other's heartbeats (and fetches) through a rebalance.
pub struct GroupConsumer<R: Runtime> {
    session: Session<R>,
    id: u64,
    /// Boxed: the receiver is not `Unpin`, and this stream should be.
    events: Pin<Box<async_channel::Receiver<ConsumerEvent>>>,
    positions: Positions,
    /// The chunk being handed out.
    current: Option<(Arc<str>, i32, RecordChunkIntoIter)>,
    /// The record handed out last, processed once the stream is polled.
    handed: Option<(TopicPartition, i64)>,
    closed: bool,
}

impl<R: Runtime> GroupConsumer<R> {
    /// A member of `config.group.group_id`; it joins on
    /// [`GroupConsumer::subscribe`].
    pub fn new(session: &Session<R>, config: GroupConsumerConfig) -> Result<Self, Error> {
        let id = session.next_component_id();
        let (events_tx, events) = async_channel::unbounded();
        let positions: Positions = Arc::new(Mutex::new(BTreeMap::new()));
        session.command_now(Command::GroupOpen {
            consumer: id,
            config: Box::new(config),
            events: events_tx,
            positions: Arc::clone(&positions),
        })?;
        Ok(GroupConsumer {
            session: session.clone(),
            id,
            events: Box::pin(events),
            positions,
            current: None,
            handed: None,
            closed: false,
        })
    }

    /// The member as the group knows it now (group id, generation, member
    /// id, instance id): what [`crate::TransactionalProducer::send_offsets`]
    /// needs, so that a member of an older generation cannot commit
    /// offsets of partitions another member now owns.
    pub async fn group_metadata(&self) -> Result<kafkite::producer::ConsumerGroupMetadata, Error> {
        let (reply, answer) = oneshot::channel();
        self.request(GroupRequest::Metadata(reply))?;
        answer.await.ok_or(Error::Closed)
    }

    /// Subscribes to `topics` (replacing the previous list) and joins.
    pub fn subscribe<S: AsRef<str>>(&self, topics: &[S]) -> Result<(), Error> {
        let topics = topics.iter().map(|t| t.as_ref().to_string()).collect();
        self.request(GroupRequest::Subscribe(topics))
    }

    /// Commits `offsets` (each the next offset to read) under the member's
    /// generation.
    pub async fn commit(
        &self,
        offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<(), Error> {
        let (reply, answer) = oneshot::channel();
        self.request(GroupRequest::Commit(Some(offsets.clone()), reply))?;
        answer.await.unwrap_or(Err(Error::Closed))
    }

    /// Commits what was processed so far: every partition up to the record
    /// the stream handed out last (included).
    pub async fn commit_consumed(&mut self) -> Result<(), Error> {
        self.mark_processed();
        let (reply, answer) = oneshot::channel();
        self.request(GroupRequest::Commit(None, reply))?;
        answer.await.unwrap_or(Err(Error::Closed))
    }

    /// Done with the partitions of the last [`GroupMessage::Revoked`]
    /// (needed without auto-commit; harmless with it).
    pub fn revocation_done(&self) -> Result<(), Error> {
        self.request(GroupRequest::RevocationDone)
    }

    /// Reads an owned partition from `offset` next.
    pub fn seek(&self, topic: &str, partition: i32, offset: i64) -> Result<(), Error> {
        self.request(GroupRequest::Seek((topic.to_string(), partition), offset))
    }

    /// Stops fetching a partition until [`GroupConsumer::resume`]; records
    /// fetched already still come.
    pub fn pause(&self, topic: &str, partition: i32) -> Result<(), Error> {
        self.request(GroupRequest::Pause((topic.to_string(), partition)))
    }

    /// Fetches a partition paused with [`GroupConsumer::pause`] again.
    pub fn resume(&self, topic: &str, partition: i32) -> Result<(), Error> {
        self.request(GroupRequest::Resume((topic.to_string(), partition)))
    }

    /// Commits what was processed (with auto-commit), leaves the group and
    /// waits until it has.
    pub async fn close(mut self) {
        self.mark_processed();
        let (reply, done) = oneshot::channel();
        if self.request(GroupRequest::Close(reply)).is_ok() {
            done.await;
        }
        self.closed = true;
    }

    fn request(&self, request: GroupRequest) -> Result<(), Error> {
        self.session.command_now(Command::Group {
            consumer: self.id,
            request,
        })
    }

    /// The record handed out last counts as processed.
    fn mark_processed(&mut self) {
        if let Some((tp, next)) = self.handed.take() {
            let mut positions = self.positions.lock().unwrap_or_else(|p| p.into_inner());
            let position = positions.entry(tp).or_insert(next);
            *position = (*position).max(next);
        }
    }
}

impl<R: Runtime> Stream for GroupConsumer<R> {
    type Item = Result<GroupMessage, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.mark_processed();
        loop {
            if this.closed {
                return Poll::Ready(None);
            }
            if let Some((topic, partition, records)) = &mut this.current {
                if let Some(record) = records.next() {
                    // No next offset (a record at i64::MAX, which the
                    // fetcher refuses anyway): nothing to mark processed.
                    this.handed = record
                        .next_offset()
                        .map(|next| ((topic.to_string(), *partition), next));
                    let record = ConsumedRecord::new(topic, *partition, record);
                    return Poll::Ready(Some(Ok(GroupMessage::Record(record))));
                }
                let tp = (topic.to_string(), *partition);
                this.current = None;
                // A consumer that is gone has nothing left to release.
                let _ = this.request(GroupRequest::Release(tp));
            }
            let event = match this.events.as_mut().poll_next(cx) {
                Poll::Ready(Some(event)) => event,
                Poll::Ready(None) => {
                    this.closed = true;
                    return Poll::Ready(Some(Err(Error::Closed)));
                }
                Poll::Pending => return Poll::Pending,
            };
            let message = match event {
                ConsumerEvent::Records(chunk) => {
                    let topic: Arc<str> = chunk.topic.into();
                    this.current = Some((topic, chunk.partition, chunk.records.into_iter()));
                    continue;
                }
                ConsumerEvent::Assigned(tps) => Ok(GroupMessage::Assigned(tps)),
                ConsumerEvent::Revoked(tps) => Ok(GroupMessage::Revoked(tps)),
                ConsumerEvent::Lost(tps) => Ok(GroupMessage::Lost(tps)),
                ConsumerEvent::FetchError(e) => Err(Error::Fetch(e)),
                ConsumerEvent::GroupError(e) => Err(Error::Group(Box::new(e))),
                ConsumerEvent::StartOffsetsFailed(e) => Err(e.into()),
                // Answered inside the event loop.
                ConsumerEvent::Committed { .. } => continue,
                ConsumerEvent::Closed => {
                    this.closed = true;
                    return Poll::Ready(None);
                }
            };
            return Poll::Ready(Some(message));
        }
    }
}

impl<R: Runtime> Drop for GroupConsumer<R> {
    fn drop(&mut self) {
        // The loop sees the events channel closed and leaves the group;
        // processed positions are committed first (auto-commit).
        self.mark_processed();
    }
}
