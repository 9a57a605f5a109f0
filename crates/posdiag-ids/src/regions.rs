//! China's county-level administrative division codes (GB/T 2260), with the
//! years each was in use, from `data/cn-regions.tsv` (generated from
//! python-stdnum's `cn/loc.dat`, see `data/README.md`), parsed once at first
//! use into a sorted table searched by binary search within the province,
//! with a bit per code for the codes in use in every year and the codes
//! listed at all, so the common lookups are one direct index.
//!
//! A resident identity number keeps the code of the county where the person
//! was registered at birth, so codes that no longer exist stay in the table;
//! a code is accepted when it was in use in the birth year, as stdnum does.

use std::sync::LazyLock;

/// The table, as shipped.
const REGIONS_TSV: &str = include_str!("../data/cn-regions.tsv");

/// One period of one code: in use from `from` to `until` (inclusive).
#[derive(Debug, Clone, Copy)]
struct Period {
    code: u32,
    from: u16,
    until: u16,
}

/// The parsed table: periods sorted by code, and for each two-digit
/// province the index range of its codes.
pub(crate) struct Regions {
    periods: Vec<Period>,
    provinces: [(u32, u32); 100],
    /// Bit `code`: the code has a period open at both ends (in use in any
    /// birth year), so [`Regions::lookup`] answers by direct index. 125 KB.
    always: Vec<u64>,
    /// Bit `code`: the code is in the table at all.
    listed: Vec<u64>,
    /// Data rows that did not parse (a test keeps this zero).
    #[cfg_attr(not(test), expect(dead_code, reason = "read by the tests"))]
    bad_rows: usize,
}

/// Six-digit codes: the size of the direct indexes.
const CODES: usize = 1_000_000;

/// What the table says about a six-digit region code in a birth year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Region {
    /// In use in that year.
    Known,
    /// The province (first two digits) has no such county.
    UnknownCounty,
    /// The county existed, but not in that year.
    NotInYear,
    /// No province has these first two digits.
    UnknownProvince,
}

impl Regions {
    fn parse(tsv: &str) -> Regions {
        let mut periods = Vec::with_capacity(7200);
        let mut bad_rows = 0;
        for line in tsv.lines() {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let mut cols = line.split('\t');
            let year = |s: Option<&str>, open: u16| match s {
                Some("") => Some(open),
                Some(y) => y.parse::<u16>().ok(),
                None => None,
            };
            let code = cols
                .next()
                .and_then(|c| (c.len() == 6).then(|| c.parse::<u32>().ok()).flatten());
            let from = year(cols.next(), 0);
            let until = year(cols.next(), u16::MAX);
            match (code, from, until) {
                (Some(code), Some(from), Some(until)) => periods.push(Period { code, from, until }),
                _ => bad_rows += 1,
            }
        }
        periods.sort_by_key(|p| (p.code, p.from));
        let mut provinces = [(0u32, 0u32); 100];
        for (i, p) in periods.iter().enumerate() {
            let slot = &mut provinces[(p.code / 10_000) as usize];
            if slot.1 == 0 {
                slot.0 = i as u32;
            }
            slot.1 = i as u32 + 1;
        }
        let mut always = vec![0u64; CODES / 64];
        let mut listed = vec![0u64; CODES / 64];
        for p in &periods {
            let (word, bit) = (p.code as usize / 64, p.code % 64);
            if let Some(w) = listed.get_mut(word) {
                *w |= 1 << bit;
            }
            if p.from == 0
                && p.until == u16::MAX
                && let Some(w) = always.get_mut(word)
            {
                *w |= 1 << bit;
            }
        }
        Regions {
            periods,
            provinces,
            always,
            listed,
            bad_rows,
        }
    }

    fn bit(set: &[u64], code: u32) -> bool {
        set.get(code as usize / 64)
            .is_some_and(|w| w & (1 << (code % 64)) != 0)
    }

    /// What the table says about `code` (six digits) in `year`.
    pub(crate) fn lookup(&self, code: u32, year: u16) -> Region {
        // Most codes are in use in every year: one bit answers.
        if Self::bit(&self.always, code) {
            return Region::Known;
        }
        let (lo, hi) = self.provinces[(code / 10_000 % 100) as usize];
        if hi == 0 {
            return Region::UnknownProvince;
        }
        if !Self::bit(&self.listed, code) {
            return Region::UnknownCounty;
        }
        let within = &self.periods[lo as usize..hi as usize];
        let start = within.partition_point(|p| p.code < code);
        let mut found = false;
        for p in within[start..].iter().take_while(|p| p.code == code) {
            if (p.from..=p.until).contains(&year) {
                return Region::Known;
            }
            found = true;
        }
        if found {
            Region::NotInYear
        } else {
            Region::UnknownCounty
        }
    }

    /// Whether `province` (two digits) has any county in the table.
    #[cfg(test)]
    pub(crate) fn has_province(&self, province: u8) -> bool {
        self.provinces
            .get(usize::from(province))
            .is_some_and(|p| p.1 != 0)
    }
}

/// The table, parsed on first use.
pub(crate) static REGIONS: LazyLock<Regions> = LazyLock::new(|| Regions::parse(REGIONS_TSV));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_parses_and_every_province_has_counties() {
        let r = &*REGIONS;
        assert_eq!(r.bad_rows, 0);
        assert!(r.periods.len() > 7000, "{}", r.periods.len());
        for p in [11, 31, 44, 65, 71, 81, 82] {
            assert!(r.has_province(p), "{p}");
        }
        assert!(!r.has_province(83) && !r.has_province(91));
    }

    #[test]
    fn the_direct_index_answers_as_the_search_does() {
        let r = &*REGIONS;
        let search = |code: u32, year: u16| {
            let (lo, hi) = r.provinces[(code / 10_000 % 100) as usize];
            if hi == 0 {
                return Region::UnknownProvince;
            }
            let within = &r.periods[lo as usize..hi as usize];
            let mut found = false;
            for p in within.iter().filter(|p| p.code == code) {
                if (p.from..=p.until).contains(&year) {
                    return Region::Known;
                }
                found = true;
            }
            if found {
                Region::NotInYear
            } else {
                Region::UnknownCounty
            }
        };
        for p in r.periods.iter().step_by(3) {
            for code in [p.code, p.code + 1, p.code + 99, p.code / 100 * 100 + 99] {
                for year in [1900, 1980, 1991, 1992, 2010, 2024, 2099] {
                    assert_eq!(r.lookup(code, year), search(code, year), "{code} {year}");
                }
            }
        }
    }

    #[test]
    fn codes_are_checked_at_county_level_in_the_birth_year() {
        let r = &*REGIONS;
        assert_eq!(r.lookup(110105, 1990), Region::Known);
        // Chongwen district, merged into Dongcheng in 2010.
        assert_eq!(r.lookup(110103, 1985), Region::Known);
        assert_eq!(r.lookup(110103, 2012), Region::NotInYear);
        // Reused: Dongjiao until 1991, Dongli from 1992.
        assert_eq!(r.lookup(120110, 1980), Region::Known);
        assert_eq!(r.lookup(120110, 2000), Region::Known);
        assert_eq!(r.lookup(110199, 1990), Region::UnknownCounty);
        assert_eq!(r.lookup(990101, 1990), Region::UnknownProvince);
    }
}
