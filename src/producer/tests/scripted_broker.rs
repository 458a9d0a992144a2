//! A scripted Kafka cluster for the producer's tests: it keeps a real log
//! per partition and checks idempotent producers as a broker does
//! (KIP-98, KIP-360), and the test can make it fail, forget, hold or lose
//! answers, on a hand-moved clock.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

use crate::client::scripted::{api_versions, Harness, Reply, Responder};
use crate::producer::sequence::increment_sequence;
use crate::producer::*;
use crate::protocol::messages::api_versions_response::FinalizedFeatureKey;
use crate::protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use crate::protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use crate::protocol::messages::{InitProducerIdResponse, MetadataResponse, ProduceResponse};
use crate::protocol::{AnyRequest, AnyResponse, ApiKey, ErrorCode};
use crate::records::RecordSet;

/// How many of a producer's latest batches a partition remembers, to
/// spot a retry of one (Kafka keeps five).
const REMEMBERED_BATCHES: usize = 5;

/// A record as stored, with the producer id, epoch and sequence it came
/// with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stored {
    pub value: Bytes,
    pub pid: i64,
    pub epoch: i16,
    pub seq: i32,
}

/// A batch as a Produce request carried it: (partition, producer id,
/// epoch, base sequence).
pub(super) type Attempt = (i32, i64, i16, i32);

/// A producer's state in one partition, as a broker keeps it.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProducerState {
    pub epoch: i16,
    /// Its latest batches: (base sequence, last sequence).
    pub batches: VecDeque<(i32, i32)>,
}

/// What the scripted cluster stored, and how the test wants it to answer.
#[derive(Default)]
pub(crate) struct Log {
    /// Partitions of topic "t" (0 counts as 1). Partition `p` is led by
    /// broker 2 when `p` is even, broker 1 when odd.
    pub partitions: i32,
    /// Per partition, what was written, in order.
    pub records: BTreeMap<i32, Vec<Stored>>,
    /// Per partition and producer id, what the broker knows of it.
    pub producers: BTreeMap<(i32, i64), ProducerState>,
    /// Every batch sent, in the order the broker saw them.
    pub attempts: Vec<Attempt>,
    /// Per partition: error codes to answer its next batches with,
    /// without writing them.
    pub errors: BTreeMap<i32, VecDeque<i16>>,
    /// Per partition: error codes to answer with after writing the batch
    /// anyway (the leader wrote it, replication then failed).
    pub store_then_fail: BTreeMap<i32, VecDeque<i16>>,
    /// Partitions whose Produce answers are held until the test releases
    /// them ([`Setup::release_held`]): the batch is written at once.
    pub hold: BTreeSet<i32>,
    /// Produce requests to write and then not answer at all (the answer
    /// lost on the way).
    pub lose_answers: usize,
    /// InitProducerId's highest version: 3+ is a KIP-360 broker (2.5+);
    /// below 0 the broker has none (before 0.11). `None`: 4.
    pub init_producer_id_max: Option<i16>,
    /// The epoch InitProducerId hands out with a new id.
    pub init_epoch: i16,
    /// An error code InitProducerId answers with.
    pub init_error: Option<i16>,
    pub init_producer_id_calls: usize,
    pub produce_versions: Vec<i16>,
    /// The transaction coordinator (on broker 1).
    pub txn: super::scripted_coordinator::TxnCoordinator,
    /// Metadata answers still to come without topic "t" (as brokers
    /// answer for a topic just created that has not reached them yet).
    pub hide_topic_answers: usize,
    /// Every Produce's transactional id.
    pub produce_transactional_ids: Vec<Option<String>>,
    /// The finalized level of `transaction.version` the brokers report
    /// in ApiVersions (2+: KIP-890's second transaction protocol).
    pub transaction_version: Option<i16>,
}

impl Log {
    /// The broker forgets every producer of `partition` (retention, or a
    /// producer-state expiry): their next batch that does not start a
    /// sequence gets UNKNOWN_PRODUCER_ID.
    pub fn forget_producers(&mut self, partition: i32) {
        self.producers.retain(|(p, _), _| *p != partition);
    }

    /// As if the producer's batches so far had ended just before `next`
    /// (with `epoch`), for tests that jump far along the sequence.
    pub fn expect_next(&mut self, partition: i32, pid: i64, epoch: i16, next: i32) {
        let last = if next == 0 { i32::MAX } else { next - 1 };
        let state = self.producers.entry((partition, pid)).or_default();
        state.epoch = epoch;
        state.batches = VecDeque::from([(last, last)]);
    }

    /// The values stored in `partition`, in order.
    pub fn values(&self, partition: i32) -> Vec<Bytes> {
        self.records
            .get(&partition)
            .map(|v| v.iter().map(|r| r.value.clone()).collect())
            .unwrap_or_default()
    }

    /// The batches of `partition` sent, as (producer id, epoch, sequence).
    pub fn attempts_on(&self, partition: i32) -> Vec<(i64, i16, i32)> {
        self.attempts
            .iter()
            .filter(|a| a.0 == partition)
            .map(|&(_, pid, epoch, seq)| (pid, epoch, seq))
            .collect()
    }
}

/// What a broker makes of an idempotent batch.
enum Check {
    Append,
    /// One of the producer's latest batches again: already written.
    Duplicate,
    Reject(ErrorCode),
}

/// The broker's sequence check (Kafka's `ProducerStateManager`): a known
/// producer goes on from its last sequence, or starts a higher epoch at 0;
/// an unknown one may only start at 0.
fn check(state: Option<&ProducerState>, epoch: i16, base: i32, last: i32) -> Check {
    let Some(state) = state else {
        return match base {
            0 => Check::Append,
            _ => Check::Reject(ErrorCode::UNKNOWN_PRODUCER_ID),
        };
    };
    if epoch < state.epoch {
        return Check::Reject(ErrorCode::INVALID_PRODUCER_EPOCH);
    }
    if epoch > state.epoch {
        return match base {
            0 => Check::Append,
            _ => Check::Reject(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
        };
    }
    if state.batches.contains(&(base, last)) {
        return Check::Duplicate;
    }
    let expected = state
        .batches
        .back()
        .map_or(0, |(_, last)| increment_sequence(*last, 1));
    match base == expected {
        true => Check::Append,
        false => Check::Reject(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
    }
}

/// A decoded batch of a Produce request.
struct Incoming {
    /// The batch's transactional flag.
    transactional: bool,
    values: Vec<Bytes>,
    pid: i64,
    epoch: i16,
    seq: i32,
}

fn decode(records: Option<Bytes>) -> Incoming {
    let set = RecordSet::new(records.unwrap_or_default());
    let mut incoming = Incoming {
        transactional: false,
        values: Vec::new(),
        pid: -1,
        epoch: -1,
        seq: -1,
    };
    for batch in set.batches() {
        let batch = batch.expect("batch decodes");
        if let crate::records::Batch::V2(b) = &batch {
            incoming.pid = b.producer_id();
            incoming.epoch = b.header().producer_epoch;
            incoming.seq = b.header().base_sequence;
            incoming.transactional = b.is_transactional();
        }
        for r in batch.records().expect("records") {
            incoming
                .values
                .push(r.expect("record").value.unwrap_or_default());
        }
    }
    incoming
}

impl Log {
    /// Takes one partition's batch: the answer's error code and base
    /// offset.
    fn produce(&mut self, partition: i32, records: Option<Bytes>) -> (ErrorCode, i64) {
        if let Some(code) = self
            .errors
            .get_mut(&partition)
            .and_then(VecDeque::pop_front)
        {
            return (ErrorCode(code), -1);
        }
        let b = decode(records);
        self.attempts.push((partition, b.pid, b.epoch, b.seq));
        let count = b.values.len() as i32;
        let last = increment_sequence(b.seq, count - 1);
        if b.pid >= 0 {
            match check(
                self.producers.get(&(partition, b.pid)),
                b.epoch,
                b.seq,
                last,
            ) {
                Check::Append => {}
                // An old broker's answer: no offset for the first write.
                Check::Duplicate => return (ErrorCode::DUPLICATE_SEQUENCE_NUMBER, -1),
                Check::Reject(code) => return (code, -1),
            }
            let state = self.producers.entry((partition, b.pid)).or_default();
            if state.epoch != b.epoch {
                state.batches.clear();
                state.epoch = b.epoch;
            }
            state.batches.push_back((b.seq, last));
            if state.batches.len() > REMEMBERED_BATCHES {
                state.batches.pop_front();
            }
        }
        let log = self.records.entry(partition).or_default();
        let base = log.len() as i64;
        for (i, value) in b.values.into_iter().enumerate() {
            let seq = if b.pid >= 0 {
                increment_sequence(b.seq, i as i32)
            } else {
                -1
            };
            log.push(Stored {
                value,
                pid: b.pid,
                epoch: b.epoch,
                seq,
            });
        }
        match self
            .store_then_fail
            .get_mut(&partition)
            .and_then(VecDeque::pop_front)
        {
            Some(code) => (ErrorCode(code), -1),
            None => (ErrorCode::NONE, base),
        }
    }

    /// Kafka without a transactional id: a new id every time, whatever id
    /// and epoch the request carries (its `handleInitProducerId`).
    fn init_producer_id(&mut self) -> InitProducerIdResponse {
        self.init_producer_id_calls += 1;
        match self.init_error {
            Some(code) => InitProducerIdResponse {
                error_code: code,
                producer_id: -1,
                producer_epoch: -1,
                ..Default::default()
            },
            None => InitProducerIdResponse {
                producer_id: 1000 + self.init_producer_id_calls as i64,
                producer_epoch: self.init_epoch,
                ..Default::default()
            },
        }
    }

    fn metadata(&self) -> AnyResponse {
        AnyResponse::Metadata(MetadataResponse {
            brokers: [(1, "b1"), (2, "b2")]
                .iter()
                .map(|(id, host)| MetadataResponseBroker {
                    node_id: *id,
                    host: host.to_string(),
                    port: 9092,
                    ..Default::default()
                })
                .collect(),
            controller_id: 1,
            topics: vec![MetadataResponseTopic {
                name: Some("t".into()),
                partitions: (0..self.partitions.max(1))
                    .map(|p| MetadataResponsePartition {
                        partition_index: p,
                        leader_id: if p % 2 == 0 { 2 } else { 1 },
                        replica_nodes: vec![1, 2],
                        isr_nodes: vec![1, 2],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        })
    }
}

/// The cluster behind `log`: two brokers, topic "t", Produce up to
/// `max_produce`.
pub(crate) fn cluster(log: Rc<RefCell<Log>>, max_produce: i16) -> Responder {
    Box::new(move |_, header, request| {
        let mut l = log.borrow_mut();
        match request {
            AnyRequest::ApiVersions(_) => {
                let mut versions = vec![
                    (ApiKey::ApiVersions, 0, 3),
                    (ApiKey::Metadata, 0, 12),
                    (ApiKey::Produce, 0, max_produce),
                ];
                let init = l.init_producer_id_max.unwrap_or(4);
                if init >= 0 {
                    versions.push((ApiKey::InitProducerId, 0, init));
                    versions.extend([
                        (ApiKey::FindCoordinator, 0, 4),
                        (ApiKey::AddPartitionsToTxn, 0, 4),
                        (ApiKey::AddOffsetsToTxn, 0, 4),
                        (ApiKey::EndTxn, 0, 5),
                        (ApiKey::TxnOffsetCommit, 0, 5),
                    ]);
                }
                let mut answer = api_versions(&versions);
                if let (AnyResponse::ApiVersions(r), Some(level)) =
                    (&mut answer, l.transaction_version)
                {
                    r.finalized_features_epoch = 1;
                    r.finalized_features = vec![FinalizedFeatureKey {
                        name: "transaction.version".into(),
                        max_version_level: level,
                        min_version_level: 1,
                        ..Default::default()
                    }];
                }
                Reply::Respond(answer)
            }
            AnyRequest::Metadata(_) if l.hide_topic_answers > 0 => {
                l.hide_topic_answers -= 1;
                let mut answer = l.metadata();
                if let AnyResponse::Metadata(m) = &mut answer {
                    for t in &mut m.topics {
                        t.error_code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0;
                        t.partitions.clear();
                    }
                }
                Reply::Respond(answer)
            }
            AnyRequest::Metadata(_) => Reply::Respond(l.metadata()),
            request @ (AnyRequest::FindCoordinator(_)
            | AnyRequest::AddPartitionsToTxn(_)
            | AnyRequest::AddOffsetsToTxn(_)
            | AnyRequest::TxnOffsetCommit(_)
            | AnyRequest::EndTxn(_)) => match l.txn.answer(request, header.request_api_version) {
                Some(answer) => Reply::Respond(answer),
                None => Reply::Silence,
            },
            AnyRequest::InitProducerId(r) if r.transactional_id.is_some() => {
                match l.txn.answer(request, header.request_api_version) {
                    Some(answer) => Reply::Respond(answer),
                    None => Reply::Silence,
                }
            }
            AnyRequest::InitProducerId(_) => {
                Reply::Respond(AnyResponse::InitProducerId(l.init_producer_id()))
            }
            AnyRequest::Produce(p) => {
                l.produce_versions.push(header.request_api_version);
                l.produce_transactional_ids.push(p.transactional_id.clone());
                let mut held = false;
                let mut responses = Vec::new();
                for t in &p.topic_data {
                    let mut partitions = Vec::new();
                    for pd in &t.partition_data {
                        held |= l.hold.contains(&pd.index);
                        let fenced = match p.transactional_id {
                            Some(_) => {
                                let incoming = decode(pd.records.clone());
                                if !incoming.transactional {
                                    l.txn.unflagged_writes += 1;
                                }
                                let stamp = (incoming.pid, incoming.epoch);
                                let version = header.request_api_version;
                                l.txn.produce_check(&t.name, pd.index, stamp, version)
                            }
                            None => None,
                        };
                        let (code, base_offset) = match fenced {
                            Some(code) => (code, -1),
                            None => l.produce(pd.index, pd.records.clone()),
                        };
                        partitions.push(PartitionProduceResponse {
                            index: pd.index,
                            error_code: code.0,
                            base_offset,
                            log_append_time_ms: -1,
                            ..Default::default()
                        });
                    }
                    responses.push(TopicProduceResponse {
                        name: t.name.clone(),
                        partition_responses: partitions,
                        ..Default::default()
                    });
                }
                if p.acks == 0 {
                    return Reply::Silence;
                }
                if l.lose_answers > 0 {
                    l.lose_answers -= 1;
                    return Reply::Silence;
                }
                let answer = AnyResponse::Produce(ProduceResponse {
                    responses,
                    ..Default::default()
                });
                match held {
                    true => Reply::Later(answer),
                    false => Reply::Respond(answer),
                }
            }
            _ => Reply::Silence,
        }
    })
}

pub(super) struct Setup {
    pub h: Harness,
    pub p: ProducerMachine,
    pub log: Rc<RefCell<Log>>,
    pub events: Vec<ProducerEvent>,
}

impl Setup {
    pub fn new(config: ProducerConfig, max_produce: i16) -> Self {
        Self::with_log(config, max_produce, Log::default())
    }

    /// A producer against a cluster that starts as `log` says.
    pub fn with_log(config: ProducerConfig, max_produce: i16, log: Log) -> Self {
        let log = Rc::new(RefCell::new(log));
        let mut h = Harness::new(&["b1:9092"], cluster(log.clone(), max_produce));
        h.run();
        let now = h.now;
        Setup {
            h,
            p: ProducerMachine::new(config, 7, now),
            log,
            events: Vec::new(),
        }
    }

    /// Runs client IO and routes client events to the producer until quiet.
    pub fn settle(&mut self) {
        for e in self.h.settle(&mut self.p) {
            self.events.push(e);
        }
    }

    pub fn advance(&mut self, by: Duration) {
        self.h.now += by;
        let now = self.h.now;
        self.h.client.handle_timeout(now);
        self.p.handle_timeout(&mut self.h.client, now);
        self.settle();
    }

    /// Hands the producer the answers held back so far.
    pub fn release_held(&mut self) {
        self.log.borrow_mut().hold.clear();
        self.h.release_held();
        self.settle();
    }

    pub fn send(&mut self, record: ProducerRecord) -> Result<DeliveryId, ProduceError> {
        let now = self.h.now;
        let r = self
            .p
            .send(&mut self.h.client, record, now, 1_700_000_000_000);
        self.settle();
        r
    }

    /// Sends `value` to partition `partition` of "t".
    pub fn send_to(&mut self, partition: i32, value: Bytes) -> DeliveryId {
        self.send(ProducerRecord::new("t").partition(partition).value(value))
            .expect("queued")
    }

    pub fn flush(&mut self) {
        let now = self.h.now;
        let token = self.p.flush(&mut self.h.client, now);
        for _ in 0..50 {
            self.settle();
            if self.events.contains(&ProducerEvent::Flushed { token }) {
                return;
            }
            self.advance(Duration::from_millis(100));
        }
        panic!("flush {token} did not finish: {:?}", self.events);
    }

    pub fn delivered(&self) -> Vec<(DeliveryId, Delivery)> {
        self.events
            .iter()
            .flat_map(|e| match e {
                ProducerEvent::Delivered(batch) => batch.iter().collect(),
                _ => Vec::new(),
            })
            .collect()
    }

    /// The records that failed, with their errors.
    pub fn failed(&self) -> Vec<(DeliveryId, ProduceError)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                ProducerEvent::Failed { id, error } => Some((*id, error.clone())),
                _ => None,
            })
            .collect()
    }

    pub fn stored_values(&self, partition: i32) -> Vec<Bytes> {
        self.log.borrow().values(partition)
    }
}

pub(crate) fn value(i: usize) -> Bytes {
    Bytes::from(format!("value-{i}"))
}
