//! Identifier validation results, kinds and rule sets as the API's messages.

use posdiag_core::Lang;
use posdiag_ids::Kind;
use posdiag_proto::v1 as pb;

use crate::out;

/// An identifier verdict, with its texts in `lang`; `index` is its place in
/// a stream. The daemon's IdService and the CLI's `--local` mode both use
/// it, so both print the same.
pub fn id_result(v: &posdiag_ids::Validation, lang: Lang, index: u64) -> pb::IdResult {
    let texts = v.texts();
    pb::IdResult {
        valid: v.valid,
        kind: v.kind.map(|k| k.name().to_owned()).unwrap_or_default(),
        reason: v.reason.map(|r| r.code().to_owned()).unwrap_or_default(),
        message: out(texts.message.get(lang)),
        expected: out(texts.expected.get(lang)),
        suggestion: out(texts.suggestion.get(lang)),
        looks_like: v
            .looks_like
            .iter()
            .map(|c| pb::IdCandidate {
                kind: c.kind.name().to_owned(),
                detail: out(c.detail().get(lang)),
            })
            .collect(),
        display: out(&v.display),
        notes: texts.notes.iter().map(|n| out(n.get(lang))).collect(),
        index,
    }
}

/// A built-in kind, with its texts in `lang`.
pub fn id_kind(k: Kind, lang: Lang) -> pb::IdKind {
    pb::IdKind {
        name: k.name().to_owned(),
        title: k.title().get(lang).to_owned(),
        format: k.format().get(lang).to_owned(),
        sensitive: k.sensitive(),
    }
}

/// A configured rule set; `terminals` are the terminals that use it.
pub fn rule_set(r: &posdiag_ids::RuleSet, terminals: Vec<String>) -> pb::RuleSet {
    use posdiag_ids::Charset;
    pb::RuleSet {
        name: r.name.clone(),
        description: r.description.clone(),
        kinds: r.kinds.iter().map(|k| k.name().to_owned()).collect(),
        min_length: r.min_length.map(|n| n as u32).unwrap_or(0),
        max_length: r.max_length.map(|n| n as u32).unwrap_or(0),
        charset: match &r.charset {
            None => String::new(),
            Some(Charset::Digits) => "digits".into(),
            Some(Charset::Alphanumeric) => "alphanumeric".into(),
            Some(Charset::UpperAlphanumeric) => "upper-alphanumeric".into(),
            Some(Charset::Custom(chars)) => chars.clone(),
        },
        pattern: r.pattern().unwrap_or_default().to_owned(),
        check: r.check.map(|c| c.name().to_owned()).unwrap_or_default(),
        terminals,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use posdiag_ids::KindSel;

    #[test]
    fn a_result_carries_every_field_in_the_chosen_language() {
        let v = posdiag_ids::validate("１３８００１３８０００".as_bytes(), KindSel::Auto, None);
        let en = id_result(&v, Lang::En, 7);
        let zh = id_result(&v, Lang::ZhCn, 7);
        assert_eq!(en.index, 7);
        assert_eq!(en.valid, v.valid);
        assert_eq!(en.display, v.display);
        assert_eq!(en.message, v.message().en);
        assert_eq!(zh.message, v.message().zh);
        assert_eq!(en.notes.len(), v.notes().len());
        assert_eq!(en.looks_like.len(), v.looks_like.len());
        assert_eq!(en.reason, v.reason.map(|r| r.code()).unwrap_or(""));
    }

    #[test]
    fn card_numbers_leave_masked() {
        let v = posdiag_ids::validate(b"4111111111111111", KindSel::Auto, None);
        let r = id_result(&v, Lang::En, 0);
        assert!(!format!("{r:?}").contains("4111111111111111"), "{r:?}");
    }

    #[test]
    fn kinds_carry_their_titles_in_both_languages() {
        for &k in Kind::ALL {
            let en = id_kind(k, Lang::En);
            let zh = id_kind(k, Lang::ZhCn);
            assert_eq!(en.name, k.name());
            assert_eq!(en.name, zh.name);
            assert!(!en.title.is_empty() && !zh.title.is_empty());
        }
    }
}
