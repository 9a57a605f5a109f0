//! Validation: from raw bytes, a kind selector and an optional rule set to a
//! [`Validation`]: the verdict, decided at once, which says when asked, in
//! both languages, what the value is or what is wrong, what was expected
//! and what to do — with the value masked.

use posdiag_core::{Text, mask_card_numbers};

use crate::checks::{self, Fail, ImeiForm, Info, What};
use crate::kind::{Kind, KindSel};
use crate::normalize::{MAX_INPUT_BYTES, Norm, Unreadable, with_norm};
use crate::reason::IdReason;
use crate::rules::RuleSet;
use crate::text::{self, t};

/// A kind the input could be.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// The kind.
    pub kind: Kind,
    info: Info,
    /// A BIC's first 11 characters, in capitals (its bank, country and
    /// branch codes, which its detail names); empty for other kinds.
    bic: [u8; 11],
    bic_len: u8,
}

impl Candidate {
    fn new(kind: Kind, info: Info, norm: &Norm<'_>) -> Candidate {
        let mut bic = [0u8; 11];
        let mut bic_len = 0;
        if matches!(info, Info::Bic { .. }) {
            let mut buf = [0u8; MAX_INPUT_BYTES];
            let v = understood_in(norm, Some(kind), &mut buf);
            let n = v.len().min(bic.len());
            bic[..n].copy_from_slice(&v[..n]);
            bic_len = n as u8;
        }
        Candidate {
            kind,
            info,
            bic,
            bic_len,
        }
    }

    /// What it is within the kind: card brand(s), "mainland China mobile",
    /// "birth date valid, region code known (county level, …), check
    /// character correct" … — never what a masked value hides. Put into
    /// words when asked.
    pub fn detail(&self) -> Text {
        text::detail(&self.info, &self.bic[..usize::from(self.bic_len)])
    }
}

impl std::fmt::Debug for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Candidate")
            .field("kind", &self.kind)
            .field("detail", &self.detail().en)
            .finish()
    }
}

/// What a [`Validation`] says in words: in English and Chinese, rendered
/// by [`Validation::texts`] when asked, not while validating.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Texts {
    /// One sentence: what is wrong, or what it is when valid.
    pub message: Text,
    /// What was expected.
    pub expected: Text,
    /// What to do.
    pub suggestion: Text,
    /// How it was typed: spaces removed, full-width characters, …
    pub notes: Vec<Text>,
}

/// The verdict on one value. `display` is the value as understood with
/// card numbers masked; the unmasked value is kept only privately, to put
/// the verdict into words later, and neither `Debug` nor any method shows
/// it, so the whole struct is safe to print, log and send.
///
/// The verdict (`valid`, `kind`, `reason`, `looks_like`, `display`) is
/// decided by [`validate`]; the sentences ([`Validation::texts`],
/// [`Validation::message`]…) are built only when asked, so a caller that
/// needs the reason alone does not pay for two languages.
///
/// The rule set is borrowed (`'r`) rather than copied or shared: every
/// caller puts a verdict into words while its rule set is at hand (a
/// request, a line of input), a borrow costs nothing per value, while a
/// clone of a `RuleSet` costs a handful of allocations and an `Arc` inside
/// it would change its public fields for every reader. Without rules a
/// `Validation<'static>` results.
#[derive(Clone)]
pub struct Validation<'r> {
    /// Whether the value is acceptable.
    pub valid: bool,
    /// The kind it was validated as (None: not recognised, or a free-form
    /// customer ID under a rule set without kinds).
    pub kind: Option<Kind>,
    /// Why it is invalid; None iff valid.
    pub reason: Option<IdReason>,
    /// What the value (as understood) could be, best first.
    pub looks_like: Vec<Candidate>,
    /// The value as understood, masked: when it holds 12 or more digits,
    /// only the first 6 and last 4 digits show.
    pub display: String,
    words: Words<'r>,
}

/// What a verdict's words are rendered from.
#[derive(Clone)]
enum Words<'r> {
    /// A value read: its words come from the decision and the value.
    Read(Box<Read<'r>>),
    /// Input that could not be read at all.
    Unreadable { why: Unreadable, kind: Option<Kind> },
    /// Words given by the caller ([`Validation::with_texts`]).
    Given(Box<Texts>),
}

/// A read value's verdict before it is put into words.
#[derive(Clone)]
struct Read<'r> {
    /// The input as received (at most [`MAX_INPUT_BYTES`]): read again
    /// when rendering, which gives the same value as understood and the
    /// same typing facts. Unmasked: never shown, never in `Debug`.
    input: [u8; MAX_INPUT_BYTES],
    len: usize,
    sel: KindSel,
    rules: Option<&'r RuleSet>,
    decision: Decision,
    cands: Cands,
    paycode: bool,
}

impl std::fmt::Debug for Validation<'_> {
    /// The verdict and the masked value; never the value as typed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validation")
            .field("valid", &self.valid)
            .field("kind", &self.kind)
            .field("reason", &self.reason)
            .field("looks_like", &self.looks_like)
            .field("display", &self.display)
            .finish_non_exhaustive()
    }
}

/// Two verdicts are equal when they decide and say the same.
impl PartialEq for Validation<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.valid == other.valid
            && self.kind == other.kind
            && self.reason == other.reason
            && self.looks_like == other.looks_like
            && self.display == other.display
            && self.texts() == other.texts()
    }
}

impl Eq for Validation<'_> {}

impl Validation<'_> {
    /// A verdict with words of the caller's (a record too long to read, a
    /// payment code refused whatever the rule set says): valid iff
    /// `reason` is None, `display` already masked, nothing it looks like.
    pub fn with_texts(
        kind: Option<Kind>,
        reason: Option<IdReason>,
        display: String,
        texts: Texts,
    ) -> Validation<'static> {
        Validation {
            valid: reason.is_none(),
            kind,
            reason,
            looks_like: Vec::new(),
            display,
            words: Words::Given(Box::new(texts)),
        }
    }

    /// This verdict, free of the rule set it borrows, for a caller that
    /// keeps it longer than the rule set: words that need the rule set are
    /// rendered now.
    pub fn into_owned(self) -> Validation<'static> {
        let words = match self.words {
            Words::Read(r) if r.rules.is_some() => Words::Given(Box::new(r.texts(self.reason))),
            Words::Read(r) => Words::Read(Box::new(Read { rules: None, ..*r })),
            Words::Unreadable { why, kind } => Words::Unreadable { why, kind },
            Words::Given(t) => Words::Given(t),
        };
        Validation {
            valid: self.valid,
            kind: self.kind,
            reason: self.reason,
            looks_like: self.looks_like,
            display: self.display,
            words,
        }
    }

    /// Every sentence of the verdict, both languages, rendered once.
    pub fn texts(&self) -> Texts {
        match &self.words {
            Words::Read(r) => r.texts(self.reason),
            Words::Unreadable { why, kind } => unreadable_texts(*why, *kind),
            Words::Given(t) => Texts::clone(t),
        }
    }

    /// One sentence: what is wrong, or what it is when valid.
    pub fn message(&self) -> Text {
        self.sentences().0
    }

    /// What was expected.
    pub fn expected(&self) -> Text {
        self.sentences().1
    }

    /// What to do.
    pub fn suggestion(&self) -> Text {
        self.sentences().2
    }

    /// How it was typed: spaces removed, full-width characters, …
    pub fn notes(&self) -> Vec<Text> {
        match &self.words {
            Words::Read(r) => r.with_norm(|norm| r.notes(norm)),
            Words::Unreadable { .. } => Vec::new(),
            Words::Given(t) => t.notes.clone(),
        }
    }

    /// Message, expected and suggestion, without the notes.
    fn sentences(&self) -> (Text, Text, Text) {
        match &self.words {
            Words::Read(r) => r.with_norm(|norm| r.sentences(norm, self.reason)),
            Words::Unreadable { why, kind } => {
                let t = unreadable_texts(*why, *kind);
                (t.message, t.expected, t.suggestion)
            }
            Words::Given(t) => (t.message.clone(), t.expected.clone(), t.suggestion.clone()),
        }
    }
}

/// Masks the value for display, as [`mask_card_numbers`] does and more:
/// whenever the value holds 12 or more digits in all, only its first six
/// and last four digits stay visible, however the digits are split up — so
/// a typo ("4111a111111111111"), a separator or an undecodable byte cannot
/// cut a card number into runs short enough to escape masking.
pub(crate) fn mask(value: &str) -> String {
    let digits = value.chars().filter(char::is_ascii_digit).count();
    if digits < 12 {
        return mask_card_numbers(value);
    }
    let mut seen = 0;
    value
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen > 6 && seen <= digits - 4 {
                    return '*';
                }
            }
            c
        })
        .collect()
}

/// Whether `norm` could be a payment code: one, or a wallet's prefix with
/// 16 or more digits (the shortest code's length) cut short or run on: a
/// partial token is still a token, while shorter digit strings are
/// customer numbers, phone numbers and the like.
fn paycode_like(norm: &Norm<'_>) -> bool {
    match checks::check_kind(Kind::Paycode, norm) {
        Ok(_) => true,
        Err(f) => matches!(f.what, What::PaycodeLength { got, .. } if got >= 16),
    }
}

/// The value as shown: a payment code (or anything that could be one) keeps
/// only its first two digits, which name the wallet — it is a bearer token;
/// a Hong Kong or Taiwan ID its letters and last character; anything else
/// as [`mask`] does.
pub(crate) fn display_mask(kind: Option<Kind>, paycode: bool, value: &str) -> String {
    if paycode {
        let mut seen = 0;
        return value
            .chars()
            .map(|c| {
                if c.is_ascii_digit() {
                    seen += 1;
                    if seen > 2 {
                        return '*';
                    }
                }
                c
            })
            .collect();
    }
    if matches!(kind, Some(Kind::HkId | Kind::TwId)) {
        let last = value.rfind(|c: char| c.is_ascii_alphanumeric());
        return value
            .char_indices()
            .map(|(i, c)| {
                if c.is_ascii_digit() && Some(i) != last {
                    '*'
                } else {
                    c
                }
            })
            .collect();
    }
    mask(value)
}

/// Plausibility order of a valid candidate: lower is better. Below
/// [`STRONG`], the value passed a check digit or a tight structure.
fn rank(info: &Info) -> u8 {
    match info {
        Info::CnRp { .. } => 0,
        Info::CnRic => 1,
        Info::CnUscc { .. } => 2,
        Info::Iban { .. } => 3,
        Info::Pan { brands, luhn: true } if *brands != 0 => 4,
        Info::Imei(ImeiForm::Checked) => 5,
        Info::Meid { check: true, .. } => 6,
        Info::HkId { .. } => 7,
        Info::TwId { .. } => 8,
        Info::Phone { mainland: true, .. } => 9,
        Info::Bic { .. } => 10,
        // Prefix and length only: above the other weak readings (a code
        // scanned where a customer ID was expected is the classic
        // "unsupported ID"), but weak, so a mistyped resident ID that
        // happens to start 10-15 still gets its near-miss note.
        Info::Paycode(_) => 12,
        Info::Phone { .. } => 13,
        Info::Pan { .. } => 14,
        Info::Imei(_) => 15,
        Info::Meid { .. } => 16,
        Info::Imsi { .. } => 17,
        Info::Luhn { .. } => 18,
        Info::Tid { .. } => 19,
        Info::Mid { .. } => 20,
    }
}

const STRONG: u8 = 12;

/// The kinds a value is valid as, held inline: finding them allocates
/// nothing, so the batch verdict path ([`check_with`]) stays
/// allocation-free under `auto`.
#[derive(Clone, Copy)]
pub(crate) struct Cands {
    items: [(Kind, Info); Kind::ALL.len()],
    len: usize,
}

impl Cands {
    const EMPTY: Cands = Cands {
        items: [(Kind::Luhn, Info::Luhn { digits: 0 }); Kind::ALL.len()],
        len: 0,
    };

    fn retain(&mut self, keep: impl Fn(Kind) -> bool) {
        let mut n = 0;
        for i in 0..self.len {
            if keep(self.items[i].0) {
                self.items[n] = self.items[i];
                n += 1;
            }
        }
        self.len = n;
    }
}

impl std::ops::Deref for Cands {
    type Target = [(Kind, Info)];
    fn deref(&self) -> &[(Kind, Info)] {
        &self.items[..self.len]
    }
}

/// Every kind `norm` is a valid value of, best first.
fn candidates(norm: &Norm<'_>) -> Cands {
    let mut found = Cands::EMPTY;
    if !norm.typing.readable() {
        return found;
    }
    for &k in Kind::ALL {
        if !checks::plausible(k, norm.compact) {
            continue;
        }
        if let Ok(i) = checks::check_kind(k, norm) {
            found.items[found.len] = (k, i);
            found.len += 1;
        }
    }
    let has = |k: Kind, found: &Cands| found.iter().any(|(x, _)| *x == k);
    // A card number, IMEI or decimal MEID already says "Luhn"; a decimal MEID
    // that is also an IMEI is read as the IMEI (as python-stdnum does).
    if has(Kind::Pan, &found) || has(Kind::Imei, &found) || has(Kind::Meid, &found) {
        found.retain(|k| k != Kind::Luhn);
    }
    if has(Kind::Imei, &found) {
        found.retain(|k| k != Kind::Meid);
    }
    // Stable (ties keep the order of `Kind::ALL`) and, for so few items,
    // an insertion sort that allocates nothing.
    let len = found.len;
    found.items[..len].sort_by_key(|(_, i)| rank(i));
    found
}

/// Whether a failure of `kind` shows the value was meant as that kind: its
/// structure fits and only a check digit or a component is off, or the
/// length is wrong for a recognised card brand or mobile prefix.
fn near_miss(kind: Kind, f: &Fail, value: &[u8]) -> bool {
    match f.reason {
        IdReason::Checksum | IdReason::Component => match kind {
            Kind::Pan => text::brands_of(value) != 0,
            // Any letters-and-digits string reaches the mod 97 check: only
            // one that starts with an IBAN country's code was meant as one.
            Kind::Iban => {
                value.len() >= 2
                    && crate::tables::iban_format([
                        value[0].to_ascii_uppercase(),
                        value[1].to_ascii_uppercase(),
                    ])
                    .is_some()
            }
            // A decimal-only MEID is an IMEI; only hexadecimal ones count.
            Kind::Meid => value.iter().any(u8::is_ascii_alphabetic),
            // Only a number that starts like a residence permit was meant
            // as one; any digits reach the prefix check of a payment code.
            Kind::CnRp => checks::starts_like_permit(value),
            Kind::Paycode => false,
            Kind::Luhn | Kind::Imsi | Kind::Tid | Kind::Mid => false,
            _ => true,
        },
        IdReason::Length => matches!(
            f.what,
            What::PanLength { .. } | What::MobileLength { .. } | What::PaycodeLength { .. }
        ),
        _ => false,
    }
}

/// Order in which near misses are preferred.
const NEAR_MISS_ORDER: &[Kind] = &[
    Kind::CnRp,
    Kind::CnRic,
    Kind::CnUscc,
    Kind::Iban,
    Kind::Pan,
    Kind::Imei,
    Kind::Meid,
    Kind::HkId,
    Kind::TwId,
    Kind::Bic,
    Kind::Phone,
    Kind::Paycode,
];

/// The most plausible near miss among `kinds`: check-digit and component
/// misses beat length misses, and within each class the kind earlier in
/// [`NEAR_MISS_ORDER`] wins. The kinds are tried in that order, so the
/// first check-digit or component miss ends the search (an invalid
/// resident ID is not also tried as a card, a credit code and a payment
/// code); a kind not in the order is never a near miss.
fn best_near_miss(norm: &Norm<'_>, kinds: &[Kind]) -> Option<(Kind, Fail)> {
    let allowed = kinds.iter().fold(0u32, |set, &k| set | 1 << k as u32);
    let mut length_miss = None;
    for &k in NEAR_MISS_ORDER {
        if allowed & 1 << k as u32 == 0 || !checks::may_miss(k, norm.compact) {
            continue;
        }
        if let Err(f) = checks::check_kind(k, norm)
            && near_miss(k, &f, norm.compact)
        {
            if f.reason != IdReason::Length {
                return Some((k, f));
            }
            length_miss.get_or_insert((k, f));
        }
    }
    length_miss
}

/// Why a value is rejected, before it is put into words.
#[derive(Debug, Clone, Copy)]
enum Failure {
    Kind(Fail),
    Unknown,
    Unsupported { kind: Kind, info: Info },
    RuleLength,
    RuleCharset { pos: usize, ch: u8 },
    RulePattern,
    RuleCheck(crate::rules::CheckAlgorithm),
}

/// The verdict before rendering.
#[derive(Clone, Copy)]
struct Decision {
    kind: Option<Kind>,
    outcome: Result<Option<Info>, Failure>,
}

/// Kinds whose values are read in capitals.
fn uppercased(kind: Option<Kind>) -> bool {
    matches!(
        kind,
        Some(
            Kind::CnRic
                | Kind::CnUscc
                | Kind::Iban
                | Kind::Bic
                | Kind::Meid
                | Kind::HkId
                | Kind::TwId
                | Kind::CnRp
        )
    )
}

/// The value as understood for `kind`: the text with inner spaces for
/// fixed-length ISO 8583 fields, the compact form otherwise.
fn understood(norm: &Norm<'_>, kind: Option<Kind>) -> String {
    let mut buf = [0u8; MAX_INPUT_BYTES];
    String::from_utf8_lossy(understood_in(norm, kind, &mut buf)).into_owned()
}

/// [`understood`] into a buffer of the caller's: no allocation.
fn understood_in<'a>(
    norm: &Norm<'a>,
    kind: Option<Kind>,
    buf: &'a mut [u8; MAX_INPUT_BYTES],
) -> &'a [u8] {
    let raw = if matches!(kind, Some(Kind::Tid | Kind::Mid)) {
        norm.text
    } else {
        norm.compact
    };
    let dots = kind == Some(Kind::Iban) && raw.contains(&b'.');
    let lower = uppercased(kind) && raw.iter().any(u8::is_ascii_lowercase);
    if !(dots || lower) {
        return raw;
    }
    let mut n = 0;
    for &b in raw.iter().filter(|&&b| !(dots && b == b'.')) {
        buf[n] = if uppercased(kind) {
            b.to_ascii_uppercase()
        } else {
            b
        };
        n += 1;
    }
    &buf[..n]
}

/// Decides the verdict for `norm`, ignoring how it was typed.
fn decide(
    norm: &Norm<'_>,
    sel: KindSel,
    rules: Option<&RuleSet>,
    cands: &[(Kind, Info)],
) -> Decision {
    let rule_kinds: &[Kind] = rules.map_or(&[], |r| &r.kinds);
    let (kind, outcome): (Option<Kind>, Result<Option<Info>, Failure>) = match sel {
        KindSel::Kind(k) => (
            Some(k),
            checks::check_kind(k, norm).map(Some).map_err(Failure::Kind),
        ),
        // A free-form customer ID: only the rule set's constraints apply;
        // what it looks like is reported, not required.
        KindSel::Auto if rules.is_some() && rule_kinds.is_empty() => (None, Ok(None)),
        KindSel::Auto if rule_kinds.is_empty() => {
            if let Some(&(k, i)) = cands.first() {
                (Some(k), Ok(Some(i)))
            } else if let Some((k, f)) = best_near_miss(norm, Kind::ALL) {
                (Some(k), Err(Failure::Kind(f)))
            } else {
                (None, Err(Failure::Unknown))
            }
        }
        KindSel::Auto => {
            let accepted = cands.iter().find(|(k, _)| rule_kinds.contains(k));
            let strong_other = cands
                .iter()
                .find(|(k, i)| !rule_kinds.contains(k) && rank(i) < STRONG);
            let miss = best_near_miss(norm, rule_kinds);
            match (accepted, miss, strong_other) {
                (Some(&(k, i)), _, _) => (Some(k), Ok(Some(i))),
                (None, Some((k, f)), _) if f.reason != IdReason::Length => {
                    (Some(k), Err(Failure::Kind(f)))
                }
                (None, _, Some(&(k, i))) => {
                    (Some(k), Err(Failure::Unsupported { kind: k, info: i }))
                }
                (None, Some((k, f)), None) => (Some(k), Err(Failure::Kind(f))),
                (None, None, None) => match cands.first() {
                    Some(&(k, i)) => (Some(k), Err(Failure::Unsupported { kind: k, info: i })),
                    None => {
                        // Nothing fits: report against the first kind the rules accept.
                        let k = rule_kinds[0];
                        let out = checks::check_kind(k, norm);
                        (Some(k), out.map(Some).map_err(Failure::Kind))
                    }
                },
            }
        }
    };
    let Ok(info) = outcome else {
        return Decision { kind, outcome };
    };
    let Some(r) = rules else {
        return Decision {
            kind,
            outcome: Ok(info),
        };
    };
    if let (Some(k), Some(i)) = (kind, info)
        && !r.kinds.is_empty()
        && !r.kinds.contains(&k)
    {
        return Decision {
            kind,
            outcome: Err(Failure::Unsupported { kind: k, info: i }),
        };
    }
    // The rule set's own constraints, on the value as understood (ASCII,
    // so always UTF-8).
    let mut buf = [0u8; MAX_INPUT_BYTES];
    let v = understood_in(norm, kind, &mut buf);
    let value = std::str::from_utf8(v).unwrap_or_default();
    let fail = |f: Failure| Decision {
        kind,
        outcome: Err(f),
    };
    if let Some(cs) = &r.charset
        && let Some((i, &ch)) = v.iter().enumerate().find(|(_, b)| !cs.allows(**b))
    {
        return fail(Failure::RuleCharset { pos: i + 1, ch });
    }
    if r.min_length.is_some_and(|m| v.len() < m) || r.max_length.is_some_and(|m| v.len() > m) {
        return fail(Failure::RuleLength);
    }
    if !r.pattern_matches(value) {
        return fail(Failure::RulePattern);
    }
    if let Some(alg) = r.check
        && !alg.verify(v)
    {
        return fail(Failure::RuleCheck(alg));
    }
    Decision {
        kind,
        outcome: Ok(info),
    }
}

/// "; this looks like a mainland China mobile number" for rule failures.
fn looks_clause(cands: &[(Kind, Info)], value: &[u8]) -> Text {
    match cands.first() {
        Some((k, i)) => {
            let p = text::phrase(*k, i, value);
            t(
                format!("; this looks like {}", p.en),
                format!("；看起来像{}", p.zh),
            )
        }
        None => t("", ""),
    }
}

/// The reason class of a failure.
fn failure_reason(f: &Failure) -> IdReason {
    match f {
        Failure::Kind(f) => f.reason,
        Failure::Unknown => IdReason::Format,
        Failure::Unsupported { .. } => IdReason::Unsupported,
        Failure::RuleLength => IdReason::Length,
        Failure::RuleCharset { .. } => IdReason::Charset,
        Failure::RulePattern => IdReason::Rule,
        Failure::RuleCheck(_) => IdReason::Checksum,
    }
}

/// Puts a decision into words.
fn render(
    d: &Decision,
    norm: &Norm<'_>,
    rules: Option<&RuleSet>,
    cands: &[(Kind, Info)],
) -> (Option<IdReason>, Text, Text, Text) {
    let value = understood(norm, d.kind);
    let v = value.as_bytes();
    let rule_name = rules.map_or("", |r| r.name.as_str());
    let rules_expected = rules.map(RuleSet::expected);
    match &d.outcome {
        Ok(info) => {
            let mut message = match (d.kind, info) {
                (Some(k), Some(i)) => text::valid_message(k, i, v),
                _ => t("valid customer ID", "有效的客户号"),
            };
            if rules.is_some() {
                message
                    .en
                    .push_str(&format!(", accepted by rule set '{rule_name}'"));
                message.zh.push_str(&format!("，符合规则集“{rule_name}”"));
            }
            let expected = match (&rules_expected, d.kind) {
                (Some(e), _) => e.clone(),
                (None, Some(k)) => k.format(),
                (None, None) => t("", ""),
            };
            (None, message, expected, t("nothing to fix", "无需修改"))
        }
        Err(Failure::Kind(f)) => {
            let k = d.kind.unwrap_or(Kind::Luhn);
            let (m, e, s) = text::kind_failure(k, f, v);
            (Some(f.reason), m, e, s)
        }
        Err(Failure::Unknown) => {
            let plural = if v.len() == 1 { "" } else { "s" };
            let (ce, cz) = if !v.is_empty() && v.iter().all(u8::is_ascii_digit) {
                (
                    format!("{} digit{plural}", v.len()),
                    format!("{} 位数字", v.len()),
                )
            } else {
                (
                    format!("{} character{plural}", v.len()),
                    format!("{} 个字符", v.len()),
                )
            };
            let titles: Vec<Text> = Kind::ALL.iter().map(|k| k.title()).collect();
            (
                Some(IdReason::Format),
                t(
                    format!("{ce}, not recognised as any identifier posdiag knows"),
                    format!("{cz}，无法识别为任何已知类型的号码"),
                ),
                t(
                    format!(
                        "one of: {}",
                        titles
                            .iter()
                            .map(|x| x.en.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    format!(
                        "以下之一：{}",
                        titles
                            .iter()
                            .map(|x| x.zh.as_str())
                            .collect::<Vec<_>>()
                            .join("、")
                    ),
                ),
                t(
                    "check the value, or name the kind to get a specific reason",
                    "请检查输入，或指定号码类型以获得具体原因",
                ),
            )
        }
        Err(Failure::Unsupported { kind, info }) => {
            let p = text::phrase(*kind, info, v);
            let e = rules_expected.unwrap_or_default();
            let suggestion = if *kind == Kind::Paycode {
                t(
                    format!(
                        "a wallet payment code was scanned in place of the customer ID: ask for {}",
                        e.en
                    ),
                    format!("误将付款码扫入了客户号：请向顾客索取{}", e.zh),
                )
            } else if *kind == Kind::Phone {
                t(
                    format!(
                        "a phone number was probably entered in place of the customer ID: enter {}",
                        e.en
                    ),
                    format!("可能误将电话号码当作客户号输入：请输入{}", e.zh),
                )
            } else {
                t(
                    format!("enter {} instead", e.en),
                    format!("请改为输入{}", e.zh),
                )
            };
            (
                Some(IdReason::Unsupported),
                t(
                    format!(
                        "this is {}, which rule set '{rule_name}' does not accept",
                        p.en
                    ),
                    format!("这是{}，规则集“{rule_name}”不接受此类号码", p.zh),
                ),
                e,
                suggestion,
            )
        }
        Err(Failure::RuleLength) => {
            let e = rules_expected.unwrap_or_default();
            let (le, lz) = rules.and_then(RuleSet::length_words).unwrap_or_default();
            let digits = !v.is_empty() && v.iter().all(u8::is_ascii_digit);
            let (ue, uz) = if digits {
                ("digits", "位数字")
            } else {
                ("characters", "个字符")
            };
            let n = v.len();
            let verb = if le == "1" { "is" } else { "are" };
            let looks = looks_clause(cands, v);
            let phone = matches!(cands.first(), Some((Kind::Phone, _)));
            let suggestion = if phone {
                t(
                    format!(
                        "customer IDs for rule set '{rule_name}' are {}: if a phone number was entered by mistake, enter the customer ID instead",
                        e.en
                    ),
                    format!(
                        "规则集“{rule_name}”的客户号为{}：如误输了电话号码，请改输客户号",
                        e.zh
                    ),
                )
            } else {
                t(
                    format!(
                        "customer IDs for rule set '{rule_name}' are {}: check for a missing or extra character",
                        e.en
                    ),
                    format!(
                        "规则集“{rule_name}”的客户号为{}：请检查是否漏输或多输了字符",
                        e.zh
                    ),
                )
            };
            (
                Some(IdReason::Length),
                t(
                    format!("{n} {ue} where {le} {verb} expected{}", looks.en),
                    format!("共 {n} {uz}，要求 {lz} 位{}", looks.zh),
                ),
                e,
                suggestion,
            )
        }
        Err(Failure::RuleCharset { pos, ch }) => {
            let e = rules_expected.unwrap_or_default();
            let looks = looks_clause(cands, v);
            let (what_en, what_zh) = if ch.is_ascii_digit() {
                (
                    format!("character {pos} is a digit"),
                    format!("第 {pos} 个字符是数字"),
                )
            } else {
                let c = char::from(*ch);
                (
                    format!("character {pos} ('{c}')"),
                    format!("第 {pos} 个字符（“{c}”）"),
                )
            };
            (
                Some(IdReason::Charset),
                t(
                    format!(
                        "{what_en}, which rule set '{rule_name}' does not allow{}",
                        looks.en
                    ),
                    format!("{what_zh}不符合规则集“{rule_name}”的字符要求{}", looks.zh),
                ),
                e.clone(),
                t(format!("enter {}", e.en), format!("请输入{}", e.zh)),
            )
        }
        Err(Failure::RulePattern) => {
            let e = rules_expected.unwrap_or_default();
            let p = rules.and_then(RuleSet::pattern).unwrap_or_default();
            let looks = looks_clause(cands, v);
            (
                Some(IdReason::Rule),
                t(
                    format!(
                        "does not match the pattern {p} of rule set '{rule_name}'{}",
                        looks.en
                    ),
                    format!("不符合规则集“{rule_name}”的格式 {p}{}", looks.zh),
                ),
                e.clone(),
                t(format!("enter {}", e.en), format!("请输入{}", e.zh)),
            )
        }
        Err(Failure::RuleCheck(alg)) => {
            let e = rules_expected.unwrap_or_default();
            let a = alg.title();
            (
                Some(IdReason::Checksum),
                t(
                    format!("the {a} check over the whole value fails (rule set '{rule_name}')"),
                    format!("整体 {a} 校验未通过（规则集“{rule_name}”）"),
                ),
                e,
                text::suggestion_for(IdReason::Checksum),
            )
        }
    }
}

fn validation_of<'r>(
    norm: &Norm<'_>,
    input: &[u8],
    sel: KindSel,
    rules: Option<&'r RuleSet>,
) -> Validation<'r> {
    let cands = candidates(norm);
    let decision = decide(norm, sel, rules, &cands);
    let charset = norm.typing.charset_problem();
    let reason = if charset {
        Some(IdReason::Charset)
    } else {
        decision.outcome.as_ref().err().map(failure_reason)
    };
    let mut shown = Vec::new();
    show_value(norm, decision.kind, &mut shown);
    let display = shown_text(shown);
    let mut read = Box::new(Read {
        input: [0; MAX_INPUT_BYTES],
        len: input.len().min(MAX_INPUT_BYTES),
        sel,
        rules,
        decision,
        cands,
        paycode: decision.kind == Some(Kind::Paycode) || paycode_like(norm),
    });
    read.input[..read.len].copy_from_slice(&input[..read.len]);
    Validation {
        valid: reason.is_none(),
        kind: decision.kind,
        reason,
        looks_like: cands
            .iter()
            .map(|&(k, i)| Candidate::new(k, i, norm))
            .collect(),
        display,
        words: Words::Read(read),
    }
}

impl Read<'_> {
    /// Calls `f` with the value as understood, read again from the input.
    fn with_norm<R: Default>(&self, f: impl FnOnce(&Norm<'_>) -> R) -> R {
        with_norm(&self.input[..self.len], |r| match r {
            Ok(norm) => f(&norm),
            // It was read when validated; the same bytes read the same.
            Err(_) => R::default(),
        })
    }

    fn texts(&self, reason: Option<IdReason>) -> Texts {
        self.with_norm(|norm| {
            let (message, expected, suggestion) = self.sentences(norm, reason);
            Texts {
                message,
                expected,
                suggestion,
                notes: self.notes(norm),
            }
        })
    }

    /// Message, expected and suggestion.
    fn sentences(&self, norm: &Norm<'_>, reason: Option<IdReason>) -> (Text, Text, Text) {
        let d = &self.decision;
        let (rendered_reason, mut message, expected, mut suggestion) =
            render(d, norm, self.rules, &self.cands);
        let typing = &norm.typing;
        let charset = typing.charset_problem();
        debug_assert!(charset || reason == rendered_reason);
        if charset {
            let (cm, cs) = text::charset_problem(typing);
            let inner = message;
            message = cm;
            if typing.readable() {
                if d.outcome.is_ok() {
                    message.en.push_str(&format!(
                        "; in plain half-width characters it would be: {}",
                        inner.en
                    ));
                    message
                        .zh
                        .push_str(&format!("；改为半角后将是：{}", inner.zh));
                } else {
                    message.en.push_str(&format!(
                        "; even in half-width it would be invalid: {}",
                        inner.en
                    ));
                    message
                        .zh
                        .push_str(&format!("；即使改为半角仍然无效：{}", inner.zh));
                }
            }
            suggestion = cs;
        }
        (message, expected, suggestion)
    }

    /// Notes on how the value was typed and what else it could be meant as.
    fn notes(&self, norm: &Norm<'_>) -> Vec<Text> {
        let d = &self.decision;
        let info = d.outcome.as_ref().ok().copied().flatten();
        let mut notes = text::typing_notes(&norm.typing, d.kind, info.as_ref(), norm.compact);

        // Auto chose a weak reading (IMEISV, IMSI, …) while the value is one
        // check digit away from a strong one: say so.
        if self.sel == KindSel::Auto
            && self.rules.is_none_or(|r| r.kinds.is_empty())
            && info.is_some_and(|i| rank(&i) >= STRONG)
            && let Some((k, f)) = best_near_miss(norm, NEAR_MISS_ORDER)
        {
            let (m, _, _) = text::kind_failure(k, &f, norm.compact);
            let title = k.title();
            notes.push(t(
                format!(
                    "if this is meant as {} {}: {}",
                    text::article(k),
                    title.en,
                    m.en
                ),
                format!("如果这是{}：{}", title.zh, m.zh),
            ));
        }

        if self.paycode {
            notes.push(t(
                "a wallet payment code is a one-time bearer token: it is shown masked, never stored, and is no customer ID",
                "付款码是一次性支付凭证：仅以掩码显示、不会保存，也不是客户号",
            ));
        }
        notes
    }
}

fn unreadable(u: Unreadable, input: &[u8], sel: KindSel) -> Validation<'static> {
    let kind = match sel {
        KindSel::Kind(k) => Some(k),
        KindSel::Auto => None,
    };
    let (reason, display) = match u {
        Unreadable::TooLong { bytes } => (IdReason::Length, format!("[{bytes} bytes, not shown]")),
        Unreadable::NotUtf8 { .. } => (IdReason::Charset, mask(&String::from_utf8_lossy(input))),
    };
    Validation {
        valid: false,
        kind,
        reason: Some(reason),
        looks_like: Vec::new(),
        display,
        words: Words::Unreadable { why: u, kind },
    }
}

/// The words for input that could not be read.
fn unreadable_texts(u: Unreadable, kind: Option<Kind>) -> Texts {
    let expected = kind.map_or_else(
        || {
            t(
                format!("at most {MAX_INPUT_BYTES} characters"),
                format!("不超过 {MAX_INPUT_BYTES} 个字符"),
            )
        },
        Kind::format,
    );
    match u {
        Unreadable::TooLong { bytes } => Texts {
            message: t(
                format!(
                    "the input is {bytes} bytes long; no identifier is longer than {MAX_INPUT_BYTES} characters"
                ),
                format!("输入长达 {bytes} 字节；任何号码都不超过 {MAX_INPUT_BYTES} 个字符"),
            ),
            expected,
            suggestion: t(
                "check that a whole line or file was not pasted in place of one value",
                "请检查是否把整行或整个文件当作一个值粘贴了进来",
            ),
            notes: Vec::new(),
        },
        Unreadable::NotUtf8 { at } => {
            let byte = at + 1;
            Texts {
                message: t(
                    format!("not valid UTF-8 at byte {byte}"),
                    format!("第 {byte} 个字节处不是有效的 UTF-8"),
                ),
                expected,
                suggestion: t(
                    "the data is probably GBK or GB18030 encoded: re-export it as UTF-8",
                    "数据可能是 GBK 或 GB18030 编码：请另存为 UTF-8",
                ),
                notes: Vec::new(),
            }
        }
    }
}

/// Validates `input` (bytes as received: any encoding, any junk) as `kind`,
/// under `rules` if given. Never panics; work is bounded by
/// [`MAX_INPUT_BYTES`].
pub fn validate<'r>(input: &[u8], kind: KindSel, rules: Option<&'r RuleSet>) -> Validation<'r> {
    with_norm(input, |r| match r {
        Ok(norm) => validation_of(&norm, input, kind, rules),
        Err(u) => unreadable(u, input, kind),
    })
}

/// Every kind `input` could be a valid value of, best first (computed on
/// the half-width reading of full-width input).
pub fn looks_like(input: &[u8]) -> Vec<Candidate> {
    with_norm(input, |r| match r {
        Ok(norm) => candidates(&norm)
            .iter()
            .map(|&(k, i)| Candidate::new(k, i, &norm))
            .collect(),
        Err(_) => Vec::new(),
    })
}

/// The verdict [`validate`] would give — `Ok(kind validated as)` or the
/// reason — without its sentences: for batch summaries under `auto` or a
/// rule set. With a known kind and no rules, [`check`] is faster still.
pub fn check_with(
    input: &[u8],
    kind: KindSel,
    rules: Option<&RuleSet>,
) -> Result<Option<Kind>, IdReason> {
    with_norm(input, |r| match r {
        Err(Unreadable::TooLong { .. }) => Err(IdReason::Length),
        Err(Unreadable::NotUtf8 { .. }) => Err(IdReason::Charset),
        Ok(norm) => {
            // Candidates matter only to `auto`.
            let cands = if kind == KindSel::Auto {
                candidates(&norm)
            } else {
                Cands::EMPTY
            };
            let d = decide(&norm, kind, rules, &cands);
            if norm.typing.charset_problem() {
                return Err(IdReason::Charset);
            }
            match &d.outcome {
                Ok(_) => Ok(d.kind),
                Err(f) => Err(failure_reason(f)),
            }
        }
    })
}

/// The verdict [`check_with`] gives and, in `display`, the value exactly as
/// [`validate`] would show it (masked) — without building any sentence:
/// for batch audits, which count failing values by how they are shown and
/// put only the few they print into words.
pub fn check_display(
    input: &[u8],
    kind: KindSel,
    rules: Option<&RuleSet>,
    display: &mut String,
) -> Result<Option<Kind>, IdReason> {
    let mut shown = std::mem::take(display).into_bytes();
    let verdict = verdict_and_display(input, kind, rules, &mut shown, Show::Always);
    *display = shown_text(shown);
    verdict
}

/// Why [`validate`] would reject `input` (`None`: valid) and, for a
/// failing value only, in `display` the value as [`validate`] would show
/// it, as UTF-8 (left empty for a valid one): for audits, which show
/// failing values and only count the rest, most of them by comparing the
/// bytes with a few they keep. Unlike [`check_with`] it does not say which
/// kind a valid value is, so `auto` stops at the first kind that fits.
pub fn check_failing(
    input: &[u8],
    kind: KindSel,
    rules: Option<&RuleSet>,
    display: &mut Vec<u8>,
) -> Option<IdReason> {
    display.clear();
    match (kind, rules) {
        // The fastest verdict first: most values of a batch pass without
        // being shown.
        // One reading and one check: a kind's verdict is its checker's.
        (KindSel::Kind(k), None) => {
            return with_norm(input, |r| match r {
                Err(u) => Some(show_unreadable(u, input, display)),
                Ok(norm) => {
                    let reason = match checks::check_kind(k, &norm) {
                        _ if norm.typing.charset_problem() => IdReason::Charset,
                        Ok(_) => return None,
                        Err(f) => f.reason,
                    };
                    show_value(&norm, Some(k), display);
                    Some(reason)
                }
            });
        }
        (KindSel::Auto, None) => {
            return with_norm(input, |r| match r {
                Err(u) => Some(show_unreadable(u, input, display)),
                Ok(norm) => failing_as_any(&norm, display),
            });
        }
        _ => {}
    }
    verdict_and_display(input, kind, rules, display, Show::Failing).err()
}

/// Shown bytes as text: always UTF-8 ([`show_value`] writes the value as
/// understood, ASCII, or a masked `String`).
fn shown_text(shown: Vec<u8>) -> String {
    String::from_utf8(shown).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// [`check_failing`] under `auto` without a rule set, in one reading: the
/// kinds are checked in [`ANY_ORDER`] until one fits (`auto` accepts a
/// value valid as any kind, read without a charset problem); a value that
/// fits none gets the near miss [`decide`] would find.
fn failing_as_any(norm: &Norm<'_>, display: &mut Vec<u8>) -> Option<IdReason> {
    if norm.typing.charset_problem() || !norm.typing.readable() {
        // A charset problem fails whatever kind the value is; the kind
        // only changes how it is shown, and for most such values (digits
        // typed full-width) not even that: no need to find it.
        if shown_alike_as_any_kind(norm) {
            show_value(norm, None, display);
            return Some(IdReason::Charset);
        }
        return verdict_of(norm, KindSel::Auto, None, display, Show::Failing).err();
    }
    for k in ANY_ORDER {
        if checks::plausible(k, norm.compact) && checks::check_kind(k, norm).is_ok() {
            return None;
        }
    }
    // Valid as no kind: as `decide` reports it with no candidates. Only
    // failing values come here, so the kinds that may be near misses are
    // checked again rather than every value's outcomes kept.
    let miss = best_near_miss(norm, Kind::ALL);
    let (kind, reason) = match miss {
        Some((k, f)) => (Some(k), f.reason),
        None => (None, IdReason::Format),
    };
    show_value(norm, kind, display);
    Some(reason)
}

/// Whether [`show_value`] shows `norm` the same read as any kind, or as
/// none: digits only, with nothing between them (the text and the compact
/// form are the same), whose first two name no wallet. The kind changes
/// the shown value only by reading the text (TID, MID), capitals, an
/// IBAN's dots, a Hong Kong or Taiwan ID's own mask (their values start
/// with a letter, so digits are never a near miss of them), and a payment
/// code's mask (valid, or a near miss, only after a wallet's prefix).
fn shown_alike_as_any_kind(norm: &Norm<'_>) -> bool {
    let v = norm.compact;
    if v.is_empty() || norm.text != v || !crate::algo::all_digits(v) {
        return false;
    }
    match v {
        [a, b, ..] => checks::Wallet::of_prefix((a - b'0') * 10 + (b - b'0')).is_none(),
        _ => true,
    }
}

/// Kinds in the order [`failing_as_any`] tries them: the common customer
/// IDs first.
const ANY_ORDER: [Kind; 16] = [
    Kind::CnRic,
    Kind::Phone,
    Kind::Paycode,
    Kind::Pan,
    Kind::HkId,
    Kind::TwId,
    Kind::CnRp,
    Kind::Iban,
    Kind::CnUscc,
    Kind::Bic,
    Kind::Imei,
    Kind::Meid,
    Kind::Imsi,
    Kind::Luhn,
    Kind::Tid,
    Kind::Mid,
];

/// What [`verdict_and_display`] shows.
#[derive(Clone, Copy)]
enum Show {
    /// Every value.
    Always,
    /// Failing values only.
    Failing,
}

/// [`check_display`], or [`check_failing`].
fn verdict_and_display(
    input: &[u8],
    kind: KindSel,
    rules: Option<&RuleSet>,
    display: &mut Vec<u8>,
    show: Show,
) -> Result<Option<Kind>, IdReason> {
    display.clear();
    with_norm(input, |r| match r {
        Err(u) => Err(show_unreadable(u, input, display)),
        Ok(norm) => verdict_of(&norm, kind, rules, display, show),
    })
}

/// [`verdict_and_display`] of a value read.
fn verdict_of(
    norm: &Norm<'_>,
    kind: KindSel,
    rules: Option<&RuleSet>,
    display: &mut Vec<u8>,
    show: Show,
) -> Result<Option<Kind>, IdReason> {
    let cands = match show {
        _ if kind != KindSel::Auto => Cands::EMPTY,
        _ => candidates(norm),
    };
    let d = decide(norm, kind, rules, &cands);
    let charset = norm.typing.charset_problem();
    if matches!(show, Show::Failing) && !charset && d.outcome.is_ok() {
        return Ok(d.kind);
    }
    show_value(norm, d.kind, display);
    if charset {
        return Err(IdReason::Charset);
    }
    match &d.outcome {
        Ok(_) => Ok(d.kind),
        Err(f) => Err(failure_reason(f)),
    }
}

/// Appends `norm` to `display` as [`validate`] shows it when read as
/// `kind` (UTF-8). The common case, plain ASCII, is masked where it is
/// written, as `display_mask` and `mask` would mask it: audits show a
/// million values a second this way.
fn show_value(norm: &Norm<'_>, kind: Option<Kind>, display: &mut Vec<u8>) {
    // The value as understood (see `understood_in`): most are taken as
    // they are; an IBAN loses its dots and some kinds are read in capitals.
    let raw = if matches!(kind, Some(Kind::Tid | Kind::Mid)) {
        norm.text
    } else {
        norm.compact
    };
    let upper = uppercased(kind);
    // One pass: its digits (as many as the value as understood has: dots
    // and case aside), and whether any byte is not ASCII. A 16-bit count,
    // which the compiler sums eight bytes an instruction: a value is at
    // most MAX_INPUT_BYTES.
    let (digits, high) = raw.iter().fold((0u16, 0u8), |(d, h), &b| {
        (d.wrapping_add(u16::from(b.is_ascii_digit())), h | b)
    });
    let digits = usize::from(digits);
    // A payment code, or anything that could be one, has at least 16.
    let paycode = kind == Some(Kind::Paycode) || (digits >= 16 && paycode_like(norm));
    let dots = kind == Some(Kind::Iban) && raw.contains(&b'.');
    if dots || high >= 0x80 || matches!(kind, Some(Kind::HkId | Kind::TwId)) {
        let mut buf = [0u8; MAX_INPUT_BYTES];
        let value = String::from_utf8_lossy(understood_in(norm, kind, &mut buf));
        display.extend_from_slice(display_mask(kind, paycode, &value).as_bytes());
        return;
    }
    // Plain ASCII, masked as `display_mask` and `mask` would mask it, in
    // the one pass that writes it (no copy, then no fill).
    let case = |b: u8| if upper { b.to_ascii_uppercase() } else { b };
    if !paycode && digits < 12 {
        // Fewer digits than a card number: `mask` and `mask_card_numbers`
        // leave it as it is.
        display.extend(raw.iter().map(|&b| case(b)));
        return;
    }
    let (keep_first, keep_last) = if paycode { (2, 0) } else { (6, 4) };
    let n = raw.len();
    if digits == n && n >= keep_first + keep_last {
        // Digits only: one run of stars between the kept ends.
        let stars = keep_first..n - keep_last;
        display.extend(
            raw.iter()
                .enumerate()
                .map(|(i, &b)| if stars.contains(&i) { b'*' } else { b }),
        );
        return;
    }
    let mut seen = 0;
    display.extend(raw.iter().map(|&b| {
        if b.is_ascii_digit() {
            seen += 1;
            if seen > keep_first && seen <= digits - keep_last {
                return b'*';
            }
        }
        case(b)
    }));
}

/// Writes an unreadable input as [`validate`] shows it; gives its reason.
fn show_unreadable(u: Unreadable, input: &[u8], display: &mut Vec<u8>) -> IdReason {
    match u {
        Unreadable::TooLong { bytes } => {
            display.extend_from_slice(format!("[{bytes} bytes, not shown]").as_bytes());
            IdReason::Length
        }
        Unreadable::NotUtf8 { .. } => {
            display.extend_from_slice(mask(&String::from_utf8_lossy(input)).as_bytes());
            IdReason::Charset
        }
    }
}

/// The verdict alone, without sentences and without allocating: `Ok(kind)`
/// when `input` is a valid `kind`, else the reason [`validate`] would give
/// with the same kind and no rules. For batch summaries and benchmarks.
#[inline]
pub fn check(input: &[u8], kind: Kind) -> Result<Kind, IdReason> {
    with_norm(input, |r| match r {
        Err(Unreadable::TooLong { .. }) => Err(IdReason::Length),
        Err(Unreadable::NotUtf8 { .. }) => Err(IdReason::Charset),
        Ok(n) if n.typing.charset_problem() => Err(IdReason::Charset),
        Ok(n) => checks::check_kind(kind, &n)
            .map(|_| kind)
            .map_err(|f| f.reason),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::with_norm;

    /// Values of every shape `auto` meets: digit strings of every length
    /// with every last character (so check digits pass and fail), letter
    /// prefixes, hexadecimal, residence-permit, payment-code and phone
    /// prefixes, separators.
    fn corpus() -> Vec<Vec<u8>> {
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let prefixes: &[&[u8]] = &[
            b"",
            b"",
            b"",
            b"810000",
            b"830000",
            b"62",
            b"13",
            b"25",
            b"86",
            b"+86",
            b"0086",
            b"+4",
            b"00",
            b"4",
            b"5",
            b"35",
            b"A",
            b"AB",
            b"GB82",
            b"NO93",
            b"NO93.8601.",
            b"N.O9",
            b"DE",
            b"a",
            b"A1",
            b"DEUTDEFF",
            b"(",
            b"9",
            b"11010519",
            b"A0",
        ];
        let mut out = Vec::new();
        for len in 0..=26usize {
            for _ in 0..60 {
                let p = prefixes[(next() % prefixes.len() as u64) as usize];
                let mut v = p.to_vec();
                let hex = next() % 5 == 0;
                while v.len() < len {
                    let r = next();
                    v.push(if hex && r % 3 == 0 {
                        b"ABCDEF"[(r / 3 % 6) as usize]
                    } else {
                        b'0' + (r / 7 % 10) as u8
                    });
                }
                for last in b"0123456789XA()".iter() {
                    let mut w = v.clone();
                    if let Some(l) = w.last_mut() {
                        *l = *last;
                    }
                    out.push(w);
                }
            }
        }
        out
    }

    /// Validating decides; it builds no sentence. A caller that reads
    /// only the verdict (a batch counting reasons, a doctor deciding)
    /// must not pay for two languages: texts are built when asked.
    #[test]
    fn validating_builds_no_text_until_asked() {
        let rules = RuleSet::new("acq")
            .with_lengths(Some(12), Some(12))
            .with_charset(crate::rules::Charset::Digits);
        let kinded = RuleSet::new("ric").with_kinds([Kind::CnRic]);
        let built = || text::BUILT.with(std::cell::Cell::get);
        let mut inputs = corpus();
        inputs.extend([
            "１３８００１３８０００".as_bytes().to_vec(),
            b"\xff\xfe12".to_vec(),
            vec![b'9'; MAX_INPUT_BYTES + 1],
            b" 4111 1111 1111 1111 ".to_vec(),
        ]);
        let mut asked = 0;
        for v in &inputs {
            for (sel, r) in [
                (KindSel::Auto, None),
                (KindSel::Kind(Kind::Pan), None),
                (KindSel::Auto, Some(&rules)),
                (KindSel::Auto, Some(&kinded)),
            ] {
                let before = built();
                let val = validate(v, sel, r);
                let kinds: Vec<Kind> = val.looks_like.iter().map(|c| c.kind).collect();
                assert_eq!(val.valid, val.reason.is_none(), "{v:?} {kinds:?}");
                assert_eq!(built(), before, "validate built a text for {v:?}");
                // Asked, it says something.
                let texts = val.texts();
                assert!(!texts.message.en.is_empty() && !texts.message.zh.is_empty());
                asked += built() - before;
            }
        }
        assert!(asked > 0);
    }

    #[test]
    fn the_cheap_filters_skip_only_kinds_that_cannot_count() {
        for v in corpus() {
            with_norm(&v, |r| {
                let Ok(norm) = r else { return };
                // Candidates: every kind checked, no filter.
                for &k in Kind::ALL {
                    if checks::check_kind(k, &norm).is_ok() {
                        assert!(checks::plausible(k, norm.compact), "{k} {v:?}");
                    }
                    if let Err(f) = checks::check_kind(k, &norm)
                        && near_miss(k, &f, norm.compact)
                    {
                        assert!(checks::may_miss(k, norm.compact), "{k} {v:?}");
                        // best_near_miss tries only the kinds of the order.
                        assert!(NEAR_MISS_ORDER.contains(&k), "{k} {v:?}");
                    }
                }
            });
        }
    }
}
