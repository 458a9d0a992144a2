//! `kafkite bench consume`: reads `--count` records from the beginning of
//! the topic's partitions with the driver's [`Fetcher`] and measures it.
//! A topic that holds fewer records is filled first (by the bench
//! producer, reported on its own line), so the measured span only reads.

use std::time::Instant;

use futures_lite::StreamExt;
use kafkite::properties::Properties;
use kafkite_smol::{FetchStart, Fetcher, Session};

use super::cpu::process_cpu_time;
use super::produce::produce;
use super::progress::Progress;
use super::summary::Summary;
use super::BenchTopic;
use crate::args::BenchArgs;
use crate::error::CliError;
use crate::offsets::earliest_and_latest;
use crate::session::topic_partitions;

/// Records between progress redraw checks.
const PROGRESS_EVERY: u64 = 1024;

pub async fn run(
    session: &Session,
    topic: &BenchTopic,
    args: &BenchArgs,
    properties: &Properties,
) -> Result<(), CliError> {
    let fetch_config = properties.fetch_config()?;
    let partitions = topic_partitions(session, &topic.name).await?;
    let (earliest, latest) = earliest_and_latest(session, &topic.name, &partitions).await?;
    let held: i64 = partitions
        .iter()
        .map(|p| latest.get(p).unwrap_or(&0) - earliest.get(p).unwrap_or(&0))
        .sum();
    let held = u64::try_from(held).unwrap_or(0);
    if held < args.count {
        let fill = BenchArgs {
            count: args.count - held,
            ..args.clone()
        };
        let filled = produce(session, &topic.name, &fill, properties, "fill").await?;
        println!("{filled}");
    }

    let starts = partitions
        .iter()
        .map(|&p| FetchStart::new(&topic.name, p, Some(*earliest.get(&p).unwrap_or(&0))))
        .collect();
    let limit = usize::try_from(args.count).unwrap_or(usize::MAX);
    let fetcher = Fetcher::new(session, fetch_config);
    let mut progress = Progress::new("consume", args.count);
    let cpu_before = process_cpu_time();
    let start = Instant::now();
    let mut records = fetcher.fetch(starts, Some(limit));
    let (mut count, mut bytes) = (0u64, 0u64);
    while let Some(item) = records.next().await {
        match item {
            Ok(record) => {
                count += 1;
                bytes += record.value.as_ref().map_or(0, |v| v.len() as u64);
                if count % PROGRESS_EVERY == 0 {
                    progress.update(count);
                }
            }
            Err(e) if e.is_retriable() => {}
            Err(e) => return Err(CliError::cluster("consuming")(e)),
        }
    }
    let elapsed = start.elapsed();
    let cpu = process_cpu_time().saturating_sub(cpu_before);
    progress.finish();
    let summary = Summary {
        verb: "consumed",
        records: count,
        bytes,
        elapsed,
        cpu,
    };
    println!("{summary}");
    Ok(())
}
