//! The line a bench ends with.

use std::fmt;
use std::time::Duration;

use super::progress::rate;

/// What a bench measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// "produced" or "consumed".
    pub verb: &'static str,
    pub records: u64,
    /// Bytes of values.
    pub bytes: u64,
    pub elapsed: Duration,
    /// CPU time of the process over the measured span.
    pub cpu: Duration,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let records_per_sec = rate(self.records, self.elapsed);
        let mb_per_sec = rate(self.bytes, self.elapsed) / 1e6;
        let cpu = self.cpu.as_secs_f64();
        let cpu_per_million = if self.records > 0 {
            cpu * 1e6 / self.records as f64
        } else {
            0.0
        };
        write!(
            f,
            "{} {} records ({:.1} MB) in {:.2} s: {records_per_sec:.0} records/s, \
             {mb_per_sec:.1} MB/s, {cpu:.2} CPU seconds ({cpu_per_million:.2} per million records)",
            self.verb,
            self.records,
            self.bytes as f64 / 1e6,
            self.elapsed.as_secs_f64(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_gives_rates_and_cpu_per_million() {
        let summary = Summary {
            verb: "produced",
            records: 2_000_000,
            bytes: 200_000_000,
            elapsed: Duration::from_secs(2),
            cpu: Duration::from_secs(3),
        };
        assert_eq!(
            summary.to_string(),
            "produced 2000000 records (200.0 MB) in 2.00 s: 1000000 records/s, \
             100.0 MB/s, 3.00 CPU seconds (1.50 per million records)"
        );
    }
}
