//! kafkite's async producer (kafkite-tokio) producing N records of S bytes
//! with no key, so its sticky partitioner spreads them over the topic's
//! partitions, as the Java client and librdkafka do for keyless records.
//!
//! `send` waits only for buffer space and returns a delivery future; the
//! bench keeps up to `--window` (default 100,000) of those futures and awaits
//! the oldest when the window is full, then `flush`es and awaits the rest,
//! so every record's acknowledgement is checked (as the other clients'
//! delivery callbacks do). `--send-batch N` hands records over N at a time
//! with `Producer::send_batch` instead (one future per call, each record's
//! outcome still checked); with `--packed`, each call's records are packed
//! into a `PackedRecords` and handed over with `Producer::send_packed`.
//!
//! `consume` reads partitions 0..P from offset 0 with `kafkite_tokio::Fetcher`
//! (explicit offsets, no group, nothing committed: the same work as
//! librdkafka's assigned consumer in kcat and rskafka's partition clients;
//! the envelope `Consumer` would add a group and a commit or ack per
//! envelope, which the others do not do here), default `FetchConfig`
//! (1 MiB per partition, 500 ms max wait, one fetch per leader broker with
//! each partition one fetch ahead), and stops after `--records` records (the
//! stream's limit), counting them and the bytes of their values.
//!
//! `-X key=value` (repeatable) are client properties under librdkafka's
//! names, applied with `kafkite::properties::Properties` on top of
//! `bootstrap.servers` = `--bootstrap`: the same `security.protocol`,
//! `sasl.*` and `ssl.*` settings kcat is given. Only client-scope
//! properties are taken (anything else would be silently unused, so it is
//! an error); the producer's and fetcher's settings stay the flags'.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use kafkite::producer::{Acks, Idempotence, PackedRecords, ProducerConfig, ProducerRecord};
use kafkite::properties::{Properties, Scope};
use kafkite_bench_e2e::{payload, usage_exit, Args, Mode, Report};
use kafkite_tokio::{
    ClientConfig, FetchConfig, FetchStart, Fetcher, IoThread, Producer, Session, TokioRuntime,
};

fn main() {
    let mut args = Args::parse().unwrap_or_else(|e| usage_exit(&e));
    if !std::env::args().any(|a| a == "--window") {
        args.window = 100_000;
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
    let mut config = ProducerConfig::default()
        .with_acks(match args.acks {
            0 => Acks::None,
            1 => Acks::Leader,
            _ => Acks::All,
        })
        .with_linger(args.linger)
        .with_batch_size(args.batch_size)
        .with_delivery_timeout(args.delivery_timeout)
        .with_idempotence(false);
    if args.acks == -1 {
        config = config.with_idempotence(true);
    }
    let mut report = Report {
        client: "kafkite",
        records: args.records,
        settings: vec![
            ("acks", args.acks.to_string()),
            ("linger_ms", config.linger.as_millis().to_string()),
            ("batch_size", config.batch_size.to_string()),
            ("buffer_memory", config.buffer_memory.to_string()),
            ("max_in_flight", config.max_in_flight.to_string()),
            (
                "idempotence",
                (config.idempotence != Idempotence::Off).to_string(),
            ),
            ("compression", format!("{:?}", config.compression)),
            (
                "delivery_timeout_ms",
                config.delivery_timeout.as_millis().to_string(),
            ),
            ("delivery_window", args.window.to_string()),
            ("send_batch", args.send_batch.to_string()),
            ("runtime", args.runtime.clone()),
            ("security", security_setting(args)),
            (
                "partitioning",
                "no key: kafkite's sticky partitioner".into(),
            ),
        ],
        ..Default::default()
    };
    let t0 = Instant::now();
    let (session, _io_thread) = match connect(args).await {
        Ok(s) => s,
        Err(e) => {
            report.failed = args.records;
            report.first_error = Some(format!("connect: {e}"));
            return report;
        }
    };
    // Learn the topic's partitions before the clock starts, as the other
    // clients do while connecting.
    if let Err(e) = session.add_topics(&[args.topic.as_str()]).await {
        report.failed = args.records;
        report.first_error = Some(format!("metadata: {e}"));
        return report;
    }
    let producer = match Producer::new(&session, config).await {
        Ok(p) => p,
        Err(e) => {
            report.failed = args.records;
            report.first_error = Some(format!("producer: {e}"));
            return report;
        }
    };
    report.connect_s = t0.elapsed().as_secs_f64();

    let value = Bytes::from(payload(args.record_size));
    // Shared by every record: cloning it is a reference count, not an
    // allocation.
    let topic: std::sync::Arc<str> = args.topic.as_str().into();
    let t1 = Instant::now();
    let mut pending = VecDeque::with_capacity(args.window.min(args.records as usize));
    let note = |r: Result<kafkite::producer::Delivery, kafkite::producer::ProduceError>,
                report: &mut Report| match r {
        Ok(_) => report.acked += 1,
        Err(e) => {
            report.failed += 1;
            report.first_error.get_or_insert_with(|| e.to_string());
        }
    };
    if args.send_batch > 0 {
        send_batches(&producer, args, &topic, &value, &mut report).await;
        report.produce_s = t1.elapsed().as_secs_f64();
        producer.close().await;
        session.close().await;
        return report;
    }
    for _ in 0..args.records {
        if pending.len() >= args.window {
            let oldest: kafkite_tokio::DeliveryFuture = pending.pop_front().unwrap();
            note(oldest.await, &mut report);
        }
        match producer
            .send(ProducerRecord::new(topic.clone()).value(value.clone()))
            .await
        {
            Ok(delivery) => pending.push_back(delivery),
            Err(e) => note(Err(e), &mut report),
        }
    }
    if let Err(e) = producer.flush().await {
        report
            .first_error
            .get_or_insert_with(|| format!("flush: {e}"));
    }
    for delivery in pending {
        note(delivery.await, &mut report);
    }
    report.produce_s = t1.elapsed().as_secs_f64();
    producer.close().await;
    session.close().await;
    report
}

/// A session on the current runtime, or with `--runtime io-thread` on an
/// `IoThread` of its own (kept alive by the caller until the session is
/// closed).
async fn connect(args: &Args) -> Result<(Session, Option<IoThread>), String> {
    let io = (args.runtime == "io-thread")
        .then(|| IoThread::start("kafkite-io"))
        .transpose()
        .map_err(|e| e.to_string())?;
    let runtime = io
        .as_ref()
        .map_or_else(TokioRuntime::default, IoThread::runtime);
    let config = client_config(args)?;
    let session = Session::connect_on(runtime, config)
        .await
        .map_err(|e| e.to_string())?;
    Ok((session, io))
}

/// The session's config: `bootstrap.servers` from `--bootstrap`, then the
/// `-X` properties in order (a later `-X bootstrap.servers` would replace
/// it). Without `-X` this is `ClientConfig::from_bootstrap(--bootstrap)`.
fn client_config(args: &Args) -> Result<ClientConfig, String> {
    if args.properties.is_empty() {
        return Ok(ClientConfig::from_bootstrap(&args.bootstrap));
    }
    let mut pairs = vec![("bootstrap.servers".to_string(), args.bootstrap.clone())];
    pairs.extend(args.properties.iter().cloned());
    let properties = Properties::from_pairs(pairs);
    let bad = |e: kafkite::properties::PropertyError| format!("-X properties: {e}");
    properties.check_scopes(&[Scope::Client]).map_err(bad)?;
    properties.client_config().map_err(bad)
}

/// The `-X` properties for the report, secrets left out.
fn security_setting(args: &Args) -> String {
    let shown: Vec<String> = args
        .properties
        .iter()
        .map(|(k, v)| {
            if k.contains("password") || k.contains("jaas") || k.ends_with(".pem") {
                format!("{k}=<redacted>")
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    if shown.is_empty() {
        "PLAINTEXT (no -X)".into()
    } else {
        shown.join(" ")
    }
}

/// `--send-batch N`: the records go out `N` at a time through
/// `Producer::send_batch`, with up to `--window` records' batches awaited
/// concurrently (the oldest awaited when full), as the per-record path does.
async fn send_batches(
    producer: &Producer,
    args: &Args,
    topic: &std::sync::Arc<str>,
    value: &Bytes,
    report: &mut Report,
) {
    let per_call = args.send_batch;
    let max_pending = (args.window / per_call).max(1);
    let mut pending: VecDeque<kafkite_tokio::BatchDeliveryFuture> = VecDeque::new();
    let note_all = |outcomes: kafkite_tokio::BatchDeliveries, report: &mut Report| {
        let failures = outcomes.failures();
        report.acked += (outcomes.len() - failures.len()) as u64;
        report.failed += failures.len() as u64;
        if let Some((_, e)) = failures.first() {
            report.first_error.get_or_insert_with(|| e.to_string());
        }
    };
    let mut left = args.records as usize;
    while left > 0 {
        if pending.len() >= max_pending {
            if let Some(oldest) = pending.pop_front() {
                note_all(oldest.await, report);
            }
        }
        let n = per_call.min(left);
        left -= n;
        let sent = if args.packed {
            let mut records = PackedRecords::with_capacity(topic.clone(), n, n * value.len());
            for _ in 0..n {
                records.push(None, Some(value));
            }
            producer.send_packed(records).await
        } else {
            let records = (0..n)
                .map(|_| ProducerRecord::new(topic.clone()).value(value.clone()))
                .collect();
            producer.send_batch(records).await
        };
        match sent {
            Ok(batch) => pending.push_back(batch),
            Err(e) => {
                report.failed += n as u64;
                report.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    if let Err(e) = producer.flush().await {
        report
            .first_error
            .get_or_insert_with(|| format!("flush: {e}"));
    }
    for batch in pending {
        note_all(batch.await, report);
    }
}

async fn consume(args: &Args) -> Report {
    let config = FetchConfig::default();
    let mut report = Report {
        client: "kafkite",
        records: args.records,
        settings: vec![
            (
                "api",
                "kafkite_tokio::Fetcher (explicit offsets, no group)".into(),
            ),
            ("start_offset", "0".into()),
            ("max_wait_ms", config.max_wait.as_millis().to_string()),
            ("min_bytes", config.min_bytes.to_string()),
            ("max_bytes", config.max_bytes.to_string()),
            (
                "partition_max_bytes",
                config.partition_max_bytes.to_string(),
            ),
            ("runtime", args.runtime.clone()),
            ("security", security_setting(args)),
            (
                "read",
                if args.chunks {
                    "Fetcher::fetch_chunks (a fetched chunk at a time, records borrowed from it)"
                } else {
                    "Fetcher::fetch (the record stream)"
                }
                .into(),
            ),
            ("stop", "after --records records (the stream limit)".into()),
        ],
        ..Default::default()
    };
    let t0 = Instant::now();
    let (session, _io_thread) = match connect(args).await {
        Ok(s) => s,
        Err(e) => {
            report.first_error = Some(format!("connect: {e}"));
            report.failed = 1;
            return report;
        }
    };
    if let Err(e) = session.add_topics(&[args.topic.as_str()]).await {
        report.first_error = Some(format!("metadata: {e}"));
        report.failed = 1;
        return report;
    }
    report.connect_s = t0.elapsed().as_secs_f64();

    let fetcher = Fetcher::new(&session, config);
    let starts = (0..args.partitions)
        .map(|p| FetchStart::new(args.topic.as_str(), p, Some(0)))
        .collect();
    let t1 = Instant::now();
    let limit = Some(args.records as usize);
    let (mut chunks, mut stream) = if args.chunks {
        (Some(fetcher.fetch_chunks(starts, limit)), None)
    } else {
        (None, Some(fetcher.fetch(starts, limit)))
    };
    if let Some(chunks) = &mut chunks {
        while let Some(item) = chunks.next().await {
            match item {
                Ok(chunk) => {
                    for record in chunk.iter() {
                        count_read(&mut report, record.value());
                    }
                }
                Err(e) if note_read_error(&mut report, &e) => break,
                Err(_) => {}
            }
        }
    }
    if let Some(stream) = &mut stream {
        while let Some(item) = stream.next().await {
            match item {
                Ok(record) => count_read(&mut report, record.value.as_deref()),
                Err(e) if note_read_error(&mut report, &e) => break,
                Err(_) => {}
            }
        }
    }
    report.produce_s = t1.elapsed().as_secs_f64();
    let t2 = Instant::now();
    drop((chunks, stream));
    session.close().await;
    report.close_s = t2.elapsed().as_secs_f64();
    report
}

fn count_read(report: &mut Report, value: Option<&[u8]>) {
    report.consumed += 1;
    report.value_bytes += value.map_or(0, |v| v.len() as u64);
}

/// Notes an error read from the stream; true when it ends the run (the
/// session closed). Fetch errors are reported and reading goes on (the
/// fetcher retries); the run fails on any.
fn note_read_error(report: &mut Report, error: &kafkite_tokio::Error) -> bool {
    report.failed += 1;
    let closed = matches!(error, kafkite_tokio::Error::Closed);
    report.first_error.get_or_insert_with(|| {
        if closed {
            "session closed".into()
        } else {
            error.to_string()
        }
    });
    closed
}
