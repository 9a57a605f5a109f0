//! Symptom matches (`posdiag-symptoms`) as the API's messages: shared by
//! SymptomService, the doctor's SymptomExplained and `posdiag symptom
//! --local`, so all three say the same.

use posdiag_codes::{KnowledgeBase, Scheme};
use posdiag_core::{Lang, Text};
use posdiag_proto::v1 as pb;
use posdiag_symptoms::{Match, Matcher, Symptom};

use crate::{actor, out};

/// The longest text matched, in bytes.
pub const MAX_TEXT_BYTES: usize = 4096;

/// A symptom (with its score and what matched) as the API answers it;
/// `prefer` is the terminal's dialect, for a code's title and stages.
pub fn symptom_match(
    m: &Match,
    kb: &KnowledgeBase,
    prefer: Option<&Scheme>,
    lang: Lang,
) -> pb::SymptomMatch {
    pb::SymptomMatch {
        symptom: out(&m.symptom.id()),
        score: m.score,
        title: out(m.symptom.title(kb, prefer).get(lang)),
        checks: m
            .symptom
            .checks(kb, prefer)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        advice: m
            .symptom
            .advice()
            .iter()
            .map(|r| pb::Remedy {
                actor: actor(r.actor),
                text: out(r.text.get(lang)),
            })
            .collect(),
        matched: out(&m.matched),
    }
}

/// What is said when a text fits no symptom.
pub fn unplaced(text: &str) -> Text {
    let q = posdiag_core::quote(text);
    Text::new(
        format!(
            "{q} fits none of the symptoms posdiag knows; the full check-up looks at everything (posdiag doctor TERMINAL, without --symptom)"
        ),
        format!(
            "{q} 与 posdiag 已知的症状都不符；全面检查会查看所有项目（posdiag doctor 终端，不带 --symptom）"
        ),
    )
}

/// How a free-text symptom was read, for the doctor's SymptomExplained.
pub fn read_as(text: &str, symptom: &Symptom, kb: &KnowledgeBase, prefer: Option<&Scheme>) -> Text {
    let q = posdiag_core::quote(text);
    let title = symptom.title(kb, prefer);
    Text::new(
        format!("{q} read as {}: {}", symptom.id(), title.en),
        format!("{q} 理解为 {}：{}", symptom.id(), title.zh),
    )
}

/// The ranked symptoms of `text`, as MatchSymptom answers them; the note
/// says so when none fits.
pub fn match_response(
    text: &str,
    kb: &KnowledgeBase,
    prefer: Option<&Scheme>,
    lang: Lang,
) -> pb::MatchSymptomResponse {
    let matches: Vec<pb::SymptomMatch> = Matcher::builtin()
        .rank(text, kb)
        .iter()
        .map(|m| symptom_match(m, kb, prefer, lang))
        .collect();
    pb::MatchSymptomResponse {
        note: if matches.is_empty() {
            out(unplaced(text).get(lang))
        } else {
            String::new()
        },
        matches,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_carry_titles_checks_and_advice_in_the_language_asked() {
        let kb = KnowledgeBase::builtin();
        let r = match_response("POS机收不了款", &kb, None, Lang::ZhCn);
        let m = &r.matches[0];
        assert_eq!(m.symptom, "payments-failing");
        assert!(m.title.contains("收不了款"), "{m:?}");
        assert!(m.checks.contains(&"terminal.link".to_owned()));
        assert!(m.advice.is_empty());
        assert!(r.note.is_empty());

        let r = match_response("money hasnt arrived", &kb, None, Lang::En);
        let m = &r.matches[0];
        assert_eq!(m.symptom, "money-not-arrived");
        assert!(m.checks.is_empty());
        assert_eq!(m.advice[1].actor, pb::Actor::Acquirer as i32);

        let r = match_response("刷卡提示05", &kb, None, Lang::En);
        assert_eq!(r.matches[0].symptom, "code:05");
        assert!(r.matches[0].title.starts_with("code 05 shown: "));

        let r = match_response("今天天气不错", &kb, None, Lang::ZhCn);
        assert!(r.matches.is_empty());
        assert!(r.note.contains("全面检查"), "{}", r.note);
    }

    #[test]
    fn a_card_number_in_the_text_never_comes_back() {
        let kb = KnowledgeBase::builtin();
        let r = match_response("4111111111111111 刷不了", &kb, None, Lang::En);
        let all = format!("{r:?}");
        assert!(!all.contains("4111111111111111"), "{all}");
    }
}
