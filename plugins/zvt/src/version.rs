//! Comparing a terminal's software version with a required minimum.
//!
//! ZVT leaves the version text free-form: a Feig cVEND plug reports
//! `GER-APP-v2.0.9;cS02.01.01-10.10-2-2;CC26` (application, then component versions after
//! `;`), others `1.02.03`, `V 4.5-2` or `2023.10`. The rule, the same for both sides:
//!
//! 1. only the text before the first `;` counts (the application's version; components
//!    after it are versioned on their own);
//! 2. its numeric parts are the runs of ASCII digits, in order, whatever separates them
//!    (`.`, `-`, `_`, letters): `GER-APP-v2.0.9` → 2, 0, 9; leading zeros do not matter
//!    (`02.01` = `2.1`);
//! 3. the parts are compared left to right as numbers, a missing part counting as 0
//!    (`2.1` = `2.1.0` < `2.1.1` < `2.10`).
//!
//! A text without any digit cannot be compared.

use std::cmp::Ordering;

/// The numeric parts of a version text (see the module documentation); empty if it has no
/// digit. Parts too long for a `u64` saturate, which keeps the order of sane versions.
pub fn numeric_parts(version: &str) -> Vec<u64> {
    let app = version.split(';').next().unwrap_or_default();
    app.split(|c: char| !c.is_ascii_digit())
        .filter(|run| !run.is_empty())
        .map(|run| {
            run.bytes().fold(0u64, |n, d| {
                n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
            })
        })
        .collect()
}

/// `version` compared with `minimum`; `None` if either has no numeric part.
pub fn compare(version: &str, minimum: &str) -> Option<Ordering> {
    let a = numeric_parts(version);
    let b = numeric_parts(minimum);
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let n = a.len().max(b.len());
    let part = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
    Some(
        (0..n)
            .map(|i| part(&a, i).cmp(&part(&b, i)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_ignore_prefixes_components_and_leading_zeros() {
        assert_eq!(
            numeric_parts("GER-APP-v2.0.9;cS02.01.01-10.10-2-2;CC26"),
            [2, 0, 9]
        );
        assert_eq!(numeric_parts("V 4.5-2"), [4, 5, 2]);
        assert_eq!(numeric_parts("02.01"), [2, 1]);
        assert!(numeric_parts("beta").is_empty());
    }

    #[test]
    fn comparison_is_numeric_with_missing_parts_as_zero() {
        let v = "GER-APP-v2.0.9;cS02.01.01-10.10-2-2;CC26";
        assert_eq!(compare(v, "2.0.9"), Some(Ordering::Equal));
        assert_eq!(compare(v, "2.0.10"), Some(Ordering::Less));
        assert_eq!(compare(v, "2.0"), Some(Ordering::Greater));
        assert_eq!(compare(v, "v1.9.99"), Some(Ordering::Greater));
        assert_eq!(compare("2.1", "2.1.0"), Some(Ordering::Equal));
        assert_eq!(compare("2.10", "2.9"), Some(Ordering::Greater));
        assert_eq!(compare("2-1-3", "2.1.3"), Some(Ordering::Equal));
        assert_eq!(compare("x", "2.1"), None);
        assert_eq!(compare("2.1", ""), None);
    }
}
