//! [`Consumer`]: a consumer that hands out records as envelopes. Records of
//! a group's partitions come as envelopes, each resolved with `commit`,
//! `ack` or `cancel` before its partition hands out the next one.
//!
//! The discipline itself (one unresolved envelope per partition, the exact
//! limit, batches, cancel) is [`kafkite::consumer::EnvelopeQueue`]; this
//! file starts the fetching where the group left off and carries
//! resolutions back to the queue and the fetcher.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_lite::Stream;

use kafkite::consumer::{
    EnvelopeQueue, EnvelopeToken, FetchConfig, FetchError, OffsetAndMetadata, OffsetReset,
    RecordChunk, Resolution,
};

use crate::consumer::consumed_record::ConsumedRecord;
use crate::consumer::fetch_handle::{self, FetchHandle};
use crate::consumer::group_offsets::{GroupOffsets, TopicPartition};
use crate::error::Error;
use crate::runtime::Runtime;
use crate::session::Session;

/// Consumes given partitions of topics for a [`GroupOffsets`]: reading
/// starts at the group's committed offsets (where it has none, at the
/// offset-reset policy's end), and `commit` stores the next offset to read
/// with its metadata.
///
/// Fetching runs ahead of the envelopes (one fetch per leader broker, each
/// partition one fetch ahead), so throughput does not fall to a round trip
/// per record; a partition's records move to its new leader's fetch when
/// the leader changes; fetch errors come out of the stream as `Err` items.
#[derive(Debug, Clone)]
pub struct Consumer<R: Runtime> {
    session: Session<R>,
    group: GroupOffsets<R>,
    partitions: Vec<TopicPartition>,
    config: FetchConfig,
}

impl<R: Runtime> Consumer<R> {
    /// A consumer of the given partitions for `group`: `topics` maps each
    /// topic to the partitions to read; `max_wait` and `min_bytes` go into
    /// each Fetch request.
    pub fn new<T: Into<String>>(
        session: &Session<R>,
        group: GroupOffsets<R>,
        topics: impl IntoIterator<Item = (T, Vec<i32>)>,
        max_wait: Duration,
        min_bytes: i32,
    ) -> Self {
        let partitions = topics
            .into_iter()
            .flat_map(|(topic, partitions)| {
                let topic = topic.into();
                partitions.into_iter().map(move |p| (topic.clone(), p))
            })
            .collect();
        let config = FetchConfig {
            max_wait,
            min_bytes,
            ..FetchConfig::default()
        };
        Consumer {
            session: session.clone(),
            group,
            partitions,
            config,
        }
    }

    /// What to do when a position is not in the log (earliest by default).
    pub fn with_offset_reset(mut self, policy: OffsetReset) -> Self {
        self.config.offset_reset = policy;
        self
    }

    /// Every fetch setting at once (byte limits, isolation, backoff).
    pub fn with_fetch_config(mut self, config: FetchConfig) -> Self {
        self.config = config;
        self
    }

    /// Envelopes, at most `limit` in all (`None`: no limit). The stream
    /// ends after the limit-th envelope, or after one is cancelled.
    pub fn consume(&self, limit: Option<usize>) -> EnvelopeStream<R> {
        EnvelopeStream {
            source: Source::start(self, limit),
        }
    }

    /// Batches of up to `max` records, across partitions, each resolved
    /// as a whole; `limit` counts records, as in [`Consumer::consume`].
    pub fn batch_consume(&self, max: usize, limit: Option<usize>) -> BatchStream<R> {
        BatchStream {
            source: Source::start(self, limit),
            max: max.max(1),
        }
    }
}

/// Shared by a stream and the envelopes it handed out.
struct Link<R: Runtime> {
    session: Session<R>,
    group: GroupOffsets<R>,
    fetcher: u64,
    shared: Mutex<Shared>,
}

struct Shared {
    queue: EnvelopeQueue,
    /// The stream waiting for a resolution.
    waker: Option<Waker>,
}

impl<R: Runtime> Link<R> {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_cancelled(&self) -> bool {
        self.lock().queue.is_cancelled()
    }

    fn resolve(&self, token: EnvelopeToken, resolution: Resolution) {
        let (resolved, waker) = {
            let mut shared = self.lock();
            let resolved = shared.queue.resolve(token, resolution);
            (resolved, shared.waker.take())
        };
        for (topic, partition) in &resolved.release {
            fetch_handle::release(
                &self.session,
                self.fetcher,
                topic,
                *partition,
                RecordChunk::new(),
            );
        }
        if resolved.stop {
            fetch_handle::close(&self.session, self.fetcher);
        }
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    async fn commit(
        &self,
        offsets: BTreeMap<TopicPartition, i64>,
        metadata: &str,
    ) -> Result<(), Error> {
        if self.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let offsets = offsets
            .into_iter()
            .map(|(tp, offset)| {
                let stored = OffsetAndMetadata {
                    offset,
                    leader_epoch: None,
                    metadata: Some(metadata.to_string()),
                };
                (tp, stored)
            })
            .collect();
        self.group.commit_offsets(&offsets).await
    }
}

type Opening<R> = Pin<Box<dyn Future<Output = Result<FetchHandle<R>, Error>> + Send>>;

enum State<R: Runtime> {
    /// Reading the group's committed offsets, then opening the fetcher.
    Starting(Opening<R>),
    Running(FetchHandle<R>),
    Done,
}

/// What both stream kinds share: starting, feeding the queue, waiting.
struct Source<R: Runtime> {
    state: State<R>,
    link: Arc<Link<R>>,
}

impl<R: Runtime> Source<R> {
    fn start(consumer: &Consumer<R>, limit: Option<usize>) -> Self {
        let session = consumer.session.clone();
        let fetcher = session.next_component_id();
        let link = Arc::new(Link {
            session: session.clone(),
            group: consumer.group.clone(),
            fetcher,
            shared: Mutex::new(Shared {
                queue: EnvelopeQueue::new(limit),
                waker: None,
            }),
        });
        let group = consumer.group.clone();
        let partitions = consumer.partitions.clone();
        let config = consumer.config.clone();
        let opening = async move {
            let committed = group.fetch_offsets(&partitions).await?;
            let starts = partitions
                .into_iter()
                .map(|tp| {
                    let offset = committed
                        .get(&tp)
                        .and_then(|c| c.as_ref())
                        .map(|c| c.offset);
                    (tp.0, tp.1, offset)
                })
                .collect();
            FetchHandle::open(&session, fetcher, config, starts)
        };
        Source {
            state: State::Starting(Box::pin(opening)),
            link,
        }
    }

    /// The next thing `take` finds in the queue, waiting for fetched
    /// records or resolutions as needed.
    fn poll_take<T>(
        &mut self,
        cx: &mut Context<'_>,
        mut take: impl FnMut(&mut EnvelopeQueue) -> Option<T>,
    ) -> Poll<Option<Result<T, Error>>> {
        loop {
            let handle = match &mut self.state {
                State::Starting(opening) => match opening.as_mut().poll(cx) {
                    Poll::Ready(Ok(handle)) => {
                        self.state = State::Running(handle);
                        continue;
                    }
                    Poll::Ready(Err(error)) => {
                        self.state = State::Done;
                        return Poll::Ready(Some(Err(error)));
                    }
                    Poll::Pending => return Poll::Pending,
                },
                State::Running(handle) => handle,
                State::Done => return Poll::Ready(None),
            };
            {
                let mut shared = self.link.lock();
                if shared.queue.is_finished() {
                    drop(shared);
                    // Dropping the handle stops the fetcher.
                    self.state = State::Done;
                    return Poll::Ready(None);
                }
                if let Some(found) = take(&mut shared.queue) {
                    return Poll::Ready(Some(Ok(found)));
                }
                // Registered before the lock is let go: a resolution from
                // another task after this point wakes this stream.
                shared.waker = Some(cx.waker().clone());
            }
            match handle.poll_records(cx) {
                Poll::Ready(Some(Ok(chunk))) => self.link.lock().queue.push(chunk),
                Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error))),
                Poll::Ready(None) => {
                    self.state = State::Done;
                    return Poll::Ready(Some(Err(Error::Closed)));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// The envelopes of [`Consumer::consume`]. Dropping it stops the fetching;
/// envelopes already handed out can still be committed.
pub struct EnvelopeStream<R: Runtime> {
    source: Source<R>,
}

impl<R: Runtime> Stream for EnvelopeStream<R> {
    type Item = Result<Envelope<R>, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let link = Arc::clone(&this.source.link);
        this.source.poll_take(cx, |queue| {
            let envelope = queue.next_envelope()?;
            Some(Envelope {
                record: ConsumedRecord::new(
                    &Arc::from(envelope.topic.as_str()),
                    envelope.partition,
                    envelope.record,
                ),
                claim: Claim::new(envelope.token, Arc::clone(&link)),
            })
        })
    }
}

/// One record to resolve: [`Envelope::commit`], [`Envelope::ack`] or
/// [`Envelope::cancel`]. Its partition hands out nothing more until then.
///
/// Dropped unresolved, it counts as acked: the stream moves on and nothing
/// is stored, so the record is read again after a restart (at least once).
pub struct Envelope<R: Runtime> {
    record: ConsumedRecord,
    claim: Claim<R>,
}

impl<R: Runtime> Envelope<R> {
    /// The record this envelope holds (also reachable through `Deref`).
    pub fn record(&self) -> &ConsumedRecord {
        &self.record
    }

    /// Stores this record's offset + 1 (the next offset to read) with
    /// `metadata` in the group, then moves on. A failed commit stores
    /// nothing and counts as an ack; after a cancel it fails with
    /// [`Error::Cancelled`] and sends nothing.
    pub async fn commit(mut self, metadata: &str) -> Result<(), Error> {
        let tp = (self.record.topic.to_string(), self.record.partition);
        let Some(next) = self.record.next_offset() else {
            // Not in practice: the fetcher refuses a record at i64::MAX as
            // corrupt data. Checked as the offset came off the wire.
            self.claim.resolve(Resolution::Ack);
            return Err(Error::Fetch(FetchError::Corrupt {
                topic: tp.0,
                partition: tp.1,
                reason: format!("offset {} has no next offset to commit", self.record.offset),
            }));
        };
        let offsets = BTreeMap::from([(tp, next)]);
        self.claim.commit(offsets, metadata).await
    }

    /// Moves on without storing anything.
    pub fn ack(mut self) {
        self.claim.resolve(Resolution::Ack);
    }

    /// Ends the stream and stops all fetching; nothing more is committed.
    pub fn cancel(mut self) {
        self.claim.resolve(Resolution::Cancel);
    }
}

impl<R: Runtime> std::ops::Deref for Envelope<R> {
    type Target = ConsumedRecord;

    fn deref(&self) -> &ConsumedRecord {
        &self.record
    }
}

impl<R: Runtime> std::fmt::Debug for Envelope<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Envelope")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

/// The batches of [`Consumer::batch_consume`].
pub struct BatchStream<R: Runtime> {
    source: Source<R>,
    max: usize,
}

impl<R: Runtime> Stream for BatchStream<R> {
    type Item = Result<EnvelopeBatch<R>, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let link = Arc::clone(&this.source.link);
        let max = this.max;
        this.source.poll_take(cx, |queue| {
            let batch = queue.next_batch(max)?;
            let commit_offsets = batch.commit_offsets();
            let records = batch
                .partitions
                .into_iter()
                .flat_map(|((topic, partition), records)| {
                    let topic: Arc<str> = topic.into();
                    records
                        .into_iter()
                        .map(move |r| ConsumedRecord::new(&topic, partition, r))
                })
                .collect();
            Some(EnvelopeBatch {
                records,
                commit_offsets,
                claim: Claim::new(batch.token, Arc::clone(&link)),
            })
        })
    }
}

/// Records of one or more partitions, resolved together like an
/// [`Envelope`] (dropped unresolved, it counts as acked).
pub struct EnvelopeBatch<R: Runtime> {
    records: Vec<ConsumedRecord>,
    commit_offsets: BTreeMap<TopicPartition, i64>,
    claim: Claim<R>,
}

impl<R: Runtime> EnvelopeBatch<R> {
    /// In offset order per partition.
    pub fn records(&self) -> &[ConsumedRecord] {
        &self.records
    }

    /// Stores, per partition, one past its last record with `metadata`.
    pub async fn commit(mut self, metadata: &str) -> Result<(), Error> {
        let offsets = std::mem::take(&mut self.commit_offsets);
        self.claim.commit(offsets, metadata).await
    }

    /// Moves on without storing anything.
    pub fn ack(mut self) {
        self.claim.resolve(Resolution::Ack);
    }

    /// Ends the stream and stops all fetching; nothing more is committed.
    pub fn cancel(mut self) {
        self.claim.resolve(Resolution::Cancel);
    }
}

impl<R: Runtime> std::fmt::Debug for EnvelopeBatch<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvelopeBatch")
            .field("records", &self.records.len())
            .field("commit_offsets", &self.commit_offsets)
            .finish_non_exhaustive()
    }
}

/// A handed-out envelope's (or batch's) hold on its token: resolved once,
/// as an ack when dropped unresolved.
struct Claim<R: Runtime> {
    token: EnvelopeToken,
    link: Arc<Link<R>>,
    resolved: bool,
}

impl<R: Runtime> Claim<R> {
    fn new(token: EnvelopeToken, link: Arc<Link<R>>) -> Self {
        Claim {
            token,
            link,
            resolved: false,
        }
    }

    /// Commits `offsets`; resolves as a commit when it worked, else as an
    /// ack (nothing stored: the records come again after a restart).
    async fn commit(
        &mut self,
        offsets: BTreeMap<TopicPartition, i64>,
        metadata: &str,
    ) -> Result<(), Error> {
        let result = self.link.commit(offsets, metadata).await;
        self.resolve(match result {
            Ok(()) => Resolution::Commit,
            Err(_) => Resolution::Ack,
        });
        result
    }

    fn resolve(&mut self, resolution: Resolution) {
        if !std::mem::replace(&mut self.resolved, true) {
            self.link.resolve(self.token, resolution);
        }
    }
}

impl<R: Runtime> Drop for Claim<R> {
    fn drop(&mut self) {
        self.resolve(Resolution::Ack);
    }
}
