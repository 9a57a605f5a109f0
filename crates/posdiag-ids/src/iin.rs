//! Card brand detection from the issuer identification number (IIN) prefix
//! of a PAN, using `data/iin-ranges.tsv` (parsed once, at first use).
//!
//! The longest matching prefix wins; rows of the same prefix length that
//! overlap make every one of their brands a candidate. Lookups index a table
//! by the first four digits, so a PAN costs one array access plus a scan of
//! the few longer prefixes under those four digits.

use std::sync::LazyLock;

/// The IIN table, as shipped (see `data/README.md` for its origin).
const IIN_TSV: &str = include_str!("../data/iin-ranges.tsv");

/// Most brands one prefix can make candidates (the table has at most 3; a
/// test keeps it within this bound).
const MAX_CANDIDATES: usize = 4;

/// Longest prefix the table may use (ISO/IEC 7812 IINs are 8 digits).
const MAX_PREFIX: usize = 8;

/// Whether a brand's PANs carry a Luhn check digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LuhnRule {
    /// The source says yes, or does not say (the ISO/IEC 7812 default).
    Required,
    /// The source says the brand has no check digit, or that it is unknown.
    NotRequired,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
struct Row {
    brand: u8,
    prefix_len: u8,
    from: u32,
    to: u32,
    lengths: u32,
    luhn: LuhnRule,
}

/// A brand candidate for one prefix: the brand, the PAN lengths its rows
/// allow (bit n = n digits), and whether Luhn applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BrandRule {
    pub lengths: u32,
    pub brand: u8,
    pub luhn: bool,
}

/// The brands whose longest matching prefix fits a PAN.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Match {
    len: u8,
    /// A candidate was dropped for want of room (a test keeps this false).
    overflow: bool,
    items: [BrandRule; MAX_CANDIDATES],
}

impl Match {
    const EMPTY: Match = Match {
        len: 0,
        overflow: false,
        items: [BrandRule {
            brand: 0,
            lengths: 0,
            luhn: false,
        }; MAX_CANDIDATES],
    };

    /// The candidate brands.
    pub(crate) fn rules(&self) -> &[BrandRule] {
        &self.items[..usize::from(self.len)]
    }

    fn add(&mut self, rule: BrandRule) {
        let len = usize::from(self.len);
        if let Some(existing) = self.items[..len].iter_mut().find(|r| r.brand == rule.brand) {
            existing.lengths |= rule.lengths;
            existing.luhn |= rule.luhn;
        } else if len < MAX_CANDIDATES {
            self.items[len] = rule;
            self.len += 1;
        } else {
            self.overflow = true;
        }
    }
}

/// A brand's display name and whether any of its rows is active.
#[derive(Debug, Clone)]
pub(crate) struct Brand {
    pub name: String,
    pub active: bool,
}

/// Per first-four-digits entry: the best prefix length among rows of four or
/// fewer digits, its candidates (in `IinTable::bases`), and the longer rows
/// to try (in `IinTable::long`). Small, so the 10 000 entries stay in cache.
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    best: u8,
    base_len: u8,
    long_len: u16,
    base_start: u32,
    long_start: u32,
}

/// The parsed table.
#[derive(Debug)]
pub(crate) struct IinTable {
    pub brands: Vec<Brand>,
    rows: Vec<Row>,
    entries: Vec<Entry>,
    bases: Vec<BrandRule>,
    long: Vec<u16>,
    /// Data rows that could not be parsed, plus one if a prefix had more
    /// candidate brands than fit (a test keeps this 0).
    #[cfg_attr(not(test), allow(dead_code, reason = "read by the table test"))]
    pub skipped: usize,
}

pub(crate) static TABLE: LazyLock<IinTable> = LazyLock::new(|| IinTable::parse(IIN_TSV));

fn parse_lengths(s: &str) -> Option<u32> {
    let mut mask = 0u32;
    for part in s.split(',') {
        let n: u32 = part.trim().parse().ok()?;
        if !(1..32).contains(&n) {
            return None;
        }
        mask |= 1 << n;
    }
    Some(mask)
}

/// The number formed by the first `n` digits of `digits`.
#[inline]
fn prefix(digits: &[u8], n: usize) -> u32 {
    digits[..n]
        .iter()
        .fold(0u32, |acc, &b| acc * 10 + u32::from(b - b'0'))
}

impl IinTable {
    fn parse(tsv: &str) -> IinTable {
        let mut brands: Vec<Brand> = Vec::new();
        let mut rows = Vec::new();
        let mut skipped = 0;
        for line in tsv.lines() {
            if line.starts_with('#') || line.trim().is_empty() || line.starts_with("brand\t") {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').collect();
            let row = (|| {
                let (name, from, to) = (*cols.first()?, *cols.get(1)?, *cols.get(2)?);
                if from.len() != to.len()
                    || from.is_empty()
                    || from.len() > MAX_PREFIX
                    || !from.bytes().chain(to.bytes()).all(|b| b.is_ascii_digit())
                {
                    return None;
                }
                let lengths = parse_lengths(cols.get(3)?)?;
                let luhn = match *cols.get(4)? {
                    "yes" | "-" => LuhnRule::Required,
                    "no" | "unknown" => LuhnRule::NotRequired,
                    _ => return None,
                };
                let active = *cols.get(5)? != "no";
                let brand = match brands.iter().position(|b| b.name == name) {
                    Some(i) => {
                        brands[i].active |= active;
                        i
                    }
                    None => {
                        brands.push(Brand {
                            name: name.to_owned(),
                            active,
                        });
                        brands.len() - 1
                    }
                };
                Some(Row {
                    brand: u8::try_from(brand).ok().filter(|&b| b < 64)?,
                    prefix_len: from.len() as u8,
                    from: from.parse().ok()?,
                    to: to.parse().ok()?,
                    lengths,
                    luhn,
                })
            })();
            match row {
                Some(r) => rows.push(r),
                None => skipped += 1,
            }
        }

        // Short rows (≤ 4 digits), shortest first, so longer prefixes replace
        // shorter ones and equal lengths accumulate.
        let mut best = vec![0u8; 10_000];
        let mut base = vec![Match::EMPTY; 10_000];
        let mut short: Vec<&Row> = rows.iter().filter(|r| r.prefix_len <= 4).collect();
        short.sort_by_key(|r| r.prefix_len);
        for r in short {
            let scale = 10u32.pow(4 - u32::from(r.prefix_len));
            let lo = (r.from * scale) as usize;
            let hi = ((r.to + 1) * scale).min(10_000) as usize;
            for p in lo..hi.max(lo) {
                if r.prefix_len > best[p] {
                    best[p] = r.prefix_len;
                    base[p] = Match::EMPTY;
                }
                base[p].add(rule_of(r));
            }
        }
        // Long rows (> 4 digits), listed under every four-digit prefix they span.
        let mut per_entry: Vec<Vec<u16>> = vec![Vec::new(); 10_000];
        for (i, r) in rows.iter().enumerate() {
            if r.prefix_len > 4 {
                let div = 10u32.pow(u32::from(r.prefix_len) - 4);
                for p in (r.from / div)..=(r.to / div).min(9_999) {
                    per_entry[p as usize].push(i as u16);
                }
            }
        }
        let mut entries = Vec::with_capacity(10_000);
        let mut bases = Vec::new();
        let mut long = Vec::new();
        let mut overflow = false;
        for p in 0..10_000 {
            overflow |= base[p].overflow;
            let e = Entry {
                best: best[p],
                base_len: base[p].len,
                long_len: per_entry[p].len() as u16,
                base_start: bases.len() as u32,
                long_start: long.len() as u32,
            };
            bases.extend_from_slice(base[p].rules());
            long.extend_from_slice(&per_entry[p]);
            entries.push(e);
        }
        if overflow {
            skipped += 1;
        }
        IinTable {
            brands,
            rows,
            entries,
            bases,
            long,
            skipped,
        }
    }

    /// The candidate brands for `digits` (ASCII digits, at least
    /// [`MAX_PREFIX`] of them); empty when no prefix matches.
    #[inline]
    pub(crate) fn lookup(&self, digits: &[u8]) -> Match {
        let mut m = Match::EMPTY;
        if digits.len() < MAX_PREFIX {
            return m;
        }
        let e = self.entries[prefix(digits, 4) as usize];
        let mut best = e.best;
        let base = e.base_start as usize..e.base_start as usize + usize::from(e.base_len);
        // Built by `add`: already one rule per brand, and within bounds.
        for (slot, &r) in m.items.iter_mut().zip(&self.bases[base]) {
            *slot = r;
            m.len += 1;
        }
        let long = e.long_start as usize..e.long_start as usize + usize::from(e.long_len);
        for &ri in &self.long[long] {
            let r = &self.rows[usize::from(ri)];
            let p = prefix(digits, usize::from(r.prefix_len));
            if r.from <= p && p <= r.to {
                if r.prefix_len > best {
                    best = r.prefix_len;
                    m = Match::EMPTY;
                }
                if r.prefix_len == best {
                    m.add(rule_of(r));
                }
            }
        }
        m
    }

    /// Brand names in `mask` (bit n = brand n), in table order, joined with
    /// " / ", withdrawn brands marked.
    pub(crate) fn names(&self, mask: u64) -> (String, String) {
        let mut en = String::new();
        let mut zh = String::new();
        for (i, b) in self.brands.iter().enumerate() {
            if i < 64 && mask & (1 << i) != 0 {
                if !en.is_empty() {
                    en.push_str(" / ");
                    zh.push_str(" / ");
                }
                en.push_str(&b.name);
                zh.push_str(&b.name);
                if !b.active {
                    en.push_str(" (withdrawn)");
                    zh.push_str("（已停用）");
                }
            }
        }
        (en, zh)
    }
}

fn rule_of(r: &Row) -> BrandRule {
    BrandRule {
        brand: r.brand,
        lengths: r.lengths,
        luhn: r.luhn == LuhnRule::Required,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brands(pan: &str) -> Vec<String> {
        let m = TABLE.lookup(pan.as_bytes());
        m.rules()
            .iter()
            .map(|r| TABLE.brands[usize::from(r.brand)].name.clone())
            .collect()
    }

    #[test]
    fn every_data_row_parses() {
        let data_rows = IIN_TSV
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty() && !l.starts_with("brand\t"))
            .count();
        assert_eq!(TABLE.skipped, 0);
        assert_eq!(TABLE.rows.len(), data_rows);
        assert!(TABLE.brands.len() <= 64);
    }

    #[test]
    fn longest_prefix_wins_and_equal_overlaps_list_every_brand() {
        let cases: &[(&str, &[&str])] = &[
            ("4111111111111111", &["Visa"]),
            ("4026000000000002", &["Visa Electron"]),
            (
                "5555555555554444",
                &["Mastercard", "Diners Club United States & Canada"],
            ),
            ("6011111111111117", &["Discover"]),
            ("6500000000000002", &["Troy", "Discover", "RuPay"]),
            ("6759000000000000", &["Maestro", "Maestro UK", "Switch"]),
            ("6222021234567890", &["UnionPay", "Discover"]),
            ("6508370000000000", &["Troy"]),
            ("7000000000000000", &[]),
        ];
        for (pan, want) in cases {
            let mut got = brands(pan);
            got.sort();
            let mut want: Vec<String> = want.iter().map(|s| (*s).to_owned()).collect();
            want.sort();
            assert_eq!(got, want, "{pan}");
        }
    }
}
