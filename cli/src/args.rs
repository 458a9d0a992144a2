//! The command line: kcat's short flags where kcat has them (`-b -t -p -K
//! -H -z -o -c -e -G -f -X -F`), so a kcat user's fingers carry over, and
//! subcommands instead of kcat's mode flags (`-P`, `-C`, `-L`).
//!
//! Values are checked here, while parsing, so a bad one is reported by
//! clap in one line before anything connects. kcat's `-X key=value` and
//! `-F file` (librdkafka / Java client properties) are split here and
//! checked in [`crate::properties`], also before anything connects.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use clap::{Args, Parser, Subcommand, ValueEnum};
use kafkite::properties::Properties;
use kafkite_smol::{Acks, Compression};

use crate::format::Format;

/// kafkite: a Kafka command-line client in the spirit of kcat.
#[derive(Debug, Parser)]
#[command(name = "kafkite", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Bootstrap brokers, `host[:port],...` (port 9092 when left out).
    /// Without -b: bootstrap.servers from -X or -F, else
    /// $KAFKA_BOOTSTRAP.
    #[arg(short = 'b', long = "bootstrap", global = true)]
    pub brokers: Option<String>,
    /// Seconds to wait for the cluster: the first metadata, each admin
    /// request (like kcat's -m, with a longer default) [default: 10, or
    /// request.timeout.ms and socket.connection.setup.timeout.ms from -X
    /// or -F].
    #[arg(short = 'm', long = "timeout", global = true, value_parser = parse_seconds)]
    pub timeout: Option<Duration>,
    /// -X and -F before the subcommand.
    #[command(flatten)]
    pub property_flags: PropertyFlags,
    /// What -F and -X add up to, on both sides of the subcommand, loaded
    /// before the command runs.
    #[arg(skip)]
    pub properties: Properties,
}

/// kcat's -X and -F, taken before the subcommand and after it. (Not
/// clap's `global` args: with those, the values given after the
/// subcommand would replace the ones given before it instead of adding
/// to them.)
#[derive(Debug, Args, Clone, Default)]
pub struct PropertyFlags {
    /// A librdkafka or Java client property, as kcat's -X (repeatable;
    /// later ones win). Typed flags (-b, -m, --acks, -z, -G) win over it.
    #[arg(short = 'X', long = "property", value_name = "KEY=VALUE", value_parser = PropertyArg)]
    pub pairs: Vec<(String, String)>,
    /// A properties file of KEY=VALUE lines, as kcat's -F (repeatable;
    /// read in order, before any -X).
    #[arg(short = 'F', long = "property-file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Produce one record per stdin line (kcat -P).
    Produce(ProduceArgs),
    /// Consume records and print them (kcat -C, or kcat -G with -G).
    Consume(ConsumeArgs),
    /// Show the brokers, topics, partitions and leaders (kcat -L).
    Metadata(MetadataArgs),
    /// Create, delete or list topics.
    #[command(subcommand)]
    Topics(TopicsCommand),
    /// Show the earliest and latest offset of each partition of a topic.
    Offsets(OffsetsArgs),
    /// List or describe consumer groups.
    #[command(subcommand)]
    Groups(GroupsCommand),
    /// Measure produce or consume throughput and CPU cost.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Serve kafkite's simulated cluster on loopback until stopped, and
    /// print its bootstrap addresses.
    Sim(SimArgs),
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Brokers.
    // Its own id: `brokers` alone would clash with the global -b's.
    #[arg(id = "broker_count", long = "brokers", default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub brokers: u16,
    /// A topic to create at the start, NAME or NAME:PARTITIONS (replicated
    /// on up to 3 brokers).
    #[arg(short = 't', long = "topic", value_parser = parse_sim_topic)]
    pub topics: Vec<(String, i32)>,
    /// Behave as Kafka 0.8.2: no ApiVersions, only the v0 APIs.
    #[arg(long = "kafka-0.8.2")]
    pub legacy_0_8_2: bool,
    #[command(flatten)]
    pub property_flags: PropertyFlags,
}

#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// Topic to produce to.
    #[arg(short = 't', long = "topic")]
    pub topic: String,
    /// Partition (the default partitioner when left out, or -1).
    #[arg(short = 'p', long = "partition", allow_negative_numbers = true)]
    pub partition: Option<i32>,
    /// Key delimiter: the part of a line before its first occurrence is the
    /// key (escapes as kcat's: \t, \xNN, ...). A line without it has no key.
    #[arg(short = 'K', long = "key-delimiter")]
    pub key_delimiter: Option<String>,
    /// A header for every record: name=value, or name alone for a null value.
    #[arg(short = 'H', long = "header", value_parser = parse_header)]
    pub headers: Vec<HeaderArg>,
    /// Compression codec [default: none, or compression.type from -X or -F].
    #[arg(short = 'z', long = "compression", value_enum)]
    pub compression: Option<Codec>,
    /// Acknowledgements the leader waits for: 0, 1 or all [default: all,
    /// or acks from -X or -F].
    #[arg(long = "acks", value_parser = parse_acks, allow_negative_numbers = true)]
    pub acks: Option<Acks>,
    #[command(flatten)]
    pub property_flags: PropertyFlags,
}

#[derive(Debug, Args)]
pub struct ConsumeArgs {
    /// Topic to consume.
    #[arg(short = 't', long = "topic")]
    pub topic: String,
    /// Only this partition (every partition when left out).
    #[arg(short = 'p', long = "partition")]
    pub partition: Option<i32>,
    /// Where to start: beginning, end, stored, an offset, or -N (N before
    /// the end).
    #[arg(short = 'o', long = "offset", value_parser = parse_start, allow_hyphen_values = true)]
    pub offset: Option<StartOffset>,
    /// Stop after this many records.
    #[arg(short = 'c', long = "count")]
    pub count: Option<u64>,
    /// Exit once every partition is read up to its end (as of the start).
    #[arg(short = 'e', long = "exit-at-end")]
    pub exit_at_end: bool,
    /// Consume as a member of this group (sharing the topic's partitions
    /// with its other members) from its committed offsets, and commit what
    /// was printed. With -p: that partition only, as a simple group (no
    /// membership or rebalancing).
    #[arg(short = 'G', long = "group")]
    pub group: Option<String>,
    /// Output format, kcat's tokens: %t %p %o %k %K %s %S %R %T %h, \n \t.
    #[arg(short = 'f', long = "format", value_parser = parse_format)]
    pub format: Option<Format>,
    /// Print each key, this delimiter, then the value (as kcat -C -K;
    /// -f takes precedence).
    #[arg(short = 'K', long = "key-delimiter")]
    pub key_delimiter: Option<String>,
    #[command(flatten)]
    pub property_flags: PropertyFlags,
}

#[derive(Debug, Args)]
pub struct MetadataArgs {
    /// Only this topic.
    #[arg(short = 't', long = "topic")]
    pub topic: Option<String>,
    #[command(flatten)]
    pub property_flags: PropertyFlags,
}

#[derive(Debug, Subcommand)]
pub enum TopicsCommand {
    /// Create a topic.
    Create(CreateTopicArgs),
    /// Delete topics.
    Delete {
        /// Topics to delete.
        #[arg(required = true)]
        topics: Vec<String>,
        #[command(flatten)]
        property_flags: PropertyFlags,
    },
    /// List the topics' names.
    List {
        #[command(flatten)]
        property_flags: PropertyFlags,
    },
}

#[derive(Debug, Args)]
pub struct CreateTopicArgs {
    /// The topic's name.
    pub topic: String,
    /// Number of partitions (the broker's num.partitions when left out).
    #[arg(short = 'P', long = "partitions", default_value_t = -1, allow_negative_numbers = true)]
    pub partitions: i32,
    /// Replicas per partition (the broker's default.replication.factor when
    /// left out).
    #[arg(short = 'r', long = "replication-factor", default_value_t = -1, allow_negative_numbers = true)]
    pub replication_factor: i16,
    /// A topic config, name=value (e.g. retention.ms=60000).
    #[arg(long = "config", value_parser = parse_config)]
    pub configs: Vec<(String, String)>,
    #[command(flatten)]
    pub property_flags: PropertyFlags,
}

#[derive(Debug, Args)]
pub struct OffsetsArgs {
    /// The topic.
    pub topic: String,
    /// Only this partition.
    #[arg(short = 'p', long = "partition")]
    pub partition: Option<i32>,
    #[command(flatten)]
    pub property_flags: PropertyFlags,
}

#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// List the groups every broker coordinates.
    List {
        #[command(flatten)]
        property_flags: PropertyFlags,
    },
    /// Describe groups: state, protocol, members and their assignments.
    Describe {
        /// Groups to describe.
        #[arg(required = true)]
        groups: Vec<String>,
        #[command(flatten)]
        property_flags: PropertyFlags,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Produce records as fast as the producer takes them.
    Produce(BenchArgs),
    /// Consume records from the beginning of a topic (filled first, unless
    /// -t names a topic that has them).
    Consume(BenchArgs),
}

#[derive(Debug, Args, Clone)]
pub struct BenchArgs {
    /// Topic to use (a new one, deleted at the end, when left out).
    #[arg(short = 't', long = "topic")]
    pub topic: Option<String>,
    /// Records.
    #[arg(short = 'n', long = "count", default_value_t = 1_000_000)]
    pub count: u64,
    /// Value size in bytes.
    #[arg(short = 's', long = "size", default_value_t = 100)]
    pub size: usize,
    /// Partitions of the topic the bench creates.
    #[arg(short = 'P', long = "partitions", default_value_t = 3)]
    pub partitions: i32,
    /// Compression codec [default: none, or compression.type from -X or -F].
    #[arg(short = 'z', long = "compression", value_enum)]
    pub compression: Option<Codec>,
    /// Acknowledgements: 0, 1 or all [default: all, or acks from -X or -F].
    #[arg(long = "acks", value_parser = parse_acks, allow_negative_numbers = true)]
    pub acks: Option<Acks>,
    #[command(flatten)]
    pub property_flags: PropertyFlags,
}

impl Command {
    /// -X and -F after the subcommand.
    pub fn property_flags(&self) -> &PropertyFlags {
        match self {
            Command::Produce(args) => &args.property_flags,
            Command::Consume(args) => &args.property_flags,
            Command::Metadata(args) => &args.property_flags,
            Command::Topics(TopicsCommand::Create(args)) => &args.property_flags,
            Command::Topics(
                TopicsCommand::Delete { property_flags, .. }
                | TopicsCommand::List { property_flags },
            ) => property_flags,
            Command::Offsets(args) => &args.property_flags,
            Command::Groups(
                GroupsCommand::List { property_flags }
                | GroupsCommand::Describe { property_flags, .. },
            ) => property_flags,
            Command::Bench(BenchCommand::Produce(args) | BenchCommand::Consume(args)) => {
                &args.property_flags
            }
            Command::Sim(args) => &args.property_flags,
        }
    }
}

/// A compression codec as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Codec {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl From<Codec> for Compression {
    fn from(codec: Codec) -> Compression {
        match codec {
            Codec::None => Compression::None,
            Codec::Gzip => Compression::Gzip,
            Codec::Snappy => Compression::Snappy,
            Codec::Lz4 => Compression::Lz4,
            Codec::Zstd => Compression::Zstd,
        }
    }
}

/// A `-H` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderArg {
    pub name: String,
    pub value: Option<String>,
}

/// Where `consume` starts in each partition (`-o`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOffset {
    Beginning,
    End,
    /// The group's committed offset (needs -G).
    Stored,
    /// This offset.
    At(i64),
    /// This many records before the end.
    BeforeEnd(i64),
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !secs.is_finite() || secs <= 0.0 || secs > 86_400.0 {
        return Err(format!("{text} is not between 0 and 86400 seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_acks(text: &str) -> Result<Acks, String> {
    match text {
        "0" => Ok(Acks::None),
        "1" => Ok(Acks::Leader),
        "all" | "-1" => Ok(Acks::All),
        _ => Err(format!("{text:?} is not one of 0, 1, all")),
    }
}

/// kcat's rule: `name=value` (the value may hold more `=`), or `name`
/// alone for a null value; an empty name is refused.
fn parse_header(text: &str) -> Result<HeaderArg, String> {
    let (name, value) = match text.split_once('=') {
        Some((name, value)) => (name, Some(value.to_string())),
        None => (text, None),
    };
    if name.is_empty() {
        return Err(format!("{text:?} has no header name (name=value or name)"));
    }
    Ok(HeaderArg {
        name: name.to_string(),
        value,
    })
}

/// `-X`'s parser: [`parse_property`], with clap's message replaced by its
/// own, since clap's would quote the argument, and an argument that is not
/// key=value may be a secret that lost its `=`.
#[derive(Debug, Clone, Copy)]
struct PropertyArg;

impl TypedValueParser for PropertyArg {
    type Value = (String, String);

    fn parse_ref(
        &self,
        _command: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<(String, String), clap::Error> {
        value
            .to_str()
            .ok_or("-X takes key=value in UTF-8")
            .and_then(parse_property)
            .map_err(|problem| clap::Error::raw(ErrorKind::ValueValidation, format!("{problem}\n")))
    }
}

/// kcat's `-X key=value`: split at the first `=` (the value may hold more,
/// or be empty); the key is trimmed. The message never shows the text.
fn parse_property(text: &str) -> Result<(String, String), &'static str> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        Some(_) => Err("-X takes key=value, and one has no key before its ="),
        None => Err("-X takes key=value, and one has no ="),
    }
}

fn parse_config(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(format!("{text:?} is not name=value")),
    }
}

fn parse_start(text: &str) -> Result<StartOffset, String> {
    let invalid = || format!("{text:?} is not beginning, end, stored, an offset or -N");
    match text {
        "beginning" => Ok(StartOffset::Beginning),
        "end" => Ok(StartOffset::End),
        "stored" => Ok(StartOffset::Stored),
        _ => {
            let n: i64 = text.parse().map_err(|_| invalid())?;
            if n >= 0 {
                Ok(StartOffset::At(n))
            } else {
                n.checked_neg()
                    .map(StartOffset::BeforeEnd)
                    .ok_or_else(invalid)
            }
        }
    }
}

fn parse_sim_topic(text: &str) -> Result<(String, i32), String> {
    let (name, partitions) = match text.split_once(':') {
        Some((name, count)) => {
            let count: i32 = count
                .parse()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| format!("{text:?}: partitions must be a number from 1"))?;
            (name, count)
        }
        None => (text, 1),
    };
    if name.is_empty() {
        return Err(format!("{text:?} has no topic name"));
    }
    Ok((name.to_string(), partitions))
}

fn parse_format(text: &str) -> Result<Format, String> {
    Format::parse(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn headers_follow_kcat() {
        assert_eq!(
            parse_header("d=e=f"),
            Ok(HeaderArg {
                name: "d".into(),
                value: Some("e=f".into())
            })
        );
        assert_eq!(
            parse_header("c"),
            Ok(HeaderArg {
                name: "c".into(),
                value: None
            })
        );
        assert!(parse_header("=g").is_err());
    }

    #[test]
    fn start_offsets() {
        assert_eq!(parse_start("beginning"), Ok(StartOffset::Beginning));
        assert_eq!(parse_start("42"), Ok(StartOffset::At(42)));
        assert_eq!(parse_start("-5"), Ok(StartOffset::BeforeEnd(5)));
        assert!(parse_start("soon").is_err());
        assert!(parse_start("-9223372036854775808").is_err());
    }

    #[test]
    fn sim_topics() {
        assert_eq!(parse_sim_topic("orders:3"), Ok(("orders".into(), 3)));
        assert_eq!(parse_sim_topic("orders"), Ok(("orders".into(), 1)));
        assert!(parse_sim_topic("orders:0").is_err());
        assert!(parse_sim_topic(":3").is_err());
    }

    #[test]
    fn properties_are_key_equals_value() {
        assert_eq!(
            parse_property("linger.ms=5"),
            Ok(("linger.ms".into(), "5".into()))
        );
        assert_eq!(
            parse_property(" sasl.oauthbearer.config =principal=a b=c"),
            Ok(("sasl.oauthbearer.config".into(), "principal=a b=c".into()))
        );
        assert_eq!(
            parse_property("client.id="),
            Ok(("client.id".into(), String::new()))
        );
        for bad in ["hunter2", "=hunter2", " =x", ""] {
            let problem = parse_property(bad).unwrap_err();
            assert!(problem.starts_with("-X takes key=value"), "{problem}");
            assert!(bad.is_empty() || !problem.contains(bad.trim()), "{problem}");
        }
    }

    #[test]
    fn x_and_f_are_taken_on_both_sides_of_the_subcommand() {
        let cli = Cli::try_parse_from([
            "kafkite",
            "-X",
            "acks=1",
            "-F",
            "a.properties",
            "produce",
            "-t",
            "t",
            "-X",
            "linger.ms=5",
            "--property-file",
            "b.properties",
        ])
        .unwrap();
        assert_eq!(
            cli.global.property_flags.pairs,
            [("acks".to_string(), "1".to_string())]
        );
        assert_eq!(
            cli.global.property_flags.files,
            [PathBuf::from("a.properties")]
        );
        let after = cli.command.property_flags();
        assert_eq!(after.pairs, [("linger.ms".to_string(), "5".to_string())]);
        assert_eq!(after.files, [PathBuf::from("b.properties")]);
        let Command::Produce(args) = cli.command else {
            panic!("not produce")
        };
        assert_eq!((args.acks, args.compression), (None, None));
        for command in [
            &["topics", "list"][..],
            &["groups", "describe", "g"],
            &["bench", "consume"],
            &["sim"],
        ] {
            let cli =
                Cli::try_parse_from([&["kafkite"], command, &["-X", "a=b"]].concat()).unwrap();
            assert_eq!(cli.command.property_flags().pairs.len(), 1, "{command:?}");
        }
        let err = Cli::try_parse_from(["kafkite", "-X", "sasl.password", "metadata"]).unwrap_err();
        let rendered = err.render().to_string();
        assert!(rendered.contains("-X takes key=value"), "{rendered}");
        assert!(!rendered.contains("sasl.password"), "{rendered}");
    }

    #[test]
    fn acks_and_timeouts() {
        assert_eq!(parse_acks("all"), Ok(Acks::All));
        assert_eq!(parse_acks("-1"), Ok(Acks::All));
        assert!(parse_acks("2").is_err());
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("NaN").is_err());
        assert_eq!(parse_seconds("1.5"), Ok(Duration::from_millis(1500)));
    }
}
