//! Finding a group's coordinator (FindCoordinator; GroupCoordinator v0 on
//! Kafka 0.8.2) and remembering it until a request says it moved.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};
use crate::protocol::ErrorCode;

/// Where the lookup for one group stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    Known(i32),
    Pending,
    /// Not available yet (COORDINATOR_NOT_AVAILABLE, loading): ask again then.
    RetryAt(Instant),
    /// The broker refused (e.g. GROUP_AUTHORIZATION_FAILED).
    Failed(ErrorCode),
}

#[derive(Debug, Default)]
pub(crate) struct Coordinators {
    lookups: BTreeMap<String, Lookup>,
    /// Coordinator addresses as FindCoordinator gave them, for brokers the
    /// metadata does not list.
    addresses: BTreeMap<i32, String>,
}

impl Coordinators {
    pub fn get(&self, group: &str) -> Option<&Lookup> {
        self.lookups.get(group)
    }

    pub fn set_pending(&mut self, group: &str) {
        self.lookups.insert(group.to_string(), Lookup::Pending);
    }

    /// Forgets a coordinator (NOT_COORDINATOR, or its connection failed).
    pub fn forget(&mut self, group: &str) {
        self.lookups.remove(group);
    }

    pub fn address(&self, node: i32) -> Option<&String> {
        self.addresses.get(&node)
    }

    /// The request for `group` at `version`: the group id is `Key` up to
    /// v3 and one of `CoordinatorKeys` from v4 (KIP-699).
    pub fn request(group: &str, version: i16) -> FindCoordinatorRequest {
        if version >= 4 {
            FindCoordinatorRequest {
                coordinator_keys: vec![group.to_string()],
                ..Default::default()
            }
        } else {
            FindCoordinatorRequest {
                key: group.to_string(),
                ..Default::default()
            }
        }
    }

    /// Applies an answer; a lost request (None) is retried after `backoff`.
    pub fn apply(
        &mut self,
        group: &str,
        response: Option<&FindCoordinatorResponse>,
        now: Instant,
        backoff: Duration,
    ) {
        let found = response.and_then(|r| {
            if let Some(c) = r.coordinators.iter().find(|c| c.key == group) {
                Some((c.error_code, c.node_id, c.host.clone(), c.port))
            } else if r.coordinators.is_empty() {
                Some((r.error_code, r.node_id, r.host.clone(), r.port))
            } else {
                None
            }
        });
        let lookup = match found {
            Some((0, node, host, port)) if node >= 0 => {
                self.addresses.insert(node, format!("{host}:{port}"));
                Lookup::Known(node)
            }
            Some((code, ..)) if code != 0 && !ErrorCode(code).is_retriable() => {
                Lookup::Failed(ErrorCode(code))
            }
            _ => Lookup::RetryAt(now + backoff),
        };
        self.lookups.insert(group.to_string(), lookup);
    }

    /// Drops retry times that have passed: a request waiting for that group
    /// has already started a new lookup, and for the others it can wait
    /// until one is asked for.
    pub fn forget_passed_retries(&mut self, now: Instant) {
        self.lookups
            .retain(|_, l| !matches!(l, Lookup::RetryAt(t) if *t <= now));
    }

    /// The earliest retry due.
    pub fn next_retry(&self) -> Option<Instant> {
        self.lookups
            .values()
            .filter_map(|l| match l {
                Lookup::RetryAt(t) => Some(*t),
                _ => None,
            })
            .min()
    }
}
