//! [`runtime_types!`](crate::runtime_types): what each runtime crate
//! exports, written once, so that every public type of the driver is
//! reachable from `kafkite-tokio`, `kafkite-smol` and `kafkite-async-std`
//! alike, named without the runtime parameter.

/// Re-exports the driver's runtime-independent types and names each
/// runtime-generic one for `$runtime`. Used by the runtime crates.
#[macro_export]
macro_rules! runtime_types {
    ($runtime:ty, $name:literal) => {
        pub use $crate::{
            Acks, AdminError, ApiVersionTable, Assignor, AuthError, BatchDeliveries,
            BatchDeliveriesIter, BatchDeliveryFuture, ClientConfig, ClusterDescription,
            ClusterMetadata, Compression, ConsumedRecord, ConsumerGroupMetadata, Delivery,
            DeliveryFuture, Error,
            FetchConfig, FetchError, FetchStart, GroupConfig, GroupConsumerConfig, GroupMessage,
            Message, NewTopic, OAuthBearerToken, OAuthBearerTokenProvider, OffsetAndMetadata,
            OffsetError, OffsetReset, OffsetSpec, PackedHeaders, PackedRecord, PackedRecordMut,
            PackedRecords, ProduceError, ProduceResult, ProducerConfig, ProducerRecord,
            Properties, PropertyError, RecordHeader, RecordHeaders, RecordHeadersIter,
            RecordView, RequestError, RequestOptions, Runtime, SaslConfig, Scope, Secret,
            SecurityProtocol, Target, TimestampType, TlsConfig, TlsError, TokenFuture,
            TopicPartition, TransactionError, TransactionOffset, TransactionProtocol,
            UnsecuredJwsConfig,
        };

        #[doc = concat!("A kafkite session on ", $name, ".")]
        pub type Session = $crate::Session<$runtime>;
        #[doc = concat!("A batching, idempotent producer on ", $name, ".")]
        pub type Producer = $crate::Producer<$runtime>;
        #[doc = concat!("A transactional producer (exactly-once pipelines) on ", $name, ".")]
        pub type TransactionalProducer = $crate::TransactionalProducer<$runtime>;
        #[doc = concat!("A producer to explicit partitions, answering per partition, on ", $name, ".")]
        pub type ExplicitProducer = $crate::ExplicitProducer<$runtime>;
        #[doc = concat!("A group's committed offsets (fetch, commit, reset), without membership, on ", $name, ".")]
        pub type GroupOffsets = $crate::GroupOffsets<$runtime>;
        #[doc = concat!("The envelope consumer (commit, ack or cancel each record) on ", $name, ".")]
        pub type Consumer = $crate::Consumer<$runtime>;
        #[doc = concat!("A stream of a [`Consumer`]'s envelopes on ", $name, ".")]
        pub type EnvelopeStream = $crate::EnvelopeStream<$runtime>;
        #[doc = concat!("One record of a [`Consumer`] to commit, ack or cancel, on ", $name, ".")]
        pub type Envelope = $crate::Envelope<$runtime>;
        #[doc = concat!("A stream of a [`Consumer`]'s envelope batches on ", $name, ".")]
        pub type BatchStream = $crate::BatchStream<$runtime>;
        #[doc = concat!("Records of several partitions to resolve together, on ", $name, ".")]
        pub type EnvelopeBatch = $crate::EnvelopeBatch<$runtime>;
        #[doc = concat!("Reads partitions from explicit offsets, without a group, on ", $name, ".")]
        pub type Fetcher = $crate::Fetcher<$runtime>;
        #[doc = concat!("A [`Fetcher`]'s records one by one, on ", $name, ".")]
        pub type RecordStream = $crate::RecordStream<$runtime>;
        #[doc = concat!("A [`Fetcher`]'s records a fetched chunk at a time, on ", $name, ".")]
        pub type ChunkStream = $crate::ChunkStream<$runtime>;
        #[doc = concat!("One fetched chunk of a partition, on ", $name, ".")]
        pub type FetchedChunk = $crate::FetchedChunk<$runtime>;
        #[doc = concat!("The records of a [`FetchedChunk`], taken by value, on ", $name, ".")]
        pub type ChunkRecords = $crate::ChunkRecords<$runtime>;
        #[doc = concat!("Earliest and latest offsets of partitions on ", $name, ".")]
        pub type OffsetMaster = $crate::OffsetMaster<$runtime>;
        #[doc = concat!("A consumer group member reading its assigned partitions, on ", $name, ".")]
        pub type GroupConsumer = $crate::GroupConsumer<$runtime>;
    };
}
