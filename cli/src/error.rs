//! What can go wrong in a command, each variant phrased as the one line
//! the user reads on stderr: what failed and about what.

use std::io;

use kafkite::properties::PropertyError;
use kafkite_smol::{Error as SessionError, ProduceError};

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("no brokers given: pass -b HOST:PORT or set KAFKA_BOOTSTRAP")]
    NoBrokers,
    /// (The session's errors are boxed here and below: they are large, and
    /// every `Result` of the CLI carries this type.)
    #[error("cannot reach the cluster: {0}")]
    Connect(Box<SessionError>),
    /// A request to the cluster failed; `what` names the operation.
    #[error("{what}: {source}")]
    Cluster {
        what: String,
        #[source]
        source: Box<SessionError>,
    },
    #[error("topic {0:?} does not exist")]
    UnknownTopic(String),
    #[error("topic {topic:?} has no partition {partition} (partitions 0..{partitions})")]
    UnknownPartition {
        topic: String,
        partition: i32,
        partitions: usize,
    },
    #[error("topic {topic:?} is not usable: {reason}")]
    TopicError { topic: String, reason: String },
    #[error("{failed} of {sent} records were not delivered; first failure: {first}")]
    Delivery {
        failed: u64,
        sent: u64,
        first: Box<ProduceError>,
    },
    #[error("cannot send a record: {0}")]
    Send(Box<ProduceError>),
    #[error("reading stdin: {0}")]
    Stdin(io::Error),
    #[error("writing stdout: {0}")]
    Stdout(io::Error),
    /// A `-X` or `-F` property kafkite does not know or support, a bad
    /// value, or settings that contradict each other (never with a
    /// secret's value).
    #[error("{0}")]
    Property(#[from] PropertyError),
    /// A property the command has no use for.
    #[error("{command} does not use the property {key}: it is a {scope} property{hint}")]
    PropertyNotUsed {
        command: &'static str,
        key: String,
        scope: String,
        hint: &'static str,
    },
    /// A flag combination or value the parser could not judge alone.
    #[error("{0}")]
    Invalid(String),
    /// The simulated cluster could not be served.
    #[error("simulated cluster: {0}")]
    Sim(String),
    /// The group named in the command is not in the answer, or failed.
    #[error("group {group:?}: {reason}")]
    Group { group: String, reason: String },
}

impl CliError {
    /// A [`CliError::Connect`].
    pub fn connect(error: SessionError) -> CliError {
        CliError::Connect(Box::new(error))
    }

    /// A [`CliError::Send`] (boxed: the producer's error is large).
    pub fn send(error: ProduceError) -> CliError {
        CliError::Send(Box::new(error))
    }

    /// A [`CliError::Cluster`] for a failed `what`.
    pub fn cluster(what: impl Into<String>) -> impl FnOnce(SessionError) -> CliError {
        let what = what.into();
        move |source| CliError::Cluster {
            what,
            source: Box::new(source),
        }
    }
}
