//! `kafkite bench produce`: sends `--count` values of `--size` bytes as
//! fast as the producer takes them and waits for every acknowledgement.

use std::time::Instant;

use bytes::Bytes;
use kafkite::properties::Properties;
use kafkite_smol::{ProducerRecord, Session};

use super::cpu::process_cpu_time;
use super::progress::Progress;
use super::summary::Summary;
use crate::args::BenchArgs;
use crate::deliveries::Deliveries;
use crate::error::CliError;
use crate::produce::start_producer;

/// Delivery futures kept before the oldest is awaited.
const MAX_PENDING: usize = 200_000;
/// Records between progress redraw checks (a clock read each).
const PROGRESS_EVERY: u64 = 256;

pub async fn run(
    session: &Session,
    topic: &str,
    args: &BenchArgs,
    properties: &Properties,
) -> Result<(), CliError> {
    let summary = produce(session, topic, args, properties, "produce").await?;
    println!("{summary}");
    Ok(())
}

/// Produces the bench's records to `topic` and measures it.
pub async fn produce(
    session: &Session,
    topic: &str,
    args: &BenchArgs,
    properties: &Properties,
    label: &'static str,
) -> Result<Summary, CliError> {
    let producer = start_producer(session, properties, args.acks, args.compression).await?;
    let values = ValuePool::new(args.size);
    let mut deliveries = Deliveries::new(MAX_PENDING);
    let mut progress = Progress::new(label, args.count);
    let cpu_before = process_cpu_time();
    let start = Instant::now();
    let topic: std::sync::Arc<str> = topic.into();
    for i in 0..args.count {
        let record = ProducerRecord {
            topic: topic.clone(),
            value: Some(values.value(i)),
            ..ProducerRecord::default()
        };
        let delivery = producer.send(record).await.map_err(CliError::send)?;
        deliveries.push(delivery).await;
        if i % PROGRESS_EVERY == 0 {
            progress.update(deliveries.delivered());
        }
    }
    // Waiting delivery by delivery (lingering batches go out by
    // themselves) keeps the bar moving until the last acknowledgement.
    while deliveries.settle_oldest().await {
        if deliveries.delivered().is_multiple_of(PROGRESS_EVERY) {
            progress.update(deliveries.delivered());
        }
    }
    producer
        .flush()
        .await
        .map_err(CliError::cluster("flushing the producer"))?;
    let delivered = deliveries.finish().await;
    let elapsed = start.elapsed();
    let cpu = process_cpu_time().saturating_sub(cpu_before);
    progress.finish();
    producer.close().await;
    let records = delivered?;
    Ok(Summary {
        verb: "produced",
        records,
        bytes: records * args.size as u64,
        elapsed,
        cpu,
    })
}

/// Values cut from one buffer of pseudo-random letters and digits, so they
/// cost no allocation each and compress about as well as text does, not
/// as a run of one byte would.
struct ValuePool {
    pool: Bytes,
    size: usize,
}

/// Distinct start offsets in the pool.
const POOL_SPREAD: usize = 4096;

impl ValuePool {
    fn new(size: usize) -> Self {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let pool: Vec<u8> = (0..size + POOL_SPREAD)
            .map(|_| {
                // xorshift64: deterministic, so runs compress alike.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ALPHABET[(state % ALPHABET.len() as u64) as usize]
            })
            .collect();
        ValuePool {
            pool: Bytes::from(pool),
            size,
        }
    }

    fn value(&self, i: u64) -> Bytes {
        let start = (i.wrapping_mul(61) % POOL_SPREAD as u64) as usize;
        self.pool.slice(start..start + self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_have_the_size_asked_and_vary() {
        let pool = ValuePool::new(100);
        assert_eq!(pool.value(0).len(), 100);
        assert_eq!(pool.value(u64::MAX).len(), 100);
        assert_ne!(pool.value(0), pool.value(1));
    }
}
