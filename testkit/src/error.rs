//! The one error type of the testkit.
//!
//! Every variant says which peer or command failed and carries the tail of
//! what that command wrote to stderr (or the peer's log), because a test that
//! `.expect()`s a peer must fail with the reason in its output, not a bare
//! "exit status 1".

use std::io;

use crate::PeerKind;

/// Why a peer, an install step or a helper command failed.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    /// A command could not be run at all (missing file, not executable, ...).
    #[error("{what}: could not run `{command}`: {source}")]
    Spawn {
        /// What the testkit was doing (e.g. "start kafka peer").
        what: String,
        /// The command line.
        command: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A command ran and exited unsuccessfully.
    #[error("{what}: `{command}` failed ({status}); stderr tail:\n{stderr}")]
    CommandFailed {
        /// What the testkit was doing.
        what: String,
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// The last lines it wrote to stderr (a start script prints the
        /// peer's log tail there).
        stderr: String,
    },
    /// A start command succeeded but did not print a usable `BOOTSTRAP=` line.
    #[error("{kind} peer: `{command}` printed no usable {missing}; stdout: {stdout:?}; stderr tail:\n{stderr}")]
    BadStartOutput {
        /// The peer.
        kind: PeerKind,
        /// The command line.
        command: String,
        /// What was missing or malformed.
        missing: &'static str,
        /// Everything it wrote to stdout.
        stdout: String,
        /// The last lines it wrote to stderr.
        stderr: String,
    },
    /// A file-system or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What the testkit was doing.
        what: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The mock cluster answered `err ...` to a control command.
    #[error("mock cluster: `{command}` answered `{reply}`")]
    MockReply {
        /// The control line sent.
        command: String,
        /// The whole reply line.
        reply: String,
    },
    /// The mock cluster process is gone, hung or out of step.
    #[error("mock cluster: `{command}`: {reason}; mock stderr tail:\n{stderr}")]
    MockGone {
        /// The control line (or "start").
        command: String,
        /// What went wrong.
        reason: String,
        /// The tail of mock_cluster.py's stderr.
        stderr: String,
    },
    /// The operation does not exist for this kind of peer (e.g. a mock
    /// control command on a real broker, or `restart` of the mock).
    #[error("{kind} peer: {what} is not supported")]
    Unsupported {
        /// The peer.
        kind: PeerKind,
        /// The operation.
        what: &'static str,
    },
    /// An argument cannot be sent over the mock's line protocol.
    #[error("invalid argument {arg:?}: {why}")]
    BadArgument {
        /// The argument.
        arg: String,
        /// Why it was refused.
        why: &'static str,
    },
    /// An interop tool (a Java or Python witness client) exited 0 but
    /// printed something that cannot be parsed.
    #[error("{what}: `{command}` printed unusable output: {problem}; stderr tail:\n{stderr}")]
    BadToolOutput {
        /// What the testkit was doing (e.g. "java_read_back").
        what: String,
        /// The command line.
        command: String,
        /// Which line of stdout, what is wrong with it, and the line itself
        /// (shortened).
        problem: String,
        /// The last lines the tool wrote to stderr.
        stderr: String,
    },
}
