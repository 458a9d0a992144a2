//! Which machine sent which request, so that its answer goes to that
//! machine alone instead of being offered around.
//!
//! The client numbers requests in order, so the requests a machine sends
//! during one call into it are the ids issued during that call.

use std::collections::BTreeMap;
use std::ops::Range;

use super::slots::Slot;
use crate::client::RequestId;

#[derive(Debug, Default)]
pub(crate) struct Routes {
    owners: BTreeMap<RequestId, Slot>,
}

impl Routes {
    /// The requests numbered `ids` belong to `slot`.
    pub(crate) fn claim(&mut self, ids: Range<u64>, slot: Slot) {
        for id in ids {
            self.owners.insert(RequestId(id), slot);
        }
    }

    /// Who sent request `id`; `None` for the application's own requests
    /// (and those of a machine since removed).
    pub(crate) fn take(&mut self, id: RequestId) -> Option<Slot> {
        self.owners.remove(&id)
    }

    /// Forgets a removed machine's requests (abandoned ones are never
    /// answered, so nothing else would clear them).
    pub(crate) fn forget(&mut self, slot: Slot) {
        self.owners.retain(|_, owner| *owner != slot);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.owners.len()
    }
}
