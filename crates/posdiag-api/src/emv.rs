//! EMV decoding (`posdiag-emv`) as the API's messages: the request's input
//! into the crate's types, and decoded elements and causes into replies.
//! Shared by EmvService and `posdiag emv decode --local`.

use posdiag_core::{Lang, Text};
use posdiag_emv::{Decoded, Element, EmvError, Explanation, Receipt};
use posdiag_proto::v1 as pb;

use crate::{actor, out};

/// Decodes a request's input: the TLV blob first, then the receipt values.
pub fn decode(input: &pb::EmvInput) -> Result<Decoded, EmvError> {
    let opt = |s: &str| (!s.trim().is_empty()).then(|| s.to_owned());
    let receipt = Receipt {
        tvr: opt(&input.tvr),
        tsi: opt(&input.tsi),
        cvm: opt(&input.cvm_results),
        arc: opt(&input.arc),
        entry_mode: opt(&input.entry_mode),
        service_code: opt(&input.service_code),
        term_caps: opt(&input.terminal_capabilities),
        addl_term_caps: opt(&input.additional_terminal_capabilities),
        aip: opt(&input.aip),
        terminal_type: opt(&input.terminal_type),
        cid: opt(&input.cid),
    };
    let mut decoded = if input.tlv_hex.trim().is_empty() {
        Decoded::default()
    } else {
        posdiag_emv::decode_hex(&input.tlv_hex)?
    };
    if !receipt.is_empty() {
        decoded
            .elements
            .extend(posdiag_emv::decode_receipt(&receipt)?.elements);
    }
    if decoded.elements.is_empty() {
        return Err(EmvError::Nothing);
    }
    Ok(decoded)
}

/// The proto field an input error is about (for INVALID_ARGUMENT).
pub fn error_field(e: &EmvError) -> &'static str {
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
pub fn error_text(e: &EmvError) -> Text {
    let t = e.text();
    let strip = |s: &str, sep: &str| match s.split_once(sep) {
        Some((_, rest)) if !matches!(e, EmvError::Nothing) => rest.to_owned(),
        _ => s.to_owned(),
    };
    Text::new(strip(&t.en, ": "), strip(&t.zh, "："))
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
) -> Result<pb::DecodeEmvResponse, EmvError> {
    let d = decode(input)?;
    let x = posdiag_emv::explain(&d);
    Ok(pb::DecodeEmvResponse {
        elements: d.elements.iter().map(|e| element(e, lang)).collect(),
        causes: causes(&x, lang),
    })
}

/// The Explain answer for `input`.
pub fn explain_response(
    input: &pb::EmvInput,
    lang: Lang,
) -> Result<pb::ExplainEmvResponse, EmvError> {
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
        assert_eq!(e, EmvError::Nothing);
        let e = decode(&pb::EmvInput {
            tlv_hex: "9505".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(error_field(&e), "input.tlv_hex");
    }
}
