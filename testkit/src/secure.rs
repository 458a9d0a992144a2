//! [`SecureKafka`]: Apache Kafka 4.4 with TLS and SASL listeners
//! (`scripts/peers/kafka.sh` with `KAFKA_SECURE=1`), and [`shared_secure`],
//! one per test binary.
//!
//! One KRaft process serves, beside PLAINTEXT (inter-broker, and for admin
//! work without credentials), one listener per [`Listener`]: server-auth
//! TLS, mutual TLS, SASL over plaintext and over TLS with PLAIN,
//! SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER (unsecured JWS), a listener
//! that makes clients re-authenticate every few seconds, one with only
//! SCRAM-SHA-256, and two whose certificates a client must refuse (expired,
//! wrong host). The certificates (`scripts/peers/certs.sh`, all PEM) are in
//! [`SecureKafka::certs`]; [`SecureKafka::librdkafka_props`] and
//! [`SecureKafka::java_props`] give the client settings for each listener.
//! Cleanup is [`crate::Peer`]'s: `Drop` stops the broker and removes its
//! data dir, an `atexit` hook stops the shared one, and `PEER_WATCH_PID`
//! stops it if the test process dies first.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock, TryLockError};
use std::time::Instant;

use crate::peer::{kill_if_it_survived, new_named_data_dir};
use crate::{command_line, install, peers_dir, run, tail, Result, TcpProxy, TestkitError};

/// PLAIN and SCRAM user with every permission (there is no authorizer).
pub const ADMIN_USER: &str = "admin";
/// [`ADMIN_USER`]'s password, for PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512.
pub const ADMIN_PASSWORD: &str = "admin-secret";
/// The second user, the one the client-settings helpers use.
pub const ALICE_USER: &str = "alice";
/// [`ALICE_USER`]'s password, for PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512.
pub const ALICE_PASSWORD: &str = "alice-secret";
/// The password of the encrypted client key (`client-enc.key`).
pub const CLIENT_KEY_PASSWORD: &str = "client-key-secret";
/// The mechanisms of the SASL listeners except [`Listener::ScramOnly`].
pub const SASL_MECHANISMS: [&str; 4] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"];
/// `connections.max.reauth.ms` of [`Listener::Reauth`] unless
/// [`SecureKafka::start_with_reauth_ms`] says otherwise.
pub const DEFAULT_REAUTH_MS: u64 = 3000;

/// The secured listeners of [`SecureKafka`] (`LISTENER_<NAME>=` lines of
/// `kafka.sh start`). Each is advertised as `127.0.0.1:PORT`, so a client
/// that follows the metadata stays on the same listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Listener {
    /// TLS, server authentication only (`broker.pem`: SAN localhost and
    /// 127.0.0.1, signed by `ca.pem`).
    Ssl,
    /// TLS with `ssl.client.auth=required`: the client must present a
    /// certificate signed by `ca.pem`.
    Mtls,
    /// SASL without TLS: [`SASL_MECHANISMS`].
    SaslPlaintext,
    /// SASL over server-auth TLS: [`SASL_MECHANISMS`].
    SaslSsl,
    /// As [`Listener::SaslPlaintext`], with `connections.max.reauth.ms`
    /// ([`DEFAULT_REAUTH_MS`]): the broker tells clients that session
    /// lifetime and drops a connection used past it without re-authenticating.
    Reauth,
    /// SASL without TLS, SCRAM-SHA-256 only: other mechanisms are refused
    /// in the SaslHandshake (UNSUPPORTED_SASL_MECHANISM).
    ScramOnly,
    /// TLS with a certificate that expired on 2016-01-01 (else valid).
    Expired,
    /// TLS with a certificate for `wrong.example.invalid` only (no IP SAN).
    WrongHost,
}

impl Listener {
    /// All of them, in `kafka.sh`'s order.
    pub const ALL: [Listener; 8] = [
        Listener::Ssl,
        Listener::Mtls,
        Listener::SaslPlaintext,
        Listener::SaslSsl,
        Listener::Reauth,
        Listener::ScramOnly,
        Listener::Expired,
        Listener::WrongHost,
    ];

    /// The broker's listener name (`LISTENER_<NAME>=` in the start output).
    pub fn name(self) -> &'static str {
        match self {
            Listener::Ssl => "SSL",
            Listener::Mtls => "MTLS",
            Listener::SaslPlaintext => "SASL_PLAINTEXT",
            Listener::SaslSsl => "SASL_SSL",
            Listener::Reauth => "REAUTH",
            Listener::ScramOnly => "SCRAMONLY",
            Listener::Expired => "EXPIRED",
            Listener::WrongHost => "WRONGHOST",
        }
    }

    /// Its security protocol, as clients name it (`security.protocol`).
    pub fn security_protocol(self) -> &'static str {
        match self {
            Listener::Ssl | Listener::Mtls | Listener::Expired | Listener::WrongHost => "SSL",
            Listener::SaslPlaintext | Listener::Reauth | Listener::ScramOnly => "SASL_PLAINTEXT",
            Listener::SaslSsl => "SASL_SSL",
        }
    }

    /// True if a client must speak TLS to it.
    pub fn is_tls(self) -> bool {
        self.security_protocol().ends_with("SSL")
    }

    /// The SASL mechanisms it enables (empty for the TLS-only listeners).
    pub fn sasl_mechanisms(self) -> &'static [&'static str] {
        match self {
            Listener::SaslPlaintext | Listener::SaslSsl | Listener::Reauth => &SASL_MECHANISMS,
            Listener::ScramOnly => &["SCRAM-SHA-256"],
            _ => &[],
        }
    }

    /// True if a client with `ca.pem` as its trust anchor (and, for
    /// [`Listener::Mtls`], `client.pem`) is meant to get through.
    pub fn accepts_good_clients(self) -> bool {
        !matches!(self, Listener::Expired | Listener::WrongHost)
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A running secured Kafka 4.4 broker on a data dir of its own. Dropping it
/// stops the broker and removes the data dir (certificates included).
pub struct SecureKafka {
    /// In front of [`Listener::Reauth`], which is advertised at its address.
    reauth_proxy: TcpProxy,
    plaintext: String,
    listeners: [String; 8],
    certs: PathBuf,
    data_dir: PathBuf,
    log: PathBuf,
    reauth_ms: u64,
    /// The broker's PID; `None` once shut down.
    pid: Mutex<Option<u32>>,
}

/// Generates a path accessor per file of `certs.sh`.
macro_rules! cert_files {
    ($($(#[$doc:meta])* $method:ident => $file:literal;)*) => {
        $(
            $(#[$doc])*
            pub fn $method(&self) -> PathBuf {
                self.certs.join($file)
            }
        )*
    };
}

impl SecureKafka {
    /// Installs Kafka's jars if needed and starts the secured broker on a
    /// fresh data dir (4.5 s alone on 2 cores, ~10 s beside another start;
    /// the first start on a machine also makes the certificates, ~2 s, into
    /// `.cache/test-certs`, which later starts copy). The broker dies with this process
    /// (`PEER_WATCH_PID`). Fails with the script's stderr, which ends with
    /// the broker's log tail; a failed start keeps its data dir for a look.
    pub fn start() -> Result<SecureKafka> {
        SecureKafka::start_with_reauth_ms(DEFAULT_REAUTH_MS)
    }

    /// [`SecureKafka::start`] with [`Listener::Reauth`]'s
    /// `connections.max.reauth.ms` set to `reauth_ms` (the session lifetime
    /// the broker gives clients there; a client re-authenticates before it).
    pub fn start_with_reauth_ms(reauth_ms: u64) -> Result<SecureKafka> {
        let t0 = Instant::now();
        install("kafka")?;
        let data_dir = new_named_data_dir("kafkasecure")?;
        // REAUTH is advertised at a proxy's address, so every connection
        // a client makes to that listener passes it and can be counted.
        let (reauth_listener, reauth_port) = crate::reserve_port()?;
        let mut cmd = script("start", &data_dir);
        cmd.env("KAFKA_SECURE", "1")
            .env("KAFKA_REAUTH_MS", reauth_ms.to_string())
            .env(
                "KAFKA_REAUTH_ADVERTISED",
                format!("127.0.0.1:{reauth_port}"),
            );
        let what = format!(
            "start secured kafka peer (data dir {} kept)",
            data_dir.display()
        );
        let out = run(&what, &mut cmd)?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let parsed = parse_start_output(&stdout);
        let (plaintext, pid, listeners, certs) = match parsed {
            Ok(fields) => fields,
            Err(missing) => {
                // It may be running all the same: do not leak it.
                let _ = script("stop", &data_dir)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
                return Err(TestkitError::BadToolOutput {
                    what,
                    command: command_line(&cmd),
                    problem: format!("no usable {missing} line in {stdout:?}"),
                    stderr: tail(&String::from_utf8_lossy(&out.stderr)),
                });
            }
        };
        eprintln!(
            "kafkite-testkit: secured kafka peer (plaintext {plaintext}, pid {pid}) up in {:.2} s",
            t0.elapsed().as_secs_f64()
        );
        let reauth_proxy = match resolve(&listeners[Listener::Reauth.index()])
            .and_then(|target| TcpProxy::start_on_listener(reauth_listener, target))
        {
            Ok(proxy) => proxy,
            Err(e) => {
                let _ = script("stop", &data_dir)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
                return Err(e);
            }
        };
        Ok(SecureKafka {
            reauth_proxy,
            plaintext,
            listeners,
            certs,
            log: data_dir.join("kafka.log"),
            data_dir,
            reauth_ms,
            pid: Mutex::new(Some(pid)),
        })
    }

    /// `127.0.0.1:PORT` of `listener`: where clients connect, the address
    /// the broker advertises for it ([`Listener::Reauth`]: its proxy's).
    pub fn listener(&self, listener: Listener) -> &str {
        match listener {
            Listener::Reauth => self.reauth_proxy.addr(),
            other => &self.listeners[other.index()],
        }
    }

    /// The proxy [`Listener::Reauth`] is advertised behind: every
    /// connection to it, and every request on them, passes it.
    pub fn reauth_proxy(&self) -> &TcpProxy {
        &self.reauth_proxy
    }

    /// The PLAINTEXT listener (no TLS, no SASL), `127.0.0.1:PORT`: for
    /// setting up topics without credentials.
    pub fn plaintext_bootstrap(&self) -> &str {
        &self.plaintext
    }

    /// [`Listener::Reauth`]'s `connections.max.reauth.ms`.
    pub fn reauth_ms(&self) -> u64 {
        self.reauth_ms
    }

    /// The folder of certificates and keys (`DATA_DIR/certs`; the files of
    /// `scripts/peers/certs.sh`).
    pub fn certs(&self) -> &Path {
        &self.certs
    }

    cert_files! {
        /// The CA every certificate the broker presents chains to (and the
        /// clients' certificates but `untrusted-client.pem`).
        ca_pem => "ca.pem";
        /// A second CA that signs nothing the broker presents: a client
        /// trusting only it must refuse every TLS listener.
        other_ca_pem => "other-ca.pem";
        /// The broker's certificate (SAN `DNS:localhost`, `IP:127.0.0.1`).
        broker_pem => "broker.pem";
        /// `broker.pem` followed by `ca.pem`.
        broker_chain_pem => "broker-chain.pem";
        /// [`Listener::WrongHost`]'s certificate.
        wronghost_pem => "wronghost.pem";
        /// [`Listener::Expired`]'s certificate.
        expired_pem => "expired.pem";
        /// Client certificate (CN=kafkite-client, RSA), signed by `ca.pem`.
        client_pem => "client.pem";
        /// `client.pem`'s key, PKCS#8 (`BEGIN PRIVATE KEY`).
        client_key => "client.key";
        /// The same RSA key, PKCS#1 (`BEGIN RSA PRIVATE KEY`).
        client_rsa1_key => "client-rsa1.key";
        /// The same RSA key, encrypted PKCS#8 (`BEGIN ENCRYPTED PRIVATE KEY`,
        /// PBES2 with AES-256-CBC and HMAC-SHA256), password [`CLIENT_KEY_PASSWORD`].
        client_enc_key => "client-enc.key";
        /// Client certificate with an EC P-256 key, signed by `ca.pem`.
        client_ec_pem => "client-ec.pem";
        /// `client-ec.pem`'s key, SEC1 (`BEGIN EC PRIVATE KEY`).
        client_ec_key => "client-ec.key";
        /// The same EC key, PKCS#8 (`BEGIN PRIVATE KEY`).
        client_ec_pk8_key => "client-ec-pk8.key";
        /// `client.key`, `client.pem` and `ca.pem` in one file: the Java
        /// client's PEM keystore.
        client_keystore_pem => "client-keystore.pem";
        /// A client certificate signed by `other-ca.pem`, which the broker
        /// does not trust.
        untrusted_client_pem => "untrusted-client.pem";
        /// `untrusted-client.pem`'s key (PKCS#8).
        untrusted_client_key => "untrusted-client.key";
    }

    /// librdkafka settings (confluent-kafka's config, `kcat -X`) that reach
    /// `listener` as [`ALICE_USER`]: `security.protocol`; for TLS
    /// `ssl.ca.location` (and the client certificate for
    /// [`Listener::Mtls`]); for SASL `sasl.mechanism` = `mechanism` (PLAIN
    /// when `None`) with `sasl.username`/`sasl.password`, or, for
    /// OAUTHBEARER, librdkafka's unsecured JWT (`sub` = alice). For
    /// [`Listener::Expired`] and [`Listener::WrongHost`] these are the
    /// settings that must fail.
    pub fn librdkafka_props(
        &self,
        listener: Listener,
        mechanism: Option<&str>,
    ) -> Vec<(String, String)> {
        let mut props = vec![prop("security.protocol", listener.security_protocol())];
        if listener.is_tls() {
            props.push(prop("ssl.ca.location", self.ca_pem().display()));
        }
        if listener == Listener::Mtls {
            props.push(prop(
                "ssl.certificate.location",
                self.client_pem().display(),
            ));
            props.push(prop("ssl.key.location", self.client_key().display()));
        }
        if !listener.sasl_mechanisms().is_empty() {
            let mechanism = mechanism.unwrap_or("PLAIN");
            props.push(prop("sasl.mechanism", mechanism));
            if mechanism == "OAUTHBEARER" {
                props.push(prop("enable.sasl.oauthbearer.unsecure.jwt", "true"));
                props.push(prop(
                    "sasl.oauthbearer.config",
                    format!("principal={ALICE_USER}"),
                ));
            } else {
                props.push(prop("sasl.username", ALICE_USER));
                props.push(prop("sasl.password", ALICE_PASSWORD));
            }
        }
        props
    }

    /// The Java client's settings for the same (kafka-clients 4.4): PEM
    /// truststore and, for [`Listener::Mtls`], PEM keystore
    /// (`client-keystore.pem`); `sasl.mechanism` and `sasl.jaas.config`
    /// (PlainLoginModule, ScramLoginModule, or OAuthBearerLoginModule with
    /// `unsecuredLoginStringClaim_sub`).
    pub fn java_props(&self, listener: Listener, mechanism: Option<&str>) -> Vec<(String, String)> {
        let mut props = vec![prop("security.protocol", listener.security_protocol())];
        if listener.is_tls() {
            props.push(prop("ssl.truststore.type", "PEM"));
            props.push(prop("ssl.truststore.location", self.ca_pem().display()));
        }
        if listener == Listener::Mtls {
            props.push(prop("ssl.keystore.type", "PEM"));
            props.push(prop(
                "ssl.keystore.location",
                self.client_keystore_pem().display(),
            ));
        }
        if !listener.sasl_mechanisms().is_empty() {
            let mechanism = mechanism.unwrap_or("PLAIN");
            props.push(prop("sasl.mechanism", mechanism));
            let jaas = match mechanism {
                "OAUTHBEARER" => format!(
                    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule \
                     required unsecuredLoginStringClaim_sub=\"{ALICE_USER}\";"
                ),
                m if m.starts_with("SCRAM-") => format!(
                    "org.apache.kafka.common.security.scram.ScramLoginModule required \
                     username=\"{ALICE_USER}\" password=\"{ALICE_PASSWORD}\";"
                ),
                _ => format!(
                    "org.apache.kafka.common.security.plain.PlainLoginModule required \
                     username=\"{ALICE_USER}\" password=\"{ALICE_PASSWORD}\";"
                ),
            };
            props.push(prop("sasl.jaas.config", jaas));
        }
        props
    }

    /// The data dir (broker config, log, data, `certs/`).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The broker's log, for failure messages.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The broker's PID, `None` after shutdown.
    pub fn pid(&self) -> Option<u32> {
        *self.pid.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops the broker (stop script, then SIGKILL if it is still there)
    /// and removes the data dir. `pid` is the locked state; idempotent.
    fn shutdown(&self, pid: &mut Option<u32>) {
        let Some(pid) = pid.take() else { return };
        // Also ends the script's watchdog.
        let _ = script("stop", &self.data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        kill_if_it_survived("secured kafka", pid, &self.data_dir);
        let _ = fs::remove_dir_all(&self.data_dir);
    }
}

impl Drop for SecureKafka {
    fn drop(&mut self) {
        let mut pid = self.pid.get_mut().unwrap_or_else(|e| e.into_inner()).take();
        self.shutdown(&mut pid);
    }
}

impl std::fmt::Debug for SecureKafka {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecureKafka")
            .field("plaintext", &self.plaintext)
            .field("listeners", &self.listeners)
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

fn prop(key: &str, value: impl std::fmt::Display) -> (String, String) {
    (key.to_string(), value.to_string())
}

/// `kafka.sh ACTION DIR` with `PEER_WATCH_PID` = this process.
fn script(action: &str, dir: &Path) -> Command {
    let mut cmd = Command::new(peers_dir().join("kafka.sh"));
    cmd.arg(action)
        .arg(dir)
        .env("PEER_WATCH_PID", std::process::id().to_string())
        .stdin(Stdio::null());
    cmd
}

type StartFields = (String, u32, [String; 8], PathBuf);

/// `BOOTSTRAP=`, `PID=`, one `LISTENER_<NAME>=` per [`Listener`] and
/// `CERTS=` from `kafka.sh start`'s stdout; `Err` names the first missing
/// line.
fn parse_start_output(stdout: &str) -> std::result::Result<StartFields, String> {
    let field = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let plaintext = field("BOOTSTRAP=").ok_or("BOOTSTRAP=")?;
    let pid = field("PID=")
        .and_then(|p| p.parse::<u32>().ok())
        .ok_or("PID=")?;
    let certs = field("CERTS=").ok_or("CERTS=")?;
    let mut listeners: [String; 8] = Default::default();
    for l in Listener::ALL {
        let key = format!("LISTENER_{}=", l.name());
        listeners[l.index()] = field(&key).ok_or(key)?.to_string();
    }
    Ok((plaintext.to_string(), pid, listeners, PathBuf::from(certs)))
}

/// The per-binary instance; `Err` is kept too, so every test that asks
/// fails quickly with the same reason.
static SHARED: OnceLock<Result<SecureKafka>> = OnceLock::new();

/// The one [`SecureKafka`] of this test binary (default re-auth time),
/// started on first use; tests sharing it use their own topic names
/// ([`crate::unique_name`]). Stopped at exit by an `atexit` hook, or by the
/// watchdog if the process dies without running it. Panics with the start
/// error (a failing test, never a skipped one).
pub fn shared_secure() -> &'static SecureKafka {
    match try_shared_secure() {
        Ok(kafka) => kafka,
        Err(e) => panic!("kafkite-testkit: shared secured kafka could not be started: {e}"),
    }
}

/// [`shared_secure`] without the panic.
pub fn try_shared_secure() -> std::result::Result<&'static SecureKafka, &'static TestkitError> {
    SHARED
        .get_or_init(|| {
            register_at_exit();
            SecureKafka::start()
        })
        .as_ref()
}

#[cfg(unix)]
fn register_at_exit() {
    extern "C" {
        fn atexit(callback: extern "C" fn()) -> std::os::raw::c_int;
    }
    // SAFETY: C's atexit(3) with a plain `extern "C" fn()` that never
    // unwinds (it catches panics). Called once: from SHARED's initialiser.
    if unsafe { atexit(stop_shared_at_exit) } != 0 {
        eprintln!(
            "kafkite-testkit: atexit failed; the shared secured kafka relies on PEER_WATCH_PID"
        );
    }
}

#[cfg(not(unix))]
fn register_at_exit() {}

/// Stops the shared instance unless a thread still holds its lock at exit
/// (then the watchdog does).
#[cfg(unix)]
extern "C" fn stop_shared_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        let Some(Ok(kafka)) = SHARED.get() else {
            return;
        };
        let mut pid = match kafka.pid.try_lock() {
            Ok(pid) => pid,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        let t0 = Instant::now();
        kafka.shutdown(&mut pid);
        eprintln!(
            "kafkite-testkit: shared secured kafka stopped at exit in {:.2} s",
            t0.elapsed().as_secs_f64()
        );
    });
}

/// `host:port` as the socket address a proxy forwards to.
fn resolve(target: &str) -> Result<std::net::SocketAddr> {
    use std::net::ToSocketAddrs;
    target
        .to_socket_addrs()
        .map_err(|source| crate::TestkitError::Io {
            what: format!("resolve {target}"),
            source,
        })?
        .next()
        .ok_or_else(|| crate::TestkitError::BadArgument {
            arg: target.to_string(),
            why: "the target resolves to no address",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_output_gives_every_listener() {
        let mut out = String::from(
            "BOOTSTRAP=127.0.0.1:1\nCONTROLLER=127.0.0.1:2\nPID=42\nLOG=/x/kafka.log\n",
        );
        for (i, l) in Listener::ALL.iter().enumerate() {
            out.push_str(&format!("LISTENER_{}=127.0.0.1:{}\n", l.name(), 100 + i));
        }
        out.push_str("CERTS=/x/certs\n");
        let (plain, pid, listeners, certs) = parse_start_output(&out).unwrap();
        assert_eq!((plain.as_str(), pid), ("127.0.0.1:1", 42));
        assert_eq!(listeners[Listener::SaslSsl.index()], "127.0.0.1:103");
        assert_eq!(listeners[Listener::WrongHost.index()], "127.0.0.1:107");
        assert_eq!(certs, PathBuf::from("/x/certs"));
        let without_reauth = out.replace("LISTENER_REAUTH=", "LISTENER_X=");
        assert_eq!(
            parse_start_output(&without_reauth).unwrap_err(),
            "LISTENER_REAUTH="
        );
    }

    #[test]
    fn listeners_know_their_protocol_and_mechanisms() {
        assert!(Listener::SaslSsl.is_tls() && Listener::Expired.is_tls());
        assert!(!Listener::Reauth.is_tls());
        assert_eq!(Listener::ScramOnly.sasl_mechanisms(), ["SCRAM-SHA-256"]);
        assert!(Listener::Mtls.sasl_mechanisms().is_empty());
        assert_eq!(Listener::ALL.map(Listener::index), [0, 1, 2, 3, 4, 5, 6, 7]);
    }
}
