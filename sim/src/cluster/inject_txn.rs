//! Retriable errors injected into the transactional APIs: what a
//! coordinator that is loading, moving or still finishing the previous
//! transaction answers. The client must retry each inside the call.

use kafkite::protocol::messages::{
    AddOffsetsToTxnResponse, EndTxnResponse, InitProducerIdResponse,
};
use kafkite::protocol::{AnyRequest, AnyResponse, ErrorCode};

use super::txn_api;

/// Whether `request` is one of the transactional APIs errors go into.
pub(super) fn eligible(request: &AnyRequest) -> bool {
    match request {
        AnyRequest::InitProducerId(r) => r.transactional_id.is_some(),
        AnyRequest::AddPartitionsToTxn(_)
        | AnyRequest::AddOffsetsToTxn(_)
        | AnyRequest::EndTxn(_)
        | AnyRequest::TxnOffsetCommit(_) => true,
        _ => false,
    }
}

/// The error answer for `request`; `pick` (0 or 1) chooses the error.
pub(super) fn error_answer(request: &AnyRequest, pick: u64) -> Option<AnyResponse> {
    let coordinator = if pick == 0 {
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
    } else {
        ErrorCode::NOT_COORDINATOR
    };
    let busy = if pick == 0 {
        ErrorCode::CONCURRENT_TRANSACTIONS
    } else {
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
    };
    Some(match request {
        AnyRequest::InitProducerId(_) => AnyResponse::InitProducerId(InitProducerIdResponse {
            error_code: coordinator.0,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        }),
        AnyRequest::AddPartitionsToTxn(r) => {
            AnyResponse::AddPartitionsToTxn(txn_api::add_partitions_answer(r, |_, _| busy.0))
        }
        AnyRequest::AddOffsetsToTxn(_) => AnyResponse::AddOffsetsToTxn(AddOffsetsToTxnResponse {
            error_code: busy.0,
            ..Default::default()
        }),
        AnyRequest::EndTxn(_) => AnyResponse::EndTxn(EndTxnResponse {
            error_code: coordinator.0,
            ..Default::default()
        }),
        AnyRequest::TxnOffsetCommit(r) => {
            AnyResponse::TxnOffsetCommit(txn_api::txn_offsets_answer(r, coordinator.0))
        }
        _ => return None,
    })
}
