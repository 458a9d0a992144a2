//! The key of a control record: what a control batch's one record marks.
//!
//! Transaction coordinators write commit and abort markers (KIP-98) as
//! control batches; KRaft writes its own control records the same way. A
//! consumer uses the markers to drop aborted records and never shows the
//! control records themselves to the application.

use crate::protocol::{DecodeError, DecodeErrorKind};

use super::record::Record;

/// What a control record marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlRecordType {
    /// The producer's transaction aborted: drop its records.
    Abort,
    /// The producer's transaction committed.
    Commit,
    /// A type this client does not interpret (KRaft leader change,
    /// snapshot markers, voters, ...), kept by number.
    Other(i16),
}

impl ControlRecordType {
    /// The type with the number stored in a control record key.
    pub fn from_i16(value: i16) -> ControlRecordType {
        match value {
            0 => ControlRecordType::Abort,
            1 => ControlRecordType::Commit,
            other => ControlRecordType::Other(other),
        }
    }

    /// The type's number in a control record key (0 abort, 1 commit).
    pub fn to_i16(self) -> i16 {
        match self {
            ControlRecordType::Abort => 0,
            ControlRecordType::Commit => 1,
            ControlRecordType::Other(other) => other,
        }
    }
}

/// A decoded control record key: INT16 version, INT16 type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControlRecordKey {
    /// 0 in every Kafka so far; later versions may append fields, which
    /// are ignored here as Java ignores them.
    pub version: i16,
    /// What the record marks.
    pub record_type: ControlRecordType,
}

impl ControlRecordKey {
    /// The key of a transaction commit marker (version 0).
    pub const fn commit() -> ControlRecordKey {
        ControlRecordKey {
            version: 0,
            record_type: ControlRecordType::Commit,
        }
    }

    /// The key of a transaction abort marker (version 0).
    pub const fn abort() -> ControlRecordKey {
        ControlRecordKey {
            version: 0,
            record_type: ControlRecordType::Abort,
        }
    }

    /// Decodes a record key; bytes past the first four are ignored.
    pub fn decode(key: &[u8]) -> Result<ControlRecordKey, DecodeError> {
        match key {
            [v0, v1, t0, t1, ..] => Ok(ControlRecordKey {
                version: i16::from_be_bytes([*v0, *v1]),
                record_type: ControlRecordType::from_i16(i16::from_be_bytes([*t0, *t1])),
            }),
            _ => Err(DecodeError::new(DecodeErrorKind::UnexpectedEof {
                needed: 4,
                remaining: key.len(),
            })
            .in_field("controlRecordKey")),
        }
    }

    /// The control record key of a record from a control batch.
    pub fn of(record: &Record) -> Result<ControlRecordKey, DecodeError> {
        match &record.key {
            Some(key) => ControlRecordKey::decode(key),
            None => Err(DecodeError::new(DecodeErrorKind::InvalidValue(
                "control record has a null key",
            ))),
        }
    }

    /// The key as written in a control record: version then type, big-endian.
    pub fn encode(&self) -> [u8; 4] {
        let [v0, v1] = self.version.to_be_bytes();
        let [t0, t1] = self.record_type.to_i16().to_be_bytes();
        [v0, v1, t0, t1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_encode_as_kafka_writes_them() {
        assert_eq!(ControlRecordKey::abort().encode(), [0, 0, 0, 0]);
        assert_eq!(ControlRecordKey::commit().encode(), [0, 0, 0, 1]);
        let key = ControlRecordKey::decode(&[0, 1, 0, 5, 0xff]).unwrap();
        assert_eq!(key.version, 1);
        assert_eq!(key.record_type, ControlRecordType::Other(5));
        assert!(ControlRecordKey::decode(&[0, 0, 1]).is_err());
    }
}
