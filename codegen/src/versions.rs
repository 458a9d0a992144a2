//! Version ranges as the specs write them: "0+", "3-7", "5", "none".

/// An inclusive range of versions; `lo > hi` is the empty range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    pub lo: i16,
    pub hi: i16,
}

impl Versions {
    pub const NONE: Versions = Versions { lo: 1, hi: 0 };
    pub const ALL: Versions = Versions {
        lo: 0,
        hi: i16::MAX,
    };

    pub fn parse(s: &str) -> Result<Versions, String> {
        let s = s.trim();
        let num = |t: &str| {
            t.trim()
                .parse::<i16>()
                .map_err(|e| format!("bad version range {s:?}: {e}"))
        };
        if s == "none" {
            Ok(Versions::NONE)
        } else if let Some(lo) = s.strip_suffix('+') {
            Ok(Versions {
                lo: num(lo)?,
                hi: i16::MAX,
            })
        } else if let Some((lo, hi)) = s.split_once('-') {
            Ok(Versions {
                lo: num(lo)?,
                hi: num(hi)?,
            })
        } else {
            let v = num(s)?;
            Ok(Versions { lo: v, hi: v })
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lo > self.hi
    }

    pub fn contains(&self, v: i16) -> bool {
        v >= self.lo && v <= self.hi
    }

    pub fn intersect(&self, other: &Versions) -> Versions {
        Versions {
            lo: self.lo.max(other.lo),
            hi: self.hi.min(other.hi),
        }
    }

    /// Whether every version in `within` is in this range.
    pub fn covers(&self, within: &Versions) -> bool {
        within.is_empty() || (self.lo <= within.lo && self.hi >= within.hi)
    }

    /// A Rust boolean expression over `version` that is true inside this
    /// range, simplified against the versions the code can ever see.
    pub fn condition(&self, within: &Versions) -> String {
        let range = self.intersect(within);
        if range.is_empty() {
            return "false".into();
        }
        if range.lo == within.lo && range.hi == within.hi {
            return "true".into();
        }
        let lower = range.lo > within.lo;
        let upper = range.hi < within.hi;
        match (lower, upper) {
            (true, true) if range.lo == range.hi => format!("version == {}", range.lo),
            (true, true) => format!("({} ..= {}).contains(&version)", range.lo, range.hi),
            (true, false) => format!("version >= {}", range.lo),
            (false, true) => format!("version <= {}", range.hi),
            (false, false) => "true".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(Versions::parse("3+").unwrap().lo, 3);
        assert_eq!(Versions::parse("1-4").unwrap(), Versions { lo: 1, hi: 4 });
        assert_eq!(Versions::parse("2").unwrap(), Versions { lo: 2, hi: 2 });
        assert!(Versions::parse("none").unwrap().is_empty());
    }

    #[test]
    fn conditions_simplify_against_the_valid_range() {
        let valid = Versions { lo: 0, hi: 9 };
        assert_eq!(Versions::parse("0+").unwrap().condition(&valid), "true");
        assert_eq!(
            Versions::parse("3+").unwrap().condition(&valid),
            "version >= 3"
        );
        assert_eq!(
            Versions::parse("0-2").unwrap().condition(&valid),
            "version <= 2"
        );
        assert_eq!(
            Versions::parse("2-4").unwrap().condition(&valid),
            "(2 ..= 4).contains(&version)"
        );
        assert_eq!(Versions::parse("12+").unwrap().condition(&valid), "false");
    }
}
