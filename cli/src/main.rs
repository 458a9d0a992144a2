//! `kafkite`: a Kafka command-line client in the spirit of kcat, on
//! kafkite's smol driver.
//!
//! Every failure ends the same way: one line on stderr that starts with
//! `kafkite: ` and says what failed, and a non-zero exit (2 for a command
//! line that does not parse, 1 for everything else). Never a panic message
//! or a backtrace: even a bug reaches the user as one line.

mod args;
mod bench;
mod consume;
mod deliveries;
mod error;
mod escape;
mod format;
mod groups;
mod metadata;
mod offsets;
mod printable;
mod produce;
mod properties;
mod session;
mod sim;
mod topics;

use std::io::Write;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;

use crate::args::{Cli, Command};
use crate::error::CliError;

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        print_error(&format!("internal error (a bug in kafkite): {message}"));
    }));

    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    match smol::block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            print_error(&e.to_string());
            ExitCode::FAILURE
        }
    }
}

async fn run(mut cli: Cli) -> Result<(), CliError> {
    // Checked before anything connects.
    cli.global.properties = properties::load(&cli.global, &cli.command)?;
    properties::check(&cli.global.properties, &cli.command)?;
    let global = &cli.global;
    match cli.command {
        Command::Produce(args) => produce::run(global, args).await,
        Command::Consume(args) => consume::run(global, args).await,
        Command::Metadata(args) => metadata::run(global, args).await,
        Command::Topics(command) => topics::run(global, command).await,
        Command::Offsets(args) => offsets::run(global, args).await,
        Command::Groups(command) => groups::run(global, command).await,
        Command::Bench(command) => bench::run(global, command).await,
        Command::Sim(args) => sim::run(args),
    }
}

/// Help and version go to stdout with exit 0; anything else clap rejects
/// is reported in its first line (clap's own message is several lines of
/// tips and usage).
fn usage_error(error: clap::Error) -> ExitCode {
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = error.print();
            ExitCode::SUCCESS
        }
        // clap's text for this one is the whole help.
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            print_error("a subcommand is missing (see kafkite --help)");
            ExitCode::from(2)
        }
        _ => {
            let rendered = error.render().to_string();
            let first = rendered
                .lines()
                .find(|line| !line.trim().is_empty())
                .unwrap_or("invalid command line");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            print_error(&format!("{first} (see kafkite --help)"));
            ExitCode::from(2)
        }
    }
}

/// Writes `message` as one line, whatever line breaks it carries, with
/// nothing unprintable in it: an error may quote a broker (its SASL error
/// message, its mechanism names), and a hostile one must not reach the
/// terminal's escape sequences.
fn print_error(message: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "kafkite: {}",
        printable::one_line(message)
    );
}
