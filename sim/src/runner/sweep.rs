//! Many seeds at once: a seed sweep over the machine's two cores.

use std::ops::Range;

/// Runs `each` for every seed in `seeds` on two threads (seeds
/// interleaved) and returns what each gave, in seed order. `each` should
/// return something small (a summary, or the report only when a seed
/// failed): ten thousand full reports add up.
pub fn sweep<T: Send>(seeds: Range<u64>, each: impl Fn(u64) -> T + Sync) -> Vec<(u64, T)> {
    const THREADS: u64 = 2;
    let each = &each;
    let mut results: Vec<(u64, T)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let seeds = seeds.clone();
                scope.spawn(move || {
                    (seeds.start + t..seeds.end)
                        .step_by(THREADS as usize)
                        .map(|seed| (seed, each(seed)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    results.sort_by_key(|(seed, _)| *seed);
    results
}
