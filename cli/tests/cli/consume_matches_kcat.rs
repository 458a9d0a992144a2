//! `kafkite consume -f FORMAT` prints exactly what kcat (librdkafka 2.16)
//! prints with the same format over the same records: keys, null and
//! empty keys, null values, headers (null and empty values included),
//! bytes that are not UTF-8, every codec; and `-o`, `-c`, `-e`, `-G`.

use super::support::{
    assert_same, kafka, kafkite, kafkite_consume, kcat_consume, kcat_produce, new_topic, run,
    sorted_lines,
};

/// Every token at once.
const FULL: &str = r"topic=%t p=%p o=%o key=%k K=%K value=%s S=%S headers=%h ts=%T\n";
/// Escapes, %%, the binary length and no trailing newline.
const ODD: &str = r"%R%s\x41\101\t%%|%k\n";

/// kcat -K: -Z input: `k:` has a null value, `:` a null key and value,
/// a line without `:` a null key.
const INPUT: &[u8] = b"k1:v1\nnokey\n:v-empty-key-is-null-with-Z\nk2:\nk3:v:with:colons\n\
\xffbin\x01:\x00\xfe\n\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87:\xd0\xb7\xd0\xbd\xd0\xb0\xd1\x87\n";

fn kcat_fill(topic: &str, codec: &str) {
    kcat_produce(
        topic,
        &[
            "-K", ":", "-Z", "-z", codec, "-H", "a=1", "-H", "n", "-H", "e=", "-H", "a=2",
        ],
        INPUT,
    );
    // A second batch without headers, so %h also prints nothing.
    kcat_produce(topic, &["-K", ":", "-z", codec], b"plain:record\nlast\n");
}

#[test]
fn every_codec_prints_what_kcat_prints() {
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = new_topic(&format!("cli-consume-{codec}"), 1);
        kcat_fill(&topic, codec);
        for format in [FULL, ODD] {
            let ours = kafkite_consume(&topic, &["-f", format]);
            assert!(!ours.is_empty(), "{codec}: nothing consumed");
            assert_same(&ours, &kcat_consume(&topic, format));
        }
    }
}

#[test]
fn the_default_format_is_kcats() {
    let topic = new_topic("cli-consume-default", 1);
    kcat_fill(&topic, "none");
    let ours = kafkite_consume(&topic, &[]);
    ensure_kcat_default_matches(&topic, &ours);
}

fn ensure_kcat_default_matches(topic: &str, ours: &[u8]) {
    kafkite_testkit::ensure_kcat().expect("kcat");
    let mut cmd = kafkite_testkit::kcat();
    cmd.args(["-C", "-b", kafka(), "-t", topic, "-e", "-q"]);
    let theirs = run(cmd, b"").success();
    assert_same(ours, &theirs);
}

#[test]
fn records_from_kafkite_produce_print_alike() {
    let topic = new_topic("cli-consume-own", 1);
    let out = run(
        kafkite(&[
            "-b",
            kafka(),
            "produce",
            "-t",
            &topic,
            "-K",
            ":",
            "-H",
            "h=v",
            "-z",
            "zstd",
        ]),
        INPUT,
    )
    .success();
    assert!(out.is_empty());
    assert_same(
        &kafkite_consume(&topic, &["-f", FULL]),
        &kcat_consume(&topic, FULL),
    );
}

#[test]
fn many_partitions_print_the_same_lines() {
    let topic = new_topic("cli-consume-spread", 3);
    for p in ["0", "1", "2"] {
        kcat_produce(&topic, &["-p", p, "-K", ":", "-z", "lz4"], INPUT);
    }
    let ours = kafkite_consume(&topic, &["-f", FULL]);
    let theirs = kcat_consume(&topic, FULL);
    assert_eq!(sorted_lines(&ours), sorted_lines(&theirs));
    let one = kafkite_consume(&topic, &["-f", FULL, "-p", "1"]);
    let lines = sorted_lines(&one);
    assert_eq!(lines.len(), 7, "{}", String::from_utf8_lossy(&one));
    assert!(lines.iter().all(|l| l.windows(4).any(|w| w == b" p=1")));
}

#[test]
fn offsets_and_counts_pick_the_same_records_as_kcat() {
    let topic = new_topic("cli-consume-offsets", 1);
    kcat_produce(&topic, &[], b"r0\nr1\nr2\nr3\nr4\n");
    let f = r"%o:%s\n";
    assert_same(
        &kafkite_consume(&topic, &["-f", f, "-o", "2"]),
        b"2:r2\n3:r3\n4:r4\n",
    );
    assert_same(
        &kafkite_consume(&topic, &["-f", f, "-o", "-2"]),
        b"3:r3\n4:r4\n",
    );
    assert_same(&kafkite_consume(&topic, &["-f", f, "-o", "end"]), b"");
    assert_same(
        &kafkite_consume(&topic, &["-f", f, "-c", "2"]),
        b"0:r0\n1:r1\n",
    );
    assert_same(
        &kafkite_consume(&topic, &["-f", f, "-o", "beginning", "-c", "9"]),
        b"0:r0\n1:r1\n2:r2\n3:r3\n4:r4\n",
    );
}

#[test]
fn an_offset_outside_the_log_is_one_line() {
    let topic = new_topic("cli-consume-range", 1);
    kcat_produce(&topic, &[], b"a\nb\n");
    let finished = run(
        kafkite(&["-b", kafka(), "consume", "-t", &topic, "-o", "999", "-e"]),
        b"",
    );
    assert_eq!(finished.status.code(), Some(1));
    finished.one_line_error("offset 999 is outside");
}

#[test]
fn consuming_a_missing_topic_is_one_line() {
    let topic = kafkite_testkit::unique_name("cli-consume-missing");
    run(
        kafkite(&["-b", kafka(), "consume", "-t", &topic, "-e"]),
        b"",
    )
    .one_line_error("does not exist");
}

#[test]
fn a_group_resumes_where_it_committed() {
    let topic = new_topic("cli-consume-group", 2);
    let group = kafkite_testkit::unique_name("cli-group");
    kcat_produce(&topic, &["-p", "0"], b"a\nb\n");
    kcat_produce(&topic, &["-p", "1"], b"c\n");
    let f = r"%p:%o:%s\n";
    let first = kafkite_consume(&topic, &["-G", &group, "-f", f]);
    assert_eq!(sorted_lines(&first), sorted_lines(b"0:0:a\n0:1:b\n1:0:c\n"));
    // Everything was committed: nothing is left.
    assert_same(&kafkite_consume(&topic, &["-G", &group, "-f", f]), b"");
    kcat_produce(&topic, &["-p", "1"], b"d\n");
    assert_same(
        &kafkite_consume(&topic, &["-G", &group, "-f", f]),
        b"1:1:d\n",
    );
    // -o moves the group.
    let again = kafkite_consume(
        &topic,
        &["-G", &group, "-f", f, "-o", "beginning", "-p", "0"],
    );
    assert_same(&again, b"0:0:a\n0:1:b\n");
    let described = run(kafkite(&["-b", kafka(), "groups", "describe", &group]), b"").success();
    let described = String::from_utf8_lossy(&described);
    assert!(
        described.contains(&format!("group {group:?}")),
        "{described}"
    );
}

#[test]
fn a_group_with_a_count_commits_only_what_it_printed() {
    let topic = new_topic("cli-consume-group-count", 1);
    let group = kafkite_testkit::unique_name("cli-group");
    kcat_produce(&topic, &[], b"a\nb\nc\n");
    let f = r"%o:%s\n";
    assert_same(
        &kafkite_consume(&topic, &["-G", &group, "-f", f, "-c", "2"]),
        b"0:a\n1:b\n",
    );
    assert_same(&kafkite_consume(&topic, &["-G", &group, "-f", f]), b"2:c\n");
}

#[test]
fn a_key_delimiter_prints_keys_like_kcat() {
    let topic = new_topic("cli-consume-keys", 1);
    kcat_fill(&topic, "gzip");
    for delimiter in ["::", r"\t", "%%"] {
        let ours = kafkite_consume(&topic, &["-K", delimiter]);
        kafkite_testkit::ensure_kcat().expect("kcat");
        let mut cmd = kafkite_testkit::kcat();
        cmd.args([
            "-C",
            "-b",
            kafka(),
            "-t",
            &topic,
            "-e",
            "-q",
            "-K",
            delimiter,
        ]);
        assert_same(&ours, &run(cmd, b"").success());
    }
}
