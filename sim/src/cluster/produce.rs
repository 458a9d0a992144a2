//! Produce and InitProducerId: batches are checked against the
//! idempotent producer's sequence state, given offsets, and appended to
//! the leader's log; acks=all answers wait until the ISR has them.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use kafkite::protocol::messages::produce_response::{
    PartitionProduceResponse, TopicProduceResponse,
};
use kafkite::protocol::messages::{InitProducerIdResponse, ProduceRequest, ProduceResponse};
use kafkite::protocol::{AnyResponse, ErrorCode};
use kafkite::records::{batch_rewrite, Batch, Compression, LegacyMessageSetWriter, RecordSet};

use super::partition::{increment_sequence, BatchKind, SequenceCheck, StoredBatch};
use super::{Cluster, SlotState, Topic};

/// An acks=all answer waiting for replication.
#[derive(Debug, Default)]
pub(super) struct PendingProduce {
    pub response: ProduceResponse,
    /// (topic index, partition index in the answer, topic, partition,
    /// offset the high watermark must pass, leader epoch at append).
    pub waiting: Vec<(usize, usize, String, i32, i64, i32)>,
    pub deadline_ms: u64,
}

/// An idempotent producer's id (a transactional one's comes from its
/// coordinator, see `transactions`).
pub(super) fn init_producer_id(cluster: &mut Cluster) -> InitProducerIdResponse {
    InitProducerIdResponse {
        producer_id: cluster.new_producer_id(),
        producer_epoch: 0,
        ..Default::default()
    }
}

/// Serves a Produce; `None` for acks=0, which gets no answer.
pub(super) fn produce(
    cluster: &mut Cluster,
    broker: i32,
    request: ProduceRequest,
    version: i16,
) -> Option<SlotState> {
    let acks = request.acks;
    let mut waiting = Vec::new();
    let mut appended = false;
    let mut responses = Vec::new();
    for (ti, topic) in request.topic_data.into_iter().enumerate() {
        let mut partition_responses = Vec::new();
        for (pi, data) in topic.partition_data.into_iter().enumerate() {
            let outcome = append(
                cluster,
                broker,
                &topic.name,
                data.index,
                data.records,
                acks,
                version,
            );
            let mut answer = PartitionProduceResponse {
                index: data.index,
                base_offset: -1,
                log_append_time_ms: -1,
                ..Default::default()
            };
            match outcome {
                Ok(Appended::New {
                    base_offset,
                    wait_for,
                    epoch,
                }) => {
                    appended = true;
                    answer.base_offset = base_offset;
                    if acks == -1 {
                        waiting.push((ti, pi, topic.name.clone(), data.index, wait_for, epoch));
                    }
                }
                Err(code) => answer.error_code = code,
            }
            partition_responses.push(answer);
        }
        responses.push(TopicProduceResponse {
            name: topic.name,
            partition_responses,
            ..Default::default()
        });
    }
    if appended {
        cluster.schedule_replication();
    }
    if acks == 0 {
        return None;
    }
    let response = ProduceResponse {
        responses,
        ..Default::default()
    };
    if waiting.is_empty() {
        return Some(SlotState::Ready(Box::new(AnyResponse::Produce(response))));
    }
    Some(SlotState::Produce(Box::new(PendingProduce {
        response,
        waiting,
        deadline_ms: cluster.now_ms + u64::try_from(request.timeout_ms.max(0)).unwrap_or(0),
    })))
}

enum Appended {
    New {
        base_offset: i64,
        wait_for: i64,
        epoch: i32,
    },
}

fn append(
    cluster: &mut Cluster,
    broker: i32,
    topic: &str,
    partition: i32,
    records: Option<Bytes>,
    acks: i16,
    version: i16,
) -> Result<Appended, i16> {
    if !(acks == 0 || acks == 1 || acks == -1) {
        return Err(ErrorCode::INVALID_REQUIRED_ACKS.0);
    }
    let min_isr = cluster.config.min_insync_replicas;
    {
        let p = cluster
            .topics
            .get(topic)
            .and_then(|t: &Topic| t.partitions.get(usize::try_from(partition).ok()?))
            .ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0)?;
        if p.leader != broker {
            return Err(ErrorCode::NOT_LEADER_OR_FOLLOWER.0);
        }
        if acks == -1 && p.isr.len() < min_isr.min(p.replicas.len()) {
            return Err(ErrorCode::NOT_ENOUGH_REPLICAS.0);
        }
    }
    let records = records.ok_or(ErrorCode::INVALID_RECORD.0)?;
    if version < 3 {
        let p = cluster
            .topics
            .get_mut(topic)
            .and_then(|t| t.partitions.get_mut(usize::try_from(partition).ok()?))
            .ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0)?;
        let stored = legacy_batch(records, p.log_end_offset())?;
        return Ok(write(p, stored));
    }
    let mut batches = RecordSet::new(records).batches();
    let batch = match (batches.next(), batches.next()) {
        (Some(Ok(Batch::V2(b))), None) => b,
        _ => return Err(ErrorCode::INVALID_RECORD.0),
    };
    let h = *batch.header();
    // Clients write no control batches: markers are the coordinator's.
    if h.record_count < 1 || h.last_offset_delta != h.record_count - 1 || batch.is_control() {
        return Err(ErrorCode::INVALID_RECORD.0);
    }
    let kind = if batch.is_transactional() {
        // The coordinator must know the partition is in the producer's
        // open transaction (Kafka 3.6+'s verification), or a zombie's
        // batch would open a transaction nobody ends.
        let producer = (h.producer_id, h.producer_epoch);
        cluster.verify_transactional(producer, topic, partition, version)?;
        BatchKind::Transactional
    } else {
        BatchKind::Plain
    };
    let p = cluster
        .topics
        .get_mut(topic)
        .and_then(|t| t.partitions.get_mut(usize::try_from(partition).ok()?))
        .ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0)?;
    let base_offset = p.log_end_offset();
    let last_sequence = increment_sequence(h.base_sequence, h.record_count - 1);
    match p.check_sequence(
        h.producer_id,
        h.producer_epoch,
        h.base_sequence,
        last_sequence,
    ) {
        SequenceCheck::Append => {}
        // A retry of a batch already written: not written again, but
        // acknowledged like the original, once the ISR has it.
        SequenceCheck::Duplicate {
            base_offset,
            last_offset,
        } => {
            return Ok(Appended::New {
                base_offset,
                wait_for: last_offset + 1,
                epoch: p.leader_epoch,
            })
        }
        SequenceCheck::Reject(code) => return Err(code),
    }
    let mut bytes = BytesMut::from(&batch.as_bytes()[..]);
    batch_rewrite::set_base_offset(&mut bytes, base_offset)
        .map_err(|_| ErrorCode::CORRUPT_MESSAGE.0)?;
    batch_rewrite::set_partition_leader_epoch(&mut bytes, p.leader_epoch)
        .map_err(|_| ErrorCode::CORRUPT_MESSAGE.0)?;
    let stored = StoredBatch {
        base_offset,
        last_offset: base_offset + i64::from(h.last_offset_delta),
        bytes: bytes.freeze(),
        producer_id: h.producer_id,
        producer_epoch: h.producer_epoch,
        base_sequence: h.base_sequence,
        max_timestamp: h.max_timestamp,
        kind,
    };
    Ok(write(p, stored))
}

/// Appends to the leader's log; an ISR of the leader alone commits at once.
fn write(p: &mut super::Partition, stored: StoredBatch) -> Appended {
    let base_offset = stored.base_offset;
    let wait_for = stored.last_offset + 1;
    let epoch = p.leader_epoch;
    p.append(stored);
    p.advance_high_watermark();
    Appended::New {
        base_offset,
        wait_for,
        epoch,
    }
}

/// A legacy message set, its messages given offsets from `base_offset`
/// (stored uncompressed: the simulation keeps no codec state).
fn legacy_batch(records: Bytes, base_offset: i64) -> Result<StoredBatch, i16> {
    let corrupt = ErrorCode::CORRUPT_MESSAGE.0;
    let mut magic = 0;
    let mut messages = Vec::new();
    for entry in RecordSet::new(records).batches() {
        match entry.map_err(|_| corrupt)? {
            Batch::Legacy(l) => {
                magic = l.magic();
                for r in l.records().map_err(|_| corrupt)? {
                    messages.push(r.map_err(|_| corrupt)?);
                }
            }
            Batch::V2(_) => return Err(ErrorCode::INVALID_RECORD.0),
        }
    }
    if messages.is_empty() {
        return Err(ErrorCode::INVALID_RECORD.0);
    }
    let mut writer =
        LegacyMessageSetWriter::new(magic, Compression::None, base_offset).map_err(|_| corrupt)?;
    let mut max_timestamp = -1;
    for m in &messages {
        max_timestamp = max_timestamp.max(m.timestamp);
        writer
            .append(m.timestamp, m.key.as_deref(), m.value.as_deref())
            .map_err(|_| corrupt)?;
    }
    let bytes = writer.finish().map_err(|_| corrupt)?.freeze();
    Ok(StoredBatch {
        base_offset,
        last_offset: base_offset + messages.len() as i64 - 1,
        bytes,
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
        max_timestamp,
        kind: BatchKind::Plain,
    })
}

/// Completes an acks=all answer once every partition's batch is below
/// the high watermark, its leader changed (the batch may be gone), or the
/// request's timeout passed.
pub(super) fn try_complete(
    topics: &BTreeMap<String, Topic>,
    broker: i32,
    pending: &mut PendingProduce,
    now_ms: u64,
) -> Option<ProduceResponse> {
    let timed_out = now_ms >= pending.deadline_ms;
    let mut still = Vec::new();
    for w in pending.waiting.drain(..) {
        let (ti, pi, ref topic, partition, wait_for, epoch) = w;
        let p = topics
            .get(topic)
            .and_then(|t| t.partitions.get(partition as usize));
        let code = match p {
            None => Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0),
            Some(p) if p.leader != broker || p.leader_epoch != epoch => {
                Some(ErrorCode::NOT_LEADER_OR_FOLLOWER.0)
            }
            Some(p) if p.high_watermark >= wait_for => Some(0),
            Some(_) if timed_out => Some(ErrorCode::REQUEST_TIMED_OUT.0),
            Some(_) => None,
        };
        match code {
            Some(code) => {
                if let Some(answer) = pending
                    .response
                    .responses
                    .get_mut(ti)
                    .and_then(|t| t.partition_responses.get_mut(pi))
                {
                    answer.error_code = code;
                    if code != 0 {
                        answer.base_offset = -1;
                    }
                }
            }
            None => still.push(w),
        }
    }
    pending.waiting = still;
    pending
        .waiting
        .is_empty()
        .then(|| std::mem::take(&mut pending.response))
}
