//! Editing the header of a finished v2 batch in place.
//!
//! Several parties change a batch after it was written, without touching
//! its records: a broker assigns the base offset and the partition leader
//! epoch (both outside the CRC, so Kafka never recomputes it for them) and,
//! for LogAppendTime topics, the timestamp type and max timestamp; an
//! idempotent producer that gets a new producer id or epoch (KIP-360)
//! renumbers a batch it is retrying. Re-encoding would mean decompressing
//! and compressing again; these functions rewrite the header fields and, when
//! the field is under the CRC, recompute the CRC-32C. Each checks first that
//! the bytes are a whole v2 batch.

use super::batch::{
    BatchAttributes, ATTRIBUTES_OFFSET, CRC_OFFSET, LOG_OVERHEAD, RECORD_BATCH_OVERHEAD,
};
use super::record::TimestampType;
use crate::protocol::{DecodeError, DecodeErrorKind};

const BASE_OFFSET_AT: usize = 0;
const LEADER_EPOCH_AT: usize = 12;
const MAGIC_AT: usize = 16;
const MAX_TIMESTAMP_AT: usize = 35;
const PRODUCER_ID_AT: usize = 43;

/// Sets the base offset: the offset of the first record, from which every
/// record's offset follows. Not covered by the CRC.
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) -> Result<(), DecodeError> {
    check_v2_batch(batch)?;
    put(batch, BASE_OFFSET_AT, &base_offset.to_be_bytes());
    Ok(())
}

/// Sets the partition leader epoch (KIP-101). Not covered by the CRC.
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) -> Result<(), DecodeError> {
    check_v2_batch(batch)?;
    put(batch, LEADER_EPOCH_AT, &epoch.to_be_bytes());
    Ok(())
}

/// Sets producer id, epoch and base sequence, and recomputes the CRC.
pub fn set_producer_state(
    batch: &mut [u8],
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
) -> Result<(), DecodeError> {
    check_v2_batch(batch)?;
    put(batch, PRODUCER_ID_AT, &producer_id.to_be_bytes());
    put(batch, PRODUCER_ID_AT + 8, &producer_epoch.to_be_bytes());
    put(batch, PRODUCER_ID_AT + 10, &base_sequence.to_be_bytes());
    fix_crc(batch);
    Ok(())
}

/// Marks the batch LogAppendTime with `append_time` as its max timestamp,
/// which readers then give every record, as a broker does for topics with
/// `message.timestamp.type=LogAppendTime`; recomputes the CRC.
pub fn set_log_append_time(batch: &mut [u8], append_time: i64) -> Result<(), DecodeError> {
    check_v2_batch(batch)?;
    let raw = i16::from_be_bytes([batch[ATTRIBUTES_OFFSET], batch[ATTRIBUTES_OFFSET + 1]]);
    BatchAttributes::from_raw(raw)?;
    // Only the timestamp type bit changes; bits this version does not know
    // are kept.
    let raw = raw | TimestampType::LogAppendTime.attribute_bits();
    put(batch, ATTRIBUTES_OFFSET, &raw.to_be_bytes());
    put(batch, MAX_TIMESTAMP_AT, &append_time.to_be_bytes());
    fix_crc(batch);
    Ok(())
}

/// Accepts exactly one v2 batch: long enough, magic 2, and a length field
/// that matches. The CRC is not checked: it may be about to be fixed.
fn check_v2_batch(batch: &[u8]) -> Result<(), DecodeError> {
    if batch.len() < RECORD_BATCH_OVERHEAD {
        return Err(DecodeErrorKind::UnexpectedEof {
            needed: RECORD_BATCH_OVERHEAD,
            remaining: batch.len(),
        }
        .into());
    }
    if batch[MAGIC_AT] != 2 {
        return Err(
            DecodeError::new(DecodeErrorKind::InvalidValue("record batch magic is not 2"))
                .in_field("magic"),
        );
    }
    let length = i32::from_be_bytes([batch[8], batch[9], batch[10], batch[11]]);
    if usize::try_from(length).ok() != Some(batch.len() - LOG_OVERHEAD) {
        return Err(
            DecodeError::new(DecodeErrorKind::InvalidLength(length.into())).in_field("batchLength"),
        );
    }
    Ok(())
}

fn put(batch: &mut [u8], at: usize, bytes: &[u8]) {
    batch[at..at + bytes.len()].copy_from_slice(bytes);
}

fn fix_crc(batch: &mut [u8]) {
    let crc = super::checksum::crc32c(&batch[ATTRIBUTES_OFFSET..]);
    put(batch, CRC_OFFSET, &crc.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{Compression, RecordBatch, RecordBatchWriter};
    use bytes::BytesMut;

    fn batch(compression: Compression) -> BytesMut {
        let mut writer = RecordBatchWriter::new(0).compression(compression);
        writer.append(10, Some(b"k"), Some(b"v"), []).unwrap();
        writer.append(20, None, Some(b"w"), []).unwrap();
        writer.finish().unwrap()
    }

    #[test]
    fn rewritten_batches_still_decode_with_the_new_fields() {
        for codec in Compression::ALL.into_iter().filter(|c| c.is_available()) {
            let mut bytes = batch(codec);
            set_base_offset(&mut bytes, 1_000).unwrap();
            set_partition_leader_epoch(&mut bytes, 7).unwrap();
            set_producer_state(&mut bytes, 55, 2, 300).unwrap();
            set_log_append_time(&mut bytes, 99).unwrap();
            let batch = RecordBatch::decode(bytes.freeze()).unwrap();
            let header = batch.header();
            assert_eq!(header.base_offset, 1_000);
            assert_eq!(header.partition_leader_epoch, 7);
            assert_eq!(
                (
                    header.producer_id,
                    header.producer_epoch,
                    header.base_sequence
                ),
                (55, 2, 300)
            );
            assert_eq!(header.attributes.compression, codec);
            assert!(header.attributes.log_append_time);
            let records: Vec<_> = batch.records().unwrap().map(Result::unwrap).collect();
            assert_eq!(records[1].offset, 1_001);
            assert!(records
                .iter()
                .all(|r| r.timestamp == 99 && r.timestamp_type == TimestampType::LogAppendTime));
        }
    }

    #[test]
    fn anything_but_one_whole_v2_batch_is_refused() {
        let bytes = batch(Compression::None);
        let mut short = bytes[..60].to_vec();
        assert!(set_base_offset(&mut short, 1).is_err());
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(set_producer_state(&mut longer, 1, 1, 1).is_err());
        let mut legacy = bytes.to_vec();
        legacy[MAGIC_AT] = 1;
        assert!(set_partition_leader_epoch(&mut legacy, 1).is_err());
    }
}
