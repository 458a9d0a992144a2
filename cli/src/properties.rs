//! kcat's `-F FILE` and `-X KEY=VALUE`: librdkafka and Java client
//! properties ([`kafkite::properties`]) for the session's client config
//! and the command's producer or consumer config.
//!
//! Precedence, lowest first: the CLI's own defaults (client id
//! `kafkite-cli`, 10 s timeouts), the `-F` files in order, the `-X` flags
//! in order, then the typed flags (`-b`, `-m`, `--acks`, `-z`, `-G`).
//! Everything is checked before anything connects: an unknown or
//! unsupported property, a bad value, or a property the command does not
//! use (`-X linger.ms=5` on `consume`) ends the command with one line.

use kafkite::properties::{Properties, PropertyError, Scope};

use crate::args::{BenchCommand, Command, Global};
use crate::consume::{self, Settings};
use crate::error::CliError;
use crate::produce::producer_config;

/// The `-F` files, then the `-X` flags, each in the order given (before
/// the subcommand, then after it), into one set.
pub fn load(global: &Global, command: &Command) -> Result<Properties, CliError> {
    let flags = [&global.property_flags, command.property_flags()];
    let mut properties = Properties::new();
    for path in flags.iter().flat_map(|f| &f.files) {
        properties.merge(Properties::from_file(path)?);
    }
    for (key, value) in flags.iter().flat_map(|f| &f.pairs) {
        properties.set(key, value.clone());
    }
    Ok(properties)
}

/// Checks that `command` uses every property given, and builds the
/// producer and consumer configs it will build (the client config is
/// built before connecting anyway), so a bad value ends it before it
/// connects.
pub fn check(properties: &Properties, command: &Command) -> Result<(), CliError> {
    check_used(properties, command)?;
    match command {
        Command::Produce(args) => {
            producer_config(properties, args.acks, args.compression).map(drop)
        }
        Command::Consume(args) => Settings::new(args, properties).map(drop),
        Command::Bench(BenchCommand::Produce(args)) => {
            producer_config(properties, args.acks, args.compression).map(drop)
        }
        Command::Bench(BenchCommand::Consume(args)) => {
            producer_config(properties, args.acks, args.compression)?;
            properties.fetch_config()?;
            Ok(())
        }
        _ => Ok(()),
    }
}

fn check_used(properties: &Properties, command: &Command) -> Result<(), CliError> {
    let used = uses(command, properties)?;
    let mut checked = properties.clone();
    if used.group_named {
        // Used as the group's name in every group mode (-G wins over it).
        checked.remove("group.id");
    }
    checked
        .check_scopes(used.scopes)
        .map_err(|error| match error {
            PropertyError::NotUsed { key, scopes } => CliError::PropertyNotUsed {
                command: used.command,
                key,
                scope: scopes
                    .iter()
                    .map(|s| s.describe())
                    .collect::<Vec<_>>()
                    .join(" or "),
                hint: if scopes.contains(&Scope::Group) {
                    used.hint
                } else {
                    ""
                },
            },
            other => other.into(),
        })
}

/// What a command uses.
struct Uses {
    command: &'static str,
    scopes: &'static [Scope],
    /// The group.id property names the group.
    group_named: bool,
    /// Said after a property it does not use.
    hint: &'static str,
}

fn uses(command: &Command, properties: &Properties) -> Result<Uses, CliError> {
    use Scope::*;
    let only = |command, scopes| Uses {
        command,
        scopes,
        group_named: false,
        hint: "",
    };
    Ok(match command {
        Command::Produce(_) => only("produce", &[Client, Producer]),
        Command::Consume(args) => {
            let group = consume::group_name(args, properties)?;
            let member = group.is_some() && args.partition.is_none();
            Uses {
                command: "consume",
                scopes: if member {
                    &[Client, Consumer, Group]
                } else {
                    &[Client, Consumer]
                },
                group_named: group.is_some(),
                hint: if member {
                    ""
                } else {
                    " (consumer group properties apply with -G and without -p)"
                },
            }
        }
        Command::Metadata(_) => only("metadata", &[Client]),
        Command::Topics(_) => only("topics", &[Client]),
        Command::Offsets(_) => only("offsets", &[Client]),
        Command::Groups(_) => only("groups", &[Client]),
        Command::Bench(BenchCommand::Produce(_)) => only("bench produce", &[Client, Producer]),
        // It produces first when the topic holds too few records.
        Command::Bench(BenchCommand::Consume(_)) => {
            only("bench consume", &[Client, Producer, Consumer])
        }
        Command::Sim(_) => only("sim", &[]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Cli;
    use clap::Parser;

    fn check(args: &[&str]) -> Result<(), String> {
        let mut cli = Cli::try_parse_from(args).map_err(|e| e.to_string())?;
        cli.global.properties = load(&cli.global, &cli.command).map_err(|e| e.to_string())?;
        super::check(&cli.global.properties, &cli.command).map_err(|e| e.to_string())
    }

    #[test]
    fn a_command_uses_its_scopes_only() {
        assert!(check(&["kafkite", "-X", "linger.ms=5", "produce", "-t", "t"]).is_ok());
        let err = check(&["kafkite", "-X", "linger.ms=5", "consume", "-t", "t"]).unwrap_err();
        assert_eq!(
            err,
            "consume does not use the property linger.ms: it is a producer property"
        );
        let err = check(&["kafkite", "-X", "fetch.min.bytes=5", "metadata"]).unwrap_err();
        assert!(err.starts_with("metadata does not use"), "{err}");
        let err = check(&["kafkite", "-X", "retry.backoff.ms=5", "topics", "list"]).unwrap_err();
        assert_eq!(
            err,
            "topics does not use the property retry.backoff.ms: it is a producer or consumer \
             or consumer group property"
        );
        let err = check(&["kafkite", "-X", "client.id=x", "sim"]).unwrap_err();
        assert!(err.starts_with("sim does not use"), "{err}");
        assert!(check(&["kafkite", "-X", "fetch.min.bytes=5", "bench", "consume"]).is_ok());
    }

    #[test]
    fn group_properties_need_a_group_member() {
        let member = [
            "kafkite",
            "-X",
            "session.timeout.ms=6000",
            "consume",
            "-t",
            "t",
        ];
        let err = check(&member).unwrap_err();
        assert!(err.contains("consumer group property"), "{err}");
        assert!(err.contains("with -G and without -p"), "{err}");
        let mut with_group = member.to_vec();
        with_group.extend(["-G", "g"]);
        assert!(check(&with_group).is_ok());
        with_group.extend(["-p", "0"]);
        assert!(check(&with_group).is_err(), "a simple group has no members");
        // group.id names the group, as -G does.
        assert!(check(&[
            "kafkite",
            "-X",
            "group.id=g",
            "-X",
            "session.timeout.ms=6000",
            "consume",
            "-t",
            "t"
        ])
        .is_ok());
        assert!(check(&[
            "kafkite",
            "-X",
            "group.id=g",
            "consume",
            "-t",
            "t",
            "-p",
            "0"
        ])
        .is_ok());
    }

    #[test]
    fn unknown_properties_and_files_are_errors() {
        let err = check(&["kafkite", "-X", "lingr.ms=5", "produce", "-t", "t"]).unwrap_err();
        assert!(err.contains("did you mean linger.ms?"), "{err}");
        let err = check(&[
            "kafkite",
            "-F",
            "/nonexistent/kafkite.properties",
            "metadata",
        ])
        .unwrap_err();
        assert!(
            err.starts_with("reading /nonexistent/kafkite.properties"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_are_found_before_connecting() {
        let err = check(&["kafkite", "-X", "linger.ms=soon", "produce", "-t", "t"]).unwrap_err();
        assert!(err.starts_with("linger.ms=\"soon\" is invalid"), "{err}");
        let err = check(&["kafkite", "-X", "fetch.min.bytes=-1", "bench", "consume"]).unwrap_err();
        assert!(err.starts_with("fetch.min.bytes"), "{err}");
        let member = ["kafkite", "consume", "-t", "t", "-G", "g", "-X"];
        let err = check(&[&member[..], &["session.timeout.ms=0"]].concat()).unwrap_err();
        assert!(err.starts_with("session.timeout.ms"), "{err}");
        let err = check(&[&member[..], &["enable.auto.commit=true"]].concat()).unwrap_err();
        assert!(err.contains("commits what it has printed"), "{err}");
        assert!(check(&[&member[..], &["enable.auto.commit=false"]].concat()).is_ok());
        let err = check(&["kafkite", "-X", "group.id= ", "consume", "-t", "t"]).unwrap_err();
        assert!(err.contains("group.id is empty"), "{err}");
    }

    #[test]
    fn x_wins_over_f() {
        let dir = std::env::temp_dir().join(format!("kafkite-cli-props-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("p.properties");
        std::fs::write(&file, "linger.ms=1\nacks=0\n").unwrap();
        let cli = Cli::try_parse_from([
            "kafkite",
            "-X",
            "queue.buffering.max.ms=9",
            "-F",
            file.to_str().unwrap(),
            "produce",
            "-t",
            "t",
        ])
        .unwrap();
        let properties = load(&cli.global, &cli.command).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(properties.get("linger.ms"), Some("9"));
        assert_eq!(properties.get("acks"), Some("0"));
    }
}
