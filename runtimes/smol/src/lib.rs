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

/// A kafkite session on smol.
pub type Session = kafkite_driver::Session<SmolRuntime>;

/// A batching, idempotent kafkite producer on smol.
pub type Producer = kafkite_driver::Producer<SmolRuntime>;

/// The Dart package's explicit-partition producer on smol.
pub type ExplicitProducer = kafkite_driver::ExplicitProducer<SmolRuntime>;

/// The Dart package's ConsumerGroup (a group's committed offsets) on smol.
pub type ConsumerGroup = kafkite_driver::ConsumerGroup<SmolRuntime>;

/// The Dart package's envelope consumer on smol.
pub type Consumer = kafkite_driver::Consumer<SmolRuntime>;

/// One record of a [`Consumer`] to commit, ack or cancel.
pub type Envelope = kafkite_driver::Envelope<SmolRuntime>;

/// Reads partitions from explicit offsets, without a group, on smol.
pub type Fetcher = kafkite_driver::Fetcher<SmolRuntime>;

/// Earliest and latest offsets of partitions on smol.
pub type OffsetMaster = kafkite_driver::OffsetMaster<SmolRuntime>;

/// A consumer group member reading its assigned partitions, on smol.
pub type GroupConsumer = kafkite_driver::GroupConsumer<SmolRuntime>;

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
