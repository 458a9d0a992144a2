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

use std::future::Future;
use std::io;
use std::time::Instant;

mod io_thread;
mod tcp;
pub use io_thread::IoThread;
pub use tcp::TokioTcp;

pub use kafkite_driver::{
    Acks, AdminError, ApiVersionTable, Assignor, AuthError, BatchDeliveries, BatchDeliveriesIter,
    BatchDeliveryFuture, ClientConfig, ClusterDescription, ClusterMetadata, Compression,
    ConsumedRecord, Delivery, DeliveryFuture, Error, FetchConfig, FetchError, FetchStart,
    GroupConfig, GroupConsumerConfig, GroupMessage, Message, NewTopic, OAuthBearerToken,
    OAuthBearerTokenProvider, OffsetAndMetadata, OffsetError, OffsetReset, OffsetSpec,
    PackedHeaders, PackedRecord, PackedRecordMut, PackedRecords, ProduceError, ProduceResult,
    ProducerConfig, ProducerRecord, Properties, PropertyError, RecordHeader, RecordHeaders,
    RecordHeadersIter, RecordView, RequestError, RequestOptions, Runtime, SaslConfig, Scope,
    Secret, SecurityProtocol, Target, TimestampType, TlsConfig, TlsError, TokenFuture,
    UnsecuredJwsConfig,
};

/// A kafkite session on tokio.
pub type Session = kafkite_driver::Session<TokioRuntime>;

/// A batching, idempotent kafkite producer on tokio.
pub type Producer = kafkite_driver::Producer<TokioRuntime>;

/// The Dart package's explicit-partition producer on tokio.
pub type ExplicitProducer = kafkite_driver::ExplicitProducer<TokioRuntime>;

/// The Dart package's ConsumerGroup (a group's committed offsets) on tokio.
pub type ConsumerGroup = kafkite_driver::ConsumerGroup<TokioRuntime>;

/// The Dart package's envelope consumer on tokio.
pub type Consumer = kafkite_driver::Consumer<TokioRuntime>;

/// One record of a [`Consumer`] to commit, ack or cancel.
pub type Envelope = kafkite_driver::Envelope<TokioRuntime>;

/// Reads partitions from explicit offsets, without a group, on tokio.
pub type Fetcher = kafkite_driver::Fetcher<TokioRuntime>;

/// Earliest and latest offsets of partitions on tokio.
pub type OffsetMaster = kafkite_driver::OffsetMaster<TokioRuntime>;

/// A consumer group member reading its assigned partitions, on tokio.
pub type GroupConsumer = kafkite_driver::GroupConsumer<TokioRuntime>;

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
