//! The fuzzy matcher: the phrase table indexed by features — pairs of
//! Chinese characters (next to each other, or with one character between,
//! so a missing or extra character still counts), and English words cut
//! to their stem and found with one typo (deletion, insertion,
//! substitution or swap) through a deletion index — each weighted by how
//! rare it is among the phrases. A phrase matches as far as its features
//! are in the text (the text may say much more); a symptom scores as its
//! best phrase. Codes in the sentence come first ([`crate::codes`]).
//!
//! No allocation per feature, no model, no network: a text costs a few
//! microseconds.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use posdiag_codes::KnowledgeBase;

use crate::codes::find_codes;
use crate::normalize::{is_cjk, normalize};
use crate::symptom::{NAMED, Symptom};

/// A ranked answer: a symptom and how well the text matches it (0..=1).
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// The symptom.
    pub symptom: Symptom,
    /// 0..=1, higher is surer; rounded to two decimals.
    pub score: f32,
    /// What in the text matched: the table's phrase, or the code.
    pub matched: String,
}

/// A phrase table row that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PhraseError {
    /// A row of the wrong shape.
    #[error("{origin}:{line}: {what}")]
    Row {
        /// The table's name.
        origin: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong and what was expected.
        what: String,
    },
}

/// The lowest score reported.
pub const MIN_SCORE: f32 = 0.3;
/// The least share of a phrase's weight the text must hold for it to count.
const MIN_COVERAGE: f32 = 0.5;
/// Longer phrases, once matched, are surer than short ones: a phrase's
/// score is multiplied by `total / (total + SPEC_K)`.
const SPEC_K: f32 = 3.0;
/// Weight of a pair of Chinese characters with one character between.
const SKIP_PAIR: f32 = 0.5;
/// Weight of an English word found with one typo.
const TYPO: f32 = 0.8;
/// The most matches returned.
pub const MAX_MATCHES: usize = 5;

/// English words that say nothing about the symptom.
const STOP: &[&str] = &[
    "a",
    "an",
    "the",
    "my",
    "our",
    "your",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "being",
    "it",
    "its",
    "this",
    "that",
    "these",
    "those",
    "to",
    "i",
    "im",
    "we",
    "me",
    "us",
    "you",
    "please",
    "pls",
    "plz",
    "help",
    "hi",
    "hello",
    "hey",
    "on",
    "at",
    "in",
    "of",
    "for",
    "with",
    "and",
    "or",
    "so",
    "just",
    "again",
    "now",
    "today",
    "all",
    "any",
    "some",
    "what",
    "why",
    "how",
    "do",
    "does",
    "did",
    "has",
    "have",
    "had",
    "can",
    "could",
    "will",
    "would",
    "should",
    "there",
    "here",
    "from",
    "by",
    "as",
    "but",
    "if",
    "then",
    "when",
    "which",
    "who",
    "also",
    "still",
    "very",
    "really",
    "too",
    "yet",
    "ok",
    "okay",
    "thanks",
    "thank",
    "guys",
    "anyone",
    "someone",
    "every",
    "time",
    "one",
    "he",
    "she",
    "they",
    "them",
    "their",
    "his",
    "her",
    "customer's",
];
/// Words that negate; all read as "not".
const NEG: &[&str] = &[
    "not", "no", "cant", "cannot", "wont", "dont", "doesnt", "didnt", "isnt", "arent", "wasnt",
    "werent", "never", "unable", "couldnt", "wouldnt", "hasnt", "havent", "aint", "nothing",
];

type Fx = BuildHasherDefault<FxHasher>;

/// A small multiplicative hasher (the rustc "Fx" hash): the keys are the
/// phrase table's own words and pairs, nothing an attacker chooses to
/// collide with a purpose, and SipHash would cost more than the matching.
#[derive(Debug, Default, Clone, Copy)]
pub struct FxHasher(u64);

const FX_K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(FX_K);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(FX_K);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// One row of the table, indexed.
#[derive(Debug, Clone)]
struct Phrase {
    symptom: usize,
    weight: f32,
    total: f32,
    text: String,
}

/// The phrase table, indexed for matching.
#[derive(Debug, Clone)]
pub struct Matcher {
    phrases: Vec<Phrase>,
    pairs: HashMap<u64, u32, Fx>,
    words: HashMap<Box<str>, u32, Fx>,
    /// Hashes of every word of at least 4 letters and of each of its
    /// one-letter deletions → the word's feature id.
    near: HashMap<u64, Vec<u32>, Fx>,
    /// Feature id → the word (empty for a pair), to confirm a near match.
    word_of: Vec<Box<str>>,
    /// Feature id → (phrase, the feature's weight in it).
    postings: Vec<Vec<(u32, f32)>>,
}

/// A feature of a text before it is given an id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key<'a> {
    Pair(u64),
    Word(&'a str),
}

fn pair(a: char, b: char) -> u64 {
    (u64::from(a) << 21) | u64::from(b)
}

/// A word cut to its stem: "declined" and "decline" → "declin",
/// "responding" → "respond". Only suffixes are cut, so it is a slice.
fn stem(w: &str) -> &str {
    let n = w.len();
    let w = if n >= 6 && w.ends_with("ing") {
        &w[..n - 3]
    } else if n >= 5 && w.ends_with("ed") {
        &w[..n - 2]
    } else if n >= 4 && w.ends_with('s') && !w.ends_with("ss") {
        &w[..n - 1]
    } else {
        w
    };
    if w.len() >= 5 && w.ends_with('e') {
        &w[..w.len() - 1]
    } else {
        w
    }
}

/// The word a token stands for: negations read "not", stop words and
/// numbers none.
fn word(token: &str) -> Option<&str> {
    let t = if let Some(i) = token.find('\'') {
        let (head, tail) = token.split_at(i);
        if tail == "'t" {
            return Some("not");
        }
        head
    } else {
        token
    };
    if t.is_empty() || STOP.contains(&t) || t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if NEG.contains(&t) {
        return Some("not");
    }
    Some(stem(t))
}

/// Calls `f` with every feature of a normalised text and its weight: pairs
/// of Chinese characters (1.0 next to each other, [`SKIP_PAIR`] with one
/// between) and English words.
fn features<'a>(norm: &'a str, mut f: impl FnMut(Key<'a>, f32)) {
    let mut prev: [Option<char>; 2] = [None, None];
    let mut word_start: Option<usize> = None;
    for (i, c) in norm
        .char_indices()
        .chain(std::iter::once((norm.len(), ' ')))
    {
        let in_word = !is_cjk(c) && c != ' ';
        if in_word {
            if word_start.is_none() {
                word_start = Some(i);
            }
        } else if let Some(s) = word_start.take()
            && let Some(w) = word(&norm[s..i])
        {
            f(Key::Word(w), 1.0);
        }
        if is_cjk(c) {
            if let Some(p) = prev[1] {
                f(Key::Pair(pair(p, c)), 1.0);
            }
            if let Some(p) = prev[0] {
                f(Key::Pair(pair(p, c)), SKIP_PAIR);
            }
            prev = [prev[1], Some(c)];
        } else {
            prev = [None, None];
        }
    }
}

/// FNV-1a of `w` without the byte at `skip` (none when `skip` is past the end).
fn hash_without(w: &[u8], skip: usize) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, b) in w.iter().enumerate() {
        if i != skip {
            h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    h
}

/// Whether `a` and `b` differ by at most one deletion, insertion,
/// substitution or swap of neighbours.
fn within_one(a: &[u8], b: &[u8]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    match long.len() - short.len() {
        0 => {
            let diffs: Vec<usize> = (0..short.len()).filter(|&i| short[i] != long[i]).collect();
            match diffs.as_slice() {
                [] | [_] => true,
                [i, j] => *j == i + 1 && short[*i] == long[*j] && short[*j] == long[*i],
                _ => false,
            }
        }
        1 => {
            let p = short.iter().zip(long).take_while(|(x, y)| x == y).count();
            short[p..] == long[p + 1..]
        }
        _ => false,
    }
}

impl Matcher {
    /// The built-in table (`data/phrases.tsv`), indexed on first use.
    pub fn builtin() -> &'static Matcher {
        static BUILTIN: std::sync::LazyLock<Matcher> = std::sync::LazyLock::new(|| {
            match Matcher::parse(include_str!("../data/phrases.tsv"), "data/phrases.tsv") {
                Ok(m) => m,
                // The file is compiled in and checked by the crate's tests.
                Err(e) => panic!("built-in phrase table is invalid: {e}"),
            }
        });
        &BUILTIN
    }

    /// A table in the format of `data/phrases.tsv`.
    pub fn parse(text: &str, origin: &str) -> Result<Matcher, PhraseError> {
        let err = |line: usize, what: String| PhraseError::Row {
            origin: origin.to_owned(),
            line,
            what,
        };
        let mut rows: Vec<(usize, f32, String)> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line_no = n + 1;
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').collect();
            let [symptom, lang, weight, phrase, _note] = cols.as_slice() else {
                return Err(err(
                    line_no,
                    format!(
                        "expected 5 tab-separated columns (symptom, lang, weight, phrase, note), found {}",
                        cols.len()
                    ),
                ));
            };
            let Some(s) = NAMED.iter().position(|s| s.name() == *symptom) else {
                let known: Vec<&str> = NAMED.iter().map(|s| s.name()).collect();
                return Err(err(
                    line_no,
                    format!("unknown symptom {symptom:?}; known: {}", known.join(", ")),
                ));
            };
            if !matches!(*lang, "en" | "zh") {
                return Err(err(
                    line_no,
                    format!("language {lang:?}: expected en or zh"),
                ));
            }
            let w: f32 = weight
                .parse()
                .ok()
                .filter(|w| (0.1..=1.0).contains(w))
                .ok_or_else(|| err(line_no, format!("weight {weight:?}: expected 0.1 to 1.0")))?;
            let norm = normalize(phrase);
            let mut any = false;
            features(&norm, |_, _| any = true);
            if !any {
                return Err(err(
                    line_no,
                    format!(
                        "phrase {phrase:?} has nothing to match: write at least two Chinese characters or one word that is not a stop word"
                    ),
                ));
            }
            rows.push((s, w, norm));
        }
        Ok(Matcher::index(rows))
    }

    fn index(rows: Vec<(usize, f32, String)>) -> Matcher {
        let mut m = Matcher {
            phrases: Vec::with_capacity(rows.len()),
            pairs: HashMap::default(),
            words: HashMap::default(),
            near: HashMap::default(),
            word_of: Vec::new(),
            postings: Vec::new(),
        };
        // Each phrase's features with their kind weights, deduplicated.
        let mut per_phrase: Vec<Vec<(u32, f32)>> = Vec::with_capacity(rows.len());
        for (_, _, norm) in &rows {
            let mut fs: Vec<(u32, f32)> = Vec::new();
            features(norm, |k, w| {
                let id = m.intern(&k);
                match fs.iter_mut().find(|(i, _)| *i == id) {
                    Some(e) => e.1 = e.1.max(w),
                    None => fs.push((id, w)),
                }
            });
            per_phrase.push(fs);
        }
        let n = rows.len() as f32;
        let mut df = vec![0_u32; m.word_of.len()];
        for fs in &per_phrase {
            for (id, _) in fs {
                df[*id as usize] += 1;
            }
        }
        m.postings = vec![Vec::new(); m.word_of.len()];
        for (p, ((symptom, weight, norm), fs)) in rows.into_iter().zip(per_phrase).enumerate() {
            let mut total = 0.0;
            for (id, kind) in fs {
                let idf = (1.0 + n / df[id as usize] as f32).ln();
                let w = kind * idf;
                total += w;
                m.postings[id as usize].push((p as u32, w));
            }
            m.phrases.push(Phrase {
                symptom,
                weight,
                total,
                text: norm,
            });
        }
        m
    }

    fn intern(&mut self, k: &Key<'_>) -> u32 {
        let next = self.word_of.len() as u32;
        match k {
            Key::Pair(p) => *self.pairs.entry(*p).or_insert_with(|| {
                self.word_of.push(Box::from(""));
                next
            }),
            Key::Word(w) => {
                if let Some(id) = self.words.get(*w) {
                    return *id;
                }
                self.words.insert(Box::from(*w), next);
                self.word_of.push(Box::from(*w));
                if w.len() >= 4 {
                    let b = w.as_bytes();
                    for skip in 0..=b.len() {
                        let ids = self.near.entry(hash_without(b, skip)).or_default();
                        if !ids.contains(&next) {
                            ids.push(next);
                        }
                    }
                }
                next
            }
        }
    }

    /// The feature id of an input word: exact, else a table word one typo
    /// away (with its weight).
    fn lookup_word(&self, w: &str, mut f: impl FnMut(u32, f32)) {
        if let Some(id) = self.words.get(w) {
            f(*id, 1.0);
            return;
        }
        let b = w.as_bytes();
        if b.len() < 4 || b.len() > 24 {
            return;
        }
        let mut seen: [u32; 4] = [u32::MAX; 4];
        let mut n = 0;
        for skip in 0..=b.len() {
            let Some(ids) = self.near.get(&hash_without(b, skip)) else {
                continue;
            };
            for id in ids {
                if seen[..n].contains(id) {
                    continue;
                }
                let known = self.word_of[*id as usize].as_bytes();
                // People rarely mistype a word's first letter, and "hang"
                // for "change" or "rate" for "date" are other words.
                // A substitution in a short word makes another word
                // ("chang" for "charg") more often than a typo.
                let substituted = known.len() == b.len() && b.len() < 6;
                if known.first() == b.first()
                    && !substituted
                    && within_one(b, known)
                    && n < seen.len()
                {
                    seen[n] = *id;
                    n += 1;
                    f(*id, TYPO);
                }
            }
        }
    }

    /// The symptoms `text` describes, best first, at most [`MAX_MATCHES`],
    /// none below [`MIN_SCORE`]; codes in it are checked against `kb`.
    /// Empty when nothing fits.
    pub fn rank(&self, text: &str, kb: &KnowledgeBase) -> Vec<Match> {
        let norm = normalize(text);
        let mut out: Vec<Match> = find_codes(&norm, kb)
            .into_iter()
            .map(|c| Match {
                matched: c.code.clone(),
                symptom: Symptom::Code(c.code),
                score: c.score,
            })
            .collect();
        let mut found: Vec<(u32, f32)> = Vec::with_capacity(32);
        features(&norm, |k, _| match k {
            Key::Pair(p) => {
                if let Some(id) = self.pairs.get(&p) {
                    found.push((*id, 1.0));
                }
            }
            Key::Word(w) => self.lookup_word(w, |id, q| found.push((id, q))),
        });
        // Each feature once, at its best quality.
        found.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
        found.dedup_by_key(|f| f.0);
        let mut acc = vec![0.0_f32; self.phrases.len()];
        let mut touched: Vec<u32> = Vec::with_capacity(32);
        for (id, q) in &found {
            for (p, w) in &self.postings[*id as usize] {
                if acc[*p as usize] == 0.0 {
                    touched.push(*p);
                }
                acc[*p as usize] += w * q;
            }
        }
        let mut best: [(f32, u32); NAMED.len()] = [(0.0, u32::MAX); NAMED.len()];
        for p in touched {
            let ph = &self.phrases[p as usize];
            let coverage = (acc[p as usize] / ph.total).min(1.0);
            if coverage < MIN_COVERAGE {
                continue;
            }
            let score = ph.weight * coverage * coverage * ph.total / (ph.total + SPEC_K);
            if score > best[ph.symptom].0 {
                best[ph.symptom] = (score, p);
            }
        }
        for (s, (score, p)) in best.iter().enumerate() {
            if *score >= MIN_SCORE {
                out.push(Match {
                    symptom: NAMED[s].clone(),
                    score: *score,
                    matched: self.phrases[*p as usize].text.clone(),
                });
            }
        }
        // Best first; a code before a named symptom of the same score.
        out.sort_by(|a, b| b.score.total_cmp(&a.score));
        out.truncate(MAX_MATCHES);
        for m in &mut out {
            m.score = (m.score * 100.0).round() / 100.0;
        }
        out
    }

    /// How many phrases the table holds, per language (en, zh).
    pub fn phrase_count(&self) -> usize {
        self.phrases.len()
    }

    /// Every phrase of a symptom, normalised (for review and tests).
    pub fn phrases_of(&self, symptom: &Symptom) -> Vec<&str> {
        self.phrases
            .iter()
            .filter(|p| NAMED[p.symptom] == *symptom)
            .map(|p| p.text.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(text: &str) -> Option<String> {
        let kb = KnowledgeBase::builtin();
        Matcher::builtin()
            .rank(text, &kb)
            .first()
            .map(|m| m.symptom.id())
    }

    #[test]
    fn stems_typos_and_negations() {
        assert_eq!(stem("declined"), "declin");
        assert_eq!(stem("decline"), "declin");
        assert_eq!(stem("responding"), "respond");
        assert_eq!(word("can't"), Some("not"));
        assert_eq!(word("the"), None);
        assert_eq!(word("123"), None);
        assert!(within_one(b"declin", b"delcin"));
        assert!(within_one(b"declin", b"dclin"));
        assert!(within_one(b"declin", b"declinn"));
        assert!(within_one(b"declin", b"declon"));
        assert!(!within_one(b"declin", b"dcelon"));
    }

    #[test]
    fn the_obvious_ones() {
        assert_eq!(top("收不了款").as_deref(), Some("payments-failing"));
        assert_eq!(top("POS机提示05").as_deref(), Some("code:05"));
        assert_eq!(top("card declnied").as_deref(), Some("card-declined"));
        assert_eq!(top("今天天气不错"), None);
        assert_eq!(top(""), None);
    }

    #[test]
    fn any_text_gives_an_answer_never_a_panic() {
        let kb = KnowledgeBase::builtin();
        let pool: Vec<char> =
            "a0x9h'’ e d刷卡不了款网络ＰＯＳ０５机 \t\n\u{0}é😀,.:-提示代码error code 5分%¥第"
                .chars()
                .collect();
        // A fixed pseudo-random walk (xorshift), so a failure repeats.
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..3_000 {
            let len = (state % 40) as usize;
            let text: String = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    pool[(state % pool.len() as u64) as usize]
                })
                .collect();
            for m in Matcher::builtin().rank(&text, &kb) {
                assert!((MIN_SCORE..=1.0).contains(&m.score), "{text:?}: {m:?}");
            }
        }
        let huge = "收不了款".repeat(100_000);
        assert_eq!(top(&huge).as_deref(), Some("payments-failing"));
    }

    #[test]
    fn a_bad_table_says_which_line_and_why() {
        let e = Matcher::parse("# c\nno-such\ten\t1.0\tx\t-\n", "t.tsv").unwrap_err();
        assert!(e.to_string().starts_with("t.tsv:2: unknown symptom"), "{e}");
        let e = Matcher::parse("fees-rates\ten\t2\tfee\t-\n", "t.tsv").unwrap_err();
        assert!(e.to_string().contains("expected 0.1 to 1.0"), "{e}");
        let e = Matcher::parse("fees-rates\ten\t1\tthe\t-\n", "t.tsv").unwrap_err();
        assert!(e.to_string().contains("nothing to match"), "{e}");
        let e = Matcher::parse("fees-rates\ten\t1\n", "t.tsv").unwrap_err();
        assert!(e.to_string().contains("5 tab-separated"), "{e}");
    }

    #[test]
    fn every_symptom_has_phrases_in_both_languages() {
        let text = include_str!("../data/phrases.tsv");
        for s in NAMED {
            for lang in ["en", "zh"] {
                let n = text
                    .lines()
                    .filter(|l| l.starts_with(&format!("{}\t{lang}\t", s.name())))
                    .count();
                assert!(n >= 5, "{s} has {n} {lang} phrases");
            }
        }
        assert!(Matcher::builtin().phrase_count() > 300);
    }
}
