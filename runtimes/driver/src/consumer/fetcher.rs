//! [`Fetcher`]: reads partitions from explicit offsets, outside any group,
//! as a stream of records.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_lite::Stream;

use kafkite::consumer::{FetchConfig, FetchedRecords, RecordChunkIntoIter};

use crate::consumer::consumed_record::ConsumedRecord;
use crate::consumer::fetch_handle::FetchHandle;
use crate::consumer::fetch_handle::State;
use crate::consumer::fetched_chunk::ChunkStream;
use crate::error::Error;
use crate::runtime::Runtime;
use crate::session::Session;

/// Where to start reading a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchStart {
    /// The topic to read.
    pub topic: String,
    /// The partition of `topic` to read.
    pub partition: i32,
    /// The first offset to read; `None` starts where the config's
    /// `offset_reset` says (earliest or latest).
    pub offset: Option<i64>,
}

impl FetchStart {
    /// Reads `partition` of `topic` from `offset` (`None`: where the
    /// config's `offset_reset` says).
    pub fn new(topic: impl Into<String>, partition: i32, offset: Option<i64>) -> Self {
        FetchStart {
            topic: topic.into(),
            partition,
            offset,
        }
    }
}

/// Reads partitions without a group: nothing is committed, and positions
/// live only in the stream. One fetch runs per leader broker, each
/// partition one fetch ahead of the reader.
#[derive(Debug, Clone)]
pub struct Fetcher<R: Runtime> {
    session: Session<R>,
    config: FetchConfig,
}

impl<R: Runtime> Fetcher<R> {
    /// A fetcher on `session`'s connections; `config` applies to every
    /// stream it opens.
    pub fn new(session: &Session<R>, config: FetchConfig) -> Self {
        Fetcher {
            session: session.clone(),
            config,
        }
    }

    /// Records from `starts`, in offset order per partition, at most
    /// `limit` in all (`None`: until the stream is dropped). A fetch error
    /// is an `Err` item and the stream goes on (under
    /// [`kafkite::consumer::OffsetReset::Error`] that partition stops);
    /// the stream ends after `limit` records or when the session closes.
    pub fn fetch(&self, starts: Vec<FetchStart>, limit: Option<usize>) -> RecordStream<R> {
        RecordStream {
            state: self.open(starts),
            current: None,
            queued: VecDeque::new(),
            limit,
            yielded: 0,
        }
    }

    /// The same records as [`fetch`](Self::fetch), a fetched chunk (one
    /// partition's records from one fetch) at a time: for readers of many
    /// small records, which then pay one poll per chunk rather than per
    /// record. At most `limit` records in all (the last chunk cut short);
    /// errors and the end as in `fetch`.
    pub fn fetch_chunks(&self, starts: Vec<FetchStart>, limit: Option<usize>) -> ChunkStream<R> {
        ChunkStream {
            state: self.open(starts),
            limit,
            yielded: 0,
        }
    }

    fn open(&self, starts: Vec<FetchStart>) -> State<R> {
        let starts = starts
            .into_iter()
            .map(|s| (s.topic, s.partition, s.offset))
            .collect();
        let id = self.session.next_component_id();
        match FetchHandle::open(&self.session, id, self.config.clone(), starts) {
            Ok(handle) => State::Running(handle),
            Err(error) => State::Failed(Some(error)),
        }
    }
}

/// The records a [`Fetcher`] reads. Dropping it stops the fetching.
pub struct RecordStream<R: Runtime> {
    state: State<R>,
    /// The chunk being handed out; it goes back to the fetcher once
    /// empty, for the next chunk's records.
    current: Option<(Arc<str>, i32, RecordChunkIntoIter)>,
    queued: VecDeque<FetchedRecords>,
    limit: Option<usize>,
    yielded: usize,
}

impl<R: Runtime> Stream for RecordStream<R> {
    type Item = Result<ConsumedRecord, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let handle = match this.state.running() {
                Ok(handle) => handle,
                Err(end) => return Poll::Ready(end),
            };
            if this.limit.is_some_and(|limit| this.yielded >= limit) {
                this.state = State::Done;
                return Poll::Ready(None);
            }
            if let Some((topic, partition, records)) = &mut this.current {
                if let Some(record) = records.next() {
                    this.yielded += 1;
                    return Poll::Ready(Some(Ok(ConsumedRecord::new(topic, *partition, record))));
                }
                let records = std::mem::take(records).into_chunk();
                handle.release(topic, *partition, records);
                this.current = None;
            }
            if let Some(chunk) = this.queued.pop_front() {
                let topic: Arc<str> = chunk.topic.into();
                this.current = Some((topic, chunk.partition, chunk.records.into_iter()));
                continue;
            }
            match handle.poll_records(cx) {
                Poll::Ready(Some(Ok(chunk))) => this.queued.push_back(chunk),
                Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error))),
                Poll::Ready(None) => {
                    this.state = State::Done;
                    return Poll::Ready(Some(Err(Error::Closed)));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
