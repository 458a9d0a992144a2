//! unique_name, free_port, run_python, kcat.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::{Mutex, MutexGuard};

use kafkite_testkit::{ensure_kcat, free_port, kcat, python, run_python, unique_name};

#[test]
fn unique_names_differ_and_are_legal_topic_names() {
    let names: HashSet<String> = (0..1000).map(|_| unique_name("t")).collect();
    assert_eq!(names.len(), 1000);
    for n in &names {
        assert!(n.starts_with(&format!("t-{}-", std::process::id())), "{n}");
        assert!(
            n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "{n}"
        );
    }
}

/// Held by the tests here that start processes, and by the one that binds
/// a port twice: a process forked by another test thread holds a copy of
/// every socket open at that moment until it execs, so a listener closed
/// meanwhile stays bound for that long, and binding its port again fails
/// (as it did in CI). Servers are started on free ports the same way, but
/// a server that loses that race fails to start, loudly.
static SPAWNING: Mutex<()> = Mutex::new(());

fn spawning() -> MutexGuard<'static, ()> {
    SPAWNING.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn free_port_can_be_bound() {
    let _no_forks = spawning();
    let ephemeral_start: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .expect("the ephemeral port range")
        .split_whitespace()
        .next()
        .and_then(|start| start.parse().ok())
        .expect("its start");
    for _ in 0..20 {
        let port = free_port().expect("free port");
        // Below the ephemeral range, where outgoing connections cannot
        // take it between the pick and the bind.
        assert!((10_000..ephemeral_start).contains(&port), "{port}");
        TcpListener::bind(("127.0.0.1", port)).expect("bind the free port");
    }
}

#[test]
fn run_python_returns_stdout_and_fails_with_stderr() {
    let _spawning = spawning();
    let out = run_python(
        "import sys, confluent_kafka; print(sys.argv[1], confluent_kafka.libversion()[0])",
        ["hello"],
    )
    .expect("python snippet");
    assert!(out.starts_with("hello 2.16"), "{out:?}");
    assert!(python().is_file());

    let err = run_python(
        "import sys; sys.stderr.write('boom here\\n'); sys.exit(3)",
        [""; 0],
    )
    .expect_err("non-zero exit");
    let msg = err.to_string();
    assert!(
        msg.contains("boom here") && msg.contains("exit status: 3"),
        "{msg}"
    );
}

#[test]
fn kcat_runs_on_librdkafka_2_16() {
    let _spawning = spawning();
    ensure_kcat().expect("kcat installed");
    let out = kcat().arg("-V").output().expect("run kcat");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("librdkafka 2.16"), "{text}");
}
