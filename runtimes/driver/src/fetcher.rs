//! [`Fetcher`]: reads partitions from explicit offsets, outside any group
//! (the Dart package's Fetcher), as a stream of records.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_lite::Stream;

use kafkite::consumer::{FetchConfig, FetchedRecords, RecordChunkIntoIter};

use crate::consumed_record::ConsumedRecord;
use crate::error::Error;
use crate::fetch_handle::FetchHandle;
use crate::fetched_chunk::ChunkStream;
use crate::runtime::Runtime;
use crate::session::Session;

/// Where to start reading a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchStart {
    pub topic: String,
    pub partition: i32,
    /// The first offset to read; `None` starts where the config's
    /// `offset_reset` says (earliest or latest).
    pub offset: Option<i64>,
}

impl FetchStart {
    pub fn new(topic: impl Into<String>, partition: i32, offset: Option<i64>) -> Self {
        FetchStart {
            topic: topic.into(),
            partition,
            offset,
        }
    }
}

/// Reads partitions without a group: nothing is committed, and positions
/// live only in the stream. One fetch runs per leader broker (the Dart
/// package's fetch workers), each partition one fetch ahead of the reader.
#[derive(Debug, Clone)]
pub struct Fetcher<R: Runtime> {
    session: Session<R>,
    config: FetchConfig,
}

impl<R: Runtime> Fetcher<R> {
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

/// Where a fetcher's stream is.
pub(crate) enum State<R: Runtime> {
    Running(FetchHandle<R>),
    /// The fetcher could not be opened: one error, then the end.
    Failed(Option<Error>),
    Done,
}

impl<R: Runtime> State<R> {
    /// The running fetcher, or what the stream yields instead: the error
    /// of a failed open once, then the end.
    pub(crate) fn running<T>(&mut self) -> Result<&mut FetchHandle<R>, Option<Result<T, Error>>> {
        match self {
            State::Running(handle) => Ok(handle),
            State::Failed(error) => {
                let error = error.take();
                *self = State::Done;
                Err(error.map(Err))
            }
            State::Done => Err(None),
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
