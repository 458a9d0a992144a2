//! kafkite on async-std.
//!
//! ```no_run
//! # fn main() -> Result<(), kafkite_async_std::Error> {
//! async_std::task::block_on(async {
//!     let config = kafkite_async_std::ClientConfig::from_bootstrap("127.0.0.1:9092");
//!     let session = kafkite_async_std::Session::connect(config).await?;
//!     println!("{:?}", session.list_topics().await?);
//!     session.close().await;
//!     Ok(())
//! })
//! # }
//! ```

#![warn(missing_docs)]

use std::future::Future;
use std::io;
use std::time::Instant;

kafkite_driver::runtime_types!(AsyncStdRuntime, "async-std");

/// The [`Runtime`] for async-std: `async_std::net`, `task::sleep` and
/// `task::spawn`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStdRuntime;

impl Runtime for AsyncStdRuntime {
    type Tcp = async_std::net::TcpStream;

    async fn connect(&self, host: &str, port: u16) -> io::Result<Self::Tcp> {
        let stream = async_std::net::TcpStream::connect((host, port)).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> + Send {
        // async-std has no sleep_until; the driver's clock is std's Instant,
        // so the remaining time is measured against it.
        async_std::task::sleep(deadline.saturating_duration_since(Instant::now()))
    }

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        // Dropping the JoinHandle detaches the task.
        drop(async_std::task::spawn(task));
    }
}
