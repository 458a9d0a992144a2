//! What an [`Engine`](super::Engine) gives its driver: IO to carry out,
//! events for the application, and when to call it next.

use std::time::{Duration, Instant};

use super::slots::{ConsumerHandle, FetcherHandle, ProducerHandle};
use crate::client::{Event, Io};
use crate::consumer::{ConsumerEvent, FetchEvent};
use crate::producer::ProducerEvent;
use crate::security::AuthError;

/// The engine's next output, from [`Engine::poll_output`](super::Engine::poll_output).
#[derive(Debug)]
pub enum Output {
    /// Connect, write or close a socket.
    Io(Io),
    /// Something for the application.
    Event(EngineEvent),
    /// Nothing more until an input, or until this moment (then call
    /// [`Engine::handle_timeout`](super::Engine::handle_timeout)); `None`
    /// means no deadline at all.
    Timeout(Option<Instant>),
}

/// An event for the application, tagged with the machine it came from.
#[derive(Debug)]
pub enum EngineEvent {
    /// From the connection machine: the answer to a request sent with
    /// [`Engine::send`](super::Engine::send), or news of the cluster and
    /// its connections (metadata, brokers ready or lost, a token wanted,
    /// closed). Answers to a machine's own requests go to that machine.
    Client(Event),
    /// From a producer: a batch delivered, a record failed, a flush done.
    Producer(ProducerHandle, ProducerEvent),
    /// From a fetcher: records, a position reset, an error.
    Fetcher(FetcherHandle, FetchEvent),
    /// From a group consumer.
    Consumer(ConsumerHandle, ConsumerEvent),
    /// The first metadata arrived: the cluster is reachable.
    Bootstrapped,
    /// No metadata came before the bootstrap deadline, or a bootstrap
    /// server refused the login. The engine closes.
    BootstrapFailed(BootstrapError),
}

/// Why bootstrapping failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BootstrapError {
    /// No bootstrap server answered in time.
    #[error(
        "no bootstrap server answered within {timeout:?} ({servers:?}); last errors: {last_errors:?}"
    )]
    TimedOut {
        /// The bootstrap servers tried.
        servers: Vec<String>,
        /// The client's request timeout, the default bootstrap deadline.
        timeout: Duration,
        /// The most recent connection errors, oldest first.
        last_errors: Vec<String>,
    },
    /// A login refused now is refused again with the same settings, so
    /// the engine gives up at once rather than at the deadline.
    #[error("{address} refused the connection: {error}")]
    Authentication {
        /// The bootstrap server that refused the login.
        address: String,
        /// Why it refused.
        error: AuthError,
    },
}
