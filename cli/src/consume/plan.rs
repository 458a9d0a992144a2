//! Where each partition starts and, with `-e`, where it ends: pure
//! functions of the partition's earliest and latest offsets (and the
//! group's committed offset), so the rules are tested without a broker.

use std::collections::{BTreeMap, BTreeSet};

use kafkite_smol::OffsetReset;

use crate::args::StartOffset;
use crate::error::CliError;

/// A partition's log bounds when the consume started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// The log start offset.
    pub earliest: i64,
    /// The high watermark: the offset the next record will get.
    pub latest: i64,
}

impl Bounds {
    /// Where a group's consumer starts in a partition the group has no
    /// offset for (or one outside the log): where `auto.offset.reset`
    /// says. Under `error` the fetch reports it; the log start stands in
    /// for counting.
    pub fn reset_start(self, reset: OffsetReset) -> i64 {
        match reset {
            OffsetReset::Latest => self.latest,
            OffsetReset::Earliest | OffsetReset::Error => self.earliest,
        }
    }
}

/// The first offset to read in a partition for `-o`. An absolute offset
/// outside the log is refused (kcat would silently jump to the end); `-N`
/// stops at the log start; `stored` is the group's business, not this
/// function's.
pub fn start_offset(
    topic: &str,
    partition: i32,
    start: StartOffset,
    bounds: Bounds,
) -> Result<i64, CliError> {
    match start {
        StartOffset::Beginning => Ok(bounds.earliest),
        StartOffset::End => Ok(bounds.latest),
        StartOffset::BeforeEnd(n) => Ok(bounds.latest.saturating_sub(n).max(bounds.earliest)),
        StartOffset::At(offset) if (bounds.earliest..=bounds.latest).contains(&offset) => {
            Ok(offset)
        }
        StartOffset::At(offset) => Err(CliError::Invalid(format!(
            "offset {offset} is outside partition {partition} of {topic:?} \
             (earliest {}, latest {})",
            bounds.earliest, bounds.latest
        ))),
        StartOffset::Stored => Err(CliError::Invalid(
            "-o stored needs a group (-G GROUP)".into(),
        )),
    }
}

/// What `-e` needs: each partition's end (its high watermark when the
/// consume started) and how far it has been read.
#[derive(Debug, Clone, Default)]
pub struct Ends {
    /// Partitions not yet read to their end, with that end.
    open: BTreeMap<i32, i64>,
}

/// What to do with a record under `-e`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Before the end: print it.
    Print,
    /// At or past the end (written after the consume started): skip it.
    Skip,
}

impl Ends {
    /// Partitions with their start and end; those that start at their end
    /// are done already.
    pub fn new(partitions: impl IntoIterator<Item = (i32, i64, i64)>) -> Self {
        let open = partitions
            .into_iter()
            .filter(|(_, start, end)| start < end)
            .map(|(p, _, end)| (p, end))
            .collect();
        Ends { open }
    }

    /// Notes a record read from `partition` at `offset`.
    pub fn record(&mut self, partition: i32, offset: i64) -> Verdict {
        let Some(&end) = self.open.get(&partition) else {
            return Verdict::Skip;
        };
        if offset >= end {
            self.open.remove(&partition);
            return Verdict::Skip;
        }
        if offset + 1 >= end {
            self.open.remove(&partition);
        }
        Verdict::Print
    }

    /// Whether every partition has been read to its end.
    pub fn all_done(&self) -> bool {
        self.open.is_empty()
    }
}

/// What `-e` needs as a group member: each partition's end (its high
/// watermark when the consume started) and which of the partitions the
/// group assigned are read to it. Done once at least one assignment came
/// and every partition assigned now is at its end.
#[derive(Debug, Clone, Default)]
pub struct AssignedEnds {
    ends: BTreeMap<i32, i64>,
    assigned: BTreeSet<i32>,
    /// Assigned partitions read (or starting) at their end.
    reached: BTreeSet<i32>,
    any_assignment: bool,
}

impl AssignedEnds {
    /// Every partition's end; one missing from it did not exist at the
    /// start, so it has nothing to read.
    pub fn new(ends: impl IntoIterator<Item = (i32, i64)>) -> Self {
        AssignedEnds {
            ends: ends.into_iter().collect(),
            ..AssignedEnds::default()
        }
    }

    fn end(&self, partition: i32) -> i64 {
        self.ends.get(&partition).copied().unwrap_or(i64::MIN)
    }

    /// The group assigned `partitions` (maybe none). Whether each is at
    /// its end is known from [`AssignedEnds::started`] or its records.
    pub fn assigned(&mut self, partitions: impl IntoIterator<Item = i32>) {
        self.any_assignment = true;
        for p in partitions {
            self.assigned.insert(p);
            self.reached.remove(&p);
        }
    }

    /// An assigned partition is read from `start` on: done already when
    /// that is its end.
    pub fn started(&mut self, partition: i32, start: i64) {
        if self.assigned.contains(&partition) && start >= self.end(partition) {
            self.reached.insert(partition);
        }
    }

    /// The partitions were revoked or lost.
    pub fn unassigned(&mut self, partitions: impl IntoIterator<Item = i32>) {
        for p in partitions {
            self.assigned.remove(&p);
            self.reached.remove(&p);
        }
    }

    /// Notes a record read from `partition` at `offset`.
    pub fn record(&mut self, partition: i32, offset: i64) -> Verdict {
        if self.reached.contains(&partition) {
            return Verdict::Skip;
        }
        let end = self.end(partition);
        if offset >= end {
            self.reached.insert(partition);
            return Verdict::Skip;
        }
        if offset + 1 >= end {
            self.reached.insert(partition);
        }
        Verdict::Print
    }

    /// Whether an assignment came and every partition assigned now has
    /// been read to its end.
    pub fn all_done(&self) -> bool {
        self.any_assignment && self.assigned.is_subset(&self.reached)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: Bounds = Bounds {
        earliest: 10,
        latest: 20,
    };

    fn start(s: StartOffset) -> Result<i64, CliError> {
        start_offset("t", 0, s, BOUNDS)
    }

    #[test]
    fn named_starts() {
        assert_eq!(start(StartOffset::Beginning).ok(), Some(10));
        assert_eq!(start(StartOffset::End).ok(), Some(20));
    }

    #[test]
    fn relative_starts_stop_at_the_log_start() {
        assert_eq!(start(StartOffset::BeforeEnd(3)).ok(), Some(17));
        assert_eq!(start(StartOffset::BeforeEnd(300)).ok(), Some(10));
        assert_eq!(start(StartOffset::BeforeEnd(i64::MAX)).ok(), Some(10));
    }

    #[test]
    fn absolute_starts_must_be_in_the_log() {
        assert_eq!(start(StartOffset::At(10)).ok(), Some(10));
        assert_eq!(start(StartOffset::At(20)).ok(), Some(20));
        let error = start(StartOffset::At(21)).expect_err("past the end");
        assert!(
            error.to_string().contains("offset 21 is outside"),
            "{error}"
        );
        assert!(start(StartOffset::At(9)).is_err());
    }

    #[test]
    fn a_group_without_an_offset_starts_where_auto_offset_reset_says() {
        let bounds = Bounds {
            earliest: 10,
            latest: 20,
        };
        assert_eq!(bounds.reset_start(OffsetReset::Earliest), 10);
        assert_eq!(bounds.reset_start(OffsetReset::Latest), 20);
        assert_eq!(bounds.reset_start(OffsetReset::Error), 10);
    }

    #[test]
    fn stored_needs_a_group() {
        assert!(start(StartOffset::Stored).is_err());
    }

    #[test]
    fn ends_print_up_to_the_end_and_then_are_done() {
        let mut ends = Ends::new([(0, 0, 2), (1, 5, 6)]);
        assert!(!ends.all_done());
        assert_eq!(ends.record(0, 0), Verdict::Print);
        assert_eq!(ends.record(1, 5), Verdict::Print);
        assert!(!ends.all_done());
        assert_eq!(ends.record(0, 1), Verdict::Print);
        assert!(ends.all_done());
        assert_eq!(ends.record(0, 2), Verdict::Skip);
    }

    #[test]
    fn a_partition_starting_at_its_end_is_done_at_once() {
        let ends = Ends::new([(0, 4, 4), (1, 0, 0)]);
        assert!(ends.all_done());
    }

    #[test]
    fn a_gap_before_the_end_still_finishes_on_the_next_record_past_it() {
        // Offsets 2 and 3 are gone (compaction); 4 was written after the
        // start: the partition is done without printing it.
        let mut ends = Ends::new([(0, 0, 4)]);
        assert_eq!(ends.record(0, 1), Verdict::Print);
        assert_eq!(ends.record(0, 4), Verdict::Skip);
        assert!(ends.all_done());
    }
    #[test]
    fn assigned_ends_wait_for_an_assignment() {
        let mut ends = AssignedEnds::new([(0, 2), (1, 1)]);
        assert!(!ends.all_done());
        ends.assigned([]);
        assert!(ends.all_done(), "an empty assignment has nothing to read");
    }

    #[test]
    fn assigned_ends_count_only_the_partitions_assigned_now() {
        let mut ends = AssignedEnds::new([(0, 2), (1, 1), (2, 5)]);
        ends.assigned([0, 1]);
        ends.started(0, 0);
        ends.started(1, 1);
        assert!(!ends.all_done());
        assert_eq!(ends.record(0, 0), Verdict::Print);
        assert_eq!(ends.record(0, 1), Verdict::Print);
        assert!(ends.all_done());
        assert_eq!(ends.record(0, 2), Verdict::Skip);
        // Partition 2 comes over from another member, half read.
        ends.assigned([2]);
        ends.started(2, 3);
        assert!(!ends.all_done());
        ends.unassigned([2]);
        assert!(ends.all_done());
    }

    #[test]
    fn a_reassigned_partition_is_judged_again() {
        let mut ends = AssignedEnds::new([(0, 3)]);
        ends.assigned([0]);
        assert_eq!(ends.record(0, 2), Verdict::Print);
        assert!(ends.all_done());
        ends.unassigned([0]);
        ends.assigned([0]);
        assert!(!ends.all_done());
        ends.started(0, 3);
        assert!(ends.all_done());
    }

    #[test]
    fn a_partition_unknown_at_the_start_has_nothing_to_print() {
        let mut ends = AssignedEnds::new([(0, 3)]);
        ends.assigned([7]);
        assert_eq!(ends.record(7, 0), Verdict::Skip);
        assert!(ends.all_done());
    }
}
