//! [`ChunkStream`] and [`FetchedChunk`]: a [`Fetcher`](crate::Fetcher)'s
//! records a fetched chunk at a time.
//!
//! The record stream hands out one 144-byte `ConsumedRecord` per poll,
//! which the caller's `while let Some(..) = stream.next().await` moves a few
//! times over; with small records those moves and polls are most of what
//! reading costs the reading thread. A chunk is polled for once and its
//! records are then taken in a plain loop, as Java's `poll()` hands out a
//! batch of records.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_lite::Stream;

use kafkite::consumer::{RecordChunkIntoIter, RecordView};

use crate::consumer::consumed_record::ConsumedRecord;
use crate::consumer::fetch_handle;
use crate::consumer::fetch_handle::State;
use crate::error::Error;
use crate::runtime::Runtime;
use crate::session::Session;

/// The chunks a [`Fetcher`](crate::Fetcher) reads: see
/// [`Fetcher::fetch_chunks`](crate::Fetcher::fetch_chunks). Dropping it
/// stops the fetching.
pub struct ChunkStream<R: Runtime> {
    pub(crate) state: State<R>,
    pub(crate) limit: Option<usize>,
    pub(crate) yielded: usize,
}

/// One partition's records from one fetch, in offset order. Iterating
/// yields them; dropping the chunk hands it back to the fetcher, which
/// reads that partition at most one chunk ahead of what is handed back, so
/// a chunk held on to holds up its partition.
pub struct FetchedChunk<R: Runtime> {
    topic: Arc<str>,
    partition: i32,
    records: RecordChunkIntoIter,
    /// Records this chunk may still yield under the stream's limit (at
    /// most what `records` has left).
    left: usize,
    /// Where the chunk goes back to when dropped.
    session: Session<R>,
    fetcher: u64,
}

impl<R: Runtime> FetchedChunk<R> {
    /// The topic the records were read from.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The partition the records were read from.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// Records not taken yet.
    pub fn len(&self) -> usize {
        self.left
    }

    /// True when every record has been taken.
    pub fn is_empty(&self) -> bool {
        self.left == 0
    }

    /// The records not taken yet, borrowed from the chunk: key, value and
    /// headers are slices of the fetched buffer, and nothing is made or
    /// reference-counted per record (cheapest when records are small).
    /// [`RecordView::to_record`] makes an owned one.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = RecordView<'_>> + '_ {
        self.records.views().take(self.left)
    }

    /// The next record, if the chunk has one left.
    #[inline]
    pub fn next_record(&mut self) -> Option<ConsumedRecord> {
        if self.left == 0 {
            return None;
        }
        let record = self.records.next()?;
        self.left -= 1;
        Some(ConsumedRecord::new(&self.topic, self.partition, record))
    }
}

/// `for record in chunk`: the chunk goes back to the fetcher when the loop
/// is done with it.
impl<R: Runtime> IntoIterator for FetchedChunk<R> {
    type Item = ConsumedRecord;
    type IntoIter = ChunkRecords<R>;

    fn into_iter(self) -> ChunkRecords<R> {
        ChunkRecords { chunk: self }
    }
}

/// The records of a [`FetchedChunk`] (its `into_iter`). Not the chunk
/// itself, whose `partition()` would clash with `Iterator::partition`.
#[derive(Debug)]
pub struct ChunkRecords<R: Runtime> {
    chunk: FetchedChunk<R>,
}

impl<R: Runtime> Iterator for ChunkRecords<R> {
    type Item = ConsumedRecord;

    #[inline]
    fn next(&mut self) -> Option<ConsumedRecord> {
        self.chunk.next_record()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.chunk.left, Some(self.chunk.left))
    }
}

impl<R: Runtime> ExactSizeIterator for ChunkRecords<R> {}

impl<R: Runtime> Drop for FetchedChunk<R> {
    fn drop(&mut self) {
        let records = std::mem::take(&mut self.records).into_chunk();
        fetch_handle::release(
            &self.session,
            self.fetcher,
            &self.topic,
            self.partition,
            records,
        );
    }
}

impl<R: Runtime> std::fmt::Debug for FetchedChunk<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchedChunk")
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .field("left", &self.left)
            .finish()
    }
}

impl<R: Runtime> Stream for ChunkStream<R> {
    type Item = Result<FetchedChunk<R>, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let handle = match this.state.running() {
            Ok(handle) => handle,
            Err(end) => return Poll::Ready(end),
        };
        let left = this.limit.map_or(usize::MAX, |limit| limit - this.yielded);
        if left == 0 {
            this.state = State::Done;
            return Poll::Ready(None);
        }
        match handle.poll_records(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                let records = chunk.records.into_iter();
                let left = left.min(records.remaining());
                this.yielded += left;
                let (session, fetcher) = handle.release_target();
                Poll::Ready(Some(Ok(FetchedChunk {
                    topic: chunk.topic.into(),
                    partition: chunk.partition,
                    records,
                    left,
                    session,
                    fetcher,
                })))
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(error))),
            Poll::Ready(None) => {
                this.state = State::Done;
                Poll::Ready(Some(Err(Error::Closed)))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
