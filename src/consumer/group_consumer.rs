//! A consumer group member that reads its partitions: [`GroupMember`]
//! (membership, assignment, commits) and [`FetcherMachine`] (records) joined, with
//! optional auto-commit.
//!
//! The member says which partitions are ours; each newly assigned one
//! starts at the group's committed offset (or the reset policy where none),
//! and a revoked one stops being fetched before its revocation completes.
//! Positions the application has processed are fed in with
//! [`GroupConsumerMachine::consumed`]; auto-commit stores them every interval and,
//! before a revocation completes, for the partitions leaving, so the next
//! owner resumes where this one stopped (at least once, never a gap).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use crate::client::{Client, Event};
use crate::consumer::group::{
    CommitId, GroupConfig, GroupError, GroupEvent, GroupMember, GroupState, OffsetFetchId,
    TopicPartition,
};
use crate::consumer::{
    FetchConfig, FetchError, FetchEvent, FetchedRecords, FetcherMachine, OffsetAndMetadata,
    OffsetError,
};
use crate::properties::{Properties, PropertyError};

/// What a [`GroupConsumerMachine`] reports, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum ConsumerEvent {
    /// Records of an owned partition; call [`GroupConsumerMachine::release`] when
    /// done with them so the partition is fetched further.
    Records(FetchedRecords),
    /// These partitions are now ours (their fetching starts at the
    /// committed offsets).
    Assigned(Vec<TopicPartition>),
    /// These partitions are being taken away and are no longer fetched.
    /// Without auto-commit, commit what was processed and then call
    /// [`GroupConsumerMachine::revocation_done`]; with it, that happens by itself.
    Revoked(Vec<TopicPartition>),
    /// These partitions were lost without a chance to commit.
    Lost(Vec<TopicPartition>),
    /// A [`GroupConsumerMachine::commit`] finished.
    Committed {
        /// The id [`GroupConsumerMachine::commit`] returned.
        id: CommitId,
        /// Per partition: `Ok` once stored, or why it was not.
        results: BTreeMap<TopicPartition, Result<(), OffsetError>>,
    },
    /// Fetching failed for a partition (it goes on where it can).
    FetchError(FetchError),
    /// Membership failed; fatal ones stop the consumer.
    GroupError(GroupError),
    /// Reading committed offsets for new partitions failed: those
    /// partitions start at the reset policy's end instead.
    StartOffsetsFailed(OffsetError),
    /// [`GroupConsumerMachine::close`] finished.
    Closed,
}

/// Settings beyond the member's and the fetcher's.
#[derive(Debug, Clone)]
pub struct GroupConsumerConfig {
    /// Membership settings: group id, timeouts, assignors.
    pub group: GroupConfig,
    /// Fetch settings for the owned partitions.
    pub fetch: FetchConfig,
    /// `enable.auto.commit` with `auto.commit.interval.ms`: `None` turns it
    /// off. Default 5 s, as the Java client.
    pub auto_commit: Option<Duration>,
}

impl GroupConsumerConfig {
    /// Settings for joining `group_id`: default membership and fetch
    /// settings, auto-commit every 5 s.
    pub fn new(group_id: impl Into<String>) -> Self {
        GroupConsumerConfig {
            group: GroupConfig::new(group_id),
            fetch: FetchConfig::default(),
            auto_commit: Some(Duration::from_secs(5)),
        }
    }

    /// The config librdkafka or Java client properties describe: the
    /// consumer and consumer group scopes' (`group.id`, required;
    /// `session.timeout.ms`, `enable.auto.commit`, `fetch.max.bytes`,
    /// ...), the rest at the defaults (see [`crate::properties`]).
    pub fn from_properties(properties: &Properties) -> Result<Self, PropertyError> {
        properties.group_consumer_config()
    }
}

/// A revocation in progress.
#[derive(Debug)]
struct Revocation {
    /// The auto-commit of the leaving partitions, until it answers.
    commit: Option<CommitId>,
    /// The application said it is done (always true with auto-commit).
    user_done: bool,
}

/// A consumer group member and a fetcher joined: it fetches the
/// partitions the group assigns it, from their committed offsets, and
/// commits as it goes when auto-commit is on. Rides on a [`Client`].
#[derive(Debug)]
pub struct GroupConsumerMachine {
    member: GroupMember,
    fetcher: FetcherMachine,
    auto_commit: Option<Duration>,
    next_auto_commit: Option<Instant>,
    /// Owned partitions, as the member last said.
    owned: BTreeSet<TopicPartition>,
    /// Per owned partition, the next offset the application has yet to
    /// process.
    consumed: BTreeMap<TopicPartition, i64>,
    /// What auto-commit last stored, so unchanged positions are not sent.
    auto_committed: BTreeMap<TopicPartition, i64>,
    /// Committed-offset fetches for newly assigned partitions.
    starting: BTreeMap<OffsetFetchId, Vec<TopicPartition>>,
    /// Commits the application asked for (their answers are reported).
    user_commits: BTreeSet<CommitId>,
    /// Auto-commits in flight: a partition that failed is sent again at
    /// the next interval.
    auto_commits: BTreeSet<CommitId>,
    revocation: Option<Revocation>,
    closing: bool,
    events: VecDeque<ConsumerEvent>,
}

impl GroupConsumerMachine {
    /// A consumer that joins its group once subscribed
    /// ([`GroupConsumerMachine::subscribe`]).
    pub fn new(config: GroupConsumerConfig) -> Self {
        GroupConsumerMachine {
            member: GroupMember::new(config.group),
            fetcher: FetcherMachine::new(config.fetch),
            auto_commit: config.auto_commit,
            next_auto_commit: None,
            owned: BTreeSet::new(),
            consumed: BTreeMap::new(),
            auto_committed: BTreeMap::new(),
            starting: BTreeMap::new(),
            user_commits: BTreeSet::new(),
            auto_commits: BTreeSet::new(),
            revocation: None,
            closing: false,
            events: VecDeque::new(),
        }
    }

    // ---- commands ----

    /// Subscribes to `topics` (replacing the previous list) and joins the
    /// group, or rejoins with the new list.
    pub fn subscribe<S: Into<String>>(
        &mut self,
        client: &mut Client,
        topics: impl IntoIterator<Item = S>,
        now: Instant,
    ) {
        self.member.subscribe(client, topics, now);
        self.pump(client, now);
    }

    /// The application has processed a partition up to (not including)
    /// `next_offset`. Ignored for partitions not owned.
    pub fn consumed(&mut self, topic: &str, partition: i32, next_offset: i64) {
        let tp = (topic.to_string(), partition);
        if self.owned.contains(&tp) {
            let position = self.consumed.entry(tp).or_insert(next_offset);
            *position = (*position).max(next_offset);
        }
    }

    /// The application is done with one [`ConsumerEvent::Records`].
    pub fn release(&mut self, client: &mut Client, topic: &str, partition: i32, now: Instant) {
        self.fetcher.release(client, topic, partition, now);
        self.pump(client, now);
    }

    /// Commits `offsets` (each the next offset to read) under the current
    /// generation; answered by [`ConsumerEvent::Committed`].
    pub fn commit(
        &mut self,
        client: &mut Client,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
        now: Instant,
    ) -> CommitId {
        let id = self.member.commit(client, offsets, now);
        self.user_commits.insert(id);
        self.pump(client, now);
        id
    }

    /// Commits every owned partition's processed position (what
    /// [`GroupConsumerMachine::consumed`] was told).
    pub fn commit_consumed(&mut self, client: &mut Client, now: Instant) -> CommitId {
        let offsets = self
            .consumed
            .iter()
            .map(|(tp, offset)| (tp.clone(), OffsetAndMetadata::new(*offset)))
            .collect();
        self.commit(client, offsets, now)
    }

    /// The application finished with the partitions of the last
    /// [`ConsumerEvent::Revoked`]. Without auto-commit it must call this;
    /// with it, calling changes nothing.
    pub fn revocation_done(&mut self, client: &mut Client, now: Instant) {
        if let Some(revocation) = &mut self.revocation {
            revocation.user_done = true;
        }
        self.pump(client, now);
    }

    /// Moves an owned partition's fetch position to `offset` (ignored for a
    /// partition not owned); it wins over a committed offset being read.
    pub fn seek(
        &mut self,
        client: &mut Client,
        topic: &str,
        partition: i32,
        offset: i64,
        now: Instant,
    ) {
        let tp = (topic.to_string(), partition);
        if self.owned.contains(&tp) {
            // A seek made while the committed offsets are being read wins
            // over them, as in the Java client: the answer must not move
            // the position back (the application would see records again
            // that it skipped or already had).
            for waiting in self.starting.values_mut() {
                waiting.retain(|t| *t != tp);
            }
            self.fetcher.seek(client, topic, partition, offset, now);
        }
        self.pump(client, now);
    }

    /// Stops fetching a partition until [`GroupConsumerMachine::resume`]; it
    /// stays assigned.
    pub fn pause(&mut self, topic: &str, partition: i32) {
        self.fetcher.pause(topic, partition);
    }

    /// Fetches a paused partition again.
    pub fn resume(&mut self, client: &mut Client, topic: &str, partition: i32, now: Instant) {
        self.fetcher.resume(client, topic, partition, now);
        self.pump(client, now);
    }

    /// Commits what was processed (with auto-commit; without it, commit
    /// before closing), gives up the partitions without waiting for
    /// [`GroupConsumerMachine::revocation_done`], and leaves the group;
    /// [`ConsumerEvent::Closed`] when done.
    pub fn close(&mut self, client: &mut Client, now: Instant) {
        self.closing = true;
        if let Some(revocation) = &mut self.revocation {
            revocation.user_done = true;
        }
        // Records still coming would be dropped: do not wait for them.
        self.fetcher.abandon_requests(client, now);
        self.member.close(client, now);
        self.pump(client, now);
    }

    // ---- inputs ----

    /// Offers a client event; true when it answered one of our requests.
    pub fn handle_client_event(
        &mut self,
        client: &mut Client,
        event: &Event,
        now: Instant,
    ) -> bool {
        let claimed = self.member.handle_client_event(client, event, now)
            || self.fetcher.handle_client_event(client, event, now);
        self.pump(client, now);
        claimed
    }

    /// Time has reached `now`: serves what is due for the membership, the
    /// fetcher and auto-commit.
    pub fn handle_timeout(&mut self, client: &mut Client, now: Instant) {
        self.member.handle_timeout(client, now);
        self.fetcher.handle_timeout(client, now);
        if self.next_auto_commit.is_some_and(|at| at <= now) {
            self.auto_commit_now(client, None, now);
        }
        self.pump(client, now);
    }

    // ---- outputs ----

    /// The next event, in the order they happened; `None` when there is none.
    pub fn poll_event(&mut self) -> Option<ConsumerEvent> {
        self.events.pop_front()
    }

    /// The next moment [`GroupConsumerMachine::handle_timeout`] is due; `None`
    /// when nothing waits on time.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.member.poll_timeout(),
            self.fetcher.poll_timeout(),
            self.next_auto_commit,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Where the group membership stands.
    pub fn state(&self) -> GroupState {
        self.member.state()
    }

    /// The member's generation (-1 outside one).
    pub fn generation_id(&self) -> i32 {
        self.member.generation_id()
    }

    /// The member as the group knows it now, for offsets committed in a
    /// transaction (`send_offsets_to_transaction`, KIP-447): the
    /// coordinator refuses them from a member of an older generation.
    pub fn group_metadata(&self) -> crate::producer::ConsumerGroupMetadata {
        let config = self.member.config();
        crate::producer::ConsumerGroupMetadata {
            group_id: config.group_id.clone(),
            generation_id: self.member.generation_id(),
            member_id: self.member.member_id().to_string(),
            group_instance_id: config.group_instance_id.clone(),
        }
    }

    /// The partitions this member owns.
    pub fn assignment(&self) -> &BTreeSet<TopicPartition> {
        &self.owned
    }

    // ---- internals ----

    /// Moves the member's and the fetcher's events along until neither has
    /// any.
    fn pump(&mut self, client: &mut Client, now: Instant) {
        loop {
            let mut progressed = false;
            while let Some(event) = self.member.poll_event() {
                progressed = true;
                self.on_group_event(client, event, now);
            }
            while let Some(event) = self.fetcher.poll_event() {
                progressed = true;
                match event {
                    FetchEvent::Records(records) => {
                        let tp = (records.topic.clone(), records.partition);
                        if self.owned.contains(&tp) {
                            self.events.push_back(ConsumerEvent::Records(records));
                        }
                    }
                    FetchEvent::Reset { .. } => {}
                    FetchEvent::Error(error) => {
                        self.events.push_back(ConsumerEvent::FetchError(error))
                    }
                }
            }
            progressed |= self.finish_revocation(client, now);
            if !progressed {
                break;
            }
        }
    }

    fn on_group_event(&mut self, client: &mut Client, event: GroupEvent, now: Instant) {
        match event {
            GroupEvent::PartitionsAssigned(added) => {
                self.owned.extend(added.iter().cloned());
                if !added.is_empty() {
                    let id = self.member.fetch_committed(client, added.clone(), now);
                    self.starting.insert(id, added.clone());
                }
                if self.next_auto_commit.is_none() {
                    self.next_auto_commit = self.auto_commit.map(|every| now + every);
                }
                self.events.push_back(ConsumerEvent::Assigned(added));
            }
            GroupEvent::PartitionsRevoked(leaving) => {
                for (topic, partition) in &leaving {
                    self.fetcher.unassign(topic, *partition);
                }
                let commit = if self.auto_commit.is_some() {
                    self.auto_commit_now(client, Some(&leaving), now)
                } else {
                    None
                };
                // Closing, nobody is left to call `revocation_done`: what
                // was processed is committed first (auto-commit) or was the
                // caller's to commit before `close`.
                self.revocation = Some(Revocation {
                    commit,
                    user_done: self.auto_commit.is_some() || self.closing,
                });
                self.drop_partitions(&leaving);
                self.events.push_back(ConsumerEvent::Revoked(leaving));
            }
            GroupEvent::PartitionsLost(lost) => {
                for (topic, partition) in &lost {
                    self.fetcher.unassign(topic, *partition);
                }
                self.drop_partitions(&lost);
                self.events.push_back(ConsumerEvent::Lost(lost));
            }
            GroupEvent::Committed { id, results } => {
                if let Some(revocation) = &mut self.revocation {
                    if revocation.commit == Some(id) {
                        revocation.commit = None;
                    }
                }
                if self.auto_commits.remove(&id) {
                    for (tp, result) in &results {
                        if result.is_err() {
                            self.auto_committed.remove(tp);
                        }
                    }
                }
                if self.user_commits.remove(&id) {
                    self.events
                        .push_back(ConsumerEvent::Committed { id, results });
                }
            }
            GroupEvent::CommittedOffsets { id, result } => {
                let Some(partitions) = self.starting.remove(&id) else {
                    return;
                };
                let committed = match result {
                    Ok(committed) => committed,
                    Err(error) => {
                        self.events
                            .push_back(ConsumerEvent::StartOffsetsFailed(error));
                        BTreeMap::new()
                    }
                };
                for tp in partitions {
                    if !self.owned.contains(&tp) {
                        continue;
                    }
                    let start = match committed.get(&tp) {
                        Some(Ok(Some(stored))) => Some(stored.offset),
                        Some(Err(error)) => {
                            self.events
                                .push_back(ConsumerEvent::StartOffsetsFailed(error.clone()));
                            None
                        }
                        _ => None,
                    };
                    self.fetcher.assign(client, &tp.0, tp.1, start, now);
                }
            }
            GroupEvent::Closed => {
                self.events.push_back(ConsumerEvent::Closed);
            }
            GroupEvent::Error(error) => self.events.push_back(ConsumerEvent::GroupError(error)),
        }
    }

    /// Completes a revocation once its commit answered and the application
    /// is done. True when it did.
    fn finish_revocation(&mut self, client: &mut Client, now: Instant) -> bool {
        let ready = self
            .revocation
            .as_ref()
            .is_some_and(|r| r.commit.is_none() && r.user_done);
        if ready {
            self.revocation = None;
            self.member.revocation_done(client, now);
        }
        ready
    }

    fn drop_partitions(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            self.owned.remove(tp);
            self.consumed.remove(tp);
            self.auto_committed.remove(tp);
        }
        self.starting
            .values_mut()
            .for_each(|tps| tps.retain(|tp| !partitions.contains(tp)));
    }

    /// Commits processed positions that changed since the last
    /// auto-commit (of `only` these partitions when given).
    fn auto_commit_now(
        &mut self,
        client: &mut Client,
        only: Option<&[TopicPartition]>,
        now: Instant,
    ) -> Option<CommitId> {
        if only.is_none() {
            self.next_auto_commit = self.auto_commit.map(|every| now + every);
        }
        let offsets: BTreeMap<TopicPartition, OffsetAndMetadata> = self
            .consumed
            .iter()
            .filter(|(tp, _)| only.is_none_or(|only| only.contains(tp)))
            .filter(|(tp, offset)| self.auto_committed.get(*tp) != Some(offset))
            .map(|(tp, offset)| (tp.clone(), OffsetAndMetadata::new(*offset)))
            .collect();
        if offsets.is_empty() {
            return None;
        }
        for (tp, stored) in &offsets {
            self.auto_committed.insert(tp.clone(), stored.offset);
        }
        let id = self.member.commit(client, offsets, now);
        self.auto_commits.insert(id);
        Some(id)
    }
}
