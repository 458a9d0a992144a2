//! Consuming with `-G` and `-p`: the envelope [`Consumer`] reads the one
//! partition from the group's committed offset, and what has been printed
//! is committed. (Without `-p`, `-G` joins the group as a member: see
//! [`super::member`]; kcat does not combine `-G` with `-p` either.)
//!
//! Commits are the group's (a "simple" group: generation -1, no member
//! id, no rebalancing; the broker refuses them while the group has active
//! members). Every record is acked once written, and
//! the positions reached are committed together, always after the output
//! is flushed: every [`COMMIT_INTERVAL`] while records keep coming,
//! whenever the consumer waits for more, and at the end. A crash prints
//! some records again, never skips one.
//!
//! `-o` other than `stored` moves the group first: the start offsets it
//! names are committed before reading, so the group resumes from there.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kafkite_smol::{Consumer, FetchConfig, GroupOffsets, OffsetAndMetadata, OffsetReset, Session};

use super::output::{Flow, Output};
use super::plan::{start_offset, Bounds, Ends, Verdict};
use super::{count_reached, next_or_idle};
use crate::args::{ConsumeArgs, StartOffset};
use crate::error::CliError;

/// How often the positions reached are committed while consuming.
pub(super) const COMMIT_INTERVAL: Duration = Duration::from_secs(1);
/// Stored with every committed offset, so `groups describe` and other
/// tools can tell who moved the group.
pub(super) const COMMIT_METADATA: &str = "kafkite-cli";

pub async fn run(
    session: &Session,
    args: &ConsumeArgs,
    name: &str,
    fetch: FetchConfig,
    bounds: &BTreeMap<i32, Bounds>,
    mut output: Output,
) -> Result<(), CliError> {
    let topic = args.topic.as_str();
    let group = GroupOffsets::new(session.clone(), name);
    let starts = match args.offset {
        None | Some(StartOffset::Stored) => {
            committed_starts(&group, topic, bounds, fetch.offset_reset).await?
        }
        Some(start) => move_group(&group, topic, start, bounds).await?,
    };
    let mut ends = Ends::new(starts.iter().map(|(&p, &s)| (p, s, bounds[&p].latest)));
    if (args.exit_at_end && ends.all_done()) || count_reached(args, 0) {
        return Ok(());
    }
    let partitions: Vec<i32> = bounds.keys().copied().collect();
    let consumer = Consumer::new(
        session,
        group.clone(),
        [(topic, partitions)],
        fetch.max_wait,
        fetch.min_bytes,
    )
    .with_fetch_config(fetch);
    let mut envelopes = consumer.consume(None);
    let mut commits = Commits::new(group, topic);
    let mut printed = 0;
    loop {
        // While no record is ready, what was printed is flushed and
        // committed: a consumer left waiting has stored its position.
        let idle = async || match output.flush()? {
            Flow::Continue => commits.commit().await.map(|()| Flow::Continue),
            Flow::Closed => Ok(Flow::Closed),
        };
        let envelope = match next_or_idle(&mut envelopes, idle).await? {
            Some(envelope) => envelope,
            None => break,
        };
        if args.exit_at_end && ends.record(envelope.partition, envelope.offset) == Verdict::Skip {
            envelope.ack();
            if ends.all_done() {
                break;
            }
            continue;
        }
        if output.write(&envelope)? == Flow::Closed {
            return Ok(());
        }
        if let Some(next) = envelope.next_offset() {
            commits.reached(envelope.partition, next);
        }
        envelope.ack();
        printed += 1;
        if count_reached(args, printed) || (args.exit_at_end && ends.all_done()) {
            break;
        }
        if commits.due() {
            if output.flush()? == Flow::Closed {
                return Ok(());
            }
            commits.commit().await?;
        }
    }
    drop(envelopes);
    if output.flush()? == Flow::Closed {
        return Ok(());
    }
    commits.commit().await
}

/// Where the consumer will start: the committed offset, or the log start
/// where the group has none (the consumer's reset policy), kept inside the
/// log as the fetcher will.
async fn committed_starts(
    group: &GroupOffsets,
    topic: &str,
    bounds: &BTreeMap<i32, Bounds>,
    reset: OffsetReset,
) -> Result<BTreeMap<i32, i64>, CliError> {
    let asked: Vec<(String, i32)> = bounds.keys().map(|&p| (topic.to_string(), p)).collect();
    let committed = group
        .fetch_offsets(&asked)
        .await
        .map_err(CliError::cluster(format!(
            "reading group {:?}'s offsets",
            group.name()
        )))?;
    Ok(bounds
        .iter()
        .map(|(&p, b)| {
            let stored = committed
                .get(&(topic.to_string(), p))
                .and_then(|c| c.as_ref())
                .map(|c| c.offset);
            let start = match stored {
                Some(offset) if (b.earliest..=b.latest).contains(&offset) => offset,
                _ => b.reset_start(reset),
            };
            (p, start)
        })
        .collect())
}

/// Commits the starts `-o` names, so the consumer begins there.
pub(super) async fn move_group(
    group: &GroupOffsets,
    topic: &str,
    start: StartOffset,
    bounds: &BTreeMap<i32, Bounds>,
) -> Result<BTreeMap<i32, i64>, CliError> {
    let mut starts = BTreeMap::new();
    for (&p, &b) in bounds {
        starts.insert(p, start_offset(topic, p, start, b)?);
    }
    let offsets = starts
        .iter()
        .map(|(&p, &offset)| ((topic.to_string(), p), stored(offset)))
        .collect();
    group
        .commit_offsets(&offsets)
        .await
        .map_err(CliError::cluster(format!(
            "moving group {:?} to the start offsets",
            group.name()
        )))?;
    Ok(starts)
}

/// Positions reached and not yet committed.
struct Commits {
    group: GroupOffsets,
    topic: String,
    pending: BTreeMap<i32, i64>,
    last: Instant,
}

impl Commits {
    fn new(group: GroupOffsets, topic: &str) -> Self {
        Commits {
            group,
            topic: topic.to_string(),
            pending: BTreeMap::new(),
            last: Instant::now(),
        }
    }

    /// `next` is the next offset to read in `partition`.
    fn reached(&mut self, partition: i32, next: i64) {
        self.pending.insert(partition, next);
    }

    fn due(&self) -> bool {
        !self.pending.is_empty() && self.last.elapsed() >= COMMIT_INTERVAL
    }

    async fn commit(&mut self) -> Result<(), CliError> {
        self.last = Instant::now();
        if self.pending.is_empty() {
            return Ok(());
        }
        let offsets = std::mem::take(&mut self.pending)
            .into_iter()
            .map(|(p, next)| ((self.topic.clone(), p), stored(next)))
            .collect();
        self.group
            .commit_offsets(&offsets)
            .await
            .map_err(CliError::cluster(format!(
                "committing group {:?}'s offsets",
                self.group.name()
            )))
    }
}

pub(super) fn stored(offset: i64) -> OffsetAndMetadata {
    OffsetAndMetadata {
        offset,
        leader_epoch: None,
        metadata: Some(COMMIT_METADATA.to_string()),
    }
}
