//! The async driver of kafkite's sans-IO core, for any runtime.
//!
//! One event loop task owns the core [`kafkite::client::Client`] and does
//! nothing clever: it reads bytes and hands them in, writes what comes out,
//! and sleeps until the core's next deadline or the next input, whichever
//! is first. A runtime is three functions (connect, sleep, spawn: see
//! [`Runtime`]); `kafkite-tokio`, `kafkite-smol` and `kafkite-async-std`
//! are those three functions and a re-export of [`Session`].
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

mod admin;
mod batch_deliveries;
mod batch_waiters;
mod buffer_gauge;
mod connection;
mod consumed_record;
mod consumer;
mod consumer_group;
mod error;
mod event_loop;
mod explicit_producer;
mod fetch_handle;
mod fetch_slots;
mod fetched_chunk;
mod fetcher;
mod group_consumer;
mod group_slots;
mod idempotence_off;
mod offset_master;
mod oneshot;
mod producer;
mod producer_mailbox;
mod producer_slots;
mod runtime;
mod session;
mod wake_guard;

#[cfg(feature = "testing")]
pub mod conformance;

pub use batch_deliveries::{BatchDeliveries, Iter as BatchDeliveriesIter};
pub use consumed_record::ConsumedRecord;
pub use consumer::{BatchStream, Consumer, Envelope, EnvelopeBatch, EnvelopeStream};
pub use consumer_group::{ConsumerGroup, TopicPartition};
pub use error::Error;
pub use explicit_producer::ExplicitProducer;
pub use fetched_chunk::{ChunkRecords, ChunkStream, FetchedChunk};
pub use fetcher::{FetchStart, Fetcher, RecordStream};
pub use group_consumer::{GroupConsumer, GroupMessage};
pub use offset_master::OffsetMaster;
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
    Acks, Delivery, Message, PackedHeaders, PackedRecord, PackedRecordMut, PackedRecords,
    ProduceError, ProduceResult, ProducerConfig, ProducerRecord,
};
pub use kafkite::properties::{Properties, PropertyError, Scope};
pub use kafkite::records::{
    Compression, RecordHeader, RecordHeaders, RecordHeadersIter, TimestampType,
};
pub use kafkite::security::{
    AuthError, OAuthBearerToken, OAuthBearerTokenProvider, SaslConfig, Secret, SecurityProtocol,
    TlsConfig, TlsError, TokenFuture, UnsecuredJwsConfig,
};
