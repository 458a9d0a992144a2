//! Partition assignors: pure functions the group leader runs over every
//! member's subscription to split the subscribed topics' partitions.
//!
//! Each returns an entry for every member (possibly empty), never assigns a
//! partition to two members or to a member not subscribed to its topic, and
//! gives the same answer for the same members whatever their order.

mod range;
mod round_robin;
mod sticky;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use super::protocol::Subscription;
use super::TopicPartition;

pub use range::range;
pub use round_robin::round_robin;
pub use sticky::{cooperative_sticky, sticky};

/// One member of the group as the leader sees it in JoinGroup's answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemberSubscription {
    /// The member id the coordinator gave the member.
    pub member_id: String,
    /// Static members' `group.instance.id` (KIP-345).
    pub group_instance_id: Option<String>,
    /// What the member sent in JoinGroup: its topics, owned partitions and
    /// rack.
    pub subscription: Subscription,
}

impl MemberSubscription {
    /// The key members are ordered by: a static member's instance id stays
    /// the same across restarts while its member id changes, so ordering by
    /// it keeps range and round-robin assignments stable (KIP-345).
    fn sort_key(&self) -> (&str, &str) {
        let stable = self.group_instance_id.as_deref().unwrap_or(&self.member_id);
        (stable, &self.member_id)
    }
}

/// Member id -> its partitions, sorted.
pub type GroupAssignment = BTreeMap<String, Vec<TopicPartition>>;

/// Partition counts per topic, from the cluster metadata. Topics missing
/// here (unknown, or being created) get no assignment.
pub type PartitionCounts = BTreeMap<String, i32>;

/// How a group moves partitions between members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RebalanceProtocol {
    /// Every member gives up every partition before rejoining.
    Eager,
    /// Members keep their partitions through a rebalance and give up only
    /// those that move, which are assigned in a follow-up rebalance (KIP-429).
    Cooperative,
}

/// The assignors kafkite ships, named as the Java client and librdkafka
/// name them in JoinGroup, so mixed groups agree on one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Assignor {
    /// "range": per topic, consecutive partition ranges to members in order.
    Range,
    /// "roundrobin": all partitions dealt in turn to subscribed members.
    RoundRobin,
    /// "cooperative-sticky": balanced, keeps owned partitions where it can,
    /// and moves partitions in two rebalances (incremental).
    CooperativeSticky,
}

impl Assignor {
    /// The protocol name in JoinGroup.
    pub fn name(self) -> &'static str {
        match self {
            Assignor::Range => "range",
            Assignor::RoundRobin => "roundrobin",
            Assignor::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// The assignor the coordinator chose, by its JoinGroup name.
    pub fn from_name(name: &str) -> Option<Assignor> {
        [
            Assignor::Range,
            Assignor::RoundRobin,
            Assignor::CooperativeSticky,
        ]
        .into_iter()
        .find(|a| a.name() == name)
    }

    /// The rebalance protocols it supports; the newest is preferred.
    pub fn protocols(self) -> &'static [RebalanceProtocol] {
        match self {
            Assignor::Range | Assignor::RoundRobin => &[RebalanceProtocol::Eager],
            Assignor::CooperativeSticky => {
                &[RebalanceProtocol::Eager, RebalanceProtocol::Cooperative]
            }
        }
    }

    /// Splits the partitions of the subscribed topics among `members` the
    /// way this assignor does.
    pub fn assign(
        self,
        members: &[MemberSubscription],
        partitions: &PartitionCounts,
    ) -> GroupAssignment {
        match self {
            Assignor::Range => range(members, partitions),
            Assignor::RoundRobin => round_robin(members, partitions),
            Assignor::CooperativeSticky => cooperative_sticky(members, partitions),
        }
    }
}

/// The protocol a member with these assignors follows: the newest one all
/// of them support, as the Java client decides. A list mixing "range" and
/// "cooperative-sticky" is eager, which is how a group migrates.
pub fn rebalance_protocol(assignors: &[Assignor]) -> RebalanceProtocol {
    let all_cooperative = !assignors.is_empty()
        && assignors
            .iter()
            .all(|a| a.protocols().contains(&RebalanceProtocol::Cooperative));
    if all_cooperative {
        RebalanceProtocol::Cooperative
    } else {
        RebalanceProtocol::Eager
    }
}

/// Members in assignment order (see [`MemberSubscription::sort_key`]).
fn ordered(members: &[MemberSubscription]) -> Vec<&MemberSubscription> {
    let mut sorted: Vec<&MemberSubscription> = members.iter().collect();
    sorted.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    sorted
}

/// An empty entry for every member.
fn empty_assignment(members: &[MemberSubscription]) -> GroupAssignment {
    members
        .iter()
        .map(|m| (m.member_id.clone(), Vec::new()))
        .collect()
}

/// Whether a member subscribed to `topic`.
fn subscribes(member: &MemberSubscription, topic: &str) -> bool {
    member.subscription.topics.iter().any(|t| t == topic)
}

/// The partition count of a topic, 0 when unknown or nonsensical.
fn count(partitions: &PartitionCounts, topic: &str) -> i32 {
    partitions.get(topic).copied().unwrap_or(0).max(0)
}
