//! Differential test of posdiag's BER-TLV decoding against an independent
//! decoder: pyemv's `pyemv.tlv` (knovichikhin/pyemv 1.5.0, MIT, written to
//! EMV 4.3 Book 3 Annex B), installed from PyPI into a venv under the target
//! directory (`target/tmp/py-emv`) the first time, pinned by hash in
//! `tests/python/emv-requirements.txt`, and driven by
//! `tests/python/emv_differential.py`.
//!
//! The corpus: the crate's vectors (emv-utils' card records, field 55 of an
//! authorisation), blobs generated from a seeded generator (one- to
//! three-byte tags, short and long-form lengths, templates nested up to four
//! deep, repeated tags) and mutations of both (bytes changed, cut, inserted),
//! a bounded, deterministic set. For each blob both decoders must agree: both
//! accept it with the same tree (tags, nesting, values — the lengths are the
//! values' — compared as pyemv's nested dictionary) and the same primitive
//! objects in the same order (repeats included), or both reject it. The byte
//! offsets of a rejection are not compared: pyemv reports where it stopped
//! reading (after the tag or the length), posdiag where the object starts.
//!
//! Bits are not compared: pyemv decodes no bit field, and the other
//! decoder on PyPI that knows EMV structures (`emv`, russss/python-emv
//! 1.0.14) decodes only AUC (9F07) and the CVM list (8E), which posdiag
//! names but does not decode, not TVR, TSI, CVM results or capabilities (and
//! it needs pyscard, a C extension). Bits are checked against openemv/
//! emv-utils' tables instead (`crates/posdiag-emv/data/*.tsv`, docs/emv.md).
//!
//! Known, deliberate differences (posdiag follows EMV where BER allows more),
//! each counted, and asserted to occur in the corpus so the list stays true:
//! - [`Known::Padding`]: `00`/`FF` between objects is padding for posdiag
//!   (EMV Book 3 Annex B); pyemv reads it as a tag.
//! - [`Known::LengthForm`]: the indefinite length `80` and lengths of more
//!   than three bytes are refused by posdiag; pyemv reads `80` as length 0
//!   and long length fields as numbers.
//! - [`Known::TagTooLong`]: tags over four bytes are refused by posdiag
//!   (EMV tags have at most three); pyemv takes any length.
//! - [`Known::TooDeep`]: templates nested more than 8 deep are refused by
//!   posdiag (a bound against hostile input); pyemv recurses.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use posdiag_emv::tlv::{self, TlvError};
use posdiag_tests::python::{self, check};
use posdiag_tests::workspace;
use serde_json::{Value, json};

/// The crate's vectors (crates/posdiag-emv/tests/vectors.rs, benches/emv.rs).
const VECTORS: &[&str] = &[
    "7033571147617390010101 19D22122011758928889 5F200C455850495245442F43415244 9F1F0E3137353839303936303030303030",
    "7033571147617390010101 19D22122011758928889 5F200C455850495245442F43415244 9F1F0F3137353839303936303030303030",
    "70465A0847617390010101195F3401015F24032212318C159F02069F03069F1A0295055F2A029A039C019F37048D198A029F02069F03069F1A0295055F2A029A039C019F3704",
    "9F2701005F2A02097882023900950500400080009A032612069C01009F02060000000012349F1A0202769F3303E0F0C89F34034103019F3501228A025A33",
    "9F260812345678901234569F2701809F100706010A03A000009F37045A1B2C3D9F3602000195050000008000 9A032612069C01009F02060000000150009F03060000000000005F2A02097882021980 9F1A0202769F3303E0F0C89F34031E03009F3501229F1E0831323334353637389F090200969F4104000000019F5301529B02E800",
    "6F 0C 84 02 A000 A5 06 50 02 4142 BF0C 00",
    "9F3303E0F0C8 5F2A020978 9F1081 03 010203",
    "9C0101E0055F2A0202089F0200",
    "",
];

/// Generated well-formed blobs and mutations of every blob, each.
const GENERATED: usize = 300;
const MUTATED: usize = 400;

/// A deliberate difference, named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Known {
    Padding,
    LengthForm,
    TagTooLong,
    TooDeep,
}

#[test]
fn posdiag_and_pyemv_read_the_same_tlv_trees() {
    let python = venv();
    let corpus = corpus();
    let theirs = run_driver(&python, &corpus);
    assert_eq!(theirs.len(), corpus.len(), "one answer per blob");

    let mut agreed_ok = 0;
    let mut agreed_err = 0;
    let mut offsets_differ = 0;
    let mut known: BTreeMap<Known, usize> = BTreeMap::new();
    let mut disagreements = Vec::new();
    for (blob, theirs) in corpus.iter().zip(&theirs) {
        let ours = posdiag_emv::decode(blob);
        let their_ok = theirs["ok"] == json!(true);
        match (&ours, their_ok) {
            (Ok(r), true) => {
                let (tree, prims) = ours_as_pyemv(r);
                if tree == theirs["tree"] && prims == theirs["prims"] {
                    agreed_ok += 1;
                } else if skipped_padding(r, blob) {
                    *known.entry(Known::Padding).or_default() += 1;
                } else {
                    disagreements.push(format!(
                        "{}: posdiag {tree} {prims}, pyemv {theirs}",
                        tlv::to_hex(blob)
                    ));
                }
            }
            (Err(_), false) => {
                agreed_err += 1;
                let ours = tlv_error(&ours).map(TlvError::offset);
                if ours.map(|o| o as i64) != theirs["offset"].as_i64() {
                    offsets_differ += 1;
                }
            }
            (Ok(r), false) if skipped_padding(r, blob) => {
                *known.entry(Known::Padding).or_default() += 1;
            }
            (Err(e), true) => match tlv_error(&ours) {
                Some(TlvError::LengthForm { .. }) => {
                    *known.entry(Known::LengthForm).or_default() += 1
                }
                Some(TlvError::TagTooLong { .. }) => {
                    *known.entry(Known::TagTooLong).or_default() += 1
                }
                Some(TlvError::TooDeep { .. }) => *known.entry(Known::TooDeep).or_default() += 1,
                _ => disagreements.push(format!(
                    "{}: posdiag refuses ({e}), pyemv reads {theirs}",
                    tlv::to_hex(blob)
                )),
            },
            (Ok(_), false) => disagreements.push(format!(
                "{}: posdiag reads it, pyemv refuses ({})",
                tlv::to_hex(blob),
                theirs["error"]
            )),
        }
    }
    eprintln!(
        "emv differential: {} blobs; both read the same tree: {agreed_ok}; both refuse: \
         {agreed_err} (offsets differ in {offsets_differ}); known differences: {known:?}",
        corpus.len()
    );
    assert!(
        disagreements.is_empty(),
        "{} blobs decoded differently:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    // The comparison means something only if both outcomes are frequent.
    assert!(agreed_ok >= GENERATED, "only {agreed_ok} blobs read alike");
    assert!(
        agreed_err >= MUTATED / 4,
        "only {agreed_err} blobs refused alike"
    );
    for k in [
        Known::Padding,
        Known::LengthForm,
        Known::TagTooLong,
        Known::TooDeep,
    ] {
        assert!(
            known.contains_key(&k),
            "the corpus no longer shows the known difference {k:?}: drop it from the list"
        );
    }
}

fn tlv_error<'r>(
    r: &'r Result<posdiag_emv::Reading<'_>, posdiag_emv::EmvError>,
) -> Option<&'r TlvError> {
    match r {
        Err(posdiag_emv::EmvError::Tlv(e)) => Some(e),
        _ => None,
    }
}

/// posdiag's reading in pyemv's shapes: the nested dictionary (a repeated
/// tag at one level keeps the last value, as a Python dict does) and the
/// primitives depth first.
fn ours_as_pyemv(r: &posdiag_emv::Reading<'_>) -> (Value, Value) {
    fn level<'n>(
        r: &posdiag_emv::Reading<'_>,
        nodes: impl Iterator<Item = &'n posdiag_emv::Node>,
        prims: &mut Vec<Value>,
    ) -> Value {
        let mut map = serde_json::Map::new();
        for n in nodes {
            let tag = n.tag.to_string();
            let v = if n.tag.is_constructed() {
                level(r, r.children(n), prims)
            } else {
                let hex = tlv::to_hex(r.value(n));
                prims.push(json!([tag, hex]));
                json!(hex)
            };
            map.insert(tag, v);
        }
        Value::Object(map)
    }
    let mut prims = Vec::new();
    let tree = level(r, r.roots(), &mut prims);
    (tree, Value::Array(prims))
}

/// Whether posdiag skipped `00`/`FF` padding somewhere in `blob`: the
/// objects it read (headers, primitives' values) do not cover every byte.
fn skipped_padding(r: &posdiag_emv::Reading<'_>, blob: &[u8]) -> bool {
    let mut covered = vec![false; blob.len()];
    for n in r.nodes() {
        if let posdiag_emv::decode::Origin::Tlv(start) = n.origin() {
            let v = r.value(n);
            let at = v.as_ptr() as usize - blob.as_ptr() as usize;
            // A template's own bytes are its header: what it holds is
            // covered by its objects (or is padding).
            let end = if n.tag.is_constructed() {
                at
            } else {
                at + v.len()
            };
            for c in covered.iter_mut().take(end).skip(start) {
                *c = true;
            }
        }
    }
    covered.iter().any(|c| !c)
}

/// The vectors, generated blobs and mutations: bounded and the same every run.
fn corpus() -> Vec<Vec<u8>> {
    let mut rng = Rng(0x9F33_E0F0_C800_0017);
    let mut out: Vec<Vec<u8>> = VECTORS
        .iter()
        .map(|h| {
            if h.is_empty() {
                Vec::new()
            } else {
                tlv::from_hex(h).unwrap()
            }
        })
        .collect();
    for _ in 0..GENERATED {
        let mut b = Vec::new();
        let n = 1 + rng.below(8);
        for _ in 0..n {
            object(&mut rng, &mut b, 0);
        }
        out.push(b);
    }
    // Each known difference, written out once, so the list above stays
    // checked whatever the mutations happen to produce.
    out.push(tlv::from_hex("9F3303E0F0C8 00 00 9505 0000000000").unwrap());
    out.push(tlv::from_hex("5A80 9F3303E0F0C8").unwrap());
    out.push(tlv::from_hex("9F8181818101 00").unwrap());
    let mut deep = Vec::new();
    for i in 0..10u8 {
        deep.extend([0x70, 2 * (9 - i)]);
    }
    out.push(deep);
    let seeds = out.clone();
    for _ in 0..MUTATED {
        let mut b = seeds[rng.below(seeds.len())].clone();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(b.len() + 1);
            match rng.below(4) {
                0 if at < b.len() => b[at] = rng.byte(),
                1 if at < b.len() => b[at] ^= 1 << rng.below(8),
                2 => b.truncate(at),
                _ => b.insert(at, rng.byte()),
            }
        }
        out.push(b);
    }
    out
}

/// One well-formed object: a primitive, or at depths below 4 sometimes a
/// template of objects. Tags avoid `00`/`FF` (padding for posdiag).
fn object(rng: &mut Rng, out: &mut Vec<u8>, depth: usize) {
    let constructed = depth < 4 && rng.below(4) == 0;
    let mut first = (rng.byte() & !0x20) | if constructed { 0x20 } else { 0 };
    if first == 0x00 || first == 0xFF || first == 0xDF {
        first = if constructed { 0x70 } else { 0x5A };
    }
    out.push(first);
    if first & 0x1F == 0x1F {
        // Two- or three-byte tags (EMV's 9F.., 5F.., BF0C, DF8101 …).
        if rng.below(5) == 0 {
            out.push(0x81 | (rng.byte() & 0x7E));
        }
        out.push(rng.byte() & 0x7F);
    }
    let value = if constructed {
        let mut v = Vec::new();
        for _ in 0..rng.below(4) {
            object(rng, &mut v, depth + 1);
        }
        v
    } else {
        let len = if rng.below(10) == 0 {
            128 + rng.below(200)
        } else {
            rng.below(12)
        };
        (0..len).map(|_| rng.byte()).collect()
    };
    match value.len() {
        n if n < 0x80 && rng.below(8) != 0 => out.push(n as u8),
        n if n < 0x100 => out.extend([0x81, n as u8]),
        n => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend(value);
}

/// xorshift64*: a fixed seed, so every run checks the same blobs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn byte(&mut self) -> u8 {
        (self.next() >> 56) as u8
    }
}

/// pyemv's answers, one per blob.
fn run_driver(python: &Path, corpus: &[Vec<u8>]) -> Vec<Value> {
    let mut child = Command::new(python)
        .arg(workspace().join("tests/python/emv_differential.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the pyemv driver");
    let mut input = String::new();
    for b in corpus {
        input.push_str(&tlv::to_hex(b));
        input.push('\n');
    }
    // The driver answers line by line; a thread feeds it so neither side
    // waits on a full pipe.
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child
        .wait_with_output()
        .expect("waiting for the pyemv driver");
    feeder.join().unwrap().expect("feeding the pyemv driver");
    check(Ok(out.clone()), "the pyemv driver");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("the driver prints JSON lines"))
        .collect()
}

/// The venv's python with pyemv (hash-pinned, without its dependencies:
/// the driver loads only `pyemv/tlv.py`).
fn venv() -> PathBuf {
    python::venv(
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("py-emv"),
        "tests/python/emv-requirements.txt",
        &["--no-deps", "--require-hashes"],
    )
}
