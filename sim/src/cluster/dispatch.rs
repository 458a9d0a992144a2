//! From a request frame to a queued answer: version checks (including
//! Kafka 0.8.2's habit of hanging up on ApiVersions), decoding, injected
//! faults, and the handler of each API.

use bytes::{Bytes, BytesMut};
use kafkite::protocol::frame::{decode_request, encode_response_with};
use kafkite::protocol::messages::ApiVersionsResponse;
use kafkite::protocol::{AnyRequest, AnyResponse, ApiKey, ErrorCode};

use super::{
    fetch, group_api, inject, metadata, offsets, produce, txn_api, Cluster, ConnKey, Slot,
    SlotState,
};
use crate::SimError;

impl Cluster {
    /// Serves one request frame (without its size prefix). An error means
    /// the broker closes the connection.
    pub(super) fn serve_frame(
        &mut self,
        conn: ConnKey,
        broker: i32,
        frame: Bytes,
    ) -> Result<(), SimError> {
        let bad = |reason: &str| SimError::BadRequest {
            broker,
            reason: reason.to_string(),
        };
        if frame.len() < 8 {
            return Err(bad("shorter than a request header"));
        }
        let key = i16::from_be_bytes([frame[0], frame[1]]);
        let version = i16::from_be_bytes([frame[2], frame[3]]);
        let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
        let api = ApiKey::from_i16(key).ok_or_else(|| bad("unknown API key"))?;
        if api == ApiKey::ApiVersions {
            if self.config.legacy_0_8_2 {
                // Kafka 0.8.2 knows no ApiVersions and drops the connection:
                // clients learn from this that the broker is old.
                return Err(bad("Kafka 0.8.2 has no ApiVersions"));
            }
            if !self.versions.supports(api, version) {
                // KIP-511: answer UNSUPPORTED_VERSION with a v0 body that
                // lists what is served, so the client can retry lower.
                let body = ApiVersionsResponse {
                    error_code: ErrorCode::UNSUPPORTED_VERSION.0,
                    api_keys: self.versions.advertised(),
                    ..Default::default()
                };
                self.push(
                    conn,
                    api,
                    version,
                    correlation_id,
                    SlotState::ReadyAt(Box::new(AnyResponse::ApiVersions(body)), 0),
                );
                return Ok(());
            }
        }
        if !self.versions.supports(api, version) {
            return Err(bad("API version not served"));
        }
        let (header, request) = decode_request(frame).map_err(|e| bad(&e.to_string()))?;
        let _ = header;
        if let Some(body) = inject::maybe_error(self, &request, version) {
            self.push(
                conn,
                api,
                version,
                correlation_id,
                SlotState::Ready(Box::new(body)),
            );
            return Ok(());
        }
        let state = match request {
            AnyRequest::ApiVersions(_) => Some(SlotState::Ready(Box::new(
                AnyResponse::ApiVersions(ApiVersionsResponse {
                    api_keys: self.versions.advertised(),
                    ..self.versions.features()
                }),
            ))),
            AnyRequest::Metadata(r) => Some(ready(AnyResponse::Metadata(metadata::metadata(
                self, &r, version,
            )))),
            AnyRequest::CreateTopics(r) => Some(ready(AnyResponse::CreateTopics(
                metadata::create_topics(self, &r),
            ))),
            AnyRequest::DeleteTopics(r) => Some(ready(AnyResponse::DeleteTopics(
                metadata::delete_topics(self, &r, version),
            ))),
            AnyRequest::FindCoordinator(r) => Some(ready(AnyResponse::FindCoordinator(
                metadata::find_coordinator(self, &r, version),
            ))),
            AnyRequest::InitProducerId(r) => {
                let answer = txn_api::init_producer_id(self, broker, &r);
                if let (Some(id), 0) = (&r.transactional_id, answer.error_code) {
                    self.note_coordinator(id, broker);
                }
                Some(ready(AnyResponse::InitProducerId(answer)))
            }
            AnyRequest::AddPartitionsToTxn(r) => Some(ready(AnyResponse::AddPartitionsToTxn(
                txn_api::add_partitions(self, broker, &r, version),
            ))),
            AnyRequest::AddOffsetsToTxn(r) => Some(ready(AnyResponse::AddOffsetsToTxn(
                txn_api::add_offsets(self, broker, &r, version),
            ))),
            AnyRequest::EndTxn(r) => {
                let answer = txn_api::end_txn(self, broker, &r, version);
                if answer.error_code == 0 {
                    self.note_coordinator(&r.transactional_id, broker);
                }
                Some(ready(AnyResponse::EndTxn(answer)))
            }
            AnyRequest::TxnOffsetCommit(r) => Some(ready(AnyResponse::TxnOffsetCommit(
                txn_api::txn_offset_commit(self, broker, &r, version),
            ))),
            AnyRequest::Produce(r) => produce::produce(self, broker, r, version),
            AnyRequest::Fetch(r) => Some(fetch::fetch(self, broker, r, version)),
            AnyRequest::ListOffsets(r) => Some(ready(AnyResponse::ListOffsets(
                fetch::list_offsets(self, broker, &r, version),
            ))),
            AnyRequest::JoinGroup(r) => Some(group_api::join_group(self, broker, r, version)),
            AnyRequest::SyncGroup(r) => Some(group_api::sync_group(self, broker, r, version)),
            AnyRequest::Heartbeat(r) => Some(ready(AnyResponse::Heartbeat(group_api::heartbeat(
                self, broker, &r,
            )))),
            AnyRequest::LeaveGroup(r) => Some(ready(AnyResponse::LeaveGroup(
                group_api::leave_group(self, broker, &r, version),
            ))),
            AnyRequest::OffsetCommit(r) => Some(ready(AnyResponse::OffsetCommit(offsets::commit(
                self, broker, &r, version,
            )))),
            AnyRequest::OffsetFetch(r) => Some(ready(AnyResponse::OffsetFetch(offsets::fetch(
                self, broker, &r, version,
            )))),
            _ => return Err(bad("API not simulated")),
        };
        if let Some(state) = state {
            self.push(conn, api, version, correlation_id, state);
        }
        Ok(())
    }

    fn push(
        &mut self,
        conn: ConnKey,
        api: ApiKey,
        version: i16,
        correlation_id: i32,
        state: SlotState,
    ) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.slots.push_back(Slot {
                api,
                version,
                correlation_id,
                state,
            });
        }
    }
}

fn ready(body: AnyResponse) -> SlotState {
    SlotState::Ready(Box::new(body))
}

/// One whole response frame, size prefix included.
pub(super) fn encode(
    broker: i32,
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &AnyResponse,
) -> Result<Bytes, SimError> {
    let mut buf = BytesMut::new();
    encode_response_with(&mut buf, api, version, correlation_id, |b| {
        body.encode(b, version)
    })
    .map_err(|e| SimError::Encode {
        broker,
        api: api.name(),
        version,
        reason: e.to_string(),
    })?;
    Ok(buf.freeze())
}
