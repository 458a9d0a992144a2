//! The consumer: fetching with offset resets and back-pressure (see
//! [`Fetcher`]). Group membership and the Dart package's envelope consumer
//! build on it.

mod fetcher;
pub mod group;

#[cfg(test)]
mod tests;

pub use fetcher::{FetchConfig, FetchError, FetchEvent, FetchedRecords, Fetcher, OffsetReset};
