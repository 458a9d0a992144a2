//! Consuming without a group: explicit start offsets, nothing stored.

use std::collections::BTreeMap;

use kafkite_smol::{FetchConfig, FetchStart, Fetcher, Session};

use super::output::{Flow, Output};
use super::plan::{start_offset, Bounds, Ends, Verdict};
use super::{count_reached, next_or_idle};
use crate::args::{ConsumeArgs, StartOffset};
use crate::error::CliError;

pub async fn run(
    session: &Session,
    args: &ConsumeArgs,
    fetch: FetchConfig,
    bounds: &BTreeMap<i32, Bounds>,
    mut output: Output,
) -> Result<(), CliError> {
    // kcat's default: the beginning.
    let start = args.offset.unwrap_or(StartOffset::Beginning);
    let mut starts = Vec::new();
    for (&partition, &b) in bounds {
        starts.push((partition, start_offset(&args.topic, partition, start, b)?));
    }
    let mut ends = Ends::new(starts.iter().map(|&(p, s)| (p, s, bounds[&p].latest)));
    if (args.exit_at_end && ends.all_done()) || count_reached(args, 0) {
        return Ok(());
    }
    let starts = starts
        .into_iter()
        .map(|(p, offset)| FetchStart::new(&args.topic, p, Some(offset)))
        .collect();
    let fetcher = Fetcher::new(session, fetch);
    let mut records = fetcher.fetch(starts, None);
    let mut printed = 0;
    loop {
        let record = match next_or_idle(&mut records, async || output.flush()).await? {
            Some(record) => record,
            None => break,
        };
        if args.exit_at_end && ends.record(record.partition, record.offset) == Verdict::Skip {
            if ends.all_done() {
                break;
            }
            continue;
        }
        if output.write(&record)? == Flow::Closed {
            return Ok(());
        }
        printed += 1;
        if count_reached(args, printed) || (args.exit_at_end && ends.all_done()) {
            break;
        }
    }
    output.flush()?;
    Ok(())
}
