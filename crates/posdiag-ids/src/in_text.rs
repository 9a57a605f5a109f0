//! Identity numbers inside free text (what a person typed as a symptom:
//! "客户 A123456(3) 不支持"), masked as [`crate::check_display`] shows them.

use crate::{KindSel, check_display};

/// `text` with every word that is a valid identity number or payment code
/// (the kinds [`crate::Kind::sensitive`] names) replaced by its masked display, and
/// card numbers and other long digit runs masked as
/// [`posdiag_core::mask_card_numbers`] does. A word is a run of ASCII
/// letters, digits and `()-`; Chinese text around it stays as typed.
pub fn mask_ids_in_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut shown = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(is_word) {
        out.push_str(&rest[..start]);
        let word_len = rest[start..]
            .find(|c: char| !is_word(c))
            .unwrap_or(rest.len() - start);
        let word = &rest[start..start + word_len];
        let digits = word.bytes().filter(u8::is_ascii_digit).count();
        // The shortest sensitive kind (a Hong Kong ID) holds six digits.
        let masked = digits >= 6
            && matches!(
                check_display(word.as_bytes(), KindSel::Auto, None, &mut shown),
                Ok(Some(k)) if k.sensitive()
            );
        if masked {
            out.push_str(&shown);
        } else {
            out.push_str(word);
        }
        rest = &rest[start + word_len..];
    }
    out.push_str(rest);
    posdiag_core::mask_card_numbers(&out)
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '(' | ')' | '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_numbers_in_a_sentence_are_masked_and_the_words_stay() {
        // A valid Hong Kong ID (check character 3 for A123456) inside Chinese text.
        let m = mask_ids_in_text("客户 A123456(3) 不支持");
        assert!(m.starts_with("客户 ") && m.ends_with(" 不支持"), "{m}");
        assert!(!m.contains("123456"), "{m}");
        // A resident ID and a card number: neither shows in full.
        let m = mask_ids_in_text("ID 11010519491231002X, card 4111111111111111 declined");
        assert!(
            !m.contains("19491231") && !m.contains("4111111111111111"),
            "{m}"
        );
        assert!(m.contains("declined"), "{m}");
        // Codes, amounts and times are not identity numbers.
        assert_eq!(
            mask_ids_in_text("提示 05, 103 交易失败 at 12:30"),
            "提示 05, 103 交易失败 at 12:30"
        );
        assert_eq!(mask_ids_in_text(""), "");
    }
}
