//! Buffers for received bytes, handed from the connection tasks to the
//! event loop and back.
//!
//! Each socket read lands in a buffer that travels to the event loop, which
//! copies it into the core's frame reassembly and returns the buffer here.
//! Allocating one per read instead costs more than the copy it carries: a
//! 64 KiB allocation freed on another thread is often handed back to the
//! OS and faulted in again on the next read (half the page faults of a
//! consumer at full speed, before this pool).

use std::sync::{Arc, Mutex, PoisonError};

/// Buffers kept for reuse; the rest are freed. The event loop's input
/// channel bounds how many are in flight at once.
const MAX_KEPT: usize = 32;

/// Shared by an event loop and its connection tasks.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReceivePool(Arc<Mutex<Vec<Vec<u8>>>>);

impl ReceivePool {
    /// A buffer of `len` bytes to read into. A reused one keeps the bytes
    /// it had (they are overwritten by the read; only the part after the
    /// previous read's end is zeroed).
    pub(crate) fn take(&self, len: usize) -> Vec<u8> {
        let mut buf = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        buf.resize(len, 0);
        buf
    }

    /// Returns a buffer once its bytes have been used.
    pub(crate) fn give(&self, buf: Vec<u8>) {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() < MAX_KEPT {
            kept.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ReceivePool;

    #[test]
    fn a_returned_buffer_is_reused_at_the_asked_length() {
        let pool = ReceivePool::default();
        let mut first = pool.take(16);
        assert_eq!(first, vec![0; 16]);
        first[..4].copy_from_slice(b"abcd");
        first.truncate(4);
        let ptr = first.as_ptr();
        pool.give(first);
        let again = pool.take(16);
        assert_eq!(again.as_ptr(), ptr);
        assert_eq!(again.len(), 16);
        assert_eq!(&again[4..], &[0; 12]);
    }
}
