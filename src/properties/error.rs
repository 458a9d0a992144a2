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
        /// The file, when the text came from one.
        file: Option<PathBuf>,
        /// The line number, counting from 1.
        line: usize,
        /// What is wrong with the line.
        problem: &'static str,
    },
    /// A properties file could not be read.
    #[error("reading {}: {source}", path.display())]
    Io {
        /// The file's path.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// A name neither kafkite nor (as far as kafkite knows) librdkafka or
    /// the Java client has; `suggestion` is the nearest supported name.
    #[error("unknown property {key:?}{}", did_you_mean(suggestion))]
    Unknown {
        /// The name as written.
        key: String,
        /// The nearest supported name, if one is close.
        suggestion: Option<&'static str>,
    },
    /// A property librdkafka or the Java client has and kafkite does not.
    #[error("{key} is not supported: {reason}")]
    Unsupported {
        /// The name as written.
        key: String,
        /// Why kafkite does not have it, or what to use instead.
        reason: &'static str,
    },
    /// A value kafkite recognizes and does not support (`sasl.mechanism=GSSAPI`).
    #[error("{key}{} is not supported: {reason}", shown(value))]
    UnsupportedValue {
        /// The name as written.
        key: String,
        /// `None` for a secret.
        value: Option<String>,
        /// Why the value is not supported.
        reason: &'static str,
    },
    /// A value that does not parse or is out of range.
    #[error("{key}{} is invalid: expected {expected}", shown(value))]
    BadValue {
        /// The name as written.
        key: String,
        /// `None` for a secret.
        value: Option<String>,
        /// What a valid value looks like.
        expected: String,
    },
    /// A property the others make necessary.
    #[error("{key} is required: {reason}")]
    Missing {
        /// The property that must be set.
        key: &'static str,
        /// Why it is needed.
        reason: String,
    },
    /// Properties that contradict each other, or one that the others make
    /// meaningless (librdkafka would ignore it; kafkite does not).
    #[error("{key}: {reason}")]
    Inconsistent {
        /// The property at fault.
        key: String,
        /// How it conflicts with the other properties.
        reason: String,
    },
    /// A property of a scope the caller does not use
    /// ([`Properties::check_scopes`](super::Properties::check_scopes)).
    #[error("{key} is a {} property, which is not used here", describe(scopes))]
    NotUsed {
        /// The name as written.
        key: String,
        /// The scopes the property belongs to.
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
