//! [`KafkaCluster`]: a replicated Apache Kafka 4.4 cluster (KRaft: one
//! controller, brokers 1, 2 and 3; replication factor 3 and
//! min.insync.replicas 2 by default), started by
//! `scripts/peers/kafka-cluster.sh`, for tests that take brokers down.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use crate::{command_line, install, peers_dir, run, tail, unique_name, Result, TestkitError};

/// The broker ids of a [`KafkaCluster`].
pub const CLUSTER_BROKERS: [i32; 3] = [1, 2, 3];

/// A running 3-broker cluster on a data dir of its own. Dropping it stops
/// every node and removes the data dir.
pub struct KafkaCluster {
    bootstrap: String,
    brokers: BTreeMap<i32, String>,
    data_dir: PathBuf,
    /// Broker id -> PID while it runs.
    pids: Mutex<BTreeMap<i32, u32>>,
}

impl KafkaCluster {
    /// Installs Kafka 4.4 if needed, then formats and starts a fresh
    /// cluster (~20 s on 2 cores: five JVMs start). Every node dies with
    /// this process (`PEER_WATCH_PID`). Fails with the script's stderr,
    /// which holds the failing node's log tail.
    pub fn start() -> Result<KafkaCluster> {
        let t0 = Instant::now();
        install("kafka")?;
        let data_dir = std::env::temp_dir().join(unique_name("kafkite-testkit-kcluster"));
        let io = |source| TestkitError::Io {
            what: format!("create data dir {}", data_dir.display()),
            source,
        };
        fs::create_dir_all(&data_dir).map_err(io)?;
        let data_dir = fs::canonicalize(&data_dir).map_err(io)?;
        let mut cmd = script(&["start"], &data_dir);
        let what = format!(
            "start 3-broker Kafka cluster (data dir {} kept)",
            data_dir.display()
        );
        let out = run(&what, &mut cmd)?;
        let info = Info::parse(&String::from_utf8_lossy(&out.stdout));
        let bad = |problem: &str| TestkitError::BadToolOutput {
            what: what.clone(),
            command: command_line(&cmd),
            problem: problem.to_string(),
            stderr: tail(&String::from_utf8_lossy(&out.stderr)),
        };
        let bootstrap = info
            .bootstrap
            .clone()
            .ok_or_else(|| bad("no BOOTSTRAP= line"))?;
        if info.brokers.len() != CLUSTER_BROKERS.len() || info.pids.len() != CLUSTER_BROKERS.len() {
            let _ = script(&["stop"], &data_dir).status();
            return Err(bad(
                "not every broker has a NODE_<id>= and a PID_<id>= line",
            ));
        }
        eprintln!(
            "kafkite-testkit: 3-broker Kafka cluster at {bootstrap} up in {:.2} s",
            t0.elapsed().as_secs_f64()
        );
        Ok(KafkaCluster {
            bootstrap,
            brokers: info.brokers,
            data_dir,
            pids: Mutex::new(info.pids),
        })
    }

    /// Every broker's `host:port`, comma-separated.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// Broker `id`'s `host:port` (stable across restarts).
    pub fn broker_addr(&self, id: i32) -> Option<&str> {
        self.brokers.get(&id).map(String::as_str)
    }

    /// Broker `id`'s PID, `None` while it is killed.
    pub fn broker_pid(&self, id: i32) -> Option<u32> {
        self.lock().get(&id).copied()
    }

    /// Broker `id`'s log, for failure messages.
    pub fn broker_log(&self, id: i32) -> PathBuf {
        self.data_dir.join(format!("broker-{id}")).join("kafka.log")
    }

    /// The cluster's data dir (one folder per node).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Crashes broker `id`: SIGKILL now, no controlled shutdown. Returns the
    /// PID it killed (`None` if it was not running).
    pub fn kill(&self, id: i32) -> Result<Option<u32>> {
        let mut pids = self.lock();
        run(
            &format!("kill broker {id}"),
            &mut script(&["kill", &id.to_string()], &self.data_dir),
        )?;
        Ok(pids.remove(&id))
    }

    /// Starts broker `id` again on its port and data, and waits until it has
    /// registered with the controller ("Kafka Server started"). Returns its
    /// new PID.
    pub fn restart(&self, id: i32) -> Result<u32> {
        let mut pids = self.lock();
        let mut cmd = script(&["restart", &id.to_string()], &self.data_dir);
        let what = format!("restart broker {id}");
        let out = run(&what, &mut cmd)?;
        let info = Info::parse(&String::from_utf8_lossy(&out.stdout));
        let pid = info
            .pids
            .get(&id)
            .copied()
            .ok_or_else(|| TestkitError::BadToolOutput {
                what,
                command: command_line(&cmd),
                problem: format!("no PID_{id}= line"),
                stderr: tail(&String::from_utf8_lossy(&out.stderr)),
            })?;
        pids.insert(id, pid);
        Ok(pid)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<i32, u32>> {
        self.pids.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for KafkaCluster {
    fn drop(&mut self) {
        let _ = script(&["stop"], &self.data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = fs::remove_dir_all(&self.data_dir);
    }
}

impl std::fmt::Debug for KafkaCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaCluster")
            .field("bootstrap", &self.bootstrap)
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

/// What `kafka-cluster.sh start|restart|status` prints.
struct Info {
    bootstrap: Option<String>,
    brokers: BTreeMap<i32, String>,
    pids: BTreeMap<i32, u32>,
}

impl Info {
    fn parse(stdout: &str) -> Info {
        let mut info = Info {
            bootstrap: None,
            brokers: BTreeMap::new(),
            pids: BTreeMap::new(),
        };
        for line in stdout.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim();
            if key == "BOOTSTRAP" {
                info.bootstrap = Some(value.to_string());
            } else if let Some(id) = key.strip_prefix("NODE_").and_then(|i| i.parse().ok()) {
                info.brokers.insert(id, value.to_string());
            } else if let Some(id) = key.strip_prefix("PID_").and_then(|i| i.parse().ok()) {
                // The controller (node 100) is not a broker a test kills.
                if CLUSTER_BROKERS.contains(&id) {
                    if let Ok(pid) = value.parse() {
                        info.pids.insert(id, pid);
                    }
                }
            }
        }
        info
    }
}

/// `kafka-cluster.sh ACTION DIR [NODE]`, with `PEER_WATCH_PID` = this process.
fn script(action_and_args: &[&str], dir: &Path) -> Command {
    let mut cmd = Command::new(peers_dir().join("kafka-cluster.sh"));
    cmd.arg(action_and_args[0])
        .arg(dir)
        .args(&action_and_args[1..])
        .env("PEER_WATCH_PID", std::process::id().to_string())
        .stdin(Stdio::null());
    cmd
}
