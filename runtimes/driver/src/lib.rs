//! The async driver of kafkite's sans-IO core, for any runtime.
//!
//! One event loop task owns the core [`kafkite::engine::Engine`], which
//! composes the connection machine with the producer, fetcher and group
//! consumer machines, routes each answer by request id and keeps one timer
//! table. The event loop only does IO: it reads bytes from the sockets and
//! hands them in, writes what comes out, passes commands and results
//! through the mailbox to the handles, and sleeps until the engine's next
//! deadline or the next input, whichever is first. Reconnect and bootstrap
//! policy are the engine's too.
//!
//! A runtime is three functions (connect, sleep, spawn: see [`Runtime`]);
//! `kafkite-tokio`, `kafkite-smol` and `kafkite-async-std` are those three
//! functions and a re-export of [`Session`].
//!
//! ```no_run
//! # async fn example<R: kafkite_driver::Runtime + Default>() -> Result<(), kafkite_driver::Error> {
//! use kafkite::admin::{NewTopic, OffsetSpec};
//! use kafkite::client::ClientConfig;
//! use kafkite_driver::Session;
//!
//! let session = Session::<R>::connect(ClientConfig::from_bootstrap("127.0.0.1:9092")).await?;
//! session.create_topics(&[NewTopic::new("orders", 3, 1)]).await?;
//! let latest = session.list_offsets("orders", &[0, 1, 2], OffsetSpec::Latest).await?;
//! session.close().await;
//! # let _ = latest; Ok(()) }
//! ```

#![warn(missing_docs)]

mod admin;
mod consumer;
mod error;
mod event_loop;
mod oneshot;
mod producer;
mod runtime;
mod runtime_types;
mod session;

pub use consumer::consumed_record::ConsumedRecord;
pub use consumer::envelope_consumer::{
    BatchStream, Consumer, Envelope, EnvelopeBatch, EnvelopeStream,
};
pub use consumer::fetched_chunk::{ChunkRecords, ChunkStream, FetchedChunk};
pub use consumer::fetcher::{FetchStart, Fetcher, RecordStream};
pub use consumer::group_consumer::{GroupConsumer, GroupMessage};
pub use consumer::group_offsets::GroupOffsets;
pub use consumer::offset_master::OffsetMaster;
pub use error::Error;
pub use kafkite::TopicPartition;
pub use producer::batch_deliveries::{BatchDeliveries, Iter as BatchDeliveriesIter};
pub use producer::explicit::ExplicitProducer;
pub use producer::transactional::TransactionalProducer;
pub use producer::{BatchDeliveryFuture, DeliveryFuture, Producer};
pub use runtime::Runtime;
pub use session::Session;

pub use kafkite::admin::{AdminError, ClusterDescription, NewTopic, OffsetSpec};
pub use kafkite::client::{
    ApiVersionTable, ClientConfig, ClusterMetadata, RequestError, RequestOptions, Target,
};
pub use kafkite::consumer::group::{Assignor, GroupConfig};
pub use kafkite::consumer::{
    FetchConfig, FetchError, GroupConsumerConfig, OffsetAndMetadata, OffsetError, OffsetReset,
    RecordView,
};
pub use kafkite::producer::{
    Acks, ConsumerGroupMetadata, Delivery, Message, PackedHeaders, PackedRecord, PackedRecordMut,
    PackedRecords, ProduceError, ProduceResult, ProducerConfig, ProducerRecord, TransactionError,
    TransactionOffset, TransactionProtocol,
};
pub use kafkite::properties::{Properties, PropertyError, Scope};
pub use kafkite::records::{
    Compression, RecordHeader, RecordHeaders, RecordHeadersIter, TimestampType,
};
pub use kafkite::security::{
    AuthError, OAuthBearerToken, OAuthBearerTokenProvider, SaslConfig, Secret, SecurityProtocol,
    TlsConfig, TlsError, TokenFuture, UnsecuredJwsConfig,
};
