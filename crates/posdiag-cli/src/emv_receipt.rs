//! `--receipt FILE|-` of `posdiag emv decode` and `posdiag doctor`: the text
//! of a receipt or a terminal's log, read here (bounded, a regular file or
//! stdin) and sent as `EmvInput.receipt_text`; the daemon, or `--local`,
//! reads its EMV values. Also prints which line gave which value.

use std::io::{Read, Write};

use posdiag_api::emv::MAX_RECEIPT_TEXT_BYTES;
use posdiag_core::Text;
use posdiag_proto::v1;

use crate::error::{CliError, UsageError};
use crate::i18n::{Label, t};

fn unreadable(path: &str, en: &str, zh: &str) -> CliError {
    let p = posdiag_core::quote(path);
    CliError::Usage(UsageError::Emv(Text::new(
        format!("--receipt {p}: {en}"),
        format!("--receipt {p}：{zh}"),
    )))
}

/// The text of `path` (`-`: stdin). A FIFO or a device is refused (it could
/// block or never end), as is more than the daemon reads; bytes that are
/// not UTF-8 are replaced, so the ASCII labels and values still read.
pub fn read(path: &str) -> Result<String, CliError> {
    let limit = MAX_RECEIPT_TEXT_BYTES as u64;
    let mut bytes = Vec::new();
    let result = if path == "-" {
        std::io::stdin()
            .lock()
            .take(limit + 1)
            .read_to_end(&mut bytes)
    } else {
        let file = std::fs::File::open(path).map_err(|e| {
            unreadable(
                path,
                &format!("cannot open it: {e}"),
                &format!("无法打开：{e}"),
            )
        })?;
        match file.metadata() {
            Ok(m) if m.is_file() => {}
            _ => {
                return Err(unreadable(
                    path,
                    "not a regular file: save the receipt's text to a file, or pipe it with --receipt -",
                    "不是普通文件：请把小票文本存成文件，或用 --receipt - 从标准输入读入",
                ));
            }
        }
        file.take(limit + 1).read_to_end(&mut bytes)
    };
    result.map_err(|e| {
        unreadable(
            path,
            &format!("cannot read it: {e}"),
            &format!("无法读取：{e}"),
        )
    })?;
    if bytes.len() as u64 > limit {
        return Err(unreadable(
            path,
            &format!(
                "more than {} KiB: give the lines of one transaction",
                limit / 1024
            ),
            &format!("超过 {} KiB：请只提供一笔交易的内容", limit / 1024),
        ));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Which line gave which value, and the lines not used with why.
pub fn write_lines<W: Write>(
    lines: &[v1::EmvReceiptLine],
    lang: posdiag_core::Lang,
    w: &mut W,
) -> Result<(), CliError> {
    if lines.is_empty() {
        return Ok(());
    }
    writeln!(w, "{}", t(Label::EmvReceiptRead, lang))?;
    for l in lines {
        let what = if l.not_used.is_empty() {
            format!("{} {}", l.field, l.value)
        } else {
            let field = if l.field.is_empty() {
                String::new()
            } else {
                format!("{} ", l.field)
            };
            format!(
                "{field}{}: {}",
                t(Label::EmvReceiptNotUsed, lang),
                l.not_used
            )
        };
        writeln!(w, "  {:>4}  {what}  « {} »", l.line, l.text)?;
    }
    writeln!(w)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_and_a_missing_file_are_refused_with_the_path() {
        for path in ["/dev/null", "/nonexistent/receipt.txt"] {
            let e = read(path).unwrap_err();
            assert_eq!(e.exit_code(), crate::error::EXIT_USAGE);
            let CliError::Usage(UsageError::Emv(text)) = e else {
                panic!("{e:?}")
            };
            assert!(text.en.contains(path) && text.zh.contains(path), "{text:?}");
        }
    }

    #[test]
    fn the_lines_read_are_printed_before_the_decoding_in_either_language() {
        let path = std::env::temp_dir().join(format!("posdiag-receipt-{}.txt", std::process::id()));
        std::fs::write(
            &path,
            "CARD 6222021234567890128\nTVR: 0000008000\nTSI: 00000\n授权响应码：Z3\n",
        )
        .unwrap();
        let args = crate::emv::EmvDecodeArgs {
            fields: crate::emv::EmvFields {
                receipt: Some(path.display().to_string()),
                ..Default::default()
            },
            ..Default::default()
        };
        for lang in [posdiag_core::Lang::En, posdiag_core::Lang::ZhCn] {
            let r = crate::emv::local(&args, lang).unwrap();
            let mut buf = Vec::new();
            let exit = crate::emv::render(&r, false, lang, &mut buf).unwrap();
            let out = String::from_utf8(buf).unwrap();
            assert_eq!(exit, 1);
            assert!(out.starts_with(t(Label::EmvReceiptRead, lang)), "{out}");
            assert!(
                out.contains("     2  tvr 0000008000  « TVR: 0000008000 »"),
                "{out}"
            );
            assert!(
                out.contains(&format!("3  tsi {}", t(Label::EmvReceiptNotUsed, lang))),
                "{out}"
            );
            assert!(out.contains("4  arc Z3"), "{out}");
            assert!(!out.contains("6222021234567890128"), "{out}");
        }
        std::fs::remove_file(&path).unwrap();
    }
}
