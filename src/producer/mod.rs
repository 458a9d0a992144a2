//! The producer: batching per partition, the Java client's partitioner,
//! compression, acks, retries within a delivery timeout, idempotence, and a
//! memory bound. Sans-IO like the client it rides on (see [`ProducerMachine`]).

mod batch;
mod batch_buffers;
mod config;
mod delivered_batch;
mod explicit;
mod id_window;
mod machine;
mod outgoing;
mod packed_records;
mod partitioner;
mod record;
mod sequence;
mod topic_key;
mod transaction;

#[cfg(test)]
pub(crate) mod tests;

pub use config::{Acks, Idempotence, ProducerConfig};
pub use delivered_batch::DeliveredBatch;
pub use explicit::{ExplicitSend, Message, ProduceResult};
pub use id_window::IdWindow;
pub use machine::ProducerMachine;
pub use packed_records::{PackedHeaders, PackedRecord, PackedRecordMut, PackedRecords};
pub use partitioner::{murmur2, partition_for_key, StickyPartitioner};
pub use record::{
    Delivery, DeliveryId, IdempotenceUnavailable, ProduceError, ProducerEvent, ProducerRecord,
};
pub use transaction::{
    ConsumerGroupMetadata, TransactionError, TransactionOffset, TransactionProtocol,
};
