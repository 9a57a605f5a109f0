//! An `IdResult` written straight as its proto3 JSON line, for `posdiag id
//! validate --json`, which writes one per value: the bytes of
//! [`crate::json::to_json`] (field names in lowerCamelCase in field order,
//! defaults left out, `uint64` as a string, strings escaped by
//! `serde_json`), without re-encoding the message and building a
//! `DynamicMessage` for each value. The tests hold it to `to_json`'s bytes
//! for every field shape, so the two cannot drift apart unnoticed.

use std::io::{self, Write};

use posdiag_proto::v1;

/// Writes `r` as one line of proto3 JSON (with its `\n`), exactly as
/// `writeln!(w, "{}", to_json(r)?)` would.
pub fn write_id_result<W: Write>(r: &v1::IdResult, w: &mut W) -> io::Result<()> {
    let mut fields = Fields { w, first: true };
    if r.valid {
        fields.name("valid")?;
        fields.w.write_all(b"true")?;
    }
    fields.string("kind", &r.kind)?;
    fields.string("reason", &r.reason)?;
    fields.string("message", &r.message)?;
    fields.string("expected", &r.expected)?;
    fields.string("suggestion", &r.suggestion)?;
    if !r.looks_like.is_empty() {
        fields.name("looksLike")?;
        fields.w.write_all(b"[")?;
        for (i, c) in r.looks_like.iter().enumerate() {
            if i > 0 {
                fields.w.write_all(b",")?;
            }
            let mut inner = Fields {
                w: &mut *fields.w,
                first: true,
            };
            inner.string("kind", &c.kind)?;
            inner.string("detail", &c.detail)?;
            inner.end()?;
        }
        fields.w.write_all(b"]")?;
    }
    fields.string("display", &r.display)?;
    if !r.notes.is_empty() {
        fields.name("notes")?;
        fields.w.write_all(b"[")?;
        for (i, n) in r.notes.iter().enumerate() {
            if i > 0 {
                fields.w.write_all(b",")?;
            }
            quoted(&mut *fields.w, n)?;
        }
        fields.w.write_all(b"]")?;
    }
    if r.index != 0 {
        // proto3 JSON writes 64-bit integers as strings.
        fields.name("index")?;
        write!(fields.w, "\"{}\"", r.index)?;
    }
    fields.end()?;
    w.write_all(b"\n")
}

/// The fields of one JSON object, written as they come.
struct Fields<'a, W: Write> {
    w: &'a mut W,
    first: bool,
}

impl<W: Write> Fields<'_, W> {
    /// `{"name":` or `,"name":`.
    fn name(&mut self, name: &str) -> io::Result<()> {
        self.w.write_all(if self.first { b"{" } else { b"," })?;
        self.first = false;
        quoted(&mut *self.w, name)?;
        self.w.write_all(b":")
    }

    /// A string field, left out when empty (its default).
    fn string(&mut self, name: &str, value: &str) -> io::Result<()> {
        if value.is_empty() {
            return Ok(());
        }
        self.name(name)?;
        quoted(&mut *self.w, value)
    }

    /// The closing brace (`{}` for an object with no field set).
    fn end(self) -> io::Result<()> {
        self.w.write_all(if self.first { b"{}" } else { b"}" })
    }
}

/// `s` as a JSON string, escaped as `serde_json` (and so prost-reflect's
/// serialization) escapes it.
fn quoted<W: Write>(w: &mut W, s: &str) -> io::Result<()> {
    serde_json::to_writer(w, s).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::to_json;
    use posdiag_core::Lang;
    use posdiag_ids::{KindSel, RuleSet};

    fn same(r: &v1::IdResult) {
        let mut ours = Vec::new();
        write_id_result(r, &mut ours).expect("write");
        let want = format!("{}\n", to_json(r).expect("to_json"));
        assert_eq!(String::from_utf8(ours).expect("utf-8"), want, "{r:?}");
    }

    /// Every shape a verdict takes: valid and not, with and without a
    /// kind, candidates and notes, unreadable input, a rule set, both
    /// languages, indices 0 and up.
    #[test]
    fn verdicts_are_written_as_prost_reflect_writes_them() {
        let rules = RuleSet::new("acq \"A\"")
            .with_lengths(Some(12), Some(12))
            .with_pattern("[1-9][0-9]{11}")
            .expect("pattern");
        let values: &[&[u8]] = &[
            b"4111111111111111",
            b"4111111111111112",
            b"11010519491231002X",
            "１３８００１３８０００".as_bytes(),
            b" 138 0013 8000 ",
            b"+8613800138000",
            b"DEUTDEFF500",
            b"GB82WEST12345698765432",
            b"490154203237518",
            b"A123456(3)",
            b"281234567890123456",
            b"",
            b"N/A",
            b"\xff\xfe",
            b"\"quoted\\\" \x01\x1f\x7f",
            "中文\u{2028}\u{200b}😀".as_bytes(),
            &[b'9'; 300],
        ];
        let mut index = 0;
        for v in values {
            for (sel, r) in [(KindSel::Auto, None), (KindSel::Auto, Some(&rules))] {
                for lang in [Lang::En, Lang::ZhCn] {
                    let result =
                        posdiag_api::id_result(&posdiag_ids::validate(v, sel, r), lang, index);
                    same(&result);
                    index = index.wrapping_mul(7) + 1;
                }
            }
        }
        let mut cut = posdiag_api::id_result(
            &posdiag_ids::validate(b"1", KindSel::Auto, None),
            Lang::ZhCn,
            u64::MAX,
        );
        super::super::validate::mark_cut(&mut cut, 5_000_000, Lang::ZhCn);
        same(&cut);
    }

    /// Hand-made messages: each field alone, empty ones, and strings that
    /// need escapes.
    #[test]
    fn every_field_shape_is_written_as_prost_reflect_writes_it() {
        let odd = [
            "",
            "a",
            "\"\\/\u{0}\u{8}\u{c}\n\r\t\u{1b}\u{7f}",
            "é中文\u{2028}\u{2029}😀",
            "</script>",
        ];
        same(&v1::IdResult::default());
        same(&v1::IdResult {
            valid: true,
            ..Default::default()
        });
        same(&v1::IdResult {
            index: 1,
            ..Default::default()
        });
        for s in odd {
            let text = || s.to_owned();
            same(&v1::IdResult {
                kind: text(),
                ..Default::default()
            });
            same(&v1::IdResult {
                reason: text(),
                expected: text(),
                ..Default::default()
            });
            same(&v1::IdResult {
                valid: true,
                message: text(),
                suggestion: text(),
                display: text(),
                index: 42,
                ..Default::default()
            });
            same(&v1::IdResult {
                looks_like: vec![
                    v1::IdCandidate {
                        kind: text(),
                        detail: String::new(),
                    },
                    v1::IdCandidate::default(),
                    v1::IdCandidate {
                        kind: String::new(),
                        detail: text(),
                    },
                ],
                notes: vec![text(), String::new(), "x".into()],
                ..Default::default()
            });
        }
    }
}
