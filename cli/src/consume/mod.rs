//! `kafkite consume`: records of a topic printed in kcat's `-f` format.
//!
//! Without `-G` it reads with a [`kafkite_smol::Fetcher`] from the offsets
//! `-o` names and stores nothing. With `-G` it joins the group as a member
//! ([`kafkite_smol::GroupConsumer`], as kcat -G), reads the partitions the
//! group assigns it from the committed offsets and commits what it has
//! printed (see [`member`]); with `-G` and `-p` it reads that partition
//! with the Dart-style [`kafkite_smol::Consumer`] and commits as a
//! "simple" group, without membership (see [`group`]). `-e` stops each
//! partition at its high watermark as of the start (as a member: once
//! every partition assigned is there); `-c` stops after that many printed
//! records.

mod group;
mod member;
mod output;
mod plain;
mod plan;

use std::collections::BTreeMap;

use futures_lite::future::poll_once;
use futures_lite::{Stream, StreamExt};
use kafkite_smol::{Error as SessionError, Session};

use crate::args::{ConsumeArgs, Global};
use crate::error::CliError;
use crate::format::{Format, DEFAULT_FORMAT};
use crate::offsets::earliest_and_latest;
use crate::session::{chosen_partitions, with_session};

use self::output::{Flow, Output};
use self::plan::Bounds;

pub async fn run(global: &Global, args: ConsumeArgs) -> Result<(), CliError> {
    with_session(global, async |session| consume(session, args).await).await
}

async fn consume(session: &Session, args: ConsumeArgs) -> Result<(), CliError> {
    let partitions = chosen_partitions(session, &args.topic, args.partition).await?;
    let bounds = bounds(session, &args.topic, &partitions).await?;
    let output = Output::new(output_format(&args)?);
    match args.group.clone() {
        Some(group) if args.partition.is_none() => {
            member::run(session, &args, &group, &bounds, output).await
        }
        Some(group) => group::run(session, &args, &group, &bounds, output).await,
        None => plain::run(session, &args, &bounds, output).await,
    }
}

/// `-f`, else kcat's key-and-value format for `-K`, else kcat's default.
/// Like kcat, `-K` text goes into a format string as it is, so `%%` in
/// it prints `%`.
fn output_format(args: &ConsumeArgs) -> Result<Format, CliError> {
    if let Some(format) = &args.format {
        return Ok(format.clone());
    }
    let text = match &args.key_delimiter {
        Some(delimiter) => format!("%k{delimiter}%s\\n"),
        None => DEFAULT_FORMAT.to_string(),
    };
    Format::parse(&text).map_err(|e| CliError::Invalid(format!("-K {text:?}: {e}")))
}

/// Each partition's earliest and latest offset, as of now.
async fn bounds(
    session: &Session,
    topic: &str,
    partitions: &[i32],
) -> Result<BTreeMap<i32, Bounds>, CliError> {
    let (earliest, latest) = earliest_and_latest(session, topic, partitions).await?;
    partitions
        .iter()
        .map(|p| match (earliest.get(p), latest.get(p)) {
            (Some(&earliest), Some(&latest)) => Ok((*p, Bounds { earliest, latest })),
            _ => Err(CliError::Invalid(format!(
                "no offsets for partition {p} of {topic:?}"
            ))),
        })
        .collect()
}

/// Whether `printed` records are all `-c` asked for.
fn count_reached(args: &ConsumeArgs, printed: u64) -> bool {
    args.count.is_some_and(|count| printed >= count)
}

/// The stream's next item. When none is ready, `idle` runs first (it
/// flushes the output, so records reach a reader while the consumer waits
/// for more, and a group commits). `None` when the stream ends or `idle`
/// finds stdout's reader gone. Errors the consumer recovers from by itself
/// are reported as a warning line and skipped; any other ends the consume.
async fn next_or_idle<S, T>(
    stream: &mut S,
    mut idle: impl AsyncFnMut() -> Result<Flow, CliError>,
) -> Result<Option<T>, CliError>
where
    S: Stream<Item = Result<T, SessionError>> + Unpin,
{
    loop {
        let item = match poll_once(stream.next()).await {
            Some(item) => item,
            None => {
                if idle().await? == Flow::Closed {
                    return Ok(None);
                }
                stream.next().await
            }
        };
        match item {
            None => return Ok(None),
            Some(Ok(found)) => return Ok(Some(found)),
            Some(Err(e)) if e.is_retriable() => {
                eprintln!("kafkite: warning: {e} (retrying)");
            }
            Some(Err(e)) => return Err(CliError::cluster("consuming")(e)),
        }
    }
}
