//! The round-robin assignor ("roundrobin"): every partition of every
//! subscribed topic, in order, dealt to the members in turn, skipping
//! members not subscribed to the partition's topic. With identical
//! subscriptions, counts differ by at most one across all topics.

use std::collections::BTreeSet;

use super::*;

/// The round-robin assignor: every partition of every subscribed topic,
/// in order, dealt to the members in turn, skipping members not
/// subscribed to its topic.
pub fn round_robin(
    members: &[MemberSubscription],
    partitions: &PartitionCounts,
) -> GroupAssignment {
    let mut assignment = empty_assignment(members);
    let ordered = ordered(members);
    if ordered.is_empty() {
        return assignment;
    }
    let topics: BTreeSet<&str> = members
        .iter()
        .flat_map(|m| m.subscription.topics.iter().map(String::as_str))
        .collect();
    let mut turn = 0usize;
    for topic in topics {
        for partition in 0..count(partitions, topic) {
            // The next member in the circle that wants this topic; some
            // member does, since the topic came from a subscription.
            let Some(step) = (0..ordered.len())
                .find(|step| subscribes(ordered[(turn + step) % ordered.len()], topic))
            else {
                break;
            };
            let member = ordered[(turn + step) % ordered.len()];
            if let Some(list) = assignment.get_mut(&member.member_id) {
                list.push((topic.to_string(), partition));
            }
            turn = (turn + step + 1) % ordered.len();
        }
    }
    assignment
}
