//! `kafkite bench consume`: waits for the driver's consumer.

use kafkite_smol::Session;

use super::BenchTopic;
use crate::args::BenchArgs;
use crate::error::CliError;

pub async fn run(
    _session: &Session,
    _topic: &BenchTopic,
    _args: &BenchArgs,
) -> Result<(), CliError> {
    Err(CliError::Invalid(
        "bench consume is not available yet in this build".into(),
    ))
}
