//! Many records in one call (`send_packed`, `send_all`): each placed as
//! `send` places it, and a run of keyless records after one appended
//! straight to the batch it joined.

use std::sync::Arc;
use std::time::Instant;

use super::ProducerMachine;
use crate::client::Client;
use crate::producer::outgoing::Outgoing;
use crate::producer::packed_records::PackedRecords;
use crate::producer::record::{DeliveryId, ProduceError, ProducerRecord};

impl ProducerMachine {
    /// Queues each of `records` in order, as that many `send`s would, and
    /// hands each one's id (consecutive for the records queued) or error
    /// to `placed`. The records' bytes go straight from the packed buffer
    /// into their batches.
    pub fn send_packed(
        &mut self,
        client: &mut Client,
        records: &PackedRecords,
        now: Instant,
        wall_clock_ms: i64,
        placed: impl FnMut(Result<DeliveryId, ProduceError>),
    ) {
        self.send_many(client, records.iter(), now, wall_clock_ms, placed);
    }

    /// Queues each of `records` in order, as that many `send`s would, and
    /// hands each one's id (consecutive for the records queued) or error
    /// to `placed`.
    pub fn send_all(
        &mut self,
        client: &mut Client,
        records: impl IntoIterator<Item = ProducerRecord>,
        now: Instant,
        wall_clock_ms: i64,
        placed: impl FnMut(Result<DeliveryId, ProduceError>),
    ) {
        self.send_many(client, records.into_iter(), now, wall_clock_ms, placed);
    }

    fn send_many<R: Outgoing>(
        &mut self,
        client: &mut Client,
        records: impl Iterator<Item = R>,
        now: Instant,
        wall_clock_ms: i64,
        mut placed: impl FnMut(Result<DeliveryId, ProduceError>),
    ) {
        let mut records = records.peekable();
        while let Some(record) = records.next() {
            let sticky = record.key().is_none() && record.partition().is_none();
            let outcome = self.send_outgoing(client, record, now, wall_clock_ms);
            let id = outcome.as_ref().ok().copied();
            placed(outcome);
            if let (true, Some(id)) = (sticky, id) {
                self.append_run(client, &mut records, id, now, wall_clock_ms, &mut placed);
            }
        }
    }

    /// After the keyless record `after` joined an open batch: appends the
    /// keyless records of the same topic that follow it straight to that
    /// batch while it has room, which is what `send_outgoing` would do with
    /// each (the same partition count and sticky partition, so the same
    /// queue), without looking them up again. Stops at the first record
    /// that needs more (another topic, a key or partition, no room, an
    /// error), for `send_outgoing` to place or refuse.
    fn append_run<R: Outgoing>(
        &mut self,
        client: &mut Client,
        records: &mut std::iter::Peekable<impl Iterator<Item = R>>,
        mut after: DeliveryId,
        now: Instant,
        wall_clock_ms: i64,
        placed: &mut impl FnMut(Result<DeliveryId, ProduceError>),
    ) {
        if !self.records_only_join_batches() || !self.awaiting.is_empty() {
            return;
        }
        let batch_size = self.config.batch_size;
        while let Some(record) = records.peek() {
            let size = record.estimated_size();
            if record.key().is_some() || record.partition().is_some() || self.admit(size).is_err() {
                return;
            }
            let Some(batch) = self.partitions.open_batch_after(after) else {
                return;
            };
            let topic = record.topic();
            let same_topic = Arc::ptr_eq(topic, &batch.topic) || **topic == *batch.topic;
            if !same_topic || batch.size() + size > batch_size {
                return;
            }
            // Appended under the id `take_id` hands out next (taken just
            // below, once the batch is no longer borrowed).
            let id = DeliveryId(self.next_delivery);
            let timestamp = record.timestamp().unwrap_or(wall_clock_ms);
            let appended = batch
                .append(id, record, timestamp, size)
                .map(|()| batch.size() >= batch_size);
            let taken = self.take_id(size);
            debug_assert_eq!(taken, id);
            records.next();
            // The record has its id either way: a failure is reported as an
            // event, as `place` does.
            placed(Ok(id));
            match appended {
                Ok(false) => after = id,
                Ok(true) => return self.drive(client, now),
                Err(error) => return self.fail(id, size, error, now),
            }
        }
    }
}
