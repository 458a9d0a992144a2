//! Consumer groups, sans IO: the embedded consumer protocol, the partition
//! assignors, and the membership state machine.

pub mod assignor;
pub mod protocol;

/// A topic and one of its partitions.
pub type TopicPartition = (String, i32);
