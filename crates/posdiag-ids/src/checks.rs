//! One checker per kind: from the value as understood to what it is
//! ([`Info`]) or what is wrong ([`Fail`]). Checkers never allocate, so the
//! fast path ([`crate::check`]) and full validation share them.
//!
//! For the kinds python-stdnum also covers, the order of the checks — and so
//! the reason reported when several things are wrong — follows stdnum 2.2.

use crate::algo;
use crate::iin;
use crate::kind::Kind;
use crate::normalize::{MAX_INPUT_BYTES, Norm};
use crate::reason::IdReason;
use crate::regions::{self, Region};
use crate::tables;

/// Which IMEI form a valid value has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ImeiForm {
    /// 15 digits, Luhn check digit last.
    Checked,
    /// 14 digits, no check digit.
    Unchecked,
    /// 16 digits: IMEI software version.
    Sv,
}

/// How a phone number was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dial {
    /// Mainland mobile without a country code.
    National,
    /// `+` and the country code.
    Plus,
    /// `00` and the country code.
    DoubleZero,
    /// `86` without `+` or `00`.
    Bare86,
}

/// What a valid value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Info {
    /// `brands`: bit n = brand n of the IIN table; 0 = no brand recognised.
    Pan {
        brands: u64,
        luhn: bool,
    },
    Luhn {
        digits: u16,
    },
    /// A resident identity number. It carries nothing about the person:
    /// the birth date, region and sex it encodes are what its mask hides,
    /// so nothing downstream can put them into words.
    CnRic,
    CnUscc {
        province: u8,
    },
    Iban {
        cc: [u8; 2],
    },
    Bic {
        cc: [u8; 2],
        branch: bool,
    },
    Imei(ImeiForm),
    Meid {
        hex: bool,
        check: bool,
    },
    Imsi {
        mcc: u16,
    },
    Tid {
        padded: bool,
    },
    Mid {
        padded: bool,
    },
    Phone {
        mainland: bool,
        dial: Dial,
    },
    /// A wallet's payment code (付款码): a one-time bearer token.
    Paycode(Wallet),
    /// A Hong Kong identity card number; `letters`: 1 or 2 prefix letters.
    HkId {
        letters: u8,
    },
    /// A Taiwan identity card number, or (`resident`) a resident
    /// certificate's unified number (second character 8 or 9).
    TwId {
        resident: bool,
    },
    /// A mainland residence permit of a Hong Kong (81), Macao (82) or
    /// Taiwan (83) resident.
    CnRp {
        region: u8,
    },
}

/// The wallet a payment code belongs to, by its documented prefix and
/// length (see `data/README.md` for the wallets' merchant documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wallet {
    /// WeChat Pay: 18 digits starting 10 to 15.
    WeChat,
    /// Alipay: 16 to 24 digits starting 25 to 30.
    Alipay,
    /// UnionPay QR (C2B): 19 digits starting 62.
    UnionPay,
}

impl Wallet {
    /// The wallet whose codes start with the two digits `prefix`.
    pub(crate) fn of_prefix(prefix: u8) -> Option<Wallet> {
        match prefix {
            10..=15 => Some(Wallet::WeChat),
            25..=30 => Some(Wallet::Alipay),
            62 => Some(Wallet::UnionPay),
            _ => None,
        }
    }

    /// The lengths its codes have: (shortest, longest).
    pub(crate) fn lengths(self) -> (usize, usize) {
        match self {
            Wallet::WeChat => (18, 18),
            Wallet::Alipay => (16, 24),
            Wallet::UnionPay => (19, 19),
        }
    }
}

/// What exactly is wrong; positions are 1-based in the value as understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum What {
    Empty,
    NotDigit {
        pos: u16,
        ch: u8,
    },
    NotAllowed {
        pos: u16,
        ch: u8,
    },
    Length {
        got: u16,
    },
    PanLength {
        got: u16,
        brands: u64,
        lengths: u32,
    },
    CheckDigit,
    RicCheckChar {
        ch: u8,
    },
    /// The birth date is not a date; which date is not kept (the mask
    /// hides it).
    Date {
        year_in_range: bool,
    },
    Province {
        code: u8,
    },
    /// The six-digit region code is no county of its province.
    County,
    /// The county existed, but not in the birth year.
    CountyYear,
    IbanCountry,
    IbanStructure {
        cc: [u8; 2],
    },
    IbanNational {
        cc: [u8; 2],
    },
    BicCountry {
        cc: [u8; 2],
    },
    MeidRange,
    Mcc {
        mcc: u16,
    },
    MobileLength {
        got: u16,
    },
    MobilePrefix,
    CountryCodeZero,
    NoCountryCode,
    /// The first two digits are no wallet's payment code prefix.
    PaycodePrefix,
    /// The wallet is known by its prefix; its codes have other lengths.
    PaycodeLength {
        wallet: Wallet,
        got: u16,
    },
    /// Hong Kong: the characters before the digits are not 1 or 2 letters,
    /// or the check character is not 0-9 or A.
    HkShape,
    /// Taiwan: the second character is not 1, 2, 8 or 9.
    TwSecond,
    /// A residence permit's region code is not 810000, 820000 or 830000.
    RpRegion,
}

/// A rejection: the reason class and the detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fail {
    pub reason: IdReason,
    pub what: What,
}

type Outcome = Result<Info, Fail>;

fn fail(reason: IdReason, what: What) -> Outcome {
    Err(Fail { reason, what })
}

fn len16(v: &[u8]) -> u16 {
    u16::try_from(v.len()).unwrap_or(u16::MAX)
}

/// The first byte of `v` that `ok` rejects, as a failure of `reason`.
fn first_bad(v: &[u8], ok: impl Fn(usize, u8) -> bool, digits: bool) -> Option<What> {
    v.iter()
        .enumerate()
        .find(|&(i, &b)| !ok(i, b))
        .map(|(i, &b)| {
            let pos = u16::try_from(i + 1).unwrap_or(u16::MAX);
            if digits {
                What::NotDigit { pos, ch: b }
            } else {
                What::NotAllowed { pos, ch: b }
            }
        })
}

#[inline]
fn not_digits(v: &[u8]) -> Option<What> {
    if algo::all_digits(v) {
        return None;
    }
    first_bad(v, |_, b| b.is_ascii_digit(), true)
}

/// Whether `v` starts with a residence permit's region code (810000,
/// 820000 or 830000), compared in place (no call to compare memory).
#[inline]
pub(crate) fn starts_like_permit(v: &[u8]) -> bool {
    matches!(
        v.first_chunk::<6>(),
        Some(b"810000" | b"820000" | b"830000")
    )
}

/// A cheap necessary condition for `v` to be a *valid* `kind`: `false`
/// means [`check_kind`] would fail, so `auto`, which wants only the kinds a
/// value is valid as, can skip the check (an IBAN's mod 97 over every digit
/// string, a residence permit's check character over every 18-digit one).
#[inline]
pub(crate) fn plausible(kind: Kind, v: &[u8]) -> bool {
    let n = v.len();
    let first = v.first().copied().unwrap_or(0);
    match kind {
        // The lengths each accepts (see the checkers below).
        Kind::Pan => (12..=19).contains(&n) && first.is_ascii_digit(),
        Kind::Imei => (14..=16).contains(&n) && first.is_ascii_digit(),
        Kind::Imsi => (n == 14 || n == 15) && first.is_ascii_digit(),
        Kind::Paycode => (16..=24).contains(&n) && first.is_ascii_digit(),
        Kind::Meid => matches!(n, 14 | 15 | 18 | 19),
        // The compact form is never longer than the padded text they check.
        Kind::Tid => n <= 8,
        Kind::Mid => n <= 15,
        Kind::Luhn => first.is_ascii_digit(),
        Kind::CnRic | Kind::CnUscc | Kind::CnRp if n != 18 => false,
        Kind::CnRp => starts_like_permit(v),
        Kind::CnRic => first.is_ascii_digit(),
        // A country's letters and two check digits, after the dots people
        // write between groups (removed before the check).
        Kind::Iban => {
            let mut head = v.iter().copied().filter(|&b| b != b'.');
            n >= 5
                && matches!(
                    (head.next(), head.next(), head.next(), head.next()),
                    (Some(a), Some(b), Some(c), Some(d))
                        if a.is_ascii_alphabetic()
                            && b.is_ascii_alphabetic()
                            && c.is_ascii_digit()
                            && d.is_ascii_digit()
                )
        }
        Kind::Bic => (n == 8 || n == 11) && first.is_ascii_alphabetic(),
        Kind::HkId => (8..=11).contains(&n) && first.is_ascii_alphabetic(),
        Kind::TwId => n == 10 && first.is_ascii_alphabetic(),
        Kind::Phone => matches!(first, b'+' | b'0' | b'1' | b'8' | b'('),
        Kind::CnUscc => true,
    }
}

/// A cheap necessary condition for `v` to be a *near miss* of `kind` (a
/// failure that shows it was meant as that kind: a check character or a
/// component off, or a card's, mobile number's or payment code's length):
/// `false` means [`check_kind`] would pass or fail in a way that is no near
/// miss, so the search for the most plausible near miss can skip it.
#[inline]
pub(crate) fn may_miss(kind: Kind, v: &[u8]) -> bool {
    let n = v.len();
    let first = v.first().copied().unwrap_or(0);
    match kind {
        // Never a near miss, whatever the failure.
        Kind::Luhn | Kind::Imsi | Kind::Tid | Kind::Mid => false,
        // A check or component failure comes only after the length check.
        Kind::CnRic | Kind::CnUscc => n == 18,
        Kind::CnRp => n == 18 && starts_like_permit(v),
        Kind::Bic => n == 8 || n == 11,
        Kind::Imei => n == 15,
        Kind::TwId => n == 10,
        Kind::HkId => (8..=11).contains(&n),
        // Brand lengths and the check digit: 12 to 19 digits.
        Kind::Pan => (12..=19).contains(&n) && first.is_ascii_digit(),
        // Only a value that starts with a country's letters counts.
        Kind::Iban => n >= 2 && v[0].is_ascii_alphabetic() && v[1].is_ascii_alphabetic(),
        // Only hexadecimal MEIDs count, in their lengths.
        Kind::Meid => matches!(n, 14 | 15 | 18 | 19) && v.iter().any(u8::is_ascii_alphabetic),
        Kind::Paycode => first.is_ascii_digit(),
        Kind::Phone => true,
    }
}

/// Checks `norm` as `kind`.
pub(crate) fn check_kind(kind: Kind, norm: &Norm<'_>) -> Outcome {
    let v = norm.compact;
    match kind {
        Kind::Pan => pan(v),
        Kind::Luhn => luhn(v),
        Kind::CnRic => cn_ric(v),
        Kind::CnUscc => cn_uscc(v),
        Kind::Iban => iban(v),
        Kind::Bic => bic(v),
        Kind::Imei => imei(v),
        Kind::Meid => meid(v),
        Kind::Imsi => imsi(v),
        Kind::Tid => fixed(norm, 8).map(|padded| Info::Tid { padded }),
        Kind::Mid => fixed(norm, 15).map(|padded| Info::Mid { padded }),
        Kind::Phone => phone(v),
        Kind::Paycode => paycode(v),
        Kind::HkId => hk_id(v),
        Kind::TwId => tw_id(v),
        Kind::CnRp => cn_rp(v),
    }
}

pub(crate) fn pan(v: &[u8]) -> Outcome {
    if v.is_empty() {
        return fail(IdReason::Length, What::Empty);
    }
    if let Some(w) = not_digits(v) {
        return fail(IdReason::Format, w);
    }
    let n = v.len();
    if !(12..=19).contains(&n) {
        return fail(IdReason::Length, What::Length { got: len16(v) });
    }
    let table = &*iin::TABLE;
    let m = table.lookup(v);
    let rules = m.rules();
    if rules.is_empty() {
        // No brand recognised: ISO/IEC 7812 still requires the check digit.
        if !algo::luhn_ok(v) {
            return fail(IdReason::Checksum, What::CheckDigit);
        }
        return Ok(Info::Pan {
            brands: 0,
            luhn: true,
        });
    }
    let bit = 1u32 << n;
    let mut fit = 0u64;
    let mut all = 0u64;
    let mut lengths = 0u32;
    let mut luhn = false;
    for r in rules {
        all |= 1 << r.brand;
        lengths |= r.lengths;
        if r.lengths & bit != 0 {
            fit |= 1 << r.brand;
            luhn |= r.luhn;
        }
    }
    if fit == 0 {
        return fail(
            IdReason::Length,
            What::PanLength {
                got: len16(v),
                brands: all,
                lengths,
            },
        );
    }
    if luhn && !algo::luhn_ok(v) {
        return fail(IdReason::Checksum, What::CheckDigit);
    }
    Ok(Info::Pan { brands: fit, luhn })
}

fn luhn(v: &[u8]) -> Outcome {
    if v.is_empty() {
        return fail(IdReason::Format, What::Empty);
    }
    if let Some(w) = not_digits(v) {
        return fail(IdReason::Format, w);
    }
    if !algo::luhn_ok(v) {
        return fail(IdReason::Checksum, What::CheckDigit);
    }
    Ok(Info::Luhn { digits: len16(v) })
}

fn num(v: &[u8]) -> u32 {
    v.iter().fold(0, |a, &b| a * 10 + u32::from(b - b'0'))
}

/// Whether `year-month-day` is on the calendar, within 1900..=2099.
pub(crate) fn date_ok(year: u16, month: u8, day: u8) -> bool {
    if !(1900..=2099).contains(&year) || !(1..=12).contains(&month) || day == 0 {
        return false;
    }
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    day <= days
}

/// What a resident identity number and a residence permit share: length,
/// digits, the GB 11643 check character and the birth date. Gives the
/// six-digit region code and the birth year.
fn ric_common(v: &[u8]) -> Result<(u32, u16), Fail> {
    if v.len() != 18 {
        let what = if v.is_empty() {
            What::Empty
        } else {
            What::Length { got: len16(v) }
        };
        return Err(Fail {
            reason: IdReason::Length,
            what,
        });
    }
    if let Some(w) = not_digits(&v[..17]) {
        return Err(Fail {
            reason: IdReason::Format,
            what: w,
        });
    }
    let last = v[17].to_ascii_uppercase();
    if last != algo::mod11_2_check(&v[..17]) {
        let what = if last.is_ascii_digit() || last == b'X' {
            What::CheckDigit
        } else {
            What::RicCheckChar { ch: v[17] }
        };
        return Err(Fail {
            reason: IdReason::Checksum,
            what,
        });
    }
    let (year, month, day) = (
        num(&v[6..10]) as u16,
        num(&v[10..12]) as u8,
        num(&v[12..14]) as u8,
    );
    if !date_ok(year, month, day) {
        return Err(Fail {
            reason: IdReason::Component,
            what: What::Date {
                year_in_range: (1900..=2099).contains(&year),
            },
        });
    }
    Ok((num(&v[..6]), year))
}

fn cn_ric(v: &[u8]) -> Outcome {
    let (code, year) = ric_common(v)?;
    match code {
        // Residence permits of Hong Kong, Macao and Taiwan residents
        // (issued since 2018 to people born in any year), and the special
        // code 91 posdiag's acquirers accept.
        RP_HONG_KONG | RP_MACAO | RP_TAIWAN => return Ok(Info::CnRic),
        _ if code / 10_000 == 91 => return Ok(Info::CnRic),
        _ => {}
    }
    match regions::REGIONS.lookup(code, year) {
        Region::Known => Ok(Info::CnRic),
        Region::UnknownProvince => fail(
            IdReason::Component,
            What::Province {
                code: (code / 10_000) as u8,
            },
        ),
        Region::UnknownCounty => fail(IdReason::Component, What::County),
        Region::NotInYear => fail(IdReason::Component, What::CountyYear),
    }
}

fn cn_rp(v: &[u8]) -> Outcome {
    let (code, _) = ric_common(v)?;
    match code {
        RP_HONG_KONG | RP_MACAO | RP_TAIWAN => Ok(Info::CnRp {
            region: (code / 10_000) as u8,
        }),
        _ => fail(IdReason::Component, What::RpRegion),
    }
}

/// Region codes of the residence permits of Hong Kong, Macao and Taiwan
/// residents in the mainland (GB/T 2260 810000, 820000, 830000).
pub(crate) const RP_HONG_KONG: u32 = 810_000;
pub(crate) const RP_MACAO: u32 = 820_000;
pub(crate) const RP_TAIWAN: u32 = 830_000;

fn cn_uscc(v: &[u8]) -> Outcome {
    if v.len() != 18 {
        let what = if v.is_empty() {
            What::Empty
        } else {
            What::Length { got: len16(v) }
        };
        return fail(IdReason::Length, what);
    }
    if let Some(w) = not_digits(&v[..8]) {
        return fail(IdReason::Format, w);
    }
    if let Some(w) = first_bad(v, |i, b| i < 8 || algo::uscc_index(b).is_some(), false) {
        return fail(IdReason::Format, w);
    }
    if v[17].to_ascii_uppercase() != algo::uscc_check(&v[..17]) {
        return fail(IdReason::Checksum, What::CheckDigit);
    }
    Ok(Info::CnUscc {
        province: num(&v[2..4]) as u8,
    })
}

fn upper2(v: &[u8]) -> [u8; 2] {
    [v[0].to_ascii_uppercase(), v[1].to_ascii_uppercase()]
}

/// Whether `bban` matches a SWIFT structure such as `4!n4!n12!c`.
pub(crate) fn bban_matches(bban: &[u8], structure: &str) -> bool {
    let mut i = 0usize;
    for part in structure.split_inclusive(['n', 'a', 'c']) {
        let (count, class) = part.split_at(part.len() - 1);
        let Ok(count) = count.trim_end_matches('!').parse::<usize>() else {
            return false;
        };
        let Some(chunk) = bban.get(i..i + count) else {
            return false;
        };
        let ok = chunk.iter().all(|&b| match class {
            "n" => b.is_ascii_digit(),
            "a" => b.is_ascii_alphabetic(),
            _ => b.is_ascii_alphanumeric(),
        });
        if !ok {
            return false;
        }
        i += count;
    }
    i == bban.len()
}

/// Total IBAN length for a BBAN structure.
pub(crate) fn iban_length(structure: &str) -> usize {
    4 + structure
        .split_inclusive(['n', 'a', 'c'])
        .filter_map(|p| p[..p.len() - 1].trim_end_matches('!').parse::<usize>().ok())
        .sum::<usize>()
}

/// `v` without the dots people write between groups of an account number
/// (`NO93 8601.11.17947`), as python-stdnum's IBAN module removes them.
pub(crate) fn without_dots<'a>(v: &'a [u8], buf: &'a mut [u8; MAX_INPUT_BYTES]) -> &'a [u8] {
    if !v.contains(&b'.') {
        return v;
    }
    let mut n = 0;
    for &b in v.iter().filter(|&&b| b != b'.') {
        buf[n] = b;
        n += 1;
    }
    &buf[..n]
}

fn iban(v: &[u8]) -> Outcome {
    let mut buf = [0u8; MAX_INPUT_BYTES];
    let v = without_dots(v, &mut buf);
    // python-stdnum order: mod 97 first, then country, structure, and the
    // national check digits of the countries it knows.
    if v.is_empty() {
        return fail(IdReason::Format, What::Empty);
    }
    let split = v.len().min(4);
    match algo::mod97(&[&v[split..], &v[..split]]) {
        None => {
            let w = first_bad(v, |_, b| b.is_ascii_alphanumeric(), false).unwrap_or(What::Empty);
            return fail(IdReason::Format, w);
        }
        Some(1) => {}
        Some(_) => return fail(IdReason::Checksum, What::CheckDigit),
    }
    if v.len() < 2 {
        return fail(IdReason::Component, What::IbanCountry);
    }
    let cc = upper2(v);
    let Some((_, structure)) = tables::iban_format(cc) else {
        return fail(IdReason::Component, What::IbanCountry);
    };
    let bban = &v[4.min(v.len())..];
    if !bban_matches(bban, structure) {
        return fail(IdReason::Format, What::IbanStructure { cc });
    }
    let national_ok = match &cc {
        b"BE" if bban.len() > 2 => {
            let (body, check) = bban.split_at(bban.len() - 2);
            let c = algo::decimal_mod(body, 97);
            num(check) == if c == 0 { 97 } else { c }
        }
        b"ES" => spanish_ccc_ok(bban),
        b"ME" => algo::decimal_mod(bban, 97) == 1,
        b"NO" => norwegian_account_ok(bban),
        _ => true,
    };
    if !national_ok {
        return fail(IdReason::Checksum, What::IbanNational { cc });
    }
    Ok(Info::Iban { cc })
}

/// Spanish CCC: two check digits (positions 9-10) over bank+branch and account.
fn spanish_ccc_ok(ccc: &[u8]) -> bool {
    fn digit(part: &[u8]) -> u8 {
        let s: u32 = part
            .iter()
            .enumerate()
            .map(|(i, &b)| u32::from(b - b'0') * (1 << i) % 11)
            .sum::<u32>()
            % 11;
        let d = if s < 2 { s } else { 11 - s };
        b'0' + d as u8
    }
    if ccc.len() != 20 {
        return false;
    }
    let mut first = [b'0'; 10];
    first[2..].copy_from_slice(&ccc[..8]);
    ccc[8] == digit(&first) && ccc[9] == digit(&ccc[10..])
}

/// Norwegian account number: mod 11 check digit, or Luhn when the leading
/// `0000` postgiro bank code leaves 7 digits.
fn norwegian_account_ok(acc: &[u8]) -> bool {
    if let Some(rest) = acc.strip_prefix(b"0000") {
        return algo::luhn_ok(rest);
    }
    const WEIGHTS: [u32; 10] = [6, 7, 8, 9, 4, 5, 6, 7, 8, 9];
    let s: u32 = acc
        .iter()
        .zip(WEIGHTS)
        .map(|(&b, w)| u32::from(b - b'0') * w)
        .sum();
    acc.len() == 11 && s % 11 < 10 && u32::from(acc[10] - b'0') == s % 11
}

fn bic(v: &[u8]) -> Outcome {
    if v.len() != 8 && v.len() != 11 {
        let what = if v.is_empty() {
            What::Empty
        } else {
            What::Length { got: len16(v) }
        };
        return fail(IdReason::Length, what);
    }
    let bad = first_bad(
        v,
        |i, b| {
            if i < 6 {
                b.is_ascii_alphabetic()
            } else {
                b.is_ascii_alphanumeric()
            }
        },
        false,
    );
    if let Some(w) = bad {
        return fail(IdReason::Format, w);
    }
    let cc = upper2(&v[4..6]);
    if !tables::bic_country(cc) {
        return fail(IdReason::Component, What::BicCountry { cc });
    }
    Ok(Info::Bic {
        cc,
        branch: v.len() == 11,
    })
}

fn imei(v: &[u8]) -> Outcome {
    if v.is_empty() {
        return fail(IdReason::Format, What::Empty);
    }
    if let Some(w) = not_digits(v) {
        return fail(IdReason::Format, w);
    }
    match v.len() {
        15 if algo::luhn_ok(v) => Ok(Info::Imei(ImeiForm::Checked)),
        15 => fail(IdReason::Checksum, What::CheckDigit),
        14 => Ok(Info::Imei(ImeiForm::Unchecked)),
        16 => Ok(Info::Imei(ImeiForm::Sv)),
        _ => fail(IdReason::Length, What::Length { got: len16(v) }),
    }
}

fn meid(v: &[u8]) -> Outcome {
    match v.len() {
        14 | 15 => {
            if let Some(w) = first_bad(v, |_, b| algo::hex_value(b).is_some(), false) {
                return fail(IdReason::Format, w);
            }
            let check = v.len() == 15;
            if v.iter().all(u8::is_ascii_digit) {
                // All-decimal hex form: stdnum validates it as an IMEI.
                if check && !algo::luhn_ok(v) {
                    return fail(IdReason::Checksum, What::CheckDigit);
                }
            } else if check && !algo::luhn16_ok(v) {
                return fail(IdReason::Checksum, What::CheckDigit);
            }
            Ok(Info::Meid { hex: true, check })
        }
        18 | 19 => {
            if let Some(w) = not_digits(v) {
                return fail(IdReason::Format, w);
            }
            let check = v.len() == 19;
            if check && !algo::luhn_ok(v) {
                return fail(IdReason::Checksum, What::CheckDigit);
            }
            let manufacturer: u64 = v[..10].iter().fold(0, |a, &b| a * 10 + u64::from(b - b'0'));
            let serial = num(&v[10..18]);
            if manufacturer > u64::from(u32::MAX) || serial > 0xFF_FFFF {
                return fail(IdReason::Component, What::MeidRange);
            }
            Ok(Info::Meid { hex: false, check })
        }
        0 => fail(IdReason::Length, What::Empty),
        _ => fail(IdReason::Length, What::Length { got: len16(v) }),
    }
}

fn imsi(v: &[u8]) -> Outcome {
    if v.is_empty() {
        return fail(IdReason::Format, What::Empty);
    }
    if let Some(w) = not_digits(v) {
        return fail(IdReason::Format, w);
    }
    if v.len() != 14 && v.len() != 15 {
        return fail(IdReason::Length, What::Length { got: len16(v) });
    }
    let mcc = num(&v[..3]) as u16;
    if !tables::mcc_known(mcc) {
        return fail(IdReason::Component, What::Mcc { mcc });
    }
    Ok(Info::Imsi { mcc })
}

/// ISO 8583 fixed-length `ans` field of `n` characters; `Ok(true)` when the
/// value was space padded to `n`.
fn fixed(norm: &Norm<'_>, n: usize) -> Result<bool, Fail> {
    let t = norm.text;
    if t.len() == n {
        return Ok(false);
    }
    if !t.is_empty() && t.len() < n && t.len() + usize::from(norm.typing.trailing_spaces) == n {
        return Ok(true);
    }
    let what = if t.is_empty() {
        What::Empty
    } else {
        What::Length { got: len16(t) }
    };
    Err(Fail {
        reason: IdReason::Length,
        what,
    })
}

fn mobile_start(d: &[u8]) -> bool {
    d.len() >= 2 && d[0] == b'1' && (b'3'..=b'9').contains(&d[1])
}

fn phone(v: &[u8]) -> Outcome {
    let (dial, rest) = if let Some(r) = v.strip_prefix(b"+") {
        (Dial::Plus, r)
    } else if let Some(r) = v.strip_prefix(b"00") {
        (Dial::DoubleZero, r)
    } else {
        (Dial::National, v)
    };
    // Digits only, ignoring parentheses around an area or country code
    // (most numbers have none: taken as they are).
    let mut digits = [0u8; 32];
    let plain = rest.len() <= digits.len() && algo::all_digits(rest);
    let mut n = 0;
    if plain {
        n = rest.len();
    } else {
        for (i, &b) in rest.iter().enumerate() {
            match b {
                b'(' | b')' => {}
                b'0'..=b'9' if n < digits.len() => {
                    digits[n] = b;
                    n += 1;
                }
                b'0'..=b'9' => n += 1,
                _ => {
                    let pos = u16::try_from(i + 1 + (v.len() - rest.len())).unwrap_or(u16::MAX);
                    return fail(IdReason::Format, What::NotDigit { pos, ch: b });
                }
            }
        }
    }
    if n == 0 {
        return fail(IdReason::Length, What::Empty);
    }
    let got = u16::try_from(n).unwrap_or(u16::MAX);
    let d = if plain {
        rest
    } else {
        &digits[..n.min(digits.len())]
    };
    let mainland = |national: &[u8], dial: Dial| -> Outcome {
        if national.len() != 11 {
            return fail(
                IdReason::Length,
                What::MobileLength {
                    got: len16(national),
                },
            );
        }
        Ok(Info::Phone {
            mainland: true,
            dial,
        })
    };
    if dial == Dial::National {
        if n == 13 && d.starts_with(b"86") && mobile_start(&d[2..]) {
            return mainland(&d[2..], Dial::Bare86);
        }
        if d[0] != b'1' {
            return fail(IdReason::Format, What::NoCountryCode);
        }
        if !mobile_start(d) {
            return fail(IdReason::Component, What::MobilePrefix);
        }
        return mainland(d, Dial::National);
    }
    if d[0] == b'0' {
        return fail(IdReason::Component, What::CountryCodeZero);
    }
    if d.starts_with(b"86") && mobile_start(&d[2..]) {
        return mainland(&d[2..], dial);
    }
    if !(8..=15).contains(&n) {
        return fail(IdReason::Length, What::Length { got });
    }
    Ok(Info::Phone {
        mainland: false,
        dial,
    })
}

fn paycode(v: &[u8]) -> Outcome {
    if v.is_empty() {
        return fail(IdReason::Length, What::Empty);
    }
    if let Some(w) = not_digits(v) {
        return fail(IdReason::Format, w);
    }
    if v.len() < 2 {
        return fail(IdReason::Length, What::Length { got: len16(v) });
    }
    let Some(wallet) = Wallet::of_prefix(num(&v[..2]) as u8) else {
        return fail(IdReason::Component, What::PaycodePrefix);
    };
    let (lo, hi) = wallet.lengths();
    if !(lo..=hi).contains(&v.len()) {
        return fail(
            IdReason::Length,
            What::PaycodeLength {
                wallet,
                got: len16(v),
            },
        );
    }
    Ok(Info::Paycode(wallet))
}

/// Letter value in the Hong Kong and Taiwan schemes: A = 10 … Z = 35.
fn letter_value(b: u8) -> u32 {
    u32::from(b.to_ascii_uppercase() - b'A') + 10
}

fn hk_id(v: &[u8]) -> Outcome {
    // The check character is printed in parentheses: A123456(3).
    let mut buf = [0u8; 9];
    let body: &[u8] = match v {
        [rest @ .., b'(', c, b')'] if rest.len() < 9 => {
            buf[..rest.len()].copy_from_slice(rest);
            buf[rest.len()] = *c;
            &buf[..=rest.len()]
        }
        _ => v,
    };
    if body.len() != 8 && body.len() != 9 {
        let what = if v.is_empty() {
            What::Empty
        } else {
            What::Length { got: len16(body) }
        };
        return fail(IdReason::Length, what);
    }
    let letters = body.len() - 7;
    let bad = first_bad(
        body,
        |i, b| {
            if i < letters {
                b.is_ascii_alphabetic()
            } else if i < letters + 6 {
                b.is_ascii_digit()
            } else {
                b.is_ascii_digit() || b.eq_ignore_ascii_case(&b'A')
            }
        },
        false,
    );
    if bad.is_some() {
        return fail(IdReason::Format, What::HkShape);
    }
    // Weights 9..1; a single letter counts as a space (36) before it.
    let mut sum = if letters == 1 { 36 * 9 } else { 0 };
    let mut weight = if letters == 1 { 8 } else { 9 };
    for &b in &body[..body.len() - 1] {
        let value = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            letter_value(b)
        };
        sum += value * weight;
        weight -= 1;
    }
    let last = body[body.len() - 1];
    sum += if last.is_ascii_digit() {
        u32::from(last - b'0')
    } else {
        10
    };
    if !sum.is_multiple_of(11) {
        return fail(IdReason::Checksum, What::CheckDigit);
    }
    Ok(Info::HkId {
        letters: letters as u8,
    })
}

/// The two-digit number of a Taiwan ID's first letter (A = 10 … with I, O,
/// W, X, Y, Z out of order, as the household registration assigns them).
fn tw_letter(b: u8) -> u32 {
    const CODES: [u8; 26] = [
        10, 11, 12, 13, 14, 15, 16, 17, 34, 18, 19, 20, 21, 22, 35, 23, 24, 25, 26, 27, 28, 29, 32,
        30, 31, 33,
    ];
    u32::from(CODES[usize::from(b.to_ascii_uppercase() - b'A')])
}

fn tw_id(v: &[u8]) -> Outcome {
    if v.len() != 10 {
        let what = if v.is_empty() {
            What::Empty
        } else {
            What::Length { got: len16(v) }
        };
        return fail(IdReason::Length, what);
    }
    if let Some(w) = first_bad(
        v,
        |i, b| {
            if i == 0 {
                b.is_ascii_alphabetic()
            } else {
                b.is_ascii_digit()
            }
        },
        false,
    ) {
        return fail(IdReason::Format, w);
    }
    if !matches!(v[1], b'1' | b'2' | b'8' | b'9') {
        return fail(IdReason::Component, What::TwSecond);
    }
    let l = tw_letter(v[0]);
    let mut sum = l / 10 + (l % 10) * 9;
    for (i, &b) in v[1..9].iter().enumerate() {
        sum += u32::from(b - b'0') * (8 - i as u32);
    }
    sum += u32::from(v[9] - b'0');
    if !sum.is_multiple_of(10) {
        return fail(IdReason::Checksum, What::CheckDigit);
    }
    Ok(Info::TwId {
        resident: matches!(v[1], b'8' | b'9'),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_follow_the_calendar_within_the_supported_centuries() {
        assert!(date_ok(2000, 2, 29));
        assert!(!date_ok(1900, 2, 29));
        assert!(date_ok(2024, 2, 29));
        assert!(!date_ok(2023, 2, 29));
        assert!(!date_ok(1990, 4, 31));
        assert!(!date_ok(1899, 12, 31));
        assert!(date_ok(2099, 12, 31));
        assert!(!date_ok(1990, 13, 1));
        assert!(!date_ok(1990, 1, 0));
    }

    #[test]
    fn bban_structures_check_length_and_classes() {
        assert!(bban_matches(b"NWBK60161331926819", "4!a6!n8!n"));
        assert!(!bban_matches(b"NWBK6016133192681", "4!a6!n8!n"));
        assert!(!bban_matches(b"NWB160161331926819", "4!a6!n8!n"));
        assert_eq!(iban_length("4!a6!n8!n"), 22);
    }
}
