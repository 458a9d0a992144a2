//! [`SpareBuffers`]: buffers handed out as `Bytes`, taken back for reuse
//! once nothing else holds them.
//!
//! A connection's large buffers (a response frame read in place, the bytes
//! of a Produce request) are frozen and handed on: to the records made from
//! a response, to the connection task writing a request. Freed there and
//! allocated again for the next one, a buffer of that size goes back to the
//! OS and returns as fresh pages, zero-filled by page faults, and a request
//! buffer grows (and copies itself) again as it is filled. Keeping a handle
//! on each lets the connection reuse it, pages warm and size reached, as
//! soon as its other holders have let go (`Bytes::is_unique`).

use bytes::{Bytes, BytesMut};

/// At most `max` buffers, each kept whole.
#[derive(Debug)]
pub(crate) struct SpareBuffers {
    kept: Vec<Bytes>,
    max: usize,
}

impl SpareBuffers {
    pub(crate) fn new(max: usize) -> SpareBuffers {
        SpareBuffers {
            kept: Vec::new(),
            max,
        }
    }

    /// Keeps a handle on `whole` (a buffer's full length, as frozen). When
    /// `max` are kept already, the longer ones stay: they serve whatever
    /// the shorter would.
    pub(crate) fn keep(&mut self, whole: Bytes) {
        if self.kept.len() == self.max {
            let shortest = (0..self.kept.len()).min_by_key(|&i| self.kept[i].len());
            match shortest {
                Some(i) if self.kept[i].len() < whole.len() => {
                    self.kept.swap_remove(i);
                }
                _ => return,
            }
        }
        self.kept.push(whole);
    }

    /// A kept buffer of at least `len` bytes that nothing else holds any
    /// more, as it was (its bytes initialized, its length as kept).
    pub(crate) fn take(&mut self, len: usize) -> Option<BytesMut> {
        let at = self
            .kept
            .iter()
            .position(|b| b.len() >= len && b.is_unique())?;
        // Unique a moment ago, and this is the only handle left to share
        // it, so the conversion succeeds; if it did not, the buffer is
        // simply not reused.
        self.kept.swap_remove(at).try_into_mut().ok()
    }

    /// Buffers kept (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.kept.len()
    }

    /// The kept buffers' lengths (for tests).
    #[cfg(test)]
    pub(crate) fn lens(&self) -> Vec<usize> {
        self.kept.iter().map(Bytes::len).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_comes_back_only_once_nothing_else_holds_it() {
        let mut spares = SpareBuffers::new(2);
        let whole = BytesMut::zeroed(1000).freeze();
        let ptr = whole.as_ptr();
        let part = whole.slice(10..20);
        spares.keep(whole);
        assert!(spares.take(1).is_none(), "a slice is still alive");
        drop(part);
        assert!(spares.take(1001).is_none(), "too short");
        let buf = spares.take(1000).expect("unique now");
        assert_eq!((buf.as_ptr(), buf.len()), (ptr, 1000));
        assert_eq!(spares.len(), 0);
    }

    #[test]
    fn the_longer_buffers_are_kept() {
        let mut spares = SpareBuffers::new(2);
        for len in [300, 100, 200, 50] {
            spares.keep(Bytes::from(vec![0; len]));
        }
        let mut lens = spares.lens();
        lens.sort();
        assert_eq!(lens, [200, 300]);
    }
}
