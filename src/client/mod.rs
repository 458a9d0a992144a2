//! The client core: connections, version negotiation, metadata and request
//! routing, as a state machine with no IO (see [`Client`]).

mod config;
mod connection;
mod coordinator;
mod error;
mod frame_reader;
mod io;
mod machine;
mod metadata;
mod rng;
mod spare_buffers;
mod versions;

#[cfg(test)]
mod auth_tests;
#[cfg(test)]
pub(crate) mod scripted;
#[cfg(test)]
mod tests;

pub use config::ClientConfig;
pub use error::{ConnectionError, RequestError};
pub use frame_reader::{FrameError, FrameReader};
pub use io::{ConnectionId, Event, Io, RequestId, Response, Target};
pub use machine::{Client, RequestOptions};
pub use metadata::{
    BrokerAddress, ClusterMetadata, MetadataRefusal, PartitionMetadata, TopicMetadata,
};
pub use rng::Rng;
pub use versions::ApiVersionTable;
