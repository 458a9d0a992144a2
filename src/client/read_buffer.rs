//! The buffer a connection reassembles response frames in, and the large
//! ones it keeps for reuse.
//!
//! A frame is cut off the buffer as `Bytes` and lives on in what was decoded
//! from it (a fetch response's records are slices of it), so a buffer
//! cannot be reused while the application still holds records. Growing it
//! for the next large frame therefore allocates, and a multi-megabyte
//! allocation comes from fresh pages: at consumer rates the page faults of
//! zero-filling them cost a tenth of the client's CPU. So a buffer grown
//! for a large frame is kept when the next one needs room, and reclaimed
//! (`BytesMut::try_reclaim`, which succeeds only once no `Bytes` cut from
//! it is alive) instead of allocating: the pages are reused while warm.
//! At most [`MAX_SPARES`] are kept, so the memory held is bounded by that
//! many of the largest frames received.

use bytes::BytesMut;

/// Frames below this size fit the buffer's ordinary growth; only buffers
/// grown for larger ones are worth keeping.
const LARGE: usize = 256 * 1024;

/// The most room made beyond the bytes received, for a frame that says it
/// is larger.
const AHEAD: usize = 16 << 20;

/// Spare buffers kept per connection: a consumer typically holds the
/// records of one or two responses while the next arrives.
const MAX_SPARES: usize = 3;

#[derive(Debug, Default)]
pub(crate) struct ReadBuffer {
    /// Received bytes not yet cut into frames.
    pub(crate) buf: BytesMut,
    /// The size `buf` was allocated (or reclaimed) with, when it was made
    /// for a large frame; `None` for ordinary growth.
    large: Option<usize>,
    /// Earlier large buffers, emptied, with their allocated sizes; some
    /// still back live frames.
    spares: Vec<(BytesMut, usize)>,
}

impl ReadBuffer {
    /// Makes room for `total` bytes in all (what is buffered included), so
    /// the rest of a frame of that size is appended without growing again.
    pub(crate) fn make_room(&mut self, total: usize) {
        // The size is the peer's claim, checked only against the maximum
        // response size: room is made for at most `AHEAD` more than has
        // arrived (or double that, for frames already that large), so a
        // bogus prefix does not reserve hundreds of megabytes at once.
        let total = total.min(
            self.buf
                .len()
                .saturating_add(AHEAD)
                .max(self.buf.len().saturating_mul(2)),
        );
        let additional = total.saturating_sub(self.buf.len());
        if self.buf.capacity() - self.buf.len() >= additional {
            return;
        }
        if total < LARGE {
            self.buf.reserve(additional);
            return;
        }
        self.retire_large();
        let reclaimed = self
            .spares
            .iter_mut()
            .position(|(spare, _)| spare.try_reclaim(total));
        let (mut fresh, size) = match reclaimed {
            Some(at) => self.spares.swap_remove(at),
            None => (BytesMut::with_capacity(total), total),
        };
        fresh.extend_from_slice(&self.buf);
        self.buf = fresh;
        self.large = Some(size);
    }

    /// Called after complete frames were cut off: a large buffer is set
    /// aside (what is left of it, the start of the next frame, is moved to
    /// an ordinary one), before ordinary growth would drop the only handle
    /// this connection has on it.
    pub(crate) fn frames_cut(&mut self) {
        self.retire_large();
    }

    /// Moves a large `buf` to the spares, leaving its unread bytes in an
    /// ordinary buffer.
    fn retire_large(&mut self) {
        let Some(size) = self.large.take() else {
            return;
        };
        // Empty, this allocates nothing.
        let rest = BytesMut::from(&self.buf[..]);
        let mut old = std::mem::replace(&mut self.buf, rest);
        old.clear();
        if self.spares.len() == MAX_SPARES {
            // Keep the larger ones: they serve any frame the smaller do.
            if let Some(smallest) = (0..self.spares.len()).min_by_key(|&i| self.spares[i].1) {
                if self.spares[smallest].1 >= size {
                    return;
                }
                self.spares.swap_remove(smallest);
            }
        }
        self.spares.push((old, size));
    }

    /// Spare buffers held (for tests).
    #[cfg(test)]
    pub(crate) fn spares(&self) -> usize {
        self.spares.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_made_at_once_is_bounded_by_what_arrived() {
        let mut read = ReadBuffer::default();
        read.buf.extend_from_slice(&[0; 1000]);
        read.make_room(200 << 20);
        assert!(read.buf.capacity() >= 1000 + (1 << 20));
        assert!(
            read.buf.capacity() <= 1000 + AHEAD + 4096,
            "{}",
            read.buf.capacity()
        );
        // Grown past that, room doubles with what arrived.
        let mut read = ReadBuffer::default();
        read.buf.extend_from_slice(&vec![0; 40 << 20]);
        read.make_room(200 << 20);
        assert!(read.buf.capacity() >= 80 << 20);
        assert!(read.buf.capacity() < 100 << 20);
        // A frame that fits is given room for all of it.
        let mut read = ReadBuffer::default();
        read.buf.extend_from_slice(&[0; 1000]);
        read.make_room(3 << 20);
        assert!(read.buf.capacity() >= 3 << 20);
    }
}
