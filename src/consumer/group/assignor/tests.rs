//! Properties every assignor must keep, checked over generated groups, and
//! a few hand-made cases whose exact answer is known.

use std::collections::BTreeSet;

use quickcheck::{Arbitrary, Gen};

use super::*;

/// A generated group: topics with partition counts, members with
/// subscriptions and (for the sticky assignors) partitions they own.
#[derive(Debug, Clone)]
struct Group {
    partitions: PartitionCounts,
    members: Vec<MemberSubscription>,
    identical: bool,
}

fn small(g: &mut Gen, max: u8) -> u8 {
    u8::arbitrary(g) % (max + 1)
}

impl Arbitrary for Group {
    fn arbitrary(g: &mut Gen) -> Group {
        let topic_count = 1 + small(g, 3);
        let partitions: PartitionCounts = (0..topic_count)
            .map(|t| (format!("t{t}"), i32::from(small(g, 9))))
            .collect();
        let names: Vec<String> = partitions.keys().cloned().collect();
        let identical = bool::arbitrary(g);
        let member_count = 1 + small(g, 5);
        let mut taken: BTreeSet<TopicPartition> = BTreeSet::new();
        let members = (0..member_count)
            .map(|m| {
                let topics: Vec<String> = if identical {
                    names.clone()
                } else {
                    let picked: Vec<String> = names
                        .iter()
                        .filter(|_| bool::arbitrary(g))
                        .cloned()
                        .collect();
                    if picked.is_empty() {
                        vec![names[0].clone()]
                    } else {
                        picked
                    }
                };
                // Owned partitions: mostly disjoint, sometimes stale or
                // doubly claimed, sometimes of topics since deleted.
                let mut owned = Vec::new();
                for (topic, &n) in &partitions {
                    for p in 0..n + 1 {
                        let tp = (topic.clone(), p);
                        if small(g, 3) == 0 && (taken.insert(tp.clone()) || small(g, 5) == 0) {
                            owned.push(tp);
                        }
                    }
                }
                owned.sort();
                let generation_id = match small(g, 6) {
                    0 => None,
                    1 => Some(3),
                    _ => Some(4),
                };
                MemberSubscription {
                    member_id: format!("m{m}-{}", small(g, 99)),
                    group_instance_id: None,
                    subscription: Subscription {
                        topics,
                        owned_partitions: owned,
                        generation_id,
                        ..Default::default()
                    },
                }
            })
            .collect::<Vec<_>>();
        let mut seen = BTreeSet::new();
        let members = members
            .into_iter()
            .filter(|m| seen.insert(m.member_id.clone()))
            .collect();
        Group {
            partitions,
            members,
            identical,
        }
    }
}

impl Group {
    /// Every partition of a topic some member subscribes to.
    fn wanted(&self) -> BTreeSet<TopicPartition> {
        let topics: BTreeSet<&String> = self
            .members
            .iter()
            .flat_map(|m| &m.subscription.topics)
            .collect();
        topics
            .into_iter()
            .flat_map(|t| (0..count(&self.partitions, t)).map(move |p| (t.clone(), p)))
            .collect()
    }

    fn member(&self, id: &str) -> &MemberSubscription {
        self.members
            .iter()
            .find(|m| m.member_id == id)
            .expect("assigned to a member of the group")
    }

    fn without_claims(&self) -> Group {
        let mut g = self.clone();
        for m in &mut g.members {
            m.subscription.owned_partitions.clear();
        }
        g
    }
}

/// No partition twice, only to subscribed members, only existing ones,
/// and an entry for every member.
fn valid(group: &Group, assignment: &GroupAssignment) -> Result<(), String> {
    let wanted = group.wanted();
    let mut seen = BTreeSet::new();
    for (member, list) in assignment {
        let m = group.member(member);
        for tp in list {
            if !seen.insert(tp.clone()) {
                return Err(format!("{tp:?} assigned twice"));
            }
            if !m.subscription.topics.contains(&tp.0) {
                return Err(format!("{tp:?} to {member}, not subscribed"));
            }
            if !wanted.contains(tp) {
                return Err(format!("{tp:?} does not exist"));
            }
        }
        if list.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!("{member}'s list is not sorted"));
        }
    }
    if assignment.len() != group.members.len() {
        return Err("a member has no entry".into());
    }
    Ok(())
}

fn assigned(assignment: &GroupAssignment) -> BTreeSet<TopicPartition> {
    assignment.values().flatten().cloned().collect()
}

fn spread(assignment: &GroupAssignment) -> usize {
    let counts = assignment.values().map(Vec::len);
    counts.clone().max().unwrap_or(0) - counts.min().unwrap_or(0)
}

/// Runs `property` over `tests` generated groups.
fn for_all(tests: u64, property: fn(&Group) -> Result<(), String>) {
    let mut g = Gen::new(20);
    for _ in 0..tests {
        let group = Group::arbitrary(&mut g);
        if let Err(why) = property(&group) {
            panic!("{why}\n{group:#?}");
        }
    }
}

const ASSIGNORS: [Assignor; 3] = [
    Assignor::Range,
    Assignor::RoundRobin,
    Assignor::CooperativeSticky,
];

#[test]
fn every_partition_goes_to_exactly_one_subscribed_member() {
    for_all(500, |group| {
        for assignor in [Assignor::Range, Assignor::RoundRobin] {
            let a = assignor.assign(&group.members, &group.partitions);
            valid(group, &a)?;
            if assigned(&a) != group.wanted() {
                return Err(format!("{assignor:?} left partitions out"));
            }
        }
        let a = sticky(&group.members, &group.partitions);
        valid(group, &a)?;
        if assigned(&a) != group.wanted() {
            return Err("sticky left partitions out".into());
        }
        Ok(())
    });
}

#[test]
fn cooperative_sticky_holds_back_only_partitions_another_member_owns() {
    for_all(500, |group| {
        let a = cooperative_sticky(&group.members, &group.partitions);
        valid(group, &a)?;
        let newest = group
            .members
            .iter()
            .map(|m| m.subscription.generation_id.unwrap_or(-1))
            .max()
            .unwrap_or(-1);
        for (member, list) in &a {
            for tp in list {
                let claimed_elsewhere = group.members.iter().any(|m| {
                    &m.member_id != member
                        && m.subscription.generation_id.unwrap_or(-1) == newest
                        && m.subscription.owned_partitions.contains(tp)
                });
                if claimed_elsewhere {
                    return Err(format!("{tp:?} given to {member} while another owns it"));
                }
            }
        }
        // What is held back is exactly what moves away from an owner.
        let target = sticky(&group.members, &group.partitions);
        for tp in group.wanted().difference(&assigned(&a)) {
            let (to, _) = target
                .iter()
                .find(|(_, list)| list.contains(tp))
                .ok_or(format!("{tp:?} not in the target"))?;
            let moves_away = group.members.iter().any(|m| {
                &m.member_id != to
                    && m.subscription.generation_id.unwrap_or(-1) == newest
                    && m.subscription.owned_partitions.contains(tp)
            });
            if !moves_away {
                return Err(format!("{tp:?} held back though nobody else owns it"));
            }
        }
        Ok(())
    });
}

#[test]
fn identical_subscriptions_are_balanced_within_one() {
    for_all(500, |group| {
        if !group.identical {
            return Ok(());
        }
        let fresh = group.without_claims();
        for assignor in ASSIGNORS {
            let a = assignor.assign(&fresh.members, &fresh.partitions);
            if assignor == Assignor::Range {
                // Range balances each topic, not the total.
                for topic in fresh.partitions.keys() {
                    let per_topic: GroupAssignment = a
                        .iter()
                        .map(|(m, l)| {
                            (
                                m.clone(),
                                l.iter().filter(|tp| &tp.0 == topic).cloned().collect(),
                            )
                        })
                        .collect();
                    if spread(&per_topic) > 1 {
                        return Err(format!("range unbalanced on {topic}: {a:?}"));
                    }
                }
            } else if spread(&a) > 1 {
                return Err(format!("{assignor:?} unbalanced: {a:?}"));
            }
        }
        // The sticky target stays balanced whatever the members own.
        let a = sticky(&group.members, &group.partitions);
        if spread(&a) > 1 {
            return Err(format!("sticky unbalanced: {a:?}"));
        }
        Ok(())
    });
}

#[test]
fn the_same_group_in_any_order_gets_the_same_assignment() {
    for_all(300, |group| {
        let mut reversed = group.members.clone();
        reversed.reverse();
        for assignor in ASSIGNORS {
            let a = assignor.assign(&group.members, &group.partitions);
            let b = assignor.assign(&reversed, &group.partitions);
            if a != b {
                return Err(format!("{assignor:?} depends on member order"));
            }
        }
        Ok(())
    });
}

/// With identical subscriptions and undisputed claims of one generation,
/// the most a balanced assignment can keep is: the members owning the most
/// keep up to the larger quota, the others up to the smaller one.
#[test]
fn sticky_keeps_as_many_owned_partitions_as_balance_allows() {
    for_all(500, |group| {
        if !group.identical || group.members.is_empty() {
            return Ok(());
        }
        let mut group = group.clone();
        let wanted = group.wanted();
        let mut seen = BTreeSet::new();
        for m in &mut group.members {
            m.subscription.generation_id = Some(4);
            m.subscription
                .owned_partitions
                .retain(|tp| wanted.contains(tp) && seen.insert(tp.clone()));
        }
        let members = group.members.len();
        let (floor, extra) = (wanted.len() / members, wanted.len() % members);
        let mut owned: Vec<usize> = group
            .members
            .iter()
            .map(|m| m.subscription.owned_partitions.len())
            .collect();
        owned.sort_unstable_by(|a, b| b.cmp(a));
        let best: usize = owned
            .iter()
            .enumerate()
            .map(|(i, &o)| o.min(floor + usize::from(i < extra)))
            .sum();
        let a = sticky(&group.members, &group.partitions);
        let kept: usize = a
            .iter()
            .map(|(m, list)| {
                let owned = &group.member(m).subscription.owned_partitions;
                list.iter().filter(|tp| owned.contains(tp)).count()
            })
            .sum();
        if kept != best {
            return Err(format!("kept {kept} of the best {best}: {a:?}"));
        }
        Ok(())
    });
}

/// Members revoke what they lost and take what they got, then rejoin:
/// within three rebalances every partition is assigned, and from then on
/// nothing moves.
#[test]
fn cooperative_rebalances_settle_with_every_partition_assigned() {
    for_all(300, |group| {
        let mut group = group.clone();
        let wanted = group.wanted();
        let mut last = GroupAssignment::new();
        for round in 0..4 {
            let a = cooperative_sticky(&group.members, &group.partitions);
            if round == 3 && (assigned(&a) != wanted || a != last) {
                return Err(format!("not settled after 3 rounds: {a:?}"));
            }
            for m in &mut group.members {
                m.subscription.owned_partitions = a[&m.member_id].clone();
                m.subscription.generation_id = Some(10 + round);
            }
            last = a;
        }
        Ok(())
    });
}

fn member(id: &str, topics: &[&str], owned: &[(&str, i32)]) -> MemberSubscription {
    MemberSubscription {
        member_id: id.into(),
        group_instance_id: None,
        subscription: Subscription {
            topics: topics.iter().map(|t| t.to_string()).collect(),
            owned_partitions: owned.iter().map(|(t, p)| (t.to_string(), *p)).collect(),
            generation_id: Some(1),
            ..Default::default()
        },
    }
}

fn tps(list: &[(&str, i32)]) -> Vec<TopicPartition> {
    list.iter().map(|(t, p)| (t.to_string(), *p)).collect()
}

#[test]
fn range_gives_the_first_members_the_extra_partition_of_each_topic() {
    let members = [member("b", &["x", "y"], &[]), member("a", &["x", "y"], &[])];
    let counts = PartitionCounts::from([("x".into(), 3), ("y".into(), 3)]);
    let a = range(&members, &counts);
    assert_eq!(a["a"], tps(&[("x", 0), ("x", 1), ("y", 0), ("y", 1)]));
    assert_eq!(a["b"], tps(&[("x", 2), ("y", 2)]));
}

#[test]
fn round_robin_deals_partitions_in_turn_across_topics() {
    let members = [member("a", &["x", "y"], &[]), member("b", &["x", "y"], &[])];
    let counts = PartitionCounts::from([("x".into(), 3), ("y".into(), 3)]);
    let a = round_robin(&members, &counts);
    assert_eq!(a["a"], tps(&[("x", 0), ("x", 2), ("y", 1)]));
    assert_eq!(a["b"], tps(&[("x", 1), ("y", 0), ("y", 2)]));
}

#[test]
fn a_new_member_gets_partitions_only_after_their_owner_revoked_them() {
    let counts = PartitionCounts::from([("t".into(), 4)]);
    let a_owns = [("t", 0), ("t", 1), ("t", 2), ("t", 3)];
    let first = [member("a", &["t"], &a_owns), member("b", &["t"], &[])];
    let round1 = cooperative_sticky(&first, &counts);
    // a keeps two, the two moving to b are held back.
    assert_eq!(round1["a"], tps(&[("t", 0), ("t", 1)]));
    assert_eq!(round1["b"], tps(&[]));
    let second = [
        member("a", &["t"], &[("t", 0), ("t", 1)]),
        member("b", &["t"], &[]),
    ];
    let round2 = cooperative_sticky(&second, &counts);
    assert_eq!(round2["a"], tps(&[("t", 0), ("t", 1)]));
    assert_eq!(round2["b"], tps(&[("t", 2), ("t", 3)]));
}

#[test]
fn claims_of_an_older_generation_and_double_claims_are_not_trusted() {
    let counts = PartitionCounts::from([("t".into(), 2)]);
    let mut stale = member("a", &["t"], &[("t", 0), ("t", 1)]);
    stale.subscription.generation_id = Some(0);
    let b = member("b", &["t"], &[("t", 1)]);
    let a = sticky(&[stale, b], &counts);
    assert_eq!(a["b"], tps(&[("t", 1)]));
    assert_eq!(a["a"], tps(&[("t", 0)]));
    let both = [
        member("a", &["t"], &[("t", 0)]),
        member("b", &["t"], &[("t", 0)]),
    ];
    // Neither keeps t-0 in the target, and neither gets it while both claim it.
    let target = sticky(&both, &counts);
    assert_eq!(assigned(&target).len(), 2);
    let incremental = cooperative_sticky(&both, &counts);
    assert!(!assigned(&incremental).contains(&("t".to_string(), 0)));
}

#[test]
fn the_protocol_is_cooperative_only_when_every_assignor_is() {
    use RebalanceProtocol::*;
    assert_eq!(
        rebalance_protocol(&[Assignor::CooperativeSticky]),
        Cooperative
    );
    let mixed = [Assignor::CooperativeSticky, Assignor::Range];
    assert_eq!(rebalance_protocol(&mixed), Eager);
    assert_eq!(rebalance_protocol(&[]), Eager);
    for a in ASSIGNORS {
        assert_eq!(Assignor::from_name(a.name()), Some(a));
    }
}
