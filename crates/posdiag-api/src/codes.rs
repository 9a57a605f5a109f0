//! Code explanations (`posdiag-codes` entries) as the API's messages.

use posdiag_core::Lang;
use posdiag_proto::v1 as pb;

use crate::{actor, out};

/// A code entry with its texts in `lang`; `read_as` says how the typed code
/// was read (empty when as typed). Shared by CodeService and `posdiag
/// explain --local`.
pub fn code_entry(e: &posdiag_codes::Entry, lang: Lang, read_as: &str) -> pb::CodeEntry {
    pb::CodeEntry {
        scheme: e.scheme.name().to_owned(),
        code: e.code.clone(),
        meaning: e.meaning.get(lang).to_owned(),
        category: e.category.as_str().to_owned(),
        retry: e.retry.as_str().to_owned(),
        causes: e.causes.iter().map(|c| c.get(lang).to_owned()).collect(),
        remedies: e
            .remedies
            .iter()
            .map(|r| pb::Remedy {
                actor: actor(r.actor),
                text: out(r.text.get(lang)),
            })
            .collect(),
        source: e.source.clone(),
        read_as: out(read_as),
    }
}

/// Every interpretation of `code` in `kb`, as the API answers it.
pub fn explain(
    kb: &posdiag_codes::KnowledgeBase,
    code: &str,
    only: Option<&posdiag_codes::Scheme>,
    prefer: Option<&posdiag_codes::Scheme>,
    lang: Lang,
) -> pb::ExplainCodeResponse {
    let found = kb.explain_detailed(code, only, prefer);
    let read_as = |f: posdiag_codes::Form| {
        if f == posdiag_codes::Form::AsTyped {
            ""
        } else {
            f.note()
        }
    };
    pb::ExplainCodeResponse {
        nearest: if found.is_empty() {
            kb.nearest(code, only, 5)
                .into_iter()
                .map(|e| code_entry(e, lang, ""))
                .collect()
        } else {
            Vec::new()
        },
        interpretations: found
            .iter()
            .map(|i| code_entry(i.entry, lang, read_as(i.form)))
            .collect(),
        searched_schemes: match only {
            Some(s) => vec![s.name().to_owned()],
            None => kb.schemes().iter().map(|s| s.name().to_owned()).collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_code_is_explained_in_every_scheme_and_unknown_ones_get_neighbours() {
        let kb = posdiag_codes::KnowledgeBase::builtin();
        let r = explain(&kb, "05", None, None, Lang::En);
        assert!(r.interpretations.len() > 1, "{r:?}");
        assert!(r.interpretations.iter().all(|e| !e.meaning.is_empty()));
        assert!(r.searched_schemes.len() > 1);
        let zh = explain(&kb, "05", None, None, Lang::ZhCn);
        assert_ne!(r.interpretations[0].meaning, zh.interpretations[0].meaning);
    }
}
