//! `kafkite consume`: records of a topic printed in kcat's `-f` format.
//!
//! Without `-G` it reads with a [`kafkite_smol::Fetcher`] from the offsets
//! `-o` names and stores nothing. With `-G` it joins the group as a member
//! ([`kafkite_smol::GroupConsumer`], as kcat -G), reads the partitions the
//! group assigns it from the committed offsets and commits what it has
//! printed (see [`member`]); with `-G` and `-p` it reads that partition
//! with the envelope [`kafkite_smol::Consumer`] and commits as a
//! "simple" group, without membership (see [`group`]). `-e` stops each
//! partition at its high watermark as of the start (as a member: once
//! every partition assigned is there); `-c` stops after that many printed
//! records.
//!
//! Properties (`-X`, `-F`): the consumer scope's (`fetch.*`,
//! `auto.offset.reset`, `isolation.level`, ...) in every mode, the
//! consumer group scope's (`session.timeout.ms`, ...) as a member only;
//! `group.id` names the group when `-G` does not.

mod group;
mod member;
mod output;
mod plain;
mod plan;

use std::collections::BTreeMap;

use futures_lite::future::poll_once;
use futures_lite::{Stream, StreamExt};
use kafkite::properties::Properties;
use kafkite_smol::{Error as SessionError, FetchConfig, GroupConsumerConfig, Session};

use crate::args::{ConsumeArgs, Global};
use crate::error::CliError;
use crate::format::{Format, DEFAULT_FORMAT};
use crate::offsets::earliest_and_latest;
use crate::session::{chosen_partitions, with_session};

use self::output::{Flow, Output};
use self::plan::Bounds;

pub async fn run(global: &Global, args: ConsumeArgs) -> Result<(), CliError> {
    let settings = Settings::new(&args, &global.properties)?;
    with_session(global, async |session| {
        consume(session, args, settings).await
    })
    .await
}

async fn consume(session: &Session, args: ConsumeArgs, settings: Settings) -> Result<(), CliError> {
    let partitions = chosen_partitions(session, &args.topic, args.partition).await?;
    let bounds = bounds(session, &args.topic, &partitions).await?;
    let output = Output::new(output_format(&args)?);
    match settings.mode {
        Mode::Member(config) => member::run(session, &args, *config, &bounds, output).await,
        Mode::SimpleGroup(group) => {
            group::run(session, &args, &group, settings.fetch, &bounds, output).await
        }
        Mode::Plain => plain::run(session, &args, settings.fetch, &bounds, output).await,
    }
}

/// How `consume` reads, from -G, -p and the properties: checked before
/// anything connects.
pub struct Settings {
    pub mode: Mode,
    pub fetch: FetchConfig,
}

pub enum Mode {
    /// No group: explicit offsets, nothing committed.
    Plain,
    /// -G with -p: the group's commits, without membership.
    SimpleGroup(String),
    /// -G without -p: a member of the group.
    Member(Box<GroupConsumerConfig>),
}

impl Settings {
    pub fn new(args: &ConsumeArgs, properties: &Properties) -> Result<Settings, CliError> {
        let fetch = properties.fetch_config()?;
        let mode = match (group_name(args, properties)?, args.partition) {
            (None, _) => Mode::Plain,
            (Some(group), Some(_)) => Mode::SimpleGroup(group),
            (Some(group), None) => Mode::Member(Box::new(member::config(properties, &group)?)),
        };
        Ok(Settings { mode, fetch })
    }
}

/// The group to consume in: -G, else the group.id property.
pub fn group_name(args: &ConsumeArgs, properties: &Properties) -> Result<Option<String>, CliError> {
    if let Some(group) = &args.group {
        return Ok(Some(group.clone()));
    }
    match properties.get("group.id").map(str::trim) {
        Some("") => Err(CliError::Invalid("the property group.id is empty".into())),
        Some(group) => Ok(Some(group.to_string())),
        None => Ok(None),
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
                crate::printable::warn(&format!("{e} (retrying)"));
            }
            Some(Err(e)) => return Err(CliError::cluster("consuming")(e)),
        }
    }
}
