//! Consuming with `-G` (without `-p`): a [`GroupConsumer`], a member of the
//! group as kcat -G is (JoinGroup/SyncGroup with the standard "consumer"
//! protocol, so it shares a group with other kafkite processes, kcat, the
//! Java client...). It reads the topic's partitions the group assigns it,
//! from the group's committed offsets (the log start where there are none).
//!
//! Auto-commit is off: auto-commit would store the position of records
//! handed out but not yet written to stdout (and without the metadata).
//! What has been printed is committed under the member's generation, with
//! the metadata `kafkite-cli`, always after the output is flushed: every
//! [`COMMIT_INTERVAL`] while records keep coming, whenever the member
//! waits for more, when partitions are revoked (before the group may hand
//! them to another member) and at the end. A crash or a lost partition
//! prints some records again, never skips one. A commit refused during a
//! rebalance is a warning; the revocation that follows commits again.
//!
//! `-e` ends once a partition was assigned and every partition assigned
//! now has been read to its high watermark as of the start. `-o` other
//! than `stored` moves the group first (a commit outside membership, which
//! the broker refuses while the group has members), then joins.
//!
//! At the end the member gives up its partitions before leaving: it
//! subscribes to nothing, answers the revocation that brings, then closes.
//! (The driver's close revokes and waits for a `revocation_done` its
//! caller cannot send once it has handed the consumer to `close`.)

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures_lite::future::{self, poll_once};
use futures_lite::StreamExt;
use kafkite::properties::Properties;
use kafkite_smol::{
    ConsumedRecord, Error as SessionError, GroupConsumer, GroupConsumerConfig, GroupMessage,
    GroupOffsets, OffsetAndMetadata, OffsetReset, Session,
};

use super::count_reached;
use super::group::{move_group, stored, COMMIT_INTERVAL};
use super::output::{Flow, Output};
use super::plan::{AssignedEnds, Bounds, Verdict};
use crate::args::{ConsumeArgs, StartOffset};
use crate::error::CliError;

/// How long leaving the group may take before the member is dropped (the
/// group then notices it gone after its session timeout).
const LEAVE_LIMIT: Duration = Duration::from_secs(30);

type Offsets = BTreeMap<(String, i32), OffsetAndMetadata>;

/// The member's settings: the consumer and consumer group properties,
/// with the group `name` (-G wins over group.id). Auto-commit is off (see
/// above), so asking for it is an error rather than ignored.
pub fn config(properties: &Properties, name: &str) -> Result<GroupConsumerConfig, CliError> {
    let mut properties = properties.clone();
    properties.set("group.id", name);
    let mut config = properties.group_consumer_config()?;
    let asked = properties.get("enable.auto.commit").is_some()
        || properties.get("auto.commit.interval.ms").is_some();
    if asked && config.auto_commit.is_some() {
        return Err(CliError::Invalid(
            "consume -G commits what it has printed itself: it takes no \
             enable.auto.commit=true or auto.commit.interval.ms"
                .into(),
        ));
    }
    config.auto_commit = None;
    Ok(config)
}

pub async fn run(
    session: &Session,
    args: &ConsumeArgs,
    config: GroupConsumerConfig,
    bounds: &BTreeMap<i32, Bounds>,
    mut output: Output,
) -> Result<(), CliError> {
    let topic = args.topic.as_str();
    let name = config.group.group_id.clone();
    let reset = config.fetch.offset_reset;
    let group = GroupOffsets::new(session.clone(), &name);
    if let Some(start) = args.offset.filter(|o| *o != StartOffset::Stored) {
        move_group(&group, topic, start, bounds).await?;
    }
    if count_reached(args, 0) {
        return Ok(());
    }
    let joining = format!("joining group {name:?}");
    let mut consumer =
        GroupConsumer::new(session, config).map_err(CliError::cluster(joining.clone()))?;
    consumer
        .subscribe(&[topic])
        .map_err(CliError::cluster(joining))?;
    let mut member = Member {
        commits: Commits::new(&name, topic),
        ends: AssignedEnds::new(bounds.iter().map(|(&p, b)| (p, b.latest))),
        owned: BTreeSet::new(),
        reset,
    };
    let result = member
        .consume(&mut consumer, &group, args, bounds, &mut output)
        .await;
    match result {
        Ok(Flow::Continue) => {
            // Printed and committed before the partitions go.
            let committed = member.commits.commit(&consumer).await;
            leave(consumer, &mut member.owned).await;
            committed
        }
        Ok(Flow::Closed) => {
            leave(consumer, &mut member.owned).await;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

struct Member {
    commits: Commits,
    ends: AssignedEnds,
    /// The partitions of the topic the group assigned this member.
    owned: BTreeSet<i32>,
    /// `auto.offset.reset`: where a partition without a committed offset
    /// starts.
    reset: OffsetReset,
}

impl Member {
    /// Prints records until `-c`, `-e`, the end of the stream or stdout's
    /// reader going; `Flow::Continue` when the output is flushed and what
    /// it holds is still to commit.
    async fn consume(
        &mut self,
        consumer: &mut GroupConsumer,
        group: &GroupOffsets,
        args: &ConsumeArgs,
        bounds: &BTreeMap<i32, Bounds>,
        output: &mut Output,
    ) -> Result<Flow, CliError> {
        let topic = args.topic.as_str();
        let mut printed = 0;
        loop {
            let item = match poll_once(consumer.next()).await {
                Some(item) => item,
                None => {
                    // Nothing ready: what was printed is flushed and
                    // committed, so a member left waiting has stored it.
                    if output.flush()? == Flow::Closed {
                        return Ok(Flow::Closed);
                    }
                    self.commits.commit_or_warn(consumer).await;
                    consumer.next().await
                }
            };
            let message = match item {
                None => break,
                Some(Ok(message)) => message,
                Some(Err(e)) if e.is_retriable() => {
                    crate::printable::warn(&format!("{e} (retrying)"));
                    continue;
                }
                Some(Err(e)) => return Err(CliError::cluster("consuming")(e)),
            };
            match message {
                GroupMessage::Record(record) => {
                    if *record.topic != *topic {
                        continue;
                    }
                    if args.exit_at_end
                        && self.ends.record(record.partition, record.offset) == Verdict::Skip
                    {
                        if self.ends.all_done() {
                            break;
                        }
                        continue;
                    }
                    if self.print(output, &record)? == Flow::Closed {
                        return Ok(Flow::Closed);
                    }
                    printed += 1;
                    if count_reached(args, printed) || (args.exit_at_end && self.ends.all_done()) {
                        break;
                    }
                    if self.commits.due() {
                        if output.flush()? == Flow::Closed {
                            return Ok(Flow::Closed);
                        }
                        self.commits.commit_or_warn(consumer).await;
                    }
                }
                GroupMessage::Assigned(tps) => {
                    let added = partitions_of(topic, &tps);
                    self.owned.extend(added.iter().copied());
                    if args.exit_at_end {
                        self.ends.assigned(added.iter().copied());
                        let starts = starts(group, topic, &added, bounds, self.reset).await?;
                        for (p, start) in starts {
                            self.ends.started(p, start);
                        }
                        if self.ends.all_done() {
                            break;
                        }
                    }
                }
                GroupMessage::Revoked(tps) => {
                    let leaving = partitions_of(topic, &tps);
                    if output.flush()? == Flow::Closed {
                        self.give_up(consumer, &leaving);
                        return Ok(Flow::Closed);
                    }
                    self.commits.commit_or_warn(consumer).await;
                    self.give_up(consumer, &leaving);
                }
                GroupMessage::Lost(tps) => {
                    let lost = partitions_of(topic, &tps);
                    if !lost.is_empty() {
                        crate::printable::warn(&format!(
                            "lost partitions {lost:?} of {topic:?} to a rebalance; records \
                             printed since the last commit may be printed again"
                        ));
                    }
                    for &p in &lost {
                        self.owned.remove(&p);
                    }
                    self.commits.forget(&lost);
                    self.ends.unassigned(lost);
                }
            }
        }
        output.flush()
    }

    fn print(&mut self, output: &mut Output, record: &ConsumedRecord) -> Result<Flow, CliError> {
        let flow = output.write(record)?;
        if flow == Flow::Continue {
            if let Some(next) = record.next_offset() {
                self.commits.reached(record.partition, next);
            }
        }
        Ok(flow)
    }

    /// Done with revoked partitions (their positions committed, or not
    /// to be): the group may hand them on.
    fn give_up(&mut self, consumer: &GroupConsumer, leaving: &[i32]) {
        for p in leaving {
            self.owned.remove(p);
        }
        self.commits.forget(leaving);
        self.ends.unassigned(leaving.iter().copied());
        if let Err(e) = consumer.revocation_done() {
            crate::printable::warn(&format!("giving up partitions: {e}"));
        }
    }
}

/// Gives up the partitions (subscribing to nothing makes the group revoke
/// them, which is answered at once: nothing printed is left to commit),
/// then leaves the group; bounded by [`LEAVE_LIMIT`].
async fn leave(mut consumer: GroupConsumer, owned: &mut BTreeSet<i32>) {
    let deadline = Instant::now() + LEAVE_LIMIT;
    let give_up = async {
        if !owned.is_empty() && consumer.subscribe::<&str>(&[]).is_ok() {
            while !owned.is_empty() {
                match consumer.next().await {
                    Some(Ok(GroupMessage::Assigned(tps))) => {
                        owned.extend(tps.into_iter().map(|(_, p)| p));
                    }
                    Some(Ok(GroupMessage::Revoked(tps))) => {
                        for (_, p) in tps {
                            owned.remove(&p);
                        }
                        let _ = consumer.revocation_done();
                    }
                    Some(Ok(GroupMessage::Lost(tps))) => {
                        for (_, p) in tps {
                            owned.remove(&p);
                        }
                    }
                    Some(Ok(GroupMessage::Record(_))) => {}
                    Some(Err(e)) if e.is_retriable() => {}
                    Some(Err(_)) | None => break,
                }
            }
        }
        true
    };
    let in_time = future::or(give_up, async {
        smol::Timer::at(deadline).await;
        false
    })
    .await;
    if in_time {
        let _ = future::or(consumer.close(), async {
            smol::Timer::at(deadline).await;
        })
        .await;
    }
}

/// The partitions of `topic` among `tps`.
fn partitions_of(topic: &str, tps: &[(String, i32)]) -> Vec<i32> {
    tps.iter()
        .filter(|(t, _)| t == topic)
        .map(|&(_, p)| p)
        .collect()
}

/// Where the member starts reading newly assigned partitions: the group's
/// committed offset, or where `reset` says where it has none, and the log
/// start for one before it, as the consumer does.
async fn starts(
    group: &GroupOffsets,
    topic: &str,
    partitions: &[i32],
    bounds: &BTreeMap<i32, Bounds>,
    reset: OffsetReset,
) -> Result<Vec<(i32, i64)>, CliError> {
    if partitions.is_empty() {
        return Ok(Vec::new());
    }
    let asked: Vec<(String, i32)> = partitions.iter().map(|&p| (topic.to_string(), p)).collect();
    let committed = group
        .fetch_offsets(&asked)
        .await
        .map_err(CliError::cluster(format!(
            "reading group {:?}'s offsets",
            group.name()
        )))?;
    Ok(partitions
        .iter()
        .map(|&p| {
            let earliest = bounds.get(&p).map_or(0, |b| b.earliest);
            let stored = committed
                .get(&(topic.to_string(), p))
                .and_then(|c| c.as_ref())
                .map(|c| c.offset);
            let by_policy = || bounds.get(&p).map_or(0, |b| b.reset_start(reset));
            (p, stored.unwrap_or_else(by_policy).max(earliest))
        })
        .collect())
}

/// Positions printed and not yet committed.
struct Commits {
    group: String,
    topic: String,
    pending: BTreeMap<i32, i64>,
    last: Instant,
}

impl Commits {
    fn new(group: &str, topic: &str) -> Self {
        Commits {
            group: group.to_string(),
            topic: topic.to_string(),
            pending: BTreeMap::new(),
            last: Instant::now(),
        }
    }

    fn reached(&mut self, partition: i32, next: i64) {
        self.pending.insert(partition, next);
    }

    fn forget(&mut self, partitions: &[i32]) {
        for p in partitions {
            self.pending.remove(p);
        }
    }

    fn due(&self) -> bool {
        !self.pending.is_empty() && self.last.elapsed() >= COMMIT_INTERVAL
    }

    /// Commits while consuming: a refusal (a rebalance under way) is a
    /// warning, and the positions stay pending for the next commit.
    async fn commit_or_warn(&mut self, consumer: &GroupConsumer) {
        if let Err(e) = self.commit(consumer).await {
            crate::printable::warn(&format!("{e} (will commit again)"));
        }
    }

    async fn commit(&mut self, consumer: &GroupConsumer) -> Result<(), CliError> {
        self.last = Instant::now();
        if self.pending.is_empty() {
            return Ok(());
        }
        let topic = &self.topic;
        let taken = std::mem::take(&mut self.pending);
        let offsets: Offsets = taken
            .iter()
            .map(|(&p, &next)| ((topic.clone(), p), stored(next)))
            .collect();
        let result: Result<(), SessionError> = consumer.commit(&offsets).await;
        result.map_err(|e| {
            for (p, next) in taken {
                let position = self.pending.entry(p).or_insert(next);
                *position = (*position).max(next);
            }
            CliError::cluster(format!("committing group {:?}'s offsets", self.group))(e)
        })
    }
}
