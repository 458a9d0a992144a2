//! The producer scope, onto [`ProducerConfig`].

use crate::producer::{Acks, Idempotence, ProducerConfig};
use crate::records::Compression;

use super::keys::Prop;
use super::value::Entry;
use super::{PropertyError, Resolved};

pub(super) fn producer_config(properties: &Resolved<'_>) -> Result<ProducerConfig, PropertyError> {
    if let (Some(bytes), Some(kbytes)) = (
        properties.get(Prop::BufferMemory),
        properties.get(Prop::BufferKbytes),
    ) {
        return Err(kbytes.inconsistent(format!(
            "{} is set too: give the buffer's size once",
            bytes.key
        )));
    }
    let mut config = ProducerConfig::default();
    for entry in properties.iter() {
        match entry.prop {
            Prop::Acks => config.acks = acks(entry)?,
            Prop::Linger => config.linger = entry.millis(0)?,
            Prop::BatchSize => config.batch_size = entry.number(1)?,
            Prop::MaxRequestSize => config.max_request_size = entry.number(1)?,
            Prop::BufferMemory => config.buffer_memory = entry.number(1)?,
            Prop::BufferKbytes => {
                config.buffer_memory = entry.number::<usize>(1)?.saturating_mul(1024)
            }
            Prop::Compression => config.compression = compression(entry)?,
            Prop::DeliveryTimeout => config.delivery_timeout = entry.millis(1)?,
            Prop::RequestTimeout => config.request_timeout = entry.millis(1)?,
            Prop::RetryBackoff => config.retry_backoff = entry.millis(0)?,
            Prop::RetryBackoffMax => config.retry_backoff_max = entry.millis(0)?,
            // At most 5: with idempotence the broker keeps the last five
            // batches' sequences per partition.
            Prop::MaxInFlight => config = config.with_max_in_flight(entry.number(1)?),
            Prop::MaxBlock => config.max_block = entry.millis(0)?,
            Prop::TransactionalId => config.transactional_id = Some(entry.non_empty()?.into()),
            Prop::TransactionTimeout => config.transaction_timeout = entry.millis(1)?,
            // Set at all, it is the application's choice: true asks for
            // idempotence (records fail rather than go without it).
            Prop::Idempotence => {
                config.idempotence = match entry.boolean()? {
                    true => Idempotence::Required,
                    false => Idempotence::Off,
                }
            }
            _ => {}
        }
    }
    // The Java client refuses this too, rather than quietly producing
    // without idempotence as the default settings do.
    if let Some(entry) = properties.get(Prop::Idempotence) {
        if config.idempotence == Idempotence::Required && config.acks != Acks::All {
            return Err(entry.inconsistent("idempotence needs acks=all"));
        }
    }
    // A transactional producer is idempotent, with acks=all, as in the
    // Java client; asked otherwise, it is refused rather than changed.
    if let Some(entry) = properties.get(Prop::TransactionalId) {
        if config.idempotence == Idempotence::Off {
            return Err(entry.inconsistent("transactions need enable.idempotence"));
        }
        if config.acks != Acks::All {
            return Err(entry.inconsistent("transactions need acks=all"));
        }
        config.idempotence = Idempotence::Required;
    }
    Ok(config)
}

fn acks(entry: Entry<'_>) -> Result<Acks, PropertyError> {
    entry.choice(&[
        ("0", Acks::None),
        ("1", Acks::Leader),
        ("all", Acks::All),
        ("-1", Acks::All),
    ])
}

fn compression(entry: Entry<'_>) -> Result<Compression, PropertyError> {
    let codec = entry.choice(&Compression::ALL.map(|c| (c.name(), c)))?;
    if !codec.is_available() {
        return Err(entry.unsupported(
            "this build of kafkite leaves that codec out (its cargo feature is off)",
        ));
    }
    Ok(codec)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::producer::{Acks, Idempotence, ProducerConfig};
    use crate::properties::{Properties, PropertyError};
    use crate::records::Compression;

    fn producer(pairs: &[(&str, &str)]) -> Result<ProducerConfig, PropertyError> {
        Properties::from_pairs(pairs.iter().copied()).producer_config()
    }

    #[test]
    fn a_transactional_id_makes_the_producer_transactional_and_idempotent() {
        let config = producer(&[
            ("transactional.id", "orders-1"),
            ("transaction.timeout.ms", "15000"),
        ])
        .unwrap();
        assert_eq!(config.transactional_id.as_deref(), Some("orders-1"));
        assert_eq!(config.transaction_timeout, Duration::from_secs(15));
        assert_eq!(config.idempotence, Idempotence::Required);
        for refused in [
            [("transactional.id", "t"), ("acks", "1")],
            [("transactional.id", "t"), ("enable.idempotence", "false")],
        ] {
            let err = producer(&refused).unwrap_err();
            assert!(matches!(err, PropertyError::Inconsistent { .. }), "{err}");
        }
    }

    #[test]
    fn every_producer_property_reaches_its_field() {
        let config = producer(&[
            ("acks", "1"),
            ("linger.ms", "20"),
            ("batch.size", "16384"),
            ("message.max.bytes", "2000000"),
            ("buffer.memory", "1048576"),
            ("compression.type", "zstd"),
            ("delivery.timeout.ms", "30000"),
            ("request.timeout.ms", "7000"),
            ("retry.backoff.ms", "250"),
            ("retry.backoff.max.ms", "4000"),
            ("max.in.flight.requests.per.connection", "2"),
            ("max.block.ms", "1000"),
            ("enable.idempotence", "false"),
            ("bootstrap.servers", "left for the client"),
        ])
        .unwrap();
        assert_eq!(config.acks, Acks::Leader);
        assert_eq!(config.linger, Duration::from_millis(20));
        assert_eq!(config.batch_size, 16384);
        assert_eq!(config.max_request_size, 2_000_000);
        assert_eq!(config.buffer_memory, 1_048_576);
        assert_eq!(config.compression, Compression::Zstd);
        assert_eq!(config.delivery_timeout, Duration::from_secs(30));
        assert_eq!(config.request_timeout, Duration::from_secs(7));
        assert_eq!(config.retry_backoff, Duration::from_millis(250));
        assert_eq!(config.retry_backoff_max, Duration::from_secs(4));
        assert_eq!(config.max_in_flight, 2);
        assert_eq!(config.max_block, Duration::from_secs(1));
        assert_eq!(config.idempotence, Idempotence::Off);
    }

    #[test]
    fn librdkafka_names_and_units() {
        let config = producer(&[
            ("request.required.acks", "-1"),
            ("queue.buffering.max.ms", "0"),
            ("max.request.size", "3000"),
            ("queue.buffering.max.kbytes", "1024"),
            ("compression.codec", "LZ4"),
            ("message.timeout.ms", "5000"),
            ("max.in.flight", "1000"),
        ])
        .unwrap();
        assert_eq!(config.acks, Acks::All);
        assert_eq!(config.linger, Duration::ZERO);
        assert_eq!(config.max_request_size, 3000);
        assert_eq!(config.buffer_memory, 1024 * 1024);
        assert_eq!(config.compression, Compression::Lz4);
        assert_eq!(config.delivery_timeout, Duration::from_secs(5));
        assert_eq!(config.max_in_flight, 5, "at most 5");
        assert_eq!(producer(&[("acks", "all")]).unwrap().acks, Acks::All);
        assert_eq!(producer(&[("acks", "0")]).unwrap().acks, Acks::None);
    }

    /// `enable.idempotence=true` is the application asking for it: unlike
    /// the default, it must not quietly turn off.
    #[test]
    fn idempotence_set_true_is_required_and_unset_is_preferred() {
        let asked = producer(&[("enable.idempotence", "true")]).unwrap();
        assert_eq!(asked.idempotence, Idempotence::Required);
        let unset = producer(&[("acks", "all")]).unwrap();
        assert_eq!(unset.idempotence, Idempotence::Preferred);
        // By default, acks=1 turns idempotence off instead of failing.
        let acks_one = producer(&[("acks", "1")]).unwrap();
        assert_eq!(acks_one.idempotence, Idempotence::Preferred);
    }

    #[test]
    fn defaults_are_the_typed_builders() {
        let config = producer(&[]).unwrap();
        assert_eq!(
            format!("{config:?}"),
            format!("{:?}", ProducerConfig::default())
        );
    }

    #[test]
    fn bad_producer_values_name_the_property_and_the_choices() {
        let err = producer(&[("acks", "2")]).unwrap_err().to_string();
        assert_eq!(err, "acks=\"2\" is invalid: expected one of 0, 1, all, -1");
        let err = producer(&[("compression.type", "brotli")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("one of none, gzip, snappy, lz4, zstd"),
            "{err}"
        );
        let err = producer(&[("batch.size", "0")]).unwrap_err().to_string();
        assert!(err.starts_with("batch.size=\"0\" is invalid"), "{err}");
        let err = producer(&[("buffer.memory", "1"), ("queue.buffering.max.kbytes", "1")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("give the buffer's size once"), "{err}");
        let err = producer(&[("enable.idempotence", "true"), ("acks", "1")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs acks=all"), "{err}");
    }
}
