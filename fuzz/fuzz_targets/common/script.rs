//! The input as a script: read front to back, one decision at a time,
//! shared by the targets that drive machines step by step. Not every
//! target uses every reader.
#![allow(dead_code)]

/// Reads the input front to back; an exhausted input reads as zeros.
pub struct Script<'a> {
    pub data: &'a [u8],
}

impl<'a> Script<'a> {
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    /// An index below `n` (0 when `n` is 0).
    pub fn pick(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            usize::from(self.byte()) % n
        }
    }

    /// Up to `max` bytes, their number read first.
    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let len = if max > 255 {
            usize::from(self.u16())
        } else {
            usize::from(self.byte())
        };
        let len = len.min(max).min(self.data.len());
        let (taken, rest) = self.data.split_at(len);
        self.data = rest;
        taken
    }

    /// An offset near `around`, or one of the edges no log holds.
    pub fn offset(&mut self, around: i64) -> i64 {
        let b = self.byte();
        match b {
            0..=199 => around.saturating_add(i64::from(b) - 100),
            200..=239 => i64::from(b - 200),
            240 => -1,
            241 => i64::MIN,
            242 => i64::MAX,
            243 => i64::MAX - 1,
            244 => i64::MAX - 8,
            245 => i64::from(i32::MAX),
            246 => i64::from(i32::MAX) + 1,
            _ => around.saturating_add(i64::from(self.u16())),
        }
    }
}
