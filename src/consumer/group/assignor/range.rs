//! The range assignor ("range", Kafka's default for years): per topic, the
//! subscribed members in order each get a consecutive range of partitions,
//! the first ones one more when the count does not divide evenly.
//!
//! Co-partitioned topics (same count, same keys) thus land on the same
//! member partition by partition, which joins rely on; the price is that
//! members early in the order get the extra partition of every topic.

use std::collections::BTreeSet;

use super::*;

/// The range assignor: per topic, each subscribed member in order gets a
/// consecutive range of partitions, the first ones one more when the
/// count does not divide evenly.
pub fn range(members: &[MemberSubscription], partitions: &PartitionCounts) -> GroupAssignment {
    let mut assignment = empty_assignment(members);
    let ordered = ordered(members);
    let topics: BTreeSet<&str> = members
        .iter()
        .flat_map(|m| m.subscription.topics.iter().map(String::as_str))
        .collect();
    for topic in topics {
        let subscribed: Vec<&&MemberSubscription> =
            ordered.iter().filter(|m| subscribes(m, topic)).collect();
        let n = count(partitions, topic) as usize;
        if subscribed.is_empty() || n == 0 {
            continue;
        }
        let per_member = n / subscribed.len();
        let extra = n % subscribed.len();
        let mut next = 0usize;
        for (i, member) in subscribed.iter().enumerate() {
            let take = per_member + usize::from(i < extra);
            if let Some(list) = assignment.get_mut(&member.member_id) {
                list.extend((next..next + take).map(|p| (topic.to_string(), p as i32)));
            }
            next += take;
        }
    }
    for list in assignment.values_mut() {
        list.sort();
    }
    assignment
}
