//! Codes inside sentences: "提示 05", "刷卡显示51余额不足", "error code
//! 0x64", "103 交易失败". A number is taken for a code only when the
//! sentence says so (a word such as 提示, 代码, "error", "code" before it,
//! or 失败, "declined" after it), when it is written as one (`0x64`), or
//! when it is all the text; never when a unit follows ("5分钟", "3台",
//! "2 days") — and only when the code tables know it.

use posdiag_codes::KnowledgeBase;

use crate::normalize::{is_cjk, is_word};

/// A code found in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundCode {
    /// The code as written, letters in upper case (`05`, `0x64`, `Z3`).
    pub code: String,
    /// How surely it is a code: 1.0 when the text says so, 0.9 when only
    /// the words after it do.
    pub score: f32,
}

/// Words before a number that make it a code (Chinese: the text ends with
/// one; English: the word just before).
const CUES_ZH: &[&str] = &[
    "提示", "显示", "代码", "码", "错误", "报错", "报", "出现", "返回", "出", "是", "号",
];
const CUES_EN: &[&str] = &[
    "code", "error", "err", "errno", "shows", "showing", "show", "says", "saying", "said",
    "displays", "display", "message", "msg", "response", "rc", "reason", "got", "get", "gives",
    "reads", "arc",
];
/// Words after a number that make it a code.
const AFTER_ZH: &[&str] = &["交易失败", "失败", "错误", "报错", "拒绝", "被拒", "错"];
const AFTER_EN: &[&str] = &[
    "error", "declined", "decline", "failed", "fail", "code", "err",
];
/// Units after a number: a quantity, not a code.
const UNITS_ZH: &[char] = &[
    '天', '元', '块', '次', '点', '分', '秒', '小', '个', '台', '笔', '张', '%', '年', '月', '日',
    '周', '多', '毛', '人', '位', '遍', '号', '岁', '万', '千', '百',
];
const UNITS_EN: &[&str] = &[
    "days",
    "day",
    "hours",
    "hour",
    "hrs",
    "h",
    "min",
    "mins",
    "minutes",
    "minute",
    "times",
    "yuan",
    "rmb",
    "usd",
    "eur",
    "pm",
    "am",
    "sec",
    "secs",
    "seconds",
    "s",
    "ms",
    "percent",
    "pcs",
    "people",
    "terminals",
    "cards",
    "weeks",
    "week",
    "years",
    "x",
    "th",
    "nd",
    "rd",
    "st",
];

/// Every code in `norm` (a [`crate::normalize::normalize`]d text) that the
/// tables know, in the order written, at most 4.
pub fn find_codes(norm: &str, kb: &KnowledgeBase) -> Vec<FoundCode> {
    let mut out: Vec<FoundCode> = Vec::new();
    let whole = norm.trim();
    let bytes = norm.as_bytes();
    let mut i = 0;
    while i < bytes.len() && out.len() < 4 {
        if !bytes[i].is_ascii_alphanumeric() || (i > 0 && is_word_byte_before(norm, i)) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < bytes.len() && bytes[j].is_ascii_alphanumeric() {
            j += 1;
        }
        // A token that runs on into other letters (é, an apostrophe) is a word.
        let runs_on = norm[j..].chars().next().is_some_and(is_word);
        let token = &norm[i..j];
        if !runs_on && let Some((code, explicit)) = code_shape(token) {
            let before = &norm[..i];
            let after = &norm[j..];
            let alone = whole == token;
            let cue_before = cued_before(before);
            let cue_after = cued_after(after);
            let quantity = unit_after(after) || before.ends_with(['¥', '$', '第']);
            let score = if quantity && !explicit {
                0.0
            } else if explicit || alone || cue_before {
                1.0
            } else if cue_after && token.len() >= 2 {
                0.9
            } else {
                0.0
            };
            if score > 0.0
                && !out.iter().any(|f| f.code == code)
                && !kb.explain(&code, None, None).is_empty()
            {
                out.push(FoundCode { code, score });
            }
        }
        i = j;
    }
    out
}

/// Whether the character before byte `i` is part of a word (so the token
/// starting at `i` is not a token start).
fn is_word_byte_before(norm: &str, i: usize) -> bool {
    norm[..i].chars().next_back().is_some_and(is_word)
}

/// The code a token may be, and whether it is written as one (`0x64`,
/// `6Ch`): one to three digits, a letter and a digit (`Z3`, `A0`), a hex
/// byte.
fn code_shape(token: &str) -> Option<(String, bool)> {
    let b = token.as_bytes();
    if let Some(hex) = token.strip_prefix("0x")
        && (1..=2).contains(&hex.len())
        && hex.bytes().all(|c| c.is_ascii_hexdigit())
    {
        return Some((format!("0x{}", hex.to_ascii_uppercase()), true));
    }
    if (2..=3).contains(&b.len())
        && b[0].is_ascii_digit()
        && let Some(hex) = token.strip_suffix('h')
        && hex.bytes().all(|c| c.is_ascii_hexdigit())
        && hex.bytes().any(|c| c.is_ascii_alphabetic())
    {
        return Some((format!("{}h", hex.to_ascii_uppercase()), true));
    }
    if (1..=3).contains(&b.len()) && b.iter().all(u8::is_ascii_digit) {
        return Some((token.to_owned(), false));
    }
    if b.len() == 2 && b.iter().any(u8::is_ascii_digit) && b.iter().any(u8::is_ascii_alphabetic) {
        return Some((token.to_ascii_uppercase(), false));
    }
    None
}

fn cued_before(before: &str) -> bool {
    let b = before.trim_end();
    if b.chars().next_back().is_some_and(is_cjk) {
        return CUES_ZH.iter().any(|c| b.ends_with(c));
    }
    let word = b
        .rsplit(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or_default();
    CUES_EN.contains(&word)
}

fn cued_after(after: &str) -> bool {
    let a = after.trim_start();
    if a.chars().next().is_some_and(is_cjk) {
        return AFTER_ZH.iter().any(|c| a.starts_with(c));
    }
    let word = a
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or_default();
    AFTER_EN.contains(&word)
}

fn unit_after(after: &str) -> bool {
    // "5分钟" is a quantity, "5 号" too; "05 交易失败" is not.
    if let Some(c) = after.chars().next()
        && (UNITS_ZH.contains(&c) || c == '%')
    {
        return true;
    }
    let a = after.trim_start();
    if a.chars().next().is_some_and(|c| UNITS_ZH.contains(&c)) && !cued_after(after) {
        return true;
    }
    let word = a
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or_default();
    UNITS_EN.contains(&word)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::normalize;

    fn codes(text: &str) -> Vec<String> {
        let kb = KnowledgeBase::builtin();
        find_codes(&normalize(text), &kb)
            .into_iter()
            .map(|f| f.code)
            .collect()
    }

    #[test]
    fn codes_the_sentence_points_at() {
        let cases: &[(&str, &[&str])] = &[
            ("提示 05", &["05"]),
            ("刷卡提示05", &["05"]),
            ("刷卡显示51余额不足", &["51"]),
            ("error code 0x64", &["0x64"]),
            ("103 交易失败", &["103"]),
            ("103", &["103"]),
            ("ＰＯＳ机显示代码９１", &["91"]),
            ("terminal shows 05 when I swipe", &["05"]),
            ("ARC Z3 on the receipt", &["Z3"]),
            ("the receipt says Z3", &["Z3"]),
        ];
        for (text, want) in cases {
            assert_eq!(codes(text), *want, "{text:?}");
        }
    }

    #[test]
    fn quantities_and_plain_numbers_are_not_codes() {
        for text in [
            "等了5分钟还没出单",
            "3台机器都刷不了卡",
            "昨天 5 点开始连不上",
            "it took 30 seconds",
            "2 days and no money",
            "¥100 的交易失败",
            "手机号13812345678不支持",
            "we have 4 terminals",
            "第3笔交易失败",
        ] {
            assert_eq!(codes(text), Vec::<String>::new(), "{text:?}");
        }
    }
}
