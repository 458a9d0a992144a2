//! kafkite on tokio.
//!
//! ```no_run
//! # async fn example() -> Result<(), kafkite_tokio::Error> {
//! let config = kafkite_tokio::ClientConfig::from_bootstrap("127.0.0.1:9092");
//! let session = kafkite_tokio::Session::connect(config).await?;
//! println!("{:?}", session.list_topics().await?);
//! session.close().await;
//! # Ok(()) }
//! ```
//!
//! Sessions must be made inside a tokio runtime with IO and time enabled
//! (`#[tokio::main]`, or a `Builder` with `enable_all()`): the driver's
//! tasks are spawned on the current runtime. Or give the client a thread
//! of its own, as librdkafka and the Java client have theirs: its IO then
//! never waits behind the application's tasks, and at full speed it costs
//! less CPU than on a work-stealing runtime, whose workers wake each other
//! at every hand-over (about a tenth less for a producer):
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let io = kafkite_tokio::IoThread::start("kafkite-io")?;
//! let config = kafkite_tokio::ClientConfig::from_bootstrap("127.0.0.1:9092");
//! let session = kafkite_tokio::Session::connect_on(io.runtime(), config).await?;
//! // ... use it from any thread or runtime ...
//! session.close().await;
//! drop(io); // after the sessions made on it are closed
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

use std::future::Future;
use std::io;
use std::time::Instant;

mod io_thread;
mod tcp;
pub use io_thread::IoThread;
pub use tcp::TokioTcp;

kafkite_driver::runtime_types!(TokioRuntime, "tokio");

/// The [`Runtime`] for tokio: its TCP stream seen through futures-io
/// ([`TokioTcp`]), its timer, and spawning on the current runtime
/// (`TokioRuntime::default()`) or on a given one ([`TokioRuntime::on`]).
#[derive(Debug, Clone, Default)]
pub struct TokioRuntime {
    /// Where the driver's tasks run; `None`: the runtime current where a
    /// session is made (`tokio::spawn`).
    handle: Option<tokio::runtime::Handle>,
}

impl TokioRuntime {
    /// Runs the driver's tasks on `handle`'s runtime, wherever the session
    /// is made and used: for example a runtime of kafkite's own on a
    /// thread of its own ([`IoThread`]), so that its socket work neither
    /// waits behind the application's tasks nor wakes its workers.
    pub fn on(handle: tokio::runtime::Handle) -> Self {
        TokioRuntime {
            handle: Some(handle),
        }
    }
}

impl Runtime for TokioRuntime {
    type Tcp = TokioTcp;

    async fn connect(&self, host: &str, port: u16) -> io::Result<Self::Tcp> {
        let stream = tokio::net::TcpStream::connect((host, port)).await?;
        stream.set_nodelay(true)?;
        Ok(TokioTcp(stream))
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> + Send {
        tokio::time::sleep_until(tokio::time::Instant::from_std(deadline))
    }

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        // Dropping the JoinHandle detaches the task.
        match &self.handle {
            Some(handle) => drop(handle.spawn(task)),
            None => drop(tokio::spawn(task)),
        }
    }
}
