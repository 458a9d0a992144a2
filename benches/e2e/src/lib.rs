//! Shared pieces of the end-to-end bench clients: the command line every
//! client binary takes, the record payload, and the one `RESULT {json}` line
//! each prints for `scripts/bench_e2e.py`.
//!
//! ```text
//! <client>-bench produce|consume --bootstrap HOST:PORT --topic T [--records N]
//!     [--record-size BYTES] [--partitions P] [--linger-ms MS]
//!     [--batch-size BYTES] [--acks 0|1|all] [--runtime multi|current|io-thread]
//!     [--window N] [--delivery-timeout-ms MS] [-X key=value]...
//! ```
//!
//! `produce` writes `--records` records of `--record-size` bytes; `consume`
//! reads partitions `0..--partitions` of a topic that already holds
//! `--records` records, from offset 0, and reports how many it read and the
//! sum of their value lengths (the producer flags are ignored there).
//!
//! `-X key=value` (repeatable) are client properties under librdkafka's
//! names (`security.protocol`, `ssl.ca.location`, `sasl.mechanisms`, ...),
//! for kafkite-bench, which builds its `ClientConfig` from them through
//! `kafkite::properties::Properties` (with `bootstrap.servers` from
//! `--bootstrap`); rskafka-bench refuses them.

use std::fmt::Write as _;
use std::time::Duration;

/// What the bench does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Produce,
    /// Read a loaded topic from the beginning, no group, nothing committed.
    Consume,
}

#[derive(Debug, Clone)]
pub struct Args {
    pub mode: Mode,
    pub bootstrap: String,
    pub topic: String,
    pub records: u64,
    pub record_size: usize,
    pub partitions: i32,
    pub linger: Duration,
    pub batch_size: usize,
    /// 0, 1 or -1 (all).
    pub acks: i16,
    /// tokio runtime flavour: `multi` (the `#[tokio::main]` default: one
    /// worker per core), `current` (one thread) or, for kafkite-bench,
    /// `io-thread` (the bench's loop on a current-thread runtime, the
    /// driver's tasks on a `kafkite_tokio::IoThread`).
    pub runtime: String,
    /// Records awaited concurrently, for clients whose send waits for the
    /// acknowledgement (rskafka): per partition.
    pub window: usize,
    /// Limit from send to acknowledgement, where the client has one
    /// (`delivery.timeout.ms`).
    pub delivery_timeout: Duration,
    /// kafkite only: records per `Producer::send_batch` call; 0 sends each
    /// record with its own `send`.
    pub send_batch: usize,
    /// kafkite only, consume: read through `Fetcher::fetch_chunks` (a
    /// fetched chunk at a time) instead of the per-record stream.
    pub chunks: bool,
    /// kafkite only, with `--send-batch`: pack each call's records into a
    /// `PackedRecords` for `Producer::send_packed`.
    pub packed: bool,
    /// `-X key=value` client properties, in order (kafkite only).
    pub properties: Vec<(String, String)>,
}

pub const USAGE: &str = "usage: <client>-bench produce|consume --bootstrap HOST:PORT --topic T \
[--records N] [--record-size BYTES] [--partitions P] [--linger-ms MS] [--batch-size BYTES] \
[--acks 0|1|all] [--runtime multi|current|io-thread] [--window N] [--delivery-timeout-ms MS] \
[--send-batch N] [--packed] [--chunks] [-X key=value]...";

impl Args {
    pub fn parse() -> Result<Args, String> {
        Self::parse_from(std::env::args().skip(1))
    }

    pub fn parse_from(argv: impl IntoIterator<Item = String>) -> Result<Args, String> {
        let mut it = argv.into_iter();
        let mode = match it.next().as_deref() {
            Some("produce") => Mode::Produce,
            Some("consume") => Mode::Consume,
            Some(other) => return Err(format!("unknown mode {other:?} (known: produce, consume)")),
            None => return Err("missing mode".into()),
        };
        let mut args = Args {
            mode,
            bootstrap: String::new(),
            topic: String::new(),
            records: 1_000_000,
            record_size: 100,
            partitions: 3,
            linger: Duration::from_millis(5),
            batch_size: 64 * 1024,
            acks: 1,
            runtime: "multi".into(),
            window: 20_000,
            delivery_timeout: Duration::from_secs(120),
            send_batch: 0,
            chunks: false,
            packed: false,
            properties: Vec::new(),
        };
        while let Some(flag) = it.next() {
            if flag == "--chunks" {
                args.chunks = true;
                continue;
            }
            if flag == "--packed" {
                args.packed = true;
                continue;
            }
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let bad = |e: &dyn std::fmt::Display| format!("{flag} {value:?}: {e}");
            match flag.as_str() {
                "--bootstrap" => args.bootstrap = value,
                "--topic" => args.topic = value,
                "--records" => args.records = value.parse().map_err(|e| bad(&e))?,
                "--record-size" => args.record_size = value.parse().map_err(|e| bad(&e))?,
                "--partitions" => args.partitions = value.parse().map_err(|e| bad(&e))?,
                "--linger-ms" => {
                    args.linger = Duration::from_millis(value.parse().map_err(|e| bad(&e))?)
                }
                "--batch-size" => args.batch_size = value.parse().map_err(|e| bad(&e))?,
                "--acks" => {
                    args.acks = match value.as_str() {
                        "0" => 0,
                        "1" => 1,
                        "all" | "-1" => -1,
                        _ => return Err(bad(&"expected 0, 1 or all")),
                    }
                }
                "--runtime" => match value.as_str() {
                    "multi" | "current" | "io-thread" => args.runtime = value,
                    _ => return Err(bad(&"expected multi, current or io-thread")),
                },
                "--window" => args.window = value.parse().map_err(|e| bad(&e))?,
                "--send-batch" => args.send_batch = value.parse().map_err(|e| bad(&e))?,
                "--delivery-timeout-ms" => {
                    args.delivery_timeout =
                        Duration::from_millis(value.parse().map_err(|e| bad(&e))?)
                }
                "-X" => match value.split_once('=') {
                    Some((key, v)) if !key.trim().is_empty() => args
                        .properties
                        .push((key.trim().to_string(), v.to_string())),
                    _ => return Err(bad(&"expected key=value")),
                },
                _ => return Err(format!("unknown flag {flag}")),
            }
        }
        if args.bootstrap.is_empty() || args.topic.is_empty() {
            return Err("--bootstrap and --topic are required".into());
        }
        if args.partitions < 1 || args.window < 1 {
            return Err("--partitions and --window must be at least 1".into());
        }
        Ok(args)
    }

    /// A tokio runtime of the chosen flavour, IO and time enabled.
    pub fn tokio_runtime(&self) -> tokio::runtime::Runtime {
        let mut builder = if self.runtime != "multi" {
            tokio::runtime::Builder::new_current_thread()
        } else {
            tokio::runtime::Builder::new_multi_thread()
        };
        builder.enable_all().build().expect("tokio runtime")
    }

    /// Records for partition `p` when they are split evenly by hand.
    pub fn records_for_partition(&self, p: i32) -> u64 {
        let n = self.partitions as u64;
        self.records / n + u64::from((p as u64) < self.records % n)
    }
}

/// The value of every record: `size` printable bytes, the same for all
/// records (the Java ProducerPerformance tool also sends one payload).
pub fn payload(size: usize) -> Vec<u8> {
    (0..size).map(|i| b'a' + (i % 26) as u8).collect()
}

/// What a client reports; printed as `RESULT {json}` on stdout.
#[derive(Debug, Default)]
pub struct Report {
    pub client: &'static str,
    pub records: u64,
    pub acked: u64,
    pub failed: u64,
    /// Consume mode: records read, and the sum of their value lengths.
    pub consumed: u64,
    pub value_bytes: u64,
    /// Seconds from process start of the bench work (before connecting)
    /// to connected and ready to send.
    pub connect_s: f64,
    /// Seconds from the first send to the last acknowledgement (produce),
    /// or from the first fetch to the last record read (consume).
    pub produce_s: f64,
    /// Seconds spent closing the client after the work (where it has a
    /// close; 0 otherwise).
    pub close_s: f64,
    pub first_error: Option<String>,
    pub settings: Vec<(&'static str, String)>,
}

impl Report {
    pub fn print(&self) {
        let mut s = String::new();
        let _ = write!(
            s,
            "RESULT {{\"client\":\"{}\",\"records\":{},\"acked\":{},\"failed\":{},\"connect_s\":{:.6},\"produce_s\":{:.6},\"consumed\":{},\"value_bytes\":{},\"close_s\":{:.6}",
            self.client,
            self.records,
            self.acked,
            self.failed,
            self.connect_s,
            self.produce_s,
            self.consumed,
            self.value_bytes,
            self.close_s
        );
        s.push_str(",\"first_error\":");
        match &self.first_error {
            Some(e) => push_json_str(&mut s, e),
            None => s.push_str("null"),
        }
        s.push_str(",\"settings\":{");
        for (i, (k, v)) in self.settings.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            push_json_str(&mut s, k);
            s.push(':');
            push_json_str(&mut s, v);
        }
        s.push_str("}}");
        println!("{s}");
    }
}

fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Prints the usage and the error, exits 2.
pub fn usage_exit(err: &str) -> ! {
    eprintln!("error: {err}\n{USAGE}");
    std::process::exit(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Args, String> {
        Args::parse_from(s.split_whitespace().map(String::from))
    }

    #[test]
    fn parses_and_splits() {
        let a = parse("produce --bootstrap h:1 --topic t --records 10 --acks all --linger-ms 7")
            .unwrap();
        assert_eq!(a.acks, -1);
        assert_eq!(a.linger, Duration::from_millis(7));
        let split: Vec<u64> = (0..3).map(|p| a.records_for_partition(p)).collect();
        assert_eq!(split, [4, 3, 3]);
        assert_eq!(
            parse("consume --bootstrap h:1 --topic t").unwrap().mode,
            Mode::Consume
        );
        let chunks = parse("consume --bootstrap h:1 --chunks --topic t --records 5").unwrap();
        assert!(chunks.chunks && chunks.records == 5 && chunks.topic == "t");
        assert!(!parse("consume --bootstrap h:1 --topic t").unwrap().chunks);
        let packed = parse("produce --bootstrap h:1 --send-batch 9 --packed --topic t").unwrap();
        assert!(packed.packed && packed.send_batch == 9 && packed.topic == "t");
        assert!(parse("fetch --bootstrap h:1 --topic t").is_err());
        assert!(parse("produce --topic t").is_err());
        assert!(parse("produce --bootstrap h:1 --topic t --acks 2").is_err());
        let x = parse("consume --bootstrap h:1 -X security.protocol=SASL_SSL --topic t -X a=b=c")
            .unwrap();
        assert_eq!(
            x.properties,
            [
                ("security.protocol".to_string(), "SASL_SSL".to_string()),
                ("a".to_string(), "b=c".to_string())
            ]
        );
        assert!(parse("produce --bootstrap h:1 --topic t -X novalue").is_err());
        assert!(parse("produce --bootstrap h:1 --topic t -X =v").is_err());
        assert!(parse("produce --bootstrap h:1 --topic t -X").is_err());
    }

    #[test]
    fn json_escapes() {
        let mut s = String::new();
        push_json_str(&mut s, "a\"b\\c\n");
        assert_eq!(s, "\"a\\\"b\\\\c\\u000a\"");
    }
}
