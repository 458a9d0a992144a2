//! kafkite on smol.
//!
//! ```no_run
//! # fn main() -> Result<(), kafkite_smol::Error> {
//! smol::block_on(async {
//!     let config = kafkite_smol::ClientConfig::from_bootstrap("127.0.0.1:9092");
//!     let session = kafkite_smol::Session::connect(config).await?;
//!     println!("{:?}", session.list_topics().await?);
//!     session.close().await;
//!     Ok(())
//! })
//! # }
//! ```
//!
//! The driver's tasks run on smol's global executor (`smol::spawn`).

#![warn(missing_docs)]

use std::future::Future;
use std::io;
use std::time::Instant;

kafkite_driver::runtime_types!(SmolRuntime, "smol");

/// The [`Runtime`] for smol: `smol::net`, `smol::Timer` and `smol::spawn`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SmolRuntime;

impl Runtime for SmolRuntime {
    type Tcp = smol::net::TcpStream;

    async fn connect(&self, host: &str, port: u16) -> io::Result<Self::Tcp> {
        let stream = smol::net::TcpStream::connect((host, port)).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    async fn sleep_until(&self, deadline: Instant) {
        smol::Timer::at(deadline).await;
    }

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        smol::spawn(task).detach();
    }
}
