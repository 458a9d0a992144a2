//! The one shape every state machine the [`Engine`](super::Engine) runs
//! shares: inputs (a client event, a timeout), its next deadline, and its
//! outputs.
//!
//! The engine calls these and nothing else, so routing, timers and output
//! draining are written once for producers, fetchers and group consumers.

use std::time::Instant;

use crate::client::{Client, Event};
use crate::consumer::group::{GroupEvent, GroupMember};
use crate::consumer::{ConsumerEvent, FetchEvent, FetcherMachine, GroupConsumerMachine};
use crate::producer::{ProducerEvent, ProducerMachine};

/// A state machine that sends its requests through a [`Client`].
pub trait Machine {
    /// What it reports to its user.
    type Output;

    /// A client event: the answer to one of its requests (the engine hands
    /// each answer only to the machine that sent the request), or news of
    /// the cluster (metadata, connections), which every machine sees.
    /// Returns whether the event was the answer to one of its requests.
    fn handle_client_event(&mut self, client: &mut Client, event: &Event, now: Instant) -> bool;

    /// Time has reached `now`. Calling it early, or twice, does nothing
    /// that was not due.
    fn handle_timeout(&mut self, client: &mut Client, now: Instant);

    /// The next moment `handle_timeout` is due; never one it has already
    /// been called for.
    fn poll_timeout(&self) -> Option<Instant>;

    /// Its next output, in order.
    fn poll_output(&mut self) -> Option<Self::Output>;
}

/// Each machine already has these methods under these names; the trait
/// only gathers them.
macro_rules! machine {
    ($machine:ty, $output:ty) => {
        impl Machine for $machine {
            type Output = $output;

            fn handle_client_event(
                &mut self,
                client: &mut Client,
                event: &Event,
                now: Instant,
            ) -> bool {
                <$machine>::handle_client_event(self, client, event, now)
            }

            fn handle_timeout(&mut self, client: &mut Client, now: Instant) {
                <$machine>::handle_timeout(self, client, now)
            }

            fn poll_timeout(&self) -> Option<Instant> {
                <$machine>::poll_timeout(self)
            }

            fn poll_output(&mut self) -> Option<$output> {
                self.poll_event()
            }
        }
    };
}

machine!(ProducerMachine, ProducerEvent);
machine!(FetcherMachine, FetchEvent);
machine!(GroupConsumerMachine, ConsumerEvent);
machine!(GroupMember, GroupEvent);
