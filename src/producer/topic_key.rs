//! [`TopicKey`]: a topic name as a map key that compares by pointer first.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::sync::Arc;

/// A topic name in the producer's per-record maps (partition queues, the
/// sticky partitioner).
///
/// Records of a run usually share one `Arc<str>` (a `ProducerRecord`'s
/// topic), and the maps keep the `Arc` of the record that created the
/// entry, so a lookup ends in a pointer comparison rather than comparing
/// the name byte by byte at every tree node. Names that are equal but not
/// shared still compare equal: the order is exactly `str`'s.
#[derive(Debug, Clone)]
pub(crate) struct TopicKey(pub Arc<str>);

impl TopicKey {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// `last` when it is `topic`'s own `Arc`, else a new key. A run of
    /// records of one topic then looks up with one key instead of cloning
    /// the record's `Arc` each time (an atomic count that every thread
    /// holding records of the topic bumps too).
    pub(crate) fn reuse(last: Option<TopicKey>, topic: &Arc<str>) -> TopicKey {
        match last {
            Some(key) if Arc::ptr_eq(&key.0, topic) => key,
            _ => TopicKey(Arc::clone(topic)),
        }
    }
}

impl PartialEq for TopicKey {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Eq for TopicKey {}

impl PartialOrd for TopicKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TopicKey {
    fn cmp(&self, other: &Self) -> Ordering {
        if Arc::ptr_eq(&self.0, &other.0) {
            Ordering::Equal
        } else {
            self.0.cmp(&other.0)
        }
    }
}

/// Maps keyed by topic are looked up by name, without cloning the `Arc`
/// (an atomic count shared with every thread holding records of that
/// topic). The order is `str`'s, as `Borrow` requires.
impl Borrow<str> for TopicKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_as_the_names_do_shared_or_not() {
        let a: Arc<str> = "alpha".into();
        let a2: Arc<str> = "alpha".into();
        let b: Arc<str> = "beta".into();
        assert_eq!(TopicKey(a.clone()), TopicKey(a2.clone()));
        assert_eq!(
            TopicKey(a.clone()).cmp(&TopicKey(a.clone())),
            Ordering::Equal
        );
        assert_eq!(TopicKey(a.clone()).cmp(&TopicKey(a2)), Ordering::Equal);
        assert_eq!(
            TopicKey(a.clone()).cmp(&TopicKey(b.clone())),
            Ordering::Less
        );
        assert_eq!(TopicKey(b).cmp(&TopicKey(a)), Ordering::Greater);
    }
}
