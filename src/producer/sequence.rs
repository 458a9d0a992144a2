//! Idempotent producer sequence numbers (KIP-98).
//!
//! Per partition and producer id, each record gets the next INT32
//! sequence. Past `i32::MAX` the broker expects 0, not a negative number
//! (its `DefaultRecordBatch.incrementSequence`), and computes a batch's
//! last sequence from its base sequence with the same wrap: so a batch
//! may start near `i32::MAX` and end past 0. Negative sequences are not
//! numbers at all on the wire (-1 is "none").

/// `sequence` moved on by `records`, wrapping from `i32::MAX` to 0 as the
/// broker does. Never overflows; a negative count (no batch has one)
/// moves nothing.
pub(crate) fn increment_sequence(sequence: i32, records: i32) -> i32 {
    let records = records.max(0);
    if sequence > i32::MAX - records {
        records - (i32::MAX - sequence) - 1
    } else {
        sequence + records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_up_then_wraps_from_i32_max_to_zero() {
        assert_eq!(increment_sequence(0, 5), 5);
        assert_eq!(increment_sequence(i32::MAX - 5, 5), i32::MAX);
        assert_eq!(increment_sequence(i32::MAX - 1, 2), 0);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX, 3), 2);
        assert_eq!(increment_sequence(i32::MAX - 1, i32::MAX), i32::MAX - 2);
    }

    #[test]
    fn a_negative_count_moves_nothing() {
        assert_eq!(increment_sequence(7, -3), 7);
        assert_eq!(increment_sequence(i32::MAX, i32::MIN), i32::MAX);
    }
}
