//! Text as people type it turned into one plain form, the same for the
//! phrase table and the input: full-width letters, digits and punctuation
//! folded to ASCII (the part of NFKC that matters for a Chinese keyboard),
//! lower case, punctuation to spaces, spaces between Chinese characters
//! dropped, and the words that only name the device ("POS机", "pos 机",
//! "刷卡机") removed.

/// The most characters of a text the matcher reads; a longer text is
/// judged by its beginning (a person describing a symptom says it early).
pub const MAX_CHARS: usize = 1000;

/// Whether `c` is a Chinese character (CJK unified ideographs, extension A,
/// compatibility ideographs).
pub fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}')
}

/// Whether `c` belongs to a word of Latin letters and digits.
pub fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '\'' || (c.is_alphanumeric() && !is_cjk(c))
}

/// One character folded: full-width forms to ASCII, the ideographic space
/// to a space, Chinese punctuation to a space, lower case.
fn fold(c: char) -> char {
    let c = match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(' '),
        // Curly apostrophes, as phones type them in "can’t".
        '\u{2018}' | '\u{2019}' => '\'',
        _ => c,
    };
    if c.is_ascii_alphanumeric() || c == '\'' || c == '%' || c == '$' || c == '¥' {
        c.to_ascii_lowercase()
    } else if is_cjk(c) || (c.is_alphanumeric() && !c.is_ascii()) {
        // Other scripts' letters stay (lower-cased when they have a case).
        c.to_lowercase().next().unwrap_or(c)
    } else {
        ' '
    }
}

/// Words that only name the device; dropped wherever they appear.
const NOISE: &[&str] = &["pos机", "pos 机", "刷卡机"];

/// `text` in the matcher's plain form. At most [`MAX_CHARS`] characters are
/// read.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_CHARS * 3));
    let mut pending_space = false;
    for c in text.chars().take(MAX_CHARS).map(fold) {
        if c == ' ' {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            // A space between two Chinese characters is noise; between
            // anything else it separates words.
            let prev_cjk = out.chars().next_back().is_some_and(is_cjk);
            if !(prev_cjk && is_cjk(c)) {
                out.push(' ');
            }
            pending_space = false;
        }
        out.push(c);
    }
    if NOISE.iter().any(|n| out.contains(n)) {
        for n in NOISE {
            out = out.replace(n, " ");
        }
        // Collapse the spaces the removal left.
        out = out
            .split(' ')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_case_punctuation_and_device_words() {
        let cases = [
            ("ＰＯＳ机 收不了款！", "收不了款"),
            ("pos 机刷不了卡", "刷不了卡"),
            ("刷卡机提示０５", "提示05"),
            ("Card   DECLINED!!", "card declined"),
            ("收 不 了 款", "收不了款"),
            ("can’t read card", "can't read card"),
            ("客户ID不支持。", "客户id不支持"),
            ("error code 0x64", "error code 0x64"),
            ("   ", ""),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input), want, "{input:?}");
        }
    }

    #[test]
    fn a_long_text_is_cut_not_refused() {
        let long = "慢".repeat(MAX_CHARS * 5);
        assert_eq!(normalize(&long).chars().count(), MAX_CHARS);
    }
}
