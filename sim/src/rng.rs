//! The simulation's one source of randomness: SplitMix64 from the run's
//! seed. Every choice (delays, faults, which broker, which error) is drawn
//! from it in a fixed order, so one seed replays one run exactly.

use kafkite::client::Rng;

/// The core's seeded SplitMix64 ([`kafkite::client::Rng`]) with the draws
/// a fault schedule needs: fast, and plenty for choosing faults; nothing
/// here needs cryptographic quality.
#[derive(Debug, Clone)]
pub struct SimRng {
    inner: Rng,
}

impl SimRng {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        SimRng {
            inner: Rng::new(seed),
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// A value in `0..n`; 0 when `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        self.inner.below(n)
    }

    /// A value in `lo..=hi` (`lo` when the range is empty).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            lo + self.below(hi - lo + 1)
        }
    }

    /// True with probability `per_mille / 1000`.
    pub fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < u64::from(per_mille)
    }

    /// A generator for a sub-system, so that adding draws in one part of
    /// the simulation does not shift every later choice of another.
    pub fn fork(&mut self) -> SimRng {
        SimRng::new(self.next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_seed_gives_one_sequence() {
        let mut a = SimRng::new(9);
        let mut b = SimRng::new(9);
        for _ in 0..64 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert!(SimRng::new(3).range(5, 7) >= 5);
        assert_eq!(SimRng::new(3).below(0), 0);
    }
}
