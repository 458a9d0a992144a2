//! A stream's link to its fetcher in the event loop: opens it, releases
//! what the stream is done with, and closes it when dropped.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::Stream;

use kafkite::consumer::RecordChunk;
use kafkite::consumer::{FetchConfig, FetchEvent, FetchedRecords};

use crate::error::Error;
use crate::event_loop::command::Command;
use crate::event_loop::command::PartitionStart;
use crate::runtime::Runtime;
use crate::session::Session;

pub(crate) struct FetchHandle<R: Runtime> {
    session: Session<R>,
    id: u64,
    /// Boxed: the receiver is not `Unpin`, and the streams holding this
    /// handle should be (so `stream.next()` works without pinning).
    events: Pin<Box<async_channel::Receiver<FetchEvent>>>,
}

impl<R: Runtime> FetchHandle<R> {
    /// Starts fetching `starts` under the id `id` (from
    /// `Session::next_component_id`).
    pub(crate) fn open(
        session: &Session<R>,
        id: u64,
        config: FetchConfig,
        starts: Vec<PartitionStart>,
    ) -> Result<Self, Error> {
        // Unbounded: the fetcher's own back-pressure (one chunk ahead per
        // partition, see `fetch_slots`) bounds what waits here.
        let (events_tx, events) = async_channel::unbounded();
        session.command_now(Command::FetchOpen {
            fetcher: id,
            config: Box::new(config),
            starts,
            events: events_tx,
        })?;
        Ok(FetchHandle {
            session: session.clone(),
            id,
            events: Box::pin(events),
        })
    }

    /// The next fetched chunk, passing over position resets: a fetch
    /// error is an `Err`, and `None` means the event loop has stopped.
    pub(crate) fn poll_records(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<FetchedRecords, Error>>> {
        loop {
            return match self.events.as_mut().poll_next(cx) {
                Poll::Ready(Some(FetchEvent::Records(chunk))) => Poll::Ready(Some(Ok(chunk))),
                Poll::Ready(Some(FetchEvent::Reset { .. })) => continue,
                Poll::Ready(Some(FetchEvent::Error(error))) => {
                    Poll::Ready(Some(Err(Error::Fetch(error))))
                }
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }

    /// The session and fetcher id, for releasing chunks that outlive a
    /// borrow of the handle.
    pub(crate) fn release_target(&self) -> (Session<R>, u64) {
        (self.session.clone(), self.id)
    }

    /// The stream is done with one fetched chunk of this partition; its
    /// emptied record chunk goes back to the fetcher for reuse.
    pub(crate) fn release(&self, topic: &str, partition: i32, records: RecordChunk) {
        release(&self.session, self.id, topic, partition, records);
    }
}

/// Releases a chunk of fetcher `id` (for holders of just the id).
pub(crate) fn release<R: Runtime>(
    session: &Session<R>,
    id: u64,
    topic: &str,
    partition: i32,
    records: RecordChunk,
) {
    // A closed session has no fetcher left to release.
    let _ = session.command_now(Command::FetchRelease {
        fetcher: id,
        topic: topic.to_string(),
        partition,
        records,
    });
}

/// Stops fetcher `id`.
pub(crate) fn close<R: Runtime>(session: &Session<R>, id: u64) {
    let _ = session.command_now(Command::FetchClose { fetcher: id });
}

impl<R: Runtime> Drop for FetchHandle<R> {
    fn drop(&mut self) {
        close(&self.session, self.id);
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
