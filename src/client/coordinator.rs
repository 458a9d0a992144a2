//! Finding a group's or a transactional id's coordinator (FindCoordinator;
//! GroupCoordinator v0 on Kafka 0.8.2) and remembering it until a request
//! says it moved.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};
use crate::protocol::ErrorCode;

/// What a coordinator is looked up for: the key and its type, as
/// FindCoordinator names them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CoordinatorKey {
    /// A consumer group (key type 0).
    Group(String),
    /// A transactional id (key type 1, FindCoordinator v1+, Kafka 0.11+).
    Transaction(String),
}

impl CoordinatorKey {
    /// The key's text.
    pub fn key(&self) -> &str {
        match self {
            CoordinatorKey::Group(k) | CoordinatorKey::Transaction(k) => k,
        }
    }

    /// FindCoordinator's `key_type`.
    fn key_type(&self) -> i8 {
        match self {
            CoordinatorKey::Group(_) => 0,
            CoordinatorKey::Transaction(_) => 1,
        }
    }

    /// The FindCoordinator versions that can carry this key: a
    /// transactional id needs the key type (v1+).
    pub(crate) fn versions(&self) -> crate::protocol::VersionRange {
        let min = match self {
            CoordinatorKey::Group(_) => 0,
            CoordinatorKey::Transaction(_) => 1,
        };
        crate::protocol::VersionRange { min, max: i16::MAX }
    }
}

/// Where the lookup for one key stands.
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
    lookups: BTreeMap<CoordinatorKey, Lookup>,
    /// Coordinator addresses as FindCoordinator gave them, for brokers the
    /// metadata does not list.
    addresses: BTreeMap<i32, String>,
}

impl Coordinators {
    pub fn get(&self, key: &CoordinatorKey) -> Option<&Lookup> {
        self.lookups.get(key)
    }

    pub fn set_pending(&mut self, key: &CoordinatorKey) {
        self.lookups.insert(key.clone(), Lookup::Pending);
    }

    /// Forgets a coordinator (NOT_COORDINATOR, or its connection failed).
    pub fn forget(&mut self, key: &CoordinatorKey) {
        self.lookups.remove(key);
    }

    /// The lookup cannot be made (no broker version carries the key).
    pub fn fail(&mut self, key: &CoordinatorKey, code: ErrorCode) {
        self.lookups.insert(key.clone(), Lookup::Failed(code));
    }

    pub fn address(&self, node: i32) -> Option<&String> {
        self.addresses.get(&node)
    }

    /// The request for `key` at `version`: the key is `Key` up to v3 and
    /// one of `CoordinatorKeys` from v4 (KIP-699).
    pub fn request(key: &CoordinatorKey, version: i16) -> FindCoordinatorRequest {
        let key_type = key.key_type();
        if version >= 4 {
            FindCoordinatorRequest {
                key_type,
                coordinator_keys: vec![key.key().to_string()],
                ..Default::default()
            }
        } else {
            FindCoordinatorRequest {
                key_type,
                key: key.key().to_string(),
                ..Default::default()
            }
        }
    }

    /// Applies an answer; a lost request (None) is retried after `backoff`.
    pub fn apply(
        &mut self,
        lookup_key: &CoordinatorKey,
        response: Option<&FindCoordinatorResponse>,
        now: Instant,
        backoff: Duration,
    ) {
        let group = lookup_key.key();
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
        self.lookups.insert(lookup_key.clone(), lookup);
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
