//! EMV decoding (`posdiag-emv`) as the API's messages: the request's input
//! into the crate's types, and decoded elements and causes into replies.
//! Shared by EmvService and `posdiag emv decode --local`.

use posdiag_core::{Lang, Text};
use posdiag_emv::receipt::{ReceiptError, ReceiptText};
use posdiag_emv::{Decoded, Element, EmvError, Explanation, Receipt};
use posdiag_proto::v1 as pb;

use crate::{actor, out};

/// The most receipt text read (a client may refuse more before sending it).
pub use posdiag_emv::receipt::MAX_TEXT_BYTES as MAX_RECEIPT_TEXT_BYTES;

/// EMV input that cannot be decoded: a value, a blob, or a receipt's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// A value or a blob.
    #[error(transparent)]
    Emv(#[from] EmvError),
    /// The receipt's text.
    #[error(transparent)]
    Receipt(#[from] ReceiptError),
}

impl InputError {
    /// The message in both languages.
    pub fn text(&self) -> Text {
        match self {
            InputError::Emv(e) => e.text(),
            InputError::Receipt(e) => e.text(),
        }
    }
}

/// Decodes a request's input: the TLV blob first, then the receipt values.
pub fn decode(input: &pb::EmvInput) -> Result<Decoded, InputError> {
    decode_with_receipt(input).map(|(d, _)| d)
}

/// Decodes a request's input, and says what its receipt text held: the TLV
/// blob first, then what the receipt text prints beyond the receipt values
/// (AID, label, cryptogram, ...), then the receipt values (a field given
/// wins over the same value read from the text).
pub fn decode_with_receipt(
    input: &pb::EmvInput,
) -> Result<(Decoded, Option<ReceiptText>), InputError> {
    let opt = |s: &str| (!s.trim().is_empty()).then(|| s.to_owned());
    let text = (!input.receipt_text.trim().is_empty())
        .then(|| posdiag_emv::receipt::parse(&input.receipt_text))
        .transpose()?;
    let read = text.as_ref().map(ReceiptText::receipt).unwrap_or_default();
    let receipt = Receipt {
        tvr: opt(&input.tvr).or(read.tvr),
        tsi: opt(&input.tsi).or(read.tsi),
        cvm: opt(&input.cvm_results).or(read.cvm),
        arc: opt(&input.arc).or(read.arc),
        entry_mode: opt(&input.entry_mode).or(read.entry_mode),
        service_code: opt(&input.service_code).or(read.service_code),
        term_caps: opt(&input.terminal_capabilities).or(read.term_caps),
        addl_term_caps: opt(&input.additional_terminal_capabilities).or(read.addl_term_caps),
        aip: opt(&input.aip).or(read.aip),
        terminal_type: opt(&input.terminal_type).or(read.terminal_type),
        cid: opt(&input.cid).or(read.cid),
    };
    let mut decoded = if input.tlv_hex.trim().is_empty() {
        Decoded::default()
    } else {
        posdiag_emv::decode_hex(&input.tlv_hex)?
    };
    if let Some(extra) = text.as_ref().map(ReceiptText::extra_tlv)
        && !extra.is_empty()
    {
        let mut typed = posdiag_emv::decode_tlv(&extra)?.elements;
        for e in &mut typed {
            e.offset = None;
        }
        decoded.elements.extend(typed);
    }
    if !receipt.is_empty() {
        decoded
            .elements
            .extend(posdiag_emv::decode_receipt(&receipt)?.elements);
    }
    if decoded.elements.is_empty() {
        return Err(EmvError::Nothing.into());
    }
    Ok((decoded, text))
}

/// The proto field an input error is about (for INVALID_ARGUMENT).
pub fn error_field(e: &InputError) -> &'static str {
    let e = match e {
        InputError::Emv(e) => e,
        InputError::Receipt(_) => return "input.receipt_text",
    };
    match e {
        EmvError::Hex { field, .. }
        | EmvError::Length { field, .. }
        | EmvError::Value { field, .. } => match *field {
            "tlv" => "input.tlv_hex",
            "tvr" => "input.tvr",
            "tsi" => "input.tsi",
            "cvm" => "input.cvm_results",
            "arc" => "input.arc",
            "entry-mode" => "input.entry_mode",
            "service-code" => "input.service_code",
            "9F33" => "input.terminal_capabilities",
            "9F40" => "input.additional_terminal_capabilities",
            "aip" => "input.aip",
            "9F35" => "input.terminal_type",
            "cid" => "input.cid",
            _ => "input",
        },
        EmvError::Tlv(_) => "input.tlv_hex",
        _ => "input",
    }
}

/// The error's message in both languages, without the field's name in
/// front (a status names the field itself: [`error_field`]).
pub fn error_text(e: &InputError) -> Text {
    let t = e.text();
    let strip = |s: &str, sep: &str| match s.split_once(sep) {
        Some((_, rest)) if matches!(e, InputError::Emv(e) if !matches!(e, EmvError::Nothing)) => {
            rest.to_owned()
        }
        _ => s.to_owned(),
    };
    Text::new(strip(&t.en, ": "), strip(&t.zh, "："))
}

/// What the receipt text held, line by line.
pub fn receipt_lines(r: &ReceiptText, lang: Lang) -> Vec<pb::EmvReceiptLine> {
    let mut lines: Vec<pb::EmvReceiptLine> = r
        .found
        .iter()
        .map(|f| pb::EmvReceiptLine {
            line: f.line as u32,
            field: f.field.name().to_owned(),
            value: out(&f.value),
            text: out(&f.text),
            not_used: String::new(),
        })
        .chain(r.ignored.iter().map(|i| pb::EmvReceiptLine {
            line: i.line as u32,
            field: i.field.map(|f| f.name().to_owned()).unwrap_or_default(),
            value: String::new(),
            text: out(&i.text),
            not_used: out(i.reason.get(lang)),
        }))
        .collect();
    lines.sort_by_key(|l| l.line);
    lines
}

fn element(e: &Element, lang: Lang) -> pb::EmvElement {
    pb::EmvElement {
        tag: e.tag.to_string(),
        name: e
            .name
            .as_ref()
            .map(|n| n.get(lang).to_owned())
            .unwrap_or_default(),
        from_tlv: e.offset.is_some(),
        offset: e.offset.unwrap_or(0) as u32,
        length: e.length as u32,
        value: out(e.value.get(lang)),
        raw_hex: out(&e.raw),
        items: e
            .items
            .iter()
            .map(|i| pb::EmvItem {
                key: i.key.clone(),
                meaning: out(i.name.get(lang)),
                severity: i.severity.name().to_owned(),
                actor: i.actor.map_or(0, actor),
                spec: i.spec.clone(),
            })
            .collect(),
        children: e.children.iter().map(|c| element(c, lang)).collect(),
    }
}

/// The causes as the API answers them.
pub fn causes(x: &Explanation, lang: Lang) -> Vec<pb::EmvCause> {
    x.causes
        .iter()
        .map(|c| pb::EmvCause {
            id: c.id.clone(),
            weight: c.weight,
            cause: out(c.cause.get(lang)),
            remedies: c
                .remedies
                .iter()
                .map(|r| pb::Remedy {
                    actor: actor(r.actor),
                    text: out(r.text.get(lang)),
                })
                .collect(),
            checks: c.checks.name().to_owned(),
            evidence: c.evidence.clone(),
        })
        .collect()
}

/// The Decode answer for `input`.
pub fn decode_response(
    input: &pb::EmvInput,
    lang: Lang,
) -> Result<pb::DecodeEmvResponse, InputError> {
    let (d, text) = decode_with_receipt(input)?;
    let x = posdiag_emv::explain(&d);
    Ok(pb::DecodeEmvResponse {
        elements: d.elements.iter().map(|e| element(e, lang)).collect(),
        causes: causes(&x, lang),
        receipt_lines: text.map(|t| receipt_lines(&t, lang)).unwrap_or_default(),
    })
}

/// The Explain answer for `input`.
pub fn explain_response(
    input: &pb::EmvInput,
    lang: Lang,
) -> Result<pb::ExplainEmvResponse, InputError> {
    let d = decode(input)?;
    let x = posdiag_emv::explain(&d);
    Ok(pb::ExplainEmvResponse {
        causes: causes(&x, lang),
        problems: x.has_problems(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_and_receipt_values_are_decoded_together_in_either_language() {
        let input = pb::EmvInput {
            tlv_hex: "5A0841111111111111119F3303E0F0C8".into(),
            arc: "Z3".into(),
            ..Default::default()
        };
        let r = decode_response(&input, Lang::En).unwrap();
        assert_eq!(r.elements.len(), 3);
        assert_eq!(r.elements[0].value, "411111******1111");
        assert!(r.elements[0].raw_hex.is_empty());
        assert!(r.elements[0].from_tlv && !r.elements[2].from_tlv);
        assert_eq!(r.causes[0].id, "arc.z3");
        let zh = explain_response(&input, Lang::ZhCn).unwrap();
        assert!(zh.problems);
        assert!(zh.causes[0].cause.contains("无法联机"));
    }

    #[test]
    fn bad_input_names_the_field() {
        let e = decode(&pb::EmvInput {
            tvr: "80".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(error_field(&e), "input.tvr");
        let e = decode(&pb::EmvInput::default()).unwrap_err();
        assert_eq!(e, InputError::Emv(EmvError::Nothing));
        let e = decode(&pb::EmvInput {
            tlv_hex: "9505".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(error_field(&e), "input.tlv_hex");
    }

    #[test]
    fn receipt_text_is_read_and_a_given_field_wins() {
        let input = pb::EmvInput {
            receipt_text: "CARD 6222021234567890128\nAID: A000000333010101\nTVR: 0000008000\nTSI: E800\nARC: Z3\nTVR: 00000080".into(),
            tsi: "6800".into(),
            ..Default::default()
        };
        let r = decode_response(&input, Lang::En).unwrap();
        let dump = format!("{r:?}");
        assert!(!dump.contains("6222021234567890128"), "{dump}");
        assert_eq!(r.causes[0].id, "arc.z3");
        let tsi = r.elements.iter().find(|e| e.tag == "9B").unwrap();
        assert_eq!(tsi.value, "6800");
        assert!(r.elements.iter().any(|e| e.tag == "4F" && !e.from_tlv));
        let lines: Vec<(u32, &str, bool)> = r
            .receipt_lines
            .iter()
            .map(|l| (l.line, l.field.as_str(), l.not_used.is_empty()))
            .collect();
        assert_eq!(
            lines,
            vec![
                (1, "", false),
                (2, "aid", true),
                (3, "tvr", true),
                (4, "tsi", true),
                (5, "arc", true),
                (6, "tvr", false)
            ]
        );
        let zh = decode_response(&input, Lang::ZhCn).unwrap();
        assert!(
            zh.receipt_lines[5].not_used.contains("应为 5 字节"),
            "{:?}",
            zh.receipt_lines
        );

        let e = decode(&pb::EmvInput {
            receipt_text: "THANK YOU".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(error_field(&e), "input.receipt_text");
        assert!(error_text(&e).en.starts_with("no EMV values found"), "{e}");
    }
}
