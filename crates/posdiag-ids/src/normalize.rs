//! Reading an identifier the way people type it: surrounding and grouping
//! spaces, dashes, full-width characters from Chinese input methods,
//! invisible and control characters, bytes that are not UTF-8.
//!
//! The result is the value as understood — plain ASCII — plus a record of
//! what was done to get there ([`Typing`]), so that a verdict can say both
//! what is wrong and what the half-width value would be. Work is bounded:
//! input longer than [`MAX_INPUT_BYTES`] is rejected before it is read.

/// Longest input examined, in bytes. No identifier kind comes close; longer
/// input is a pasted line or file, reported by its length alone.
pub const MAX_INPUT_BYTES: usize = 256;

/// How the input was typed, beyond the ASCII value itself. Positions are
/// 1-based character positions in the input as typed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Typing {
    /// Whitespace around the value was removed.
    pub surrounding: bool,
    /// Spaces inside the value (removed from the compact form).
    pub inner_spaces: u16,
    /// Dashes inside the value (removed from the compact form).
    pub inner_dashes: u16,
    /// ASCII spaces at the end, before trimming (ISO 8583 padding).
    pub trailing_spaces: u16,
    /// First full-width digit.
    pub fullwidth_digit: Option<u16>,
    /// First full-width letter.
    pub fullwidth_letter: Option<u16>,
    /// First full-width space or punctuation mark (U+3000, U+FF01…).
    pub fullwidth_other: Option<(u16, char)>,
    /// First zero-width or other invisible format character (removed).
    pub invisible: Option<(u16, char)>,
    /// First NUL (removed).
    pub nul: Option<u16>,
    /// First other control character (removed).
    pub control: Option<(u16, char)>,
    /// First non-breaking or other Unicode space (read as a space).
    pub unicode_space: Option<(u16, char)>,
    /// First character with no ASCII reading (removed).
    pub foreign: Option<(u16, char)>,
    /// Any of the characters above that make a charset problem: kept as
    /// the reading ends, so the question asked of every value is one load.
    pub charset: bool,
}

impl Typing {
    /// Whether any character had to be converted or removed: the value as
    /// typed is not what a terminal or host would accept.
    #[inline]
    pub(crate) fn charset_problem(&self) -> bool {
        self.charset
    }

    /// [`Typing::charset_problem`] from the characters found.
    fn any_charset_problem(&self) -> bool {
        self.fullwidth_digit.is_some()
            || self.fullwidth_letter.is_some()
            || self.fullwidth_other.is_some()
            || self.invisible.is_some()
            || self.nul.is_some()
            || self.control.is_some()
            || self.unicode_space.is_some()
            || self.foreign.is_some()
    }

    /// Whether the remaining characters fully describe the value (nothing
    /// was dropped that could have been part of it).
    pub(crate) fn readable(&self) -> bool {
        self.foreign.is_none()
    }
}

/// Input that cannot be read as an identifier at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unreadable {
    /// Longer than [`MAX_INPUT_BYTES`].
    TooLong { bytes: usize },
    /// Not UTF-8; `at` is the 0-based offset of the first bad byte.
    NotUtf8 { at: usize },
}

/// The value as understood.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Norm<'a> {
    /// Trimmed, converted to ASCII, inner spaces and dashes kept.
    pub text: &'a [u8],
    /// `text` without spaces and dashes.
    pub compact: &'a [u8],
    pub typing: Typing,
}

/// Reads `input` and hands the result to `f`. The common case — printable
/// ASCII without spaces or dashes — borrows the input and touches no buffer.
#[inline]
pub(crate) fn with_norm<R>(input: &[u8], f: impl FnOnce(Result<Norm<'_>, Unreadable>) -> R) -> R {
    // No early exit, so the scan vectorises.
    let plain = !input.is_empty()
        && input.len() <= MAX_INPUT_BYTES
        && input
            .iter()
            .fold(true, |ok, &b| ok & (b > b' ') & (b < 0x7f) & (b != b'-'));
    if plain {
        return f(Ok(Norm {
            text: input,
            compact: input,
            typing: Typing::default(),
        }));
    }
    let mut text = [0u8; MAX_INPUT_BYTES];
    let mut compact = [0u8; MAX_INPUT_BYTES];
    f(read_slow(input, &mut text, &mut compact))
}

fn pos(i: usize) -> u16 {
    u16::try_from(i + 1).unwrap_or(u16::MAX)
}

/// Invisible format characters people paste along with a value.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF9}'..='\u{FFFB}')
}

fn is_unicode_space(c: char) -> bool {
    matches!(
        c,
        '\u{00A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}'
    )
}

fn read_slow<'a>(
    input: &[u8],
    text_buf: &'a mut [u8; MAX_INPUT_BYTES],
    compact_buf: &'a mut [u8; MAX_INPUT_BYTES],
) -> Result<Norm<'a>, Unreadable> {
    if input.len() > MAX_INPUT_BYTES {
        return Err(Unreadable::TooLong { bytes: input.len() });
    }
    let s = std::str::from_utf8(input).map_err(|e| Unreadable::NotUtf8 {
        at: e.valid_up_to(),
    })?;
    let mut t = Typing::default();
    // Character position of each byte written to `text_buf`.
    let mut at = [0u16; MAX_INPUT_BYTES];
    let mut n = 0usize;
    for (i, c) in s.chars().enumerate() {
        let ascii = match c {
            '\0' => {
                t.nul.get_or_insert(pos(i));
                None
            }
            ' ' | '\t' | '\r' | '\n' => Some(c as u8),
            c if c.is_ascii_control() => {
                t.control.get_or_insert((pos(i), c));
                None
            }
            c if c.is_ascii() => Some(c as u8),
            '\u{3000}' => {
                t.fullwidth_other.get_or_insert((pos(i), c));
                Some(b' ')
            }
            '\u{FF01}'..='\u{FF5E}' => {
                let a = (u32::from(c) - 0xFEE0) as u8;
                if a.is_ascii_digit() {
                    t.fullwidth_digit.get_or_insert(pos(i));
                } else if a.is_ascii_alphabetic() {
                    t.fullwidth_letter.get_or_insert(pos(i));
                } else {
                    t.fullwidth_other.get_or_insert((pos(i), c));
                }
                Some(a)
            }
            c if is_invisible(c) => {
                t.invisible.get_or_insert((pos(i), c));
                None
            }
            c if is_unicode_space(c) => {
                t.unicode_space.get_or_insert((pos(i), c));
                Some(b' ')
            }
            c if c.is_control() => {
                t.control.get_or_insert((pos(i), c));
                None
            }
            c => {
                t.foreign.get_or_insert((pos(i), c));
                None
            }
        };
        if let Some(a) = ascii {
            text_buf[n] = a;
            at[n] = pos(i);
            n += 1;
        }
    }

    // Trim: line endings and whitespace around the value. Spaces at the end
    // are counted first, as fixed-length ISO 8583 fields are space padded.
    let is_ws = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let mut end = n;
    while end > 0 && matches!(text_buf[end - 1], b'\r' | b'\n') {
        end -= 1;
    }
    let mut pad = 0u16;
    while end > 0 && text_buf[end - 1] == b' ' {
        end -= 1;
        pad += 1;
    }
    while end > 0 && is_ws(text_buf[end - 1]) {
        end -= 1;
    }
    let mut start = 0;
    while start < end && is_ws(text_buf[start]) {
        start += 1;
    }
    t.surrounding = start > 0 || end < n;
    t.trailing_spaces = pad;

    let mut m = 0usize;
    for i in start..end {
        match text_buf[i] {
            b' ' => t.inner_spaces += 1,
            b'-' => t.inner_dashes += 1,
            b @ (b'\t' | b'\r' | b'\n') => {
                t.control.get_or_insert((at[i], char::from(b)));
            }
            b => {
                compact_buf[m] = b;
                m += 1;
            }
        }
    }
    t.charset = t.any_charset_problem();
    Ok(Norm {
        text: &text_buf[start..end],
        compact: &compact_buf[..m],
        typing: t,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(input: &[u8]) -> (String, String, Typing) {
        with_norm(input, |r| {
            let n = r.unwrap();
            (
                String::from_utf8(n.text.to_vec()).unwrap(),
                String::from_utf8(n.compact.to_vec()).unwrap(),
                n.typing,
            )
        })
    }

    #[test]
    fn plain_ascii_is_borrowed_unchanged() {
        let (text, compact, t) = read(b"4111111111111111");
        assert_eq!(
            (text.as_str(), compact.as_str()),
            ("4111111111111111", "4111111111111111")
        );
        assert_eq!(t, Typing::default());
    }

    #[test]
    fn spaces_and_dashes_are_trimmed_and_grouping_removed() {
        let (text, compact, t) = read(b"  4111 1111-1111 1111 \r\n");
        assert_eq!(text, "4111 1111-1111 1111");
        assert_eq!(compact, "4111111111111111");
        assert!(t.surrounding);
        assert_eq!((t.inner_spaces, t.inner_dashes), (2, 1));
        assert!(!t.charset_problem());
    }

    #[test]
    fn fullwidth_characters_are_converted_and_flagged() {
        let (_, compact, t) = read("１３８\u{3000}1234 5678".as_bytes());
        assert_eq!(compact, "13812345678");
        assert_eq!(t.fullwidth_digit, Some(1));
        assert_eq!(t.fullwidth_other, Some((4, '\u{3000}')));
        assert!(t.charset_problem());
    }

    #[test]
    fn invisible_nul_and_control_characters_are_removed_with_positions() {
        let (_, compact, t) = read("1381\u{200B}2345678".as_bytes());
        assert_eq!(compact, "13812345678");
        assert_eq!(t.invisible, Some((5, '\u{200B}')));
        let (_, compact, t) = read(b"1381\x002345678");
        assert_eq!(compact, "13812345678");
        assert_eq!(t.nul, Some(5));
        let (_, _, t) = read(b"12\t34");
        assert_eq!(t.control, Some((3, '\t')));
    }

    #[test]
    fn unreadable_input_is_reported_not_read() {
        with_norm(&[b'1'; 1 << 20], |r| {
            assert_eq!(r.unwrap_err(), Unreadable::TooLong { bytes: 1 << 20 });
        });
        with_norm(b"12\xff34", |r| {
            assert_eq!(r.unwrap_err(), Unreadable::NotUtf8 { at: 2 });
        });
    }

    #[test]
    fn trailing_padding_is_counted() {
        let (text, _, t) = read(b"TERM01  ");
        assert_eq!(text, "TERM01");
        assert_eq!(t.trailing_spaces, 2);
    }
}
