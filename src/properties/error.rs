//! [`PropertyError`]: what is wrong with a set of properties, naming the
//! property; never a secret's value.

use std::path::PathBuf;

use super::Scope;

/// Why properties could not be read or turned into a config. Each names
/// the property (as it was written) so the user can find it; values are
/// shown only for properties that are not secret, so a message can be
/// logged as it is.
#[derive(Debug, thiserror::Error)]
pub enum PropertyError {
    /// A line of a properties file that is not `key=value`, a comment or
    /// blank (the line itself is not shown: it may hold a secret).
    #[error("{}line {line}: {problem}", in_file(file))]
    Syntax {
        file: Option<PathBuf>,
        line: usize,
        problem: &'static str,
    },
    #[error("reading {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A name neither kafkite nor (as far as kafkite knows) librdkafka or
    /// the Java client has; `suggestion` is the nearest supported name.
    #[error("unknown property {key:?}{}", did_you_mean(suggestion))]
    Unknown {
        key: String,
        suggestion: Option<&'static str>,
    },
    /// A property librdkafka or the Java client has and kafkite does not.
    #[error("{key} is not supported: {reason}")]
    Unsupported { key: String, reason: &'static str },
    /// A value kafkite recognizes and does not support (`sasl.mechanism=GSSAPI`).
    #[error("{key}{} is not supported: {reason}", shown(value))]
    UnsupportedValue {
        key: String,
        /// `None` for a secret.
        value: Option<String>,
        reason: &'static str,
    },
    /// A value that does not parse or is out of range.
    #[error("{key}{} is invalid: expected {expected}", shown(value))]
    BadValue {
        key: String,
        /// `None` for a secret.
        value: Option<String>,
        expected: String,
    },
    /// A property the others make necessary.
    #[error("{key} is required: {reason}")]
    Missing { key: &'static str, reason: String },
    /// Properties that contradict each other, or one that the others make
    /// meaningless (librdkafka would ignore it; kafkite does not).
    #[error("{key}: {reason}")]
    Inconsistent { key: String, reason: String },
    /// A property of a scope the caller does not use
    /// ([`Properties::check_scopes`](super::Properties::check_scopes)).
    #[error("{key} is a {} property, which is not used here", describe(scopes))]
    NotUsed {
        key: String,
        scopes: &'static [Scope],
    },
}

fn in_file(file: &Option<PathBuf>) -> String {
    match file {
        Some(path) => format!("{}: ", path.display()),
        None => String::new(),
    }
}

fn did_you_mean(suggestion: &Option<&'static str>) -> String {
    match suggestion {
        Some(name) => format!(" (did you mean {name}?)"),
        None => String::new(),
    }
}

fn shown(value: &Option<String>) -> String {
    match value {
        Some(value) => format!("={value:?}"),
        None => String::new(),
    }
}

/// "producer", "consumer or consumer group".
pub(crate) fn describe(scopes: &[Scope]) -> String {
    let names: Vec<&str> = scopes.iter().map(|s| s.describe()).collect();
    names.join(" or ")
}
