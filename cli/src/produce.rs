//! `kafkite produce`: one record per stdin line, as `kcat -P` does.
//!
//! kcat's line rules, kept so the same input gives the same records: the
//! newline is not part of the record, empty lines are skipped, and with
//! `-K` a line is split at the first delimiter (key before, value after);
//! a line without the delimiter has a null key. Lines are bytes, not text.

use std::io::{self, BufRead};

use bytes::Bytes;
use kafkite::producer::Idempotence;
use kafkite::properties::Properties;
use kafkite_smol::{Acks, Compression, Producer, ProducerConfig, ProducerRecord, Session};

use crate::args::{Codec, Global, HeaderArg, ProduceArgs};
use crate::deliveries::Deliveries;
use crate::error::CliError;
use crate::escape::unescape;
use crate::session::{check_partition, topic_partitions, with_session};

/// Delivery futures kept before the oldest is awaited.
const MAX_PENDING: usize = 100_000;

pub async fn run(global: &Global, args: ProduceArgs) -> Result<(), CliError> {
    with_session(global, async |session| {
        produce(session, &global.properties, args).await
    })
    .await
}

async fn produce(
    session: &Session,
    properties: &Properties,
    args: ProduceArgs,
) -> Result<(), CliError> {
    let key_delimiter = match &args.key_delimiter {
        Some(text) => Some(non_empty_delimiter(text)?),
        None => None,
    };
    let partitions = topic_partitions(session, &args.topic).await?;
    // kcat's -p -1 is "the partitioner".
    let partition = args.partition.filter(|p| *p >= 0);
    if let Some(p) = partition {
        check_partition(&args.topic, &partitions, p)?;
    }
    let producer = start_producer(session, properties, args.acks, args.compression).await?;
    let template = RecordTemplate {
        topic: args.topic.into(),
        partition,
        headers: headers(&args.headers),
        key_delimiter,
    };

    let mut deliveries = Deliveries::new(MAX_PENDING);
    let mut stdin = io::stdin().lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        // A blocking read on the main task: the driver's tasks run on
        // smol's executor threads, so batches keep moving meanwhile.
        if stdin
            .read_until(b'\n', &mut line)
            .map_err(CliError::Stdin)?
            == 0
        {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        if line.is_empty() {
            continue;
        }
        let record = template.record(&line);
        let delivery = producer.send(record).await.map_err(CliError::send)?;
        deliveries.push(delivery).await;
    }
    producer
        .flush()
        .await
        .map_err(CliError::cluster("flushing the producer"))?;
    let outcome = deliveries.finish().await;
    producer.close().await;
    outcome.map(|_| ())
}

/// What every record of a run shares, and how a line becomes one.
struct RecordTemplate {
    topic: std::sync::Arc<str>,
    partition: Option<i32>,
    headers: Vec<(String, Option<Bytes>)>,
    key_delimiter: Option<Vec<u8>>,
}

impl RecordTemplate {
    fn record(&self, line: &[u8]) -> ProducerRecord {
        let (key, value) = match &self.key_delimiter {
            Some(delimiter) => split_key(line, delimiter),
            None => (None, line),
        };
        ProducerRecord {
            topic: self.topic.clone(),
            partition: self.partition,
            key: key.map(Bytes::copy_from_slice),
            value: Some(Bytes::copy_from_slice(value)),
            headers: self.headers.clone(),
            timestamp: None,
        }
    }
}

/// Splits at the first `delimiter`: (key, value), or no key when the line
/// has no delimiter.
fn split_key<'a>(line: &'a [u8], delimiter: &[u8]) -> (Option<&'a [u8]>, &'a [u8]) {
    match line
        .windows(delimiter.len())
        .position(|window| window == delimiter)
    {
        Some(at) => (Some(&line[..at]), &line[at + delimiter.len()..]),
        None => (None, line),
    }
}

fn non_empty_delimiter(text: &str) -> Result<Vec<u8>, CliError> {
    let delimiter = unescape(text);
    if delimiter.is_empty() {
        return Err(CliError::Invalid(format!(
            "the key delimiter {text:?} is empty"
        )));
    }
    Ok(delimiter)
}

fn headers(args: &[HeaderArg]) -> Vec<(String, Option<Bytes>)> {
    args.iter()
        .map(|h| (h.name.clone(), h.value.clone().map(Bytes::from)))
        .collect()
}

/// A producer with the command line's acks and codec, over the producer
/// properties of -X and -F, over the defaults (idempotent with acks=all,
/// linger 5 ms).
pub async fn start_producer(
    session: &Session,
    properties: &Properties,
    acks: Option<Acks>,
    codec: Option<Codec>,
) -> Result<Producer, CliError> {
    let config = producer_config(properties, acks, codec)?;
    Producer::new(session, config)
        .await
        .map_err(CliError::cluster("starting the producer"))
}

/// The producer properties with `--acks` and `-z` over them.
pub fn producer_config(
    properties: &Properties,
    acks: Option<Acks>,
    codec: Option<Codec>,
) -> Result<ProducerConfig, CliError> {
    let mut config = properties.producer_config()?;
    if let Some(acks) = acks {
        config.acks = acks;
    }
    // Asked-for idempotence fails every record without acks=all: say so
    // before the first one rather than once per record.
    if config.idempotence == Idempotence::Required && config.acks != Acks::All {
        return Err(CliError::Invalid(
            "enable.idempotence=true needs acks=all".into(),
        ));
    }
    if let Some(codec) = codec {
        config.compression = Compression::from(codec);
    }
    if !config.compression.is_available() {
        return Err(CliError::Invalid(format!(
            "this build has no {} codec",
            config.compression.name()
        )));
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_before_the_first_delimiter() {
        assert_eq!(
            split_key(b"c::d::e", b"::"),
            (Some(&b"c"[..]), &b"d::e"[..])
        );
        assert_eq!(split_key(b"k2:", b":"), (Some(&b"k2"[..]), &b""[..]));
        assert_eq!(split_key(b":v3", b":"), (Some(&b""[..]), &b"v3"[..]));
    }

    #[test]
    fn a_line_without_the_delimiter_has_no_key() {
        assert_eq!(split_key(b"nokey", b":"), (None, &b"nokey"[..]));
        assert_eq!(split_key(b"", b"::"), (None, &b""[..]));
    }

    #[test]
    fn typed_flags_win_over_properties() {
        let properties = Properties::from_pairs([("acks", "0"), ("compression.type", "gzip")]);
        let config = producer_config(&properties, None, None).unwrap();
        assert_eq!(
            (config.acks, config.compression),
            (Acks::None, Compression::Gzip)
        );
        let config = producer_config(&properties, Some(Acks::All), Some(Codec::Lz4)).unwrap();
        assert_eq!(
            (config.acks, config.compression),
            (Acks::All, Compression::Lz4)
        );
        let config = producer_config(&Properties::new(), None, None).unwrap();
        assert_eq!(
            (config.acks, config.compression),
            (Acks::All, Compression::None)
        );
    }

    #[test]
    fn asked_for_idempotence_with_acks_below_all_is_refused_up_front() {
        let properties = Properties::from_pairs([("enable.idempotence", "true")]);
        let err = producer_config(&properties, Some(Acks::Leader), None).unwrap_err();
        assert!(err.to_string().contains("needs acks=all"), "{err}");
        // The default idempotence just turns off.
        let config = producer_config(&Properties::new(), Some(Acks::Leader), None).unwrap();
        assert_eq!(config.acks, Acks::Leader);
    }

    #[test]
    fn headers_keep_null_values() {
        let args = [
            HeaderArg {
                name: "a".into(),
                value: Some("1".into()),
            },
            HeaderArg {
                name: "c".into(),
                value: None,
            },
        ];
        assert_eq!(
            headers(&args),
            vec![
                ("a".to_string(), Some(Bytes::from_static(b"1"))),
                ("c".to_string(), None)
            ]
        );
    }
}
