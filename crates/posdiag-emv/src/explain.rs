//! From decoded items to causes: the rules of `data/rules.tsv` (format in
//! its header), each a condition over item keys, a weight, the checks that
//! tell the cause apart and remedies naming who acts. Every rule that
//! holds becomes a [`Cause`]; causes are ranked by weight.
//!
//! The rules are compiled once into tests over the bits of a decoded
//! blob's [`KeySet`] and fields, and each rule is filed under the keys that
//! can make it hold, so explaining a [`Reading`] looks only at the rules
//! its keys trigger and allocates nothing ([`Reasons`]); the causes' texts
//! are copied out only for people ([`Reasons::to_explanation`]).

use std::sync::OnceLock;

use posdiag_core::{Actor, Remedy, Text};

use crate::decode::{Decoded, Reading};
use crate::tables::{KeySet, parse_actor, tables};

/// What the doctor runs to tell a cause apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Checks {
    /// Nothing to run: the EMV data says it all.
    None,
    /// The host checks (dns, tcp, tls, exchange).
    Host,
    /// The terminal's reader checks.
    Reader,
}

impl Checks {
    /// The stable name (`-`, `host`, `reader`).
    pub fn name(self) -> &'static str {
        match self {
            Checks::None => "-",
            Checks::Host => "host",
            Checks::Reader => "reader",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Atom {
    /// A table row, by [`crate::tables::Meaning::id`].
    Key(u16),
    /// A field given at all, by its number.
    Has(u8),
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Lit {
    not: bool,
    atom: Atom,
}

/// One explanation rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Stable id (`arc.z3`).
    pub id: String,
    /// Rank: higher first.
    pub weight: u32,
    /// The condition as written.
    pub when: String,
    clauses: Vec<Vec<Lit>>,
    /// What to run to confirm it.
    pub checks: Checks,
    /// The cause.
    pub cause: Text,
    /// What to do, in order.
    pub remedies: Vec<Remedy>,
}

/// A cause that the data supports.
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    /// The rule's id.
    pub id: String,
    /// Its weight.
    pub weight: u32,
    /// The cause.
    pub cause: Text,
    /// Who acts first.
    pub actor: Option<Actor>,
    /// What to do.
    pub remedies: Vec<Remedy>,
    /// What to run to confirm it.
    pub checks: Checks,
    /// The item keys that made the rule hold.
    pub evidence: Vec<String>,
}

/// The causes, ranked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Explanation {
    /// Highest weight first.
    pub causes: Vec<Cause>,
}

impl Explanation {
    /// Whether any cause needs someone to act (everything but benign readings).
    pub fn has_problems(&self) -> bool {
        self.causes.iter().any(|c| c.weight >= PROBLEM_WEIGHT)
    }
}

/// Causes weighing at least this are problems (below: context such as
/// "over the floor limit").
pub const PROBLEM_WEIGHT: u32 = 25;

const RULES: &str = include_str!("../data/rules.tsv");

/// Most rules the compiled form holds (one bit each).
pub const MAX_RULES: usize = 64;

/// The rules compiled: ranked, and filed under what triggers them.
struct Book {
    rules: Vec<Rule>,
    /// Rule indices, highest weight first (ties in file order).
    ranked: Vec<usize>,
    /// (rule, key-set word, keys): the rule can hold only if one of
    /// these keys is there (its clause of plain atoms).
    /// Sorted by word, with `word_runs[w]` the run of word `w`: a blob
    /// tests only the entries of the words it has keys in.
    by_keys: Vec<(u8, u8, u64)>,
    word_runs: Vec<std::ops::Range<usize>>,
    /// (rule, fields): the same for `has:FIELD` atoms.
    by_fields: Vec<(u8, u32)>,
    /// Rules with no clause of plain atoms only (always tested).
    always: u64,
    /// Every rule's condition as one run of tests, clause after clause
    /// (`flat[runs[i]]` for rule `i`), read without following pointers.
    flat: Vec<Test>,
    runs: Vec<std::ops::Range<usize>>,
}

/// One atom of a compiled condition: `mask` tested in key-set word `word`
/// (or in the fields when `field`), negated with `not`; `last` ends its clause.
#[derive(Debug, Clone, Copy)]
struct Test {
    word: u8,
    field: bool,
    not: bool,
    last: bool,
    mask: u64,
}

impl Book {
    /// Whether rule `i` holds (what [`Rule::holds`] says, without evidence).
    fn holds(&self, i: usize, keys: &KeySet, fields: u32) -> bool {
        let Some(run) = self.runs.get(i).and_then(|r| self.flat.get(r.clone())) else {
            return false;
        };
        let mut clause = false;
        for t in run {
            let present = if t.field {
                u64::from(fields) & t.mask != 0
            } else {
                keys.word(t.word) & t.mask != 0
            };
            clause |= present != t.not;
            if t.last {
                if !clause {
                    return false;
                }
                clause = false;
            }
        }
        true
    }
}

fn book() -> &'static Book {
    static B: OnceLock<Book> = OnceLock::new();
    B.get_or_init(|| match load_rules().and_then(compile) {
        Ok(b) => b,
        Err(e) => panic!("built-in EMV rules: {e}"),
    })
}

/// The built-in rules.
pub fn rules() -> &'static [Rule] {
    &book().rules
}

fn compile(rules: Vec<Rule>) -> Result<Book, String> {
    if rules.len() > MAX_RULES {
        return Err(format!("more than {MAX_RULES} rules"));
    }
    let mut ranked: Vec<usize> = (0..rules.len()).collect();
    ranked.sort_by_key(|&i| std::cmp::Reverse(rules[i].weight));
    let mut by_keys: Vec<(u8, u8, u64)> = Vec::new();
    let mut by_fields: Vec<(u8, u32)> = Vec::new();
    let mut always = 0u64;
    for (i, rule) in rules.iter().enumerate() {
        // A clause of plain atoms holds only if one of them is there: the
        // rule is filed under them; without such a clause it is always tested.
        match rule.clauses.iter().find(|c| c.iter().all(|l| !l.not)) {
            Some(clause) => {
                for lit in clause {
                    match lit.atom {
                        Atom::Key(id) => {
                            let (word, bit) = ((id / 64) as u8, 1u64 << (id % 64));
                            match by_keys
                                .iter_mut()
                                .find(|(r, w, _)| usize::from(*r) == i && *w == word)
                            {
                                Some((_, _, m)) => *m |= bit,
                                None => by_keys.push((i as u8, word, bit)),
                            }
                        }
                        Atom::Has(f) => by_fields.push((i as u8, 1 << (f % 32))),
                    }
                }
            }
            None => always |= 1 << i,
        }
    }
    let mut flat = Vec::new();
    let mut runs = Vec::new();
    for rule in &rules {
        let start = flat.len();
        for clause in &rule.clauses {
            for (k, lit) in clause.iter().enumerate() {
                let (word, field, mask) = match lit.atom {
                    Atom::Key(id) => ((id / 64) as u8, false, 1u64 << (id % 64)),
                    Atom::Has(f) => (0, true, 1u64 << (f % 32)),
                };
                flat.push(Test {
                    word,
                    field,
                    not: lit.not,
                    last: k + 1 == clause.len(),
                    mask,
                });
            }
        }
        runs.push(start..flat.len());
    }
    by_keys.sort_by_key(|&(_, word, _)| word);
    let words = by_keys
        .iter()
        .map(|&(_, w, _)| usize::from(w) + 1)
        .max()
        .unwrap_or(0);
    let word_runs = (0..words)
        .map(|w| {
            let start = by_keys.partition_point(|&(_, x, _)| usize::from(x) < w);
            let end = by_keys.partition_point(|&(_, x, _)| usize::from(x) <= w);
            start..end
        })
        .collect();
    Ok(Book {
        rules,
        ranked,
        by_keys,
        word_runs,
        by_fields,
        always,
        flat,
        runs,
    })
}

fn parse_when(
    s: &str,
    key: &dyn Fn(&str) -> Result<Atom, String>,
) -> Result<Vec<Vec<Lit>>, String> {
    s.split(" & ")
        .map(|clause| {
            clause
                .split('|')
                .map(|a| {
                    let a = a.trim();
                    let (not, a) = match a.strip_prefix('!') {
                        Some(rest) => (true, rest),
                        None => (false, a),
                    };
                    if a.is_empty() {
                        return Err(format!("empty atom in {s}"));
                    }
                    Ok(Lit { not, atom: key(a)? })
                })
                .collect()
        })
        .collect()
}

/// Parses `data/rules.tsv`; every key a rule names must exist in a table.
pub fn load_rules() -> Result<Vec<Rule>, String> {
    let t = tables();
    let atom = |a: &str| match a.strip_prefix("has:") {
        Some(f) => t
            .field(f)
            .map(Atom::Has)
            .ok_or_else(|| format!("unknown field {f}")),
        None => t
            .id(a)
            .map(Atom::Key)
            .ok_or_else(|| format!("unknown key {a}")),
    };
    let mut out: Vec<Rule> = Vec::new();
    for (i, line) in RULES.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let [id, weight, when, checks, en, zh, remedies] = cols.as_slice() else {
            return Err(format!("rules.tsv:{n}: {} columns, expected 7", cols.len()));
        };
        let clauses = parse_when(when, &atom).map_err(|e| format!("rules.tsv:{n}: {e}"))?;
        let checks = match *checks {
            "-" => Checks::None,
            "host" => Checks::Host,
            "reader" => Checks::Reader,
            other => return Err(format!("rules.tsv:{n}: checks {other}")),
        };
        let mut rem = Vec::new();
        for r in remedies.split(';') {
            let Some((actor, text)) = r.split_once(':') else {
                return Err(format!("rules.tsv:{n}: remedy without actor: {r}"));
            };
            let Some((ren, rzh)) = text.split_once('|') else {
                return Err(format!("rules.tsv:{n}: remedy without Chinese: {r}"));
            };
            let Some(Some(actor)) = parse_actor(actor) else {
                return Err(format!("rules.tsv:{n}: actor {actor}"));
            };
            rem.push(Remedy::new(actor, ren, rzh));
        }
        if out.iter().any(|r| r.id == *id) {
            return Err(format!("rules.tsv:{n}: id {id} twice"));
        }
        out.push(Rule {
            id: (*id).to_owned(),
            weight: weight
                .parse()
                .map_err(|_| format!("rules.tsv:{n}: weight {weight}"))?,
            when: (*when).to_owned(),
            clauses,
            checks,
            cause: Text::new(*en, *zh),
            remedies: rem,
        });
    }
    Ok(out)
}

impl Rule {
    /// Whether the rule holds for these rows and fields; with `evidence`,
    /// the keys that made it hold (per clause, the first atom that does,
    /// when it is a key that is there) are added to it.
    fn holds(&self, keys: &KeySet, fields: u32, mut evidence: Option<&mut Vec<String>>) -> bool {
        self.clauses.iter().all(|clause| {
            clause.iter().any(|lit| {
                let present = match lit.atom {
                    Atom::Key(id) => keys.contains(id),
                    Atom::Has(f) => fields & (1 << (f % 32)) != 0,
                };
                if present
                    && !lit.not
                    && let Atom::Key(id) = lit.atom
                    && let Some(ev) = evidence.as_deref_mut()
                    && let Some(m) = tables().meaning(id)
                    && !ev.contains(&m.key)
                {
                    ev.push(m.key.clone());
                }
                present != lit.not
            })
        })
    }
}

/// The rules a decoded blob supports, as a set: no text copied, nothing
/// allocated. Iterate them ranked with [`Reasons::rules`]; put them into
/// words with [`Reasons::to_explanation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reasons<'k> {
    fired: u64,
    keys: &'k KeySet,
    fields: u32,
}

impl<'k> Reasons<'k> {
    /// The rules that hold for `keys` and `fields`.
    pub fn of(keys: &'k KeySet, fields: u32) -> Reasons<'k> {
        let b = book();
        let mut candidates = b.always;
        // Without a branch per entry: which entries hit is data, not a
        // pattern the branch predictor could learn.
        for (w, run) in b.word_runs.iter().enumerate() {
            let k = keys.word(w as u8);
            if k == 0 {
                continue;
            }
            for &(rule, _, mask) in b.by_keys.get(run.clone()).unwrap_or(&[]) {
                candidates |= u64::from(k & mask != 0) << rule;
            }
        }
        for &(rule, mask) in &b.by_fields {
            candidates |= u64::from(fields & mask != 0) << rule;
        }
        let mut fired = 0u64;
        while candidates != 0 {
            let i = candidates.trailing_zeros() as usize;
            candidates &= candidates - 1;
            if b.holds(i, keys, fields) {
                fired |= 1 << i;
            }
        }
        Reasons {
            fired,
            keys,
            fields,
        }
    }

    /// The rules that hold, highest weight first.
    pub fn rules(&self) -> impl Iterator<Item = &'static Rule> + '_ {
        let b = book();
        b.ranked
            .iter()
            .filter(|&&i| self.fired & (1 << i) != 0)
            .filter_map(|&i| b.rules.get(i))
    }

    /// How many rules hold.
    pub fn len(&self) -> usize {
        self.fired.count_ones() as usize
    }

    /// Whether no rule holds.
    pub fn is_empty(&self) -> bool {
        self.fired == 0
    }

    /// Whether any cause needs someone to act (as [`Explanation::has_problems`]).
    pub fn has_problems(&self) -> bool {
        self.rules().any(|r| r.weight >= PROBLEM_WEIGHT)
    }

    /// The keys that made `rule` hold.
    pub fn evidence(&self, rule: &Rule) -> Vec<String> {
        let mut ev = Vec::new();
        rule.holds(self.keys, self.fields, Some(&mut ev));
        ev
    }

    /// The causes in words, ranked.
    pub fn to_explanation(&self) -> Explanation {
        Explanation {
            causes: self
                .rules()
                .map(|rule| Cause {
                    id: rule.id.clone(),
                    weight: rule.weight,
                    cause: rule.cause.clone(),
                    actor: rule.remedies.first().map(|r| r.actor),
                    remedies: rule.remedies.clone(),
                    checks: rule.checks,
                    evidence: self.evidence(rule),
                })
                .collect(),
        }
    }
}

impl Reading<'_> {
    /// The rules this reading supports.
    pub fn reasons(&self) -> Reasons<'_> {
        Reasons::of(self.keys(), self.fields())
    }
}

/// The causes `decoded` supports, highest weight first.
pub fn explain(decoded: &Decoded) -> Explanation {
    let t = tables();
    let mut keys = KeySet::default();
    for item in decoded.items() {
        if let Some(id) = t.id(&item.key) {
            keys.insert(id);
        }
    }
    let mut fields = 0u32;
    for e in decoded.all() {
        match t.kind(e.tag) {
            Some(crate::tables::Kind::Bits(i)) => {
                fields |= t.bits.get(i).map_or(0, |b| 1 << b.field);
            }
            Some(crate::tables::Kind::Codes(i)) => {
                fields |= t.codes.get(i).map_or(0, |c| 1 << c.field);
            }
            None if e.tag.0 == 0x57 => fields |= 1 << t.service_field,
            None => {}
        }
    }
    Reasons::of(&keys, fields).to_explanation()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The compiled conditions and the trigger filter say what the rules say.
        #[test]
        fn compiled_rules_agree_with_the_rules(
            picks in proptest::collection::vec(0usize..1000, 0..40),
            fields in proptest::num::u32::ANY,
        ) {
            let t = tables();
            let ids: Vec<u16> = (0..crate::tables::MAX_MEANINGS as u16)
                .filter(|&id| t.meaning(id).is_some())
                .collect();
            let mut keys = KeySet::default();
            for p in picks {
                keys.insert(ids[p % ids.len()]);
            }
            let fields = fields & ((1 << t.fields()) - 1);
            let reasons = Reasons::of(&keys, fields);
            for (i, rule) in rules().iter().enumerate() {
                let holds = rule.holds(&keys, fields, None);
                proptest::prop_assert_eq!(book().holds(i, &keys, fields), holds, "{}", rule.id);
                proptest::prop_assert_eq!(reasons.fired & (1 << i) != 0, holds, "{}", rule.id);
            }
        }
    }
}
