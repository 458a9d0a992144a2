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

use std::future::Future;
use std::io;
use std::time::Instant;

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

/// A kafkite session on async-std.
pub type Session = kafkite_driver::Session<AsyncStdRuntime>;

/// A batching, idempotent kafkite producer on async-std.
pub type Producer = kafkite_driver::Producer<AsyncStdRuntime>;

/// The Dart package's explicit-partition producer on async-std.
pub type ExplicitProducer = kafkite_driver::ExplicitProducer<AsyncStdRuntime>;

/// The Dart package's ConsumerGroup (a group's committed offsets) on async-std.
pub type ConsumerGroup = kafkite_driver::ConsumerGroup<AsyncStdRuntime>;

/// The Dart package's envelope consumer on async-std.
pub type Consumer = kafkite_driver::Consumer<AsyncStdRuntime>;

/// One record of a [`Consumer`] to commit, ack or cancel.
pub type Envelope = kafkite_driver::Envelope<AsyncStdRuntime>;

/// Reads partitions from explicit offsets, without a group, on async-std.
pub type Fetcher = kafkite_driver::Fetcher<AsyncStdRuntime>;

/// Earliest and latest offsets of partitions on async-std.
pub type OffsetMaster = kafkite_driver::OffsetMaster<AsyncStdRuntime>;

/// A consumer group member reading its assigned partitions, on async-std.
pub type GroupConsumer = kafkite_driver::GroupConsumer<AsyncStdRuntime>;

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
