//! From decoded items to causes: the rules of `data/rules.tsv` (format in
//! its header), each a condition over item keys, a weight, the checks that
//! tell the cause apart and remedies naming who acts. Every rule that
//! holds becomes a [`Cause`]; causes are ranked by weight.

use std::sync::OnceLock;

use posdiag_core::{Actor, Remedy, Text};

use crate::decode::Decoded;
use crate::tables::{parse_actor, tables};

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

#[derive(Debug, Clone, PartialEq)]
enum Atom {
    Key(String),
    Has(String),
}

#[derive(Debug, Clone, PartialEq)]
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

/// The built-in rules.
pub fn rules() -> &'static [Rule] {
    static R: OnceLock<Vec<Rule>> = OnceLock::new();
    R.get_or_init(|| match load_rules() {
        Ok(r) => r,
        Err(e) => panic!("built-in EMV rules: {e}"),
    })
}

fn parse_when(s: &str) -> Result<Vec<Vec<Lit>>, String> {
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
                    let atom = match a.strip_prefix("has:") {
                        Some(f) => Atom::Has(f.to_owned()),
                        None => Atom::Key(a.to_owned()),
                    };
                    if a.is_empty() {
                        return Err(format!("empty atom in {s}"));
                    }
                    Ok(Lit { not, atom })
                })
                .collect()
        })
        .collect()
}

/// Parses `data/rules.tsv`; every key a rule names must exist in a table.
pub fn load_rules() -> Result<Vec<Rule>, String> {
    let known: Vec<&str> = tables().all_meanings().map(|m| m.key.as_str()).collect();
    let fields: Vec<&str> = tables()
        .bits
        .iter()
        .map(|t| t.key.as_str())
        .chain(tables().codes.iter().map(|t| t.key.as_str()))
        .collect();
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
        let clauses = parse_when(when).map_err(|e| format!("rules.tsv:{n}: {e}"))?;
        for lit in clauses.iter().flatten() {
            match &lit.atom {
                Atom::Key(k) if !known.contains(&k.as_str()) => {
                    return Err(format!("rules.tsv:{n}: unknown key {k}"));
                }
                Atom::Has(f) if !fields.contains(&f.as_str()) => {
                    return Err(format!("rules.tsv:{n}: unknown field {f}"));
                }
                _ => {}
            }
        }
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

/// The causes `decoded` supports, highest weight first.
pub fn explain(decoded: &Decoded) -> Explanation {
    let keys: Vec<&str> = decoded.items().map(|i| i.key.as_str()).collect();
    let has_field = |f: &str| {
        decoded.all().iter().any(|e| {
            tables().bit_table(e.tag).is_some_and(|t| t.key == f)
                || tables().code_table(e.tag).is_some_and(|t| t.key == f)
                || (f == "service" && e.tag.0 == 0x57)
        })
    };
    let mut causes = Vec::new();
    for rule in rules() {
        let mut evidence = Vec::new();
        let holds = rule.clauses.iter().all(|clause| {
            clause.iter().any(|lit| {
                let present = match &lit.atom {
                    Atom::Key(k) => keys.contains(&k.as_str()),
                    Atom::Has(f) => has_field(f),
                };
                if present
                    && !lit.not
                    && let Atom::Key(k) = &lit.atom
                    && !evidence.contains(k)
                {
                    evidence.push(k.clone());
                }
                present != lit.not
            })
        });
        if holds {
            causes.push(Cause {
                id: rule.id.clone(),
                weight: rule.weight,
                cause: rule.cause.clone(),
                actor: rule.remedies.first().map(|r| r.actor),
                remedies: rule.remedies.clone(),
                checks: rule.checks,
                evidence,
            });
        }
    }
    causes.sort_by_key(|c| std::cmp::Reverse(c.weight));
    Explanation { causes }
}
