//! One broker connection as a task: connect (and, with TLS, handshake),
//! then write what the event loop sends and hand it every response frame
//! read, until either side ends it.
//!
//! The task cuts the frames itself ([`FrameReader`]), so a large response
//! is read straight into the buffer its records will live in, on the
//! task's thread, and the event loop is woken once per response rather
//! than once per read. TLS is done here too, per connection: encryption
//! runs on whichever runtime thread runs the task, beside the other
//! connections', never queued behind the event loop.

use bytes::Bytes;
use futures_lite::future;
use futures_lite::io::{AsyncRead, AsyncWrite};
use futures_lite::io::{AsyncReadExt, AsyncWriteExt};

use kafkite::client::{ConnectionId, FrameError, FrameReader};
use kafkite::security::{TlsConnector, TlsError};

use crate::runtime::Runtime;

/// What the IO tasks (connections, the token provider) tell the event
/// loop, in the order it happened.
#[derive(Debug)]
pub(crate) enum NetEvent {
    /// The OAUTHBEARER token provider answered.
    OAuthToken(Result<kafkite::security::OAuthBearerToken, String>),
    Connected(ConnectionId),
    /// A response frame read (after its size prefix), or why the stream
    /// could not be framed (the last event of the connection).
    Frame(ConnectionId, Result<Bytes, FrameError>),
    /// The connect failed or the connection broke; the text says why.
    Disconnected(ConnectionId, String),
    /// TLS failed, in the handshake or after it (the broker refused the
    /// client's certificate): the last event of the connection.
    TlsFailed(ConnectionId, TlsError),
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

/// Where a connection task reports, and what it needs beyond the address.
pub(crate) struct TaskContext {
    pub events: async_channel::Sender<NetEvent>,
    pub frames: FrameReader,
    /// TLS settings loaded for the session, when it uses TLS.
    pub tls: Option<TlsConnector>,
    /// Held until the task ends (see `EventLoop::wait_for_sockets`).
    pub alive: async_channel::Sender<()>,
}

impl ConnHandle {
    /// Starts the task for `conn`.
    pub(crate) fn open<R: Runtime>(
        runtime: &R,
        conn: ConnectionId,
        (host, port): (String, u16),
        context: TaskContext,
    ) -> ConnHandle {
        let (writes, write_rx) = async_channel::unbounded();
        let (close, close_rx) = async_channel::bounded(1);
        let TaskContext {
            events,
            frames,
            tls,
            alive,
        } = context;
        let task = Task {
            conn,
            host,
            port,
            writes: write_rx,
            close: close_rx,
            events,
            frames,
            tls,
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
    tls: Option<TlsConnector>,
}

/// How a connection ended, for the event loop.
enum Broken {
    Io(String),
    Tls(TlsError),
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
            tls,
        } = self;
        let connect = async {
            let tcp = runtime
                .connect(&host, port)
                .await
                .map_err(|e| Broken::Io(e.to_string()))?;
            match &tls {
                None => Ok(Stream::Plain(tcp)),
                Some(connector) => {
                    let name = TlsConnector::server_name(&host).map_err(Broken::Tls)?;
                    let tls = futures_rustls::TlsConnector::from(connector.rustls_config());
                    match tls.connect(name, tcp).await {
                        Ok(stream) => Ok(Stream::Tls(Box::new(stream))),
                        Err(e) => Err(match TlsError::from_io(&e, &host, true) {
                            Some(error) => Broken::Tls(error),
                            None => Broken::Io(e.to_string()),
                        }),
                    }
                }
            }
        };
        // The core may give up on the connect (its connect timeout, or
        // close()) before the OS does.
        let abandoned = async {
            let _ = close.recv().await;
            None
        };
        let stream = match future::or(async { Some(connect.await) }, abandoned).await {
            None => return,
            Some(Err(broken)) => {
                let _ = events.send(broken.into_event(conn)).await;
                return;
            }
            Some(Ok(stream)) => stream,
        };
        if events.send(NetEvent::Connected(conn)).await.is_err() {
            return;
        }
        let broken = match stream {
            Stream::Plain(tcp) => serve(tcp, conn, &host, false, &events, frames, writes).await,
            Stream::Tls(tls) => serve(*tls, conn, &host, true, &events, frames, writes).await,
        };
        if let Some(broken) = broken {
            let _ = events.send(broken.into_event(conn)).await;
        }
    }
}

impl Broken {
    fn into_event(self, conn: ConnectionId) -> NetEvent {
        match self {
            Broken::Io(reason) => NetEvent::Disconnected(conn, reason),
            Broken::Tls(error) => NetEvent::TlsFailed(conn, error),
        }
    }
}

enum Stream<T> {
    Plain(T),
    Tls(Box<futures_rustls::client::TlsStream<T>>),
}

/// Reads and writes on an open connection until it breaks or is closed.
async fn serve(
    stream: impl AsyncRead + AsyncWrite + Unpin,
    conn: ConnectionId,
    host: &str,
    tls: bool,
    events: &async_channel::Sender<NetEvent>,
    frames: FrameReader,
    writes: async_channel::Receiver<Bytes>,
) -> Option<Broken> {
    let (reader, writer) = futures_lite::io::split(stream);
    let reading = read_loop(reader, conn, events, frames);
    let broken = future::or(reading, write_loop(writer, writes)).await;
    broken.map(|error| match error {
        Ok(reason) => Broken::Io(reason),
        Err(e) => match TlsError::from_io(&e, host, false).filter(|_| tls) {
            Some(error) => Broken::Tls(error),
            None => Broken::Io(e.to_string()),
        },
    })
}

/// Why a connection broke: a reason, or the IO error itself (which may
/// carry a TLS failure).
type BrokenBy = Result<String, std::io::Error>;

/// Hands the event loop every frame read. Returns why the connection
/// broke, or `None` when the event loop is gone (or was told the stream
/// cannot be framed, which ends the connection there).
async fn read_loop(
    mut reader: impl AsyncRead + Unpin,
    conn: ConnectionId,
    events: &async_channel::Sender<NetEvent>,
    mut frames: FrameReader,
) -> Option<BrokenBy> {
    loop {
        match reader.read(frames.read_space()).await {
            Ok(0) => return Some(Ok("closed by the broker".into())),
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
            Err(e) => return Some(Err(e)),
        }
    }
}

/// Writes what the event loop sends, in order. Returns why the connection
/// broke, or `None` after a requested close.
async fn write_loop(
    mut writer: impl AsyncWrite + Unpin,
    writes: async_channel::Receiver<Bytes>,
) -> Option<BrokenBy> {
    while let Ok(data) = writes.recv().await {
        if let Err(e) = writer.write_all(&data).await {
            return Some(Err(e));
        }
        if let Err(e) = writer.flush().await {
            return Some(Err(e));
        }
    }
    let _ = writer.close().await;
    None
}
