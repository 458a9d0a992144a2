//! Records produced by `kafkite produce` come back from kcat (librdkafka
//! 2.16) unchanged: keys split with -K, null keys, empty keys and values,
//! headers with null and empty values, bytes that are not UTF-8, with
//! every codec.

use super::support::{assert_same, kafka, kafkite, kcat_consume, new_topic, run, sorted_lines};

/// Input lines and what kcat must print for each with [`FORMAT`].
const CASES: &[(&[u8], &[u8])] = &[
    (b"k1:v1", b"2:k1|2:v1"),
    (b"nokey", b"-1:|5:nokey"),
    (b":emptykey", b"0:|8:emptykey"),
    (b"k2:", b"2:k2|0:"),
    (b"k3:v:with:colons", b"2:k3|13:v:with:colons"),
    ("ключ:значение".as_bytes(), "8:ключ|16:значение".as_bytes()),
    (b"\xffbin\x01:\x00\xfe", b"5:\xffbin\x01|2:\x00\xfe"),
    (b"tab\there:x y", b"8:tab\there|3:x y"),
];

/// Key and value with their lengths (-1 for null), then the headers.
const FORMAT: &str = r"%K:%k|%S:%s|%h\n";
const HEADERS: &str = "a=1,n=NULL,e=,a=2";

fn input() -> Vec<u8> {
    let mut input = Vec::new();
    for (line, _) in CASES {
        input.extend_from_slice(line);
        input.push(b'\n');
        // kcat skips empty lines; so does kafkite.
        input.push(b'\n');
    }
    input
}

fn expected() -> Vec<u8> {
    let mut out = Vec::new();
    for (_, printed) in CASES {
        out.extend_from_slice(printed);
        out.push(b'|');
        out.extend_from_slice(HEADERS.as_bytes());
        out.push(b'\n');
    }
    out
}

fn produce(topic: &str, codec: &str, extra: &[&str]) {
    let mut args = vec![
        "-b",
        kafka(),
        "produce",
        "-t",
        topic,
        "-K",
        ":",
        "-H",
        "a=1",
        "-H",
        "n",
        "-H",
        "e=",
        "-H",
        "a=2",
        "-z",
        codec,
    ];
    args.extend_from_slice(extra);
    let out = run(kafkite(&args), &input()).success();
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
}

#[test]
fn every_codec_round_trips_through_kcat() {
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = new_topic(&format!("cli-produce-{codec}"), 1);
        produce(&topic, codec, &[]);
        assert_same(&kcat_consume(&topic, FORMAT), &expected());
    }
}

#[test]
fn the_partitioner_spreads_records_kcat_reads_back_all_of_them() {
    let topic = new_topic("cli-produce-spread", 3);
    produce(&topic, "lz4", &["--acks", "1"]);
    let printed = kcat_consume(&topic, FORMAT);
    assert_eq!(sorted_lines(&printed), sorted_lines(&expected()));
}

#[test]
fn an_explicit_partition_gets_every_record() {
    let topic = new_topic("cli-produce-partition", 3);
    produce(&topic, "none", &["-p", "2"]);
    let printed = kcat_consume(&topic, r"%p\n");
    assert_same(&printed, &b"2\n".repeat(CASES.len()));
}

#[test]
fn without_a_key_delimiter_the_whole_line_is_the_value() {
    let topic = new_topic("cli-produce-nokey", 1);
    let out = run(
        kafkite(&["-b", kafka(), "produce", "-t", &topic]),
        b"a:b\nlast line without newline",
    )
    .success();
    assert!(out.is_empty());
    assert_same(
        &kcat_consume(&topic, r"%K|%s|%h\n"),
        b"-1|a:b|\n-1|last line without newline|\n",
    );
}

#[test]
fn offsets_show_what_was_produced() {
    let topic = new_topic("cli-offsets", 2);
    run(
        kafkite(&["-b", kafka(), "produce", "-t", &topic, "-p", "1"]),
        b"a\nb\nc\n",
    )
    .success();
    let out = run(kafkite(&["-b", kafka(), "offsets", &topic]), b"").success();
    assert_eq!(
        String::from_utf8_lossy(&out),
        format!("topic\tpartition\tearliest\tlatest\n{topic}\t0\t0\t0\n{topic}\t1\t0\t3\n")
    );
}
