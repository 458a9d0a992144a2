//! rskafka (crates.io) producing N records of S bytes to P partitions: one
//! `BatchProducer` (with its `RecordAggregator`) per partition, the
//! partitions driven concurrently. rskafka has no partitioner, so records are
//! split evenly over the partitions by hand. Each `produce` call resolves
//! when its batch is acknowledged, so up to `--window` calls per partition
//! are kept in flight.
//!
//! rskafka always sends acks=-1 (all) with a 30 s timeout; on a broker with
//! one replica that is the same wait as acks=1. `--acks` is recorded, not
//! applied.
//!
//! `consume` reads partitions 0..P concurrently, one `PartitionClient` each,
//! from offset 0 with `fetch_records(offset, 1..1 MiB, 500 ms)` in a loop,
//! one request at a time per partition (rskafka's own `StreamConsumer`
//! does the same), until the next offset reaches the high watermark the
//! fetch response carries (end of the partition, as kcat -e stops).

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use futures::stream::{FuturesUnordered, StreamExt};
use kafkite_bench_e2e::{payload, usage_exit, Args, Mode, Report};
use rskafka::client::partition::UnknownTopicHandling;
use rskafka::client::producer::aggregator::RecordAggregator;
use rskafka::client::producer::BatchProducerBuilder;
use rskafka::client::ClientBuilder;
use rskafka::record::Record;
use rskafka::BackoffConfig;

fn main() {
    let args = Args::parse().unwrap_or_else(|e| usage_exit(&e));
    if args.runtime == "io-thread" {
        usage_exit("--runtime io-thread is kafkite's (rskafka runs on the bench's runtime)");
    }
    if !args.properties.is_empty() {
        usage_exit("-X is kafkite-bench's (this bench connects over PLAINTEXT only)");
    }
    let rt = args.tokio_runtime();
    let report = match args.mode {
        Mode::Produce => rt.block_on(produce(&args)),
        Mode::Consume => rt.block_on(consume(&args)),
    };
    report.print();
    let done = match args.mode {
        Mode::Produce => report.acked,
        Mode::Consume => report.consumed,
    };
    std::process::exit(if report.failed == 0 && done == report.records {
        0
    } else {
        1
    });
}

async fn produce(args: &Args) -> Report {
    let mut report = Report {
        client: "rskafka",
        records: args.records,
        settings: vec![
            (
                "acks",
                "-1 (rskafka always asks for all; 1 replica here)".into(),
            ),
            ("linger_ms", args.linger.as_millis().to_string()),
            ("aggregator_max_batch_bytes", args.batch_size.to_string()),
            ("window_per_partition", args.window.to_string()),
            ("runtime", args.runtime.clone()),
            (
                "retry_deadline_ms",
                args.delivery_timeout.as_millis().to_string(),
            ),
            (
                "partitioning",
                "even split, one BatchProducer per partition".into(),
            ),
        ],
        ..Default::default()
    };
    let t0 = Instant::now();
    let backoff = BackoffConfig {
        deadline: Some(args.delivery_timeout),
        ..Default::default()
    };
    let client = match ClientBuilder::new(vec![args.bootstrap.clone()])
        .backoff_config(backoff)
        .build()
        .await
    {
        Ok(c) => c,
        Err(e) => {
            report.failed = args.records;
            report.first_error = Some(format!("connect: {e}"));
            return report;
        }
    };
    let mut producers = Vec::new();
    for p in 0..args.partitions {
        match client
            .partition_client(args.topic.clone(), p, UnknownTopicHandling::Retry)
            .await
        {
            Ok(pc) => producers.push(
                BatchProducerBuilder::new(Arc::new(pc))
                    .with_linger(args.linger)
                    .build(RecordAggregator::new(args.batch_size)),
            ),
            Err(e) => {
                report.failed = args.records;
                report.first_error = Some(format!("partition client {p}: {e}"));
                return report;
            }
        }
    }
    report.connect_s = t0.elapsed().as_secs_f64();

    let value = payload(args.record_size);
    let t1 = Instant::now();
    let mut tasks = Vec::new();
    for (p, producer) in producers.into_iter().enumerate() {
        let n = args.records_for_partition(p as i32);
        let value = value.clone();
        let window = args.window;
        tasks.push(tokio::spawn(async move {
            let mut acked = 0u64;
            let mut failed = 0u64;
            let mut first_error = None;
            let mut note = |r: Result<i64, rskafka::client::producer::Error>| match r {
                Ok(_) => acked += 1,
                Err(e) => {
                    failed += 1;
                    first_error.get_or_insert_with(|| e.to_string());
                }
            };
            let mut in_flight = FuturesUnordered::new();
            for _ in 0..n {
                if in_flight.len() >= window {
                    if let Some(r) = in_flight.next().await {
                        note(r);
                    }
                }
                let record = Record {
                    key: None,
                    value: Some(value.clone()),
                    headers: Default::default(),
                    timestamp: Utc::now(),
                };
                let producer = &producer;
                in_flight.push(async move { producer.produce(record).await });
            }
            while let Some(r) = in_flight.next().await {
                note(r);
            }
            drop(in_flight);
            (acked, failed, first_error)
        }));
    }
    for t in tasks {
        match t.await {
            Ok((a, f, e)) => {
                report.acked += a;
                report.failed += f;
                if report.first_error.is_none() {
                    report.first_error = e;
                }
            }
            Err(e) => {
                report
                    .first_error
                    .get_or_insert_with(|| format!("task: {e}"));
            }
        }
    }
    report.produce_s = t1.elapsed().as_secs_f64();
    report
}

async fn consume(args: &Args) -> Report {
    const PARTITION_MAX_BYTES: i32 = 1024 * 1024;
    const MAX_WAIT_MS: i32 = 500;
    let mut report = Report {
        client: "rskafka",
        records: args.records,
        settings: vec![
            ("api", "PartitionClient::fetch_records per partition".into()),
            ("start_offset", "0".into()),
            ("fetch_bytes", format!("1..{PARTITION_MAX_BYTES}")),
            ("max_wait_ms", MAX_WAIT_MS.to_string()),
            ("runtime", args.runtime.clone()),
            ("stop", "per partition at the fetch high watermark".into()),
        ],
        ..Default::default()
    };
    let t0 = Instant::now();
    let client = match ClientBuilder::new(vec![args.bootstrap.clone()])
        .build()
        .await
    {
        Ok(c) => c,
        Err(e) => {
            report.failed = 1;
            report.first_error = Some(format!("connect: {e}"));
            return report;
        }
    };
    let mut clients = Vec::new();
    for p in 0..args.partitions {
        match client
            .partition_client(args.topic.clone(), p, UnknownTopicHandling::Retry)
            .await
        {
            Ok(pc) => clients.push(pc),
            Err(e) => {
                report.failed = 1;
                report.first_error = Some(format!("partition client {p}: {e}"));
                return report;
            }
        }
    }
    report.connect_s = t0.elapsed().as_secs_f64();

    let t1 = Instant::now();
    let mut tasks = Vec::new();
    for pc in clients {
        tasks.push(tokio::spawn(async move {
            let mut offset = 0i64;
            let mut count = 0u64;
            let mut bytes = 0u64;
            loop {
                match pc
                    .fetch_records(offset, 1..PARTITION_MAX_BYTES, MAX_WAIT_MS)
                    .await
                {
                    Ok((records, high_watermark)) => {
                        for r in records {
                            if r.offset < offset {
                                continue;
                            }
                            offset = r.offset + 1;
                            count += 1;
                            bytes += r.record.value.as_ref().map_or(0, |v| v.len() as u64);
                        }
                        if offset >= high_watermark {
                            return (count, bytes, None);
                        }
                    }
                    Err(e) => return (count, bytes, Some(e.to_string())),
                }
            }
        }));
    }
    for t in tasks {
        match t.await {
            Ok((count, bytes, error)) => {
                report.consumed += count;
                report.value_bytes += bytes;
                if let Some(e) = error {
                    report.failed += 1;
                    report.first_error.get_or_insert(e);
                }
            }
            Err(e) => {
                report.failed += 1;
                report
                    .first_error
                    .get_or_insert_with(|| format!("task: {e}"));
            }
        }
    }
    report.produce_s = t1.elapsed().as_secs_f64();
    report
}
