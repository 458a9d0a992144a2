//! The one error type every decoder in kafkite returns.
//!
//! A decode error names what failed in Kafka's words: the message and version
//! being decoded and the path of fields down to the one that failed. The path
//! is built only on the error path (each level adds its name as the error
//! bubbles up), so a successful decode pays nothing for it.

use std::fmt;

/// What went wrong at the innermost point of a failed decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    /// The input ended before a value was complete.
    #[error("input ended: needed {needed} more bytes, {remaining} remain")]
    UnexpectedEof {
        /// The bytes the value needed.
        needed: usize,
        /// The bytes that were left.
        remaining: usize,
    },
    /// A length prefix claims more bytes or elements than the rest of the input
    /// could hold. Rejected before any allocation, so hostile lengths cannot
    /// make the decoder allocate.
    #[error("length {length} exceeds the {remaining} bytes that remain")]
    LengthExceedsInput {
        /// The length the prefix claimed.
        length: u64,
        /// The bytes that were left.
        remaining: usize,
    },
    /// A negative length where the field is not nullable in this version.
    #[error("length {0} is negative and the field is not nullable here")]
    InvalidLength(i64),
    /// A varint longer than its type allows.
    #[error("varint is too long for its type")]
    VarintOverflow,
    /// A string that is not UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// A version outside the message's valid range.
    #[error("version {0} is not a valid version of this message")]
    UnsupportedVersion(i16),
    /// An API key this build knows nothing about.
    #[error("unknown API key {0}")]
    UnknownApiKey(i16),
    /// A checksum (CRC-32 or CRC-32C) did not match the data.
    #[error("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch {
        /// The checksum stored in the data.
        stored: u32,
        /// The checksum computed over the data.
        computed: u32,
    },
    /// A value is out of the range its field allows.
    #[error("invalid value: {0}")]
    InvalidValue(&'static str),
    /// Decompression failed or produced more than the configured limit.
    #[error("decompression with {codec} failed: {reason}")]
    Decompression {
        /// The codec's name, e.g. `"gzip"`.
        codec: &'static str,
        /// What the codec reported, or why it is unavailable.
        reason: String,
    },
    /// Decompressing record data would produce more than the configured
    /// limit; decoding stopped there instead of allocating without bound.
    #[error("decompression with {codec} exceeds the limit of {limit} bytes")]
    DecompressionLimitExceeded {
        /// The codec's name, e.g. `"gzip"`.
        codec: &'static str,
        /// The limit on decompressed bytes.
        limit: usize,
    },
    /// The message ended but bytes remain inside its frame.
    #[error("{0} unexpected bytes after the end of the message")]
    TrailingBytes(usize),
}

/// A typed decode failure: the kind, and where in which message it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    kind: DecodeErrorKind,
    /// Field names from the innermost outwards; reversed when displayed.
    field_path: Vec<&'static str>,
    /// The message (e.g. "ProduceResponse") and version, once known.
    message: Option<(&'static str, i16)>,
}

impl DecodeError {
    /// A new error with no context yet.
    #[cold]
    pub fn new(kind: DecodeErrorKind) -> Self {
        DecodeError {
            kind,
            field_path: Vec::new(),
            message: None,
        }
    }

    /// Adds the name of the field that contained the failure.
    #[cold]
    pub fn in_field(mut self, field: &'static str) -> Self {
        self.field_path.push(field);
        self
    }

    /// Names the message and version that was being decoded; the outermost
    /// message wins, so nested decoders do not overwrite it.
    #[cold]
    pub fn in_message(mut self, message: &'static str, version: i16) -> Self {
        if self.message.is_none() {
            self.message = Some((message, version));
        }
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.kind
    }

    /// The message name and version, if the failure was inside a message.
    pub fn message(&self) -> Option<(&'static str, i16)> {
        self.message
    }

    /// The dotted path of fields to the failure, outermost first.
    pub fn field_path(&self) -> String {
        let mut names: Vec<&str> = self.field_path.clone();
        names.reverse();
        names.join(".")
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot decode")?;
        if let Some((name, version)) = self.message {
            write!(f, " {name} v{version}")?;
        }
        if !self.field_path.is_empty() {
            write!(f, " field {}", self.field_path())?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl std::error::Error for DecodeError {}

impl From<DecodeErrorKind> for DecodeError {
    fn from(kind: DecodeErrorKind) -> Self {
        DecodeError::new(kind)
    }
}

/// A typed encode failure: a value that the chosen version cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The version is outside the message's valid range.
    #[error("{message} has no version {version}")]
    UnsupportedVersion {
        /// The message's spec name, e.g. `"FetchRequest"`.
        message: &'static str,
        /// The version asked for.
        version: i16,
    },
    /// A field holds a non-default value, but this version has no place for it
    /// and dropping it silently would change the request's meaning.
    #[error("{message} v{version} cannot carry field {field}")]
    FieldNotInVersion {
        /// The message's spec name.
        message: &'static str,
        /// The field that holds the value.
        field: &'static str,
        /// The version being encoded.
        version: i16,
    },
    /// A null value in a version where the field is not nullable.
    #[error("{message} v{version} field {field} cannot be null in this version")]
    NullNotAllowed {
        /// The message's spec name.
        message: &'static str,
        /// The field that holds the null.
        field: &'static str,
        /// The version being encoded.
        version: i16,
    },
    /// A string, byte array or array longer than its length prefix can express.
    #[error("field {field} is {length} long, more than its length prefix can express")]
    TooLong {
        /// The field being encoded.
        field: &'static str,
        /// Its length: bytes for a string or byte array, elements for an array.
        length: usize,
    },
}
