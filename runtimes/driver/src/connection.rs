//! One broker connection as a task: connect, then write what the event
//! loop sends and hand it every response frame read, until either side
//! ends it.
//!
//! The task cuts the frames itself ([`FrameReader`]), so a large response
//! is read straight into the buffer its records will live in, on the
//! task's thread, and the event loop is woken once per response rather
//! than once per read.

use bytes::Bytes;
use futures_lite::future;
use futures_lite::io::{AsyncRead, AsyncWrite};
use futures_lite::io::{AsyncReadExt, AsyncWriteExt};

use kafkite::client::{ConnectionId, FrameError, FrameReader};

use crate::runtime::Runtime;

/// What a connection task tells the event loop, in the order it happened.
#[derive(Debug)]
pub(crate) enum NetEvent {
    Connected(ConnectionId),
    /// A response frame read (after its size prefix), or why the stream
    /// could not be framed (the last event of the connection).
    Frame(ConnectionId, Result<Bytes, FrameError>),
    /// The connect failed or the connection broke; the text says why.
    Disconnected(ConnectionId, String),
}

/// The event loop's end of a connection task. Dropping it closes the
/// connection: the task writes what was already handed to it, then closes
/// the socket (or gives up a connect still under way), without reporting
/// a disconnect, as the core expects after `Io::Close`.
#[derive(Debug)]
pub(crate) struct ConnHandle {
    writes: async_channel::Sender<Bytes>,
    /// Never sent on: its receiver sees the channel close when this drops.
    _close: async_channel::Sender<()>,
}

impl ConnHandle {
    /// Starts the task for `conn`. The task holds `alive` until it ends.
    pub(crate) fn open<R: Runtime>(
        runtime: &R,
        conn: ConnectionId,
        (host, port): (String, u16),
        events: async_channel::Sender<NetEvent>,
        frames: FrameReader,
        alive: async_channel::Sender<()>,
    ) -> ConnHandle {
        let (writes, write_rx) = async_channel::unbounded();
        let (close, close_rx) = async_channel::bounded(1);
        let task = Task {
            conn,
            host,
            port,
            writes: write_rx,
            close: close_rx,
            events,
            frames,
        };
        let runtime_for_task = runtime.clone();
        runtime.spawn(async move {
            task.run(runtime_for_task).await;
            // The event loop waits for every task to drop this at close.
            drop(alive);
        });
        ConnHandle {
            writes,
            _close: close,
        }
    }

    /// Queues bytes for the socket. The queue is unbounded, so the event
    /// loop never waits on a slow socket; the core bounds what it sends by
    /// its in-flight limit.
    pub(crate) fn write(&self, data: Bytes) {
        // Fails only once the task has ended; it has then reported (or is
        // about to report) the disconnect, so the bytes have nowhere to go.
        let _ = self.writes.try_send(data);
    }
}

/// A connection task's state.
struct Task {
    conn: ConnectionId,
    host: String,
    port: u16,
    writes: async_channel::Receiver<Bytes>,
    close: async_channel::Receiver<()>,
    events: async_channel::Sender<NetEvent>,
    frames: FrameReader,
}

impl Task {
    async fn run<R: Runtime>(self, runtime: R) {
        let Task {
            conn,
            host,
            port,
            writes,
            close,
            events,
            frames,
        } = self;
        let connect = async { Some(runtime.connect(&host, port).await) };
        // The core may give up on the connect (its connect timeout, or
        // close()) before the OS does.
        let abandoned = async {
            let _ = close.recv().await;
            None
        };
        let stream = match future::or(connect, abandoned).await {
            None => return,
            Some(Err(e)) => {
                let _ = events
                    .send(NetEvent::Disconnected(conn, e.to_string()))
                    .await;
                return;
            }
            Some(Ok(stream)) => stream,
        };
        if events.send(NetEvent::Connected(conn)).await.is_err() {
            return;
        }
        let (reader, writer) = futures_lite::io::split(stream);
        let reading = read_loop(reader, conn, &events, frames);
        let broken = future::or(reading, write_loop(writer, writes)).await;
        if let Some(reason) = broken {
            let _ = events.send(NetEvent::Disconnected(conn, reason)).await;
        }
    }
}

/// Hands the event loop every frame read. Returns why the connection
/// broke, or `None` when the event loop is gone (or was told the stream
/// cannot be framed, which ends the connection there).
async fn read_loop(
    mut reader: impl AsyncRead + Unpin,
    conn: ConnectionId,
    events: &async_channel::Sender<NetEvent>,
    mut frames: FrameReader,
) -> Option<String> {
    loop {
        match reader.read(frames.read_space()).await {
            Ok(0) => return Some("closed by the broker".into()),
            Ok(n) => {
                frames.filled(n);
                while let Some(frame) = frames.next_frame() {
                    let failed = frame.is_err();
                    events.send(NetEvent::Frame(conn, frame)).await.ok()?;
                    if failed {
                        return None;
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Some(e.to_string()),
        }
    }
}

/// Writes what the event loop sends, in order. Returns why the connection
/// broke, or `None` after a requested close.
async fn write_loop(
    mut writer: impl AsyncWrite + Unpin,
    writes: async_channel::Receiver<Bytes>,
) -> Option<String> {
    while let Ok(data) = writes.recv().await {
        if let Err(e) = writer.write_all(&data).await {
            return Some(e.to_string());
        }
        if let Err(e) = writer.flush().await {
            return Some(e.to_string());
        }
    }
    let _ = writer.close().await;
    None
}
