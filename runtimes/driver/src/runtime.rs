//! What the driver needs from an async runtime, and nothing more: a TCP
//! connection, a timer and a way to start a task.

use std::future::Future;
use std::io;
use std::time::Instant;

use futures_lite::io::{AsyncRead, AsyncWrite};

/// An async runtime the driver can run on (tokio, smol, async-std, ...).
///
/// The socket uses the runtime-neutral `futures-io` traits, which smol's and
/// async-std's streams implement as they are and tokio's through a small
/// adapter (`kafkite_tokio::TokioTcp`), so an implementation is a few lines
/// per method. Implement `poll_write_vectored` when the socket has it: TLS
/// writes its records as slices.
pub trait Runtime: Clone + Send + Sync + 'static {
    /// A connected TCP stream.
    type Tcp: AsyncRead + AsyncWrite + Send + Unpin + 'static;

    /// Opens a TCP connection to `host:port` (resolving `host`). Kafka
    /// clients disable Nagle's algorithm: requests are small and latency
    /// matters, so implementations should set `TCP_NODELAY`.
    fn connect(&self, host: &str, port: u16) -> impl Future<Output = io::Result<Self::Tcp>> + Send;

    /// Completes at `deadline` (at once if it has passed).
    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> + Send;

    /// Runs `task` to completion in the background, detached.
    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static);
}
