//! `kafkite offsets TOPIC`: each partition's earliest offset (log start)
//! and latest (high watermark, the offset the next record will get), as a
//! tab-separated table for people and for `cut`.

use std::collections::BTreeMap;
use std::io::Write;

use kafkite_smol::{OffsetSpec, Session};

use crate::args::{Global, OffsetsArgs};
use crate::error::CliError;
use crate::session::{chosen_partitions, with_session};

pub async fn run(global: &Global, args: OffsetsArgs) -> Result<(), CliError> {
    with_session(global, async |session| show(session, args).await).await
}

async fn show(session: &Session, args: OffsetsArgs) -> Result<(), CliError> {
    let partitions = chosen_partitions(session, &args.topic, args.partition).await?;
    let (earliest, latest) = earliest_and_latest(session, &args.topic, &partitions).await?;
    let mut out = String::from("topic\tpartition\tearliest\tlatest\n");
    for p in &partitions {
        let low = earliest.get(p).copied().unwrap_or(-1);
        let high = latest.get(p).copied().unwrap_or(-1);
        out.push_str(&format!("{}\t{p}\t{low}\t{high}\n", args.topic));
    }
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .map_err(CliError::Stdout)
}

/// The earliest and the latest offset of each of `partitions`.
pub async fn earliest_and_latest(
    session: &Session,
    topic: &str,
    partitions: &[i32],
) -> Result<(BTreeMap<i32, i64>, BTreeMap<i32, i64>), CliError> {
    let earliest = session
        .list_offsets(topic, partitions, OffsetSpec::Earliest)
        .await
        .map_err(CliError::cluster(format!("earliest offsets of {topic:?}")))?;
    let latest = session
        .list_offsets(topic, partitions, OffsetSpec::Latest)
        .await
        .map_err(CliError::cluster(format!("latest offsets of {topic:?}")))?;
    Ok((earliest, latest))
}
