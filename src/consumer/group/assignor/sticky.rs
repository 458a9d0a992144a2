//! The sticky assignor and its cooperative form ("cooperative-sticky").
//!
//! [`sticky()`] computes a balanced assignment that keeps as many partitions
//! as it can with the members that own them now:
//! 1. Claims: each member's owned partitions (subscription v1+) that still
//!    exist and that it still subscribes to. Only members of the newest
//!    generation are believed (an older claimant was fenced and has lost
//!    them); a partition two of them claim goes to neither.
//! 2. Partitions nobody keeps go, in order, to the subscribed member with
//!    the fewest partitions.
//! 3. While some member has two more partitions than another member
//!    subscribed to one of them, one partition moves from the fullest to the
//!    emptiest, newly given partitions first. With identical subscriptions
//!    this ends with counts within one of each other and moves no more
//!    owned partitions than balance requires.
//!
//! [`cooperative_sticky`] then makes the move incremental (KIP-429): a
//! partition whose target is not the member that owns it now is assigned to
//! nobody this time. The owner sees it missing, revokes it and rejoins; the
//! next rebalance finds it unowned and assigns it. No partition is ever
//! consumed by two members at once.

use std::collections::{BTreeMap, BTreeSet};

use super::*;

/// The incremental form: [`sticky()`] with partitions that change owner held
/// back for one rebalance.
pub fn cooperative_sticky(
    members: &[MemberSubscription],
    partitions: &PartitionCounts,
) -> GroupAssignment {
    let mut assignment = sticky(members, partitions);
    let claims = current_claims(members);
    for (member, list) in assignment.iter_mut() {
        list.retain(|tp| {
            claims
                .get(tp)
                .is_none_or(|owners| owners.iter().all(|owner| owner == member))
        });
    }
    assignment
}

/// The balanced, sticky target assignment (eager: partitions move at once).
pub fn sticky(members: &[MemberSubscription], partitions: &PartitionCounts) -> GroupAssignment {
    let ordered = ordered(members);
    let mut state = State::new(&ordered, partitions);
    state.keep_valid_claims(&ordered);
    state.assign_unowned();
    state.balance();
    let mut assignment = empty_assignment(members);
    for (i, member) in ordered.iter().enumerate() {
        if let Some(list) = assignment.get_mut(&member.member_id) {
            *list = state.assigned[i].iter().cloned().collect();
        }
    }
    assignment
}

/// Partition -> the member ids of the newest generation that claim it.
fn current_claims(members: &[MemberSubscription]) -> BTreeMap<TopicPartition, Vec<String>> {
    let newest = newest_generation(members.iter());
    let mut claims: BTreeMap<TopicPartition, Vec<String>> = BTreeMap::new();
    for m in members {
        if generation(m) != newest {
            continue;
        }
        for tp in &m.subscription.owned_partitions {
            claims
                .entry(tp.clone())
                .or_default()
                .push(m.member_id.clone());
        }
    }
    claims
}

fn generation(member: &MemberSubscription) -> i32 {
    member.subscription.generation_id.unwrap_or(-1)
}

fn newest_generation<'a>(members: impl Iterator<Item = &'a MemberSubscription>) -> i32 {
    members.map(generation).max().unwrap_or(-1)
}

/// The assignment being built, members by their index in assignment order.
struct State {
    /// Per member: the topics it subscribes to that have partitions.
    topics: Vec<BTreeSet<String>>,
    /// Every partition of every subscribed topic, in order.
    all: Vec<TopicPartition>,
    assigned: Vec<BTreeSet<TopicPartition>>,
    owner: BTreeMap<TopicPartition, usize>,
    /// Per member: what it kept from its claim (never moved unless needed).
    kept: Vec<BTreeSet<TopicPartition>>,
}

impl State {
    fn new(ordered: &[&MemberSubscription], partitions: &PartitionCounts) -> State {
        let topics: Vec<BTreeSet<String>> = ordered
            .iter()
            .map(|m| {
                m.subscription
                    .topics
                    .iter()
                    .filter(|t| count(partitions, t) > 0)
                    .cloned()
                    .collect()
            })
            .collect();
        let every_topic: BTreeSet<&String> = topics.iter().flatten().collect();
        let all = every_topic
            .into_iter()
            .flat_map(|t| (0..count(partitions, t)).map(move |p| (t.clone(), p)))
            .collect();
        State {
            assigned: vec![BTreeSet::new(); ordered.len()],
            kept: vec![BTreeSet::new(); ordered.len()],
            topics,
            all,
            owner: BTreeMap::new(),
        }
    }

    fn eligible(&self, member: usize, tp: &TopicPartition) -> bool {
        self.topics[member].contains(&tp.0)
    }

    fn give(&mut self, member: usize, tp: TopicPartition) {
        self.owner.insert(tp.clone(), member);
        self.assigned[member].insert(tp);
    }

    fn keep_valid_claims(&mut self, ordered: &[&MemberSubscription]) {
        let newest = newest_generation(ordered.iter().copied());
        let mut claimants: BTreeMap<TopicPartition, Vec<usize>> = BTreeMap::new();
        for (i, m) in ordered.iter().enumerate() {
            if generation(m) != newest {
                continue;
            }
            for tp in &m.subscription.owned_partitions {
                if self.eligible(i, tp) && tp.1 >= 0 && self.all.binary_search(tp).is_ok() {
                    claimants.entry(tp.clone()).or_default().push(i);
                }
            }
        }
        for (tp, who) in claimants {
            if let [only] = who[..] {
                self.kept[only].insert(tp.clone());
                self.give(only, tp);
            }
        }
    }

    fn assign_unowned(&mut self) {
        let unowned: Vec<TopicPartition> = self
            .all
            .iter()
            .filter(|tp| !self.owner.contains_key(*tp))
            .cloned()
            .collect();
        for tp in unowned {
            let emptiest = (0..self.assigned.len())
                .filter(|&m| self.eligible(m, &tp))
                .min_by_key(|&m| (self.assigned[m].len(), m));
            if let Some(m) = emptiest {
                self.give(m, tp);
            }
        }
    }

    /// Moves one partition at a time from a fuller member to an emptier
    /// one until no move narrows the gap. Each move lowers the sum of
    /// squared counts, so this ends.
    fn balance(&mut self) {
        while let Some((from, to, tp)) = self.find_move() {
            self.assigned[from].remove(&tp);
            self.kept[from].remove(&tp);
            self.give(to, tp);
        }
    }

    fn find_move(&self) -> Option<(usize, usize, TopicPartition)> {
        let mut by_count: Vec<usize> = (0..self.assigned.len()).collect();
        by_count.sort_by_key(|&m| (self.assigned[m].len(), m));
        for &from in by_count.iter().rev() {
            let full = self.assigned[from].len();
            for &to in &by_count {
                if self.assigned[to].len() + 2 > full {
                    break;
                }
                let movable = |tp: &&TopicPartition| self.eligible(to, tp);
                // Newly given partitions move before kept ones, the last
                // first (so a member keeps the start of its range).
                let pick = self.assigned[from]
                    .iter()
                    .rev()
                    .filter(movable)
                    .find(|tp| !self.kept[from].contains(*tp))
                    .or_else(|| self.assigned[from].iter().rev().find(movable));
                if let Some(tp) = pick {
                    return Some((from, to, tp.clone()));
                }
            }
        }
        None
    }
}
