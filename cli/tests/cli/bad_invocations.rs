//! A bad invocation ends with one clear line on stderr and a non-zero
//! exit: never a panic, a backtrace or clap's page of usage.

use kafkite_testkit::free_port;

use super::support::{kafka, kafkite, new_topic, run};

#[test]
fn an_unknown_flag_is_one_line_and_exit_2() {
    let finished = run(kafkite(&["produce", "-t", "x", "--bogus"]), b"");
    assert_eq!(finished.status.code(), Some(2));
    finished.one_line_error("--bogus");
}

#[test]
fn a_missing_subcommand_is_one_line() {
    run(kafkite(&[]), b"").one_line_error("subcommand");
}

#[test]
fn an_unreachable_broker_is_one_line_naming_it() {
    // A port that was free a moment ago: nothing listens there.
    let port = free_port().expect("a free port");
    let broker = format!("127.0.0.1:{port}");
    let finished = run(kafkite(&["-b", &broker, "-m", "2", "topics", "list"]), b"");
    assert_eq!(finished.status.code(), Some(1));
    let line = finished.one_line_error("cannot reach the cluster");
    assert!(line.contains(&broker), "{line}");
}

#[test]
fn no_broker_at_all_says_how_to_give_one() {
    run(kafkite(&["topics", "list"]), b"").one_line_error("KAFKA_BOOTSTRAP");
}

#[test]
fn kafka_bootstrap_is_the_default_for_b() {
    let topic = new_topic("cli-env", 1);
    let mut cmd = kafkite(&["topics", "list"]);
    cmd.env("KAFKA_BOOTSTRAP", kafka());
    let out = run(cmd, b"").success();
    let listed = String::from_utf8_lossy(&out);
    assert!(listed.lines().any(|l| l == topic), "{listed}");
}

#[test]
fn producing_to_a_missing_topic_is_one_line_naming_it() {
    let topic = kafkite_testkit::unique_name("cli-missing");
    let finished = run(kafkite(&["-b", kafka(), "produce", "-t", &topic]), b"x\n");
    assert_eq!(finished.status.code(), Some(1));
    let line = finished.one_line_error("does not exist");
    assert!(line.contains(&topic), "{line}");
}

#[test]
fn offsets_of_a_missing_topic_is_one_line() {
    let topic = kafkite_testkit::unique_name("cli-missing");
    run(kafkite(&["-b", kafka(), "offsets", &topic]), b"").one_line_error("does not exist");
}

#[test]
fn a_partition_the_topic_does_not_have_is_one_line() {
    let topic = new_topic("cli-partition", 2);
    let finished = run(
        kafkite(&["-b", kafka(), "produce", "-t", &topic, "-p", "7"]),
        b"x\n",
    );
    finished.one_line_error("no partition 7");
}

#[test]
fn an_invalid_offset_is_one_line_and_exit_2() {
    let finished = run(kafkite(&["consume", "-t", "x", "-o", "soon"]), b"");
    assert_eq!(finished.status.code(), Some(2));
    finished.one_line_error("soon");
}

#[test]
fn an_unsupported_format_token_is_one_line() {
    let finished = run(kafkite(&["consume", "-t", "x", "-f", "%z"]), b"");
    assert_eq!(finished.status.code(), Some(2));
    finished.one_line_error("%z");
}

#[test]
fn an_invalid_codec_and_acks_are_one_line() {
    run(kafkite(&["produce", "-t", "x", "-z", "brotli"]), b"").one_line_error("brotli");
    run(kafkite(&["produce", "-t", "x", "--acks", "2"]), b"").one_line_error("acks");
}

#[test]
fn creating_a_topic_that_exists_is_one_line() {
    let topic = new_topic("cli-exists", 1);
    run(kafkite(&["-b", kafka(), "topics", "create", &topic]), b"")
        .one_line_error("TOPIC_ALREADY_EXISTS");
}
