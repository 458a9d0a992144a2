//! The machines an engine runs, each in a numbered slot, and the typed
//! handles the application names them by.

use std::time::Instant;

use super::machine::Machine;
use crate::client::{Client, Event};
use crate::consumer::{FetcherMachine, GroupConsumerMachine};
use crate::producer::ProducerMachine;

/// A slot number: one per machine, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Slot(pub(crate) u64);

macro_rules! handle {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub(crate) u64);

        impl $name {
            /// The number behind the handle, unique within its engine.
            pub fn get(self) -> u64 {
                self.0
            }
        }
    };
}

handle!(
    /// A producer running in an [`Engine`](super::Engine).
    ProducerHandle
);
handle!(
    /// A fetcher running in an [`Engine`](super::Engine).
    FetcherHandle
);
handle!(
    /// A group consumer running in an [`Engine`](super::Engine).
    ConsumerHandle
);

/// One machine, whichever kind (boxed: they differ a lot in size).
#[derive(Debug)]
pub(crate) enum Part {
    Producer(Box<ProducerMachine>),
    Fetcher(Box<FetcherMachine>),
    Consumer(Box<GroupConsumerMachine>),
}

impl Part {
    pub(crate) fn handle_client_event(
        &mut self,
        client: &mut Client,
        event: &Event,
        now: Instant,
    ) -> bool {
        match self {
            Part::Producer(m) => Machine::handle_client_event(&mut **m, client, event, now),
            Part::Fetcher(m) => Machine::handle_client_event(&mut **m, client, event, now),
            Part::Consumer(m) => Machine::handle_client_event(&mut **m, client, event, now),
        }
    }

    pub(crate) fn handle_timeout(&mut self, client: &mut Client, now: Instant) {
        match self {
            Part::Producer(m) => Machine::handle_timeout(&mut **m, client, now),
            Part::Fetcher(m) => Machine::handle_timeout(&mut **m, client, now),
            Part::Consumer(m) => Machine::handle_timeout(&mut **m, client, now),
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Part::Producer(m) => Machine::poll_timeout(&**m),
            Part::Fetcher(m) => Machine::poll_timeout(&**m),
            Part::Consumer(m) => Machine::poll_timeout(&**m),
        }
    }
}
