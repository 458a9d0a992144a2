//! The consuming handles: the envelope `Consumer`, `Fetcher`,
//! `GroupConsumer`, `GroupOffsets`, `OffsetMaster`, and the event loop's
//! side of each (`*_slots`).

pub(crate) mod consumed_record;
pub(crate) mod envelope_consumer;
pub(crate) mod fetch_handle;
pub(crate) mod fetch_slots;
pub(crate) mod fetched_chunk;
pub(crate) mod fetcher;
pub(crate) mod group_consumer;
pub(crate) mod group_offsets;
pub(crate) mod group_slots;
pub(crate) mod offset_master;
