//! [`BatchBuffers`]: the buffers new batches are written into, reused from
//! acknowledged batches.
//!
//! A batch buffer freed on the event loop's thread and allocated again goes
//! back to the OS and comes back as fresh pages, zero-filled by page faults
//! (a fifteenth of the producer's CPU at full speed); a few kept warm serve
//! the partitions being filled.

use bytes::BytesMut;

use super::batch::Batch;

/// A new batch allocates up to this much up front (the batch size if
/// smaller); a batch size set larger grows its buffer as it fills.
const MAX_PREALLOCATED_BATCH: usize = 1 << 20;

/// Buffers of acknowledged batches kept for new batches.
const MAX_SPARES: usize = 8;

#[derive(Debug)]
pub(crate) struct BatchBuffers {
    /// Emptied, each with room for `capacity` bytes at least.
    spares: Vec<BytesMut>,
    /// The room a new batch's buffer is made with.
    capacity: usize,
}

impl BatchBuffers {
    /// For batches of `batch_size` bytes.
    pub(crate) fn new(batch_size: usize) -> BatchBuffers {
        BatchBuffers {
            spares: Vec::new(),
            capacity: batch_size.min(MAX_PREALLOCATED_BATCH),
        }
    }

    /// An empty buffer with room for a batch: a kept one, or a new one.
    pub(crate) fn take(&mut self) -> BytesMut {
        self.spares
            .pop()
            .unwrap_or_else(|| BytesMut::with_capacity(self.capacity))
    }

    /// Keeps a finished batch's buffer, if nothing else holds it and it has
    /// the room a new batch takes (a compressed batch's has less).
    pub(crate) fn keep(&mut self, batch: Batch) {
        if self.spares.len() < MAX_SPARES {
            let buffer = batch
                .into_buffer()
                .filter(|b| b.capacity() >= self.capacity);
            self.spares.extend(buffer);
        }
    }

    /// Buffers kept (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.spares.len()
    }
}
