//! The check `poi.last_receipt`: the last transaction's receipt, asked for with a nexo
//! TransactionStatusRequest (`ReceiptReprintFlag`, the cashier's copy), read for EMV data.
//! nexo carries no TVR or TSI as data: receipts travel as text, `PaymentReceipt[]` of the
//! `PaymentResponse` that the TransactionStatusResponse repeats
//! (`RepeatedMessageResponse.RepeatedResponseMessageBody`), each `OutputContent.OutputText[]`
//! one line (Adyen writes each as URL-encoded `key=…&name=…&value=…`). The lines go through
//! posdiag-emv's receipt parser; the finding says what the EMV data shows, in both languages,
//! card numbers masked. No payment is started: the terminal only repeats its last answer.

use std::time::{Duration, Instant};

use posdiag_core::mask_card_numbers;
use posdiag_core::nexo::{
    MessageCategory, MessageClass, MessageHeader, MessageType, RequestBody, ResponseBody,
    ResultCode, SaleToPOIRequest, SaleToPOIResponse,
};
use posdiag_plugin_api::pb;
use posdiag_plugin_api::sdk::{Host, PluginError, TransportError, evidence_text, finding, remedy};
use serde_json::{Value, json};

use crate::args::Settings;
use crate::channel::ChannelError;
use crate::diagnosis::{self, Broken, DEFAULT_TIMEOUT, SALE_ID};

/// The check id.
pub const CHECK_ID: &str = "poi.last_receipt";

/// At most this many receipt lines are read.
const MAX_LINES: usize = 400;

/// The request: the last transaction's cashier receipt, repeated.
fn request(service_id: &str, poi_id: &str) -> SaleToPOIRequest {
    SaleToPOIRequest {
        header: MessageHeader {
            protocol_version: Some("3.0".to_owned()),
            message_class: MessageClass::Service,
            message_category: MessageCategory::TransactionStatus,
            message_type: MessageType::Request,
            service_id: service_id.to_owned(),
            sale_id: SALE_ID.to_owned(),
            poi_id: poi_id.to_owned(),
            device_id: None,
        },
        body: RequestBody::Other {
            name: "TransactionStatusRequest".to_owned(),
            body: json!({
                "ReceiptReprintFlag": true,
                "DocumentQualifier": ["CashierReceipt"],
            }),
        },
    }
}

/// Runs the check.
pub fn run(host: &Host, req: &pb::CheckRequest) -> Result<pb::CheckResult, PluginError> {
    if req.link_kind != "tcp" {
        return Err(TransportError::NoLink.into());
    }
    let settings = Settings::from_request(&req.args, &req.terminal_id, &req.link_address)?;
    let timeout = match req.timeout_ms {
        0 => DEFAULT_TIMEOUT,
        t => Duration::from_millis(u64::from(t)),
    };
    let subject = format!("terminal {}", req.terminal_id);
    let service_id = diagnosis::service_id()?;
    let body = request(&service_id, &settings.poi_id).encode();
    let started = Instant::now();
    host.phase_started("last_receipt", &subject);
    let result = diagnosis::post(host, &settings, body, started, timeout)?;
    let f = match result {
        Ok(message) => match answer(&settings, &message.body, message.status()) {
            Ok(lines) => judge(&subject, &lines),
            Err((en, zh)) => {
                let mut f = finding(
                    CHECK_ID,
                    &subject,
                    pb::Verdict::Critical,
                    "link.protocol",
                    en,
                    zh,
                );
                f.evidence
                    .push(evidence_text("body", &diagnosis::excerpt(&message.body)));
                f
            }
        },
        Err(broken) => broken_finding(&subject, &broken, timeout),
    };
    host.phase_finished("last_receipt", &subject, f.verdict(), started.elapsed());
    Ok(pb::CheckResult { findings: vec![f] })
}

fn broken_finding(subject: &str, broken: &Broken, timeout: Duration) -> pb::Finding {
    let (reason, en, zh) = match broken {
        Broken::Channel(ChannelError::Timeout(_)) => (
            "link.no_answer",
            format!(
                "the terminal did not answer the receipt request within {} ms",
                timeout.as_millis()
            ),
            format!("终端没有在 {} 毫秒内应答单据请求", timeout.as_millis()),
        ),
        Broken::Channel(ChannelError::Tls(_)) => (
            "tls.handshake_failed",
            "the TLS handshake with the terminal failed: poi.diagnosis says why".to_owned(),
            "与终端的 TLS 握手失败：poi.diagnosis 会说明原因".to_owned(),
        ),
        _ => (
            "link.error",
            "the link to the terminal's Terminal API failed during the receipt request".to_owned(),
            "与终端 Terminal API 的连接在单据请求过程中失败".to_owned(),
        ),
    };
    let mut f = finding(CHECK_ID, subject, pb::Verdict::Critical, reason, en, zh);
    f.remedies.push(remedy(
        pb::Actor::Merchant,
        "Run poi.diagnosis: it tells a terminal that is off, unreachable or refusing the connection apart.",
        "运行 poi.diagnosis：它能区分终端关机、不可达或拒绝连接。",
    ));
    f
}

/// The receipt's lines, or why the answer is not one.
fn answer(
    settings: &Settings,
    body: &[u8],
    status: Option<u16>,
) -> Result<Option<Vec<String>>, (String, String)> {
    if status != Some(200) {
        let s = status.unwrap_or(0);
        return Err((
            format!("the terminal answered the receipt request with HTTP status {s}"),
            format!("终端以 HTTP 状态 {s} 应答了单据请求"),
        ));
    }
    let mut body = body.to_vec();
    if let Some(key) = &settings.key {
        body = match key.unprotect_message(&body) {
            Ok(Some(plain)) => plain,
            _ => {
                return Err((
                    "the terminal's protected answer does not verify with the configured shared key (poi.diagnosis says more)".into(),
                    "终端受保护的应答无法用所配置的共享密钥验证（poi.diagnosis 会说明更多）".into(),
                ));
            }
        };
    }
    let response = SaleToPOIResponse::parse(&body).map_err(|e| {
        (
            format!("the terminal's answer is not a nexo SaleToPOIResponse: {e}"),
            format!("终端的应答不是 nexo SaleToPOIResponse：{e}"),
        )
    })?;
    if response
        .response()
        .is_some_and(|r| r.result == ResultCode::Failure)
    {
        // NotFound: no transaction yet, or none the terminal keeps.
        return Ok(None);
    }
    let ResponseBody::Other { body, .. } = &response.body else {
        return Err((
            "the terminal answered with another response than TransactionStatusResponse".into(),
            "终端的应答不是 TransactionStatusResponse".into(),
        ));
    };
    Ok(Some(receipt_lines(body)))
}

/// The lines of every `PaymentReceipt` in a TransactionStatusResponse (or a PaymentResponse).
pub fn receipt_lines(body: &Value) -> Vec<String> {
    let payment = body
        .pointer("/RepeatedMessageResponse/RepeatedResponseMessageBody/PaymentResponse")
        .unwrap_or(body);
    let mut lines = Vec::new();
    for receipt in payment
        .get("PaymentReceipt")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for text in receipt
            .pointer("/OutputContent/OutputText")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if lines.len() >= MAX_LINES {
                return lines;
            }
            if let Some(t) = text.get("Text").and_then(Value::as_str) {
                lines.push(line(t));
            }
        }
    }
    lines
}

/// One receipt line: Adyen's `key=…&name=…&value=…` as `name: value`, other text as it is.
fn line(text: &str) -> String {
    let pairs: Vec<(String, String)> = text
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), percent_decode(v)))
        .collect();
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    match (get("name"), get("value")) {
        (Some(""), Some(v)) | (None, Some(v)) => v.to_owned(),
        (Some(n), Some(v)) => format!("{n}: {v}"),
        (Some(n), None) => n.to_owned(),
        (None, None) => text.to_owned(),
    }
}

/// `%XX` and `+` decoded; bytes that are not UTF-8 replaced.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => match s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(v) => {
                    out.push(v);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The finding for the receipt's lines (`None`: the terminal has no last transaction).
fn judge(subject: &str, lines: &Option<Vec<String>>) -> pb::Finding {
    let Some(lines) = lines.as_ref().filter(|l| !l.is_empty()) else {
        return finding(
            CHECK_ID,
            subject,
            pb::Verdict::Unknown,
            "vendor.posdiag.nexo.no_receipt",
            "the terminal has no last receipt to repeat",
            "终端没有可重打的上一张单据",
        );
    };
    let mut f = finding(
        CHECK_ID,
        subject,
        pb::Verdict::Ok,
        "ok",
        "the last receipt has no EMV data",
        "上一张单据没有 EMV 数据",
    );
    f.evidence.push(pb::Evidence {
        name: "receipt_lines".into(),
        value: Some(pb::evidence::Value::Number(lines.len() as f64)),
        unit: String::new(),
    });
    let Ok(read) = posdiag_emv::receipt::parse(&lines.join("\n")) else {
        return f;
    };
    let Ok(decoded) = read.decode() else {
        return f;
    };
    let found: Vec<String> = read
        .found
        .iter()
        .map(|x| format!("line {} {} {}", x.line, x.field.name(), x.value))
        .collect();
    f.evidence.push(evidence_text(
        "emv_receipt",
        &mask_card_numbers(&found.join("; ")),
    ));
    let x = posdiag_emv::explain(&decoded);
    let ids: Vec<&str> = x.causes.iter().take(5).map(|c| c.id.as_str()).collect();
    f.evidence
        .push(evidence_text("emv_causes", &ids.join(", ")));
    match x.causes.first().filter(|_| x.has_problems()) {
        Some(top) => {
            f.verdict = pb::Verdict::Warning.into();
            f.reason = "vendor.posdiag.nexo.emv_problem".into();
            f.summary_en = format!(
                "the last receipt's EMV data: {}",
                mask_card_numbers(&top.cause.en)
            );
            f.summary_zh = format!(
                "上一张单据的 EMV 数据：{}",
                mask_card_numbers(&top.cause.zh)
            );
            f.remedies = top
                .remedies
                .iter()
                .map(|r| pb::Remedy {
                    actor: crate::interpret::pb_actor(r.actor).into(),
                    text_en: r.text.en.clone(),
                    text_zh: r.text.zh.clone(),
                })
                .collect();
        }
        None => {
            f.summary_en = "the last receipt's EMV data shows no problem".into();
            f.summary_zh = "上一张单据的 EMV 数据未显示问题".into();
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adyen_style_lines_and_plain_text_are_read() {
        assert_eq!(
            line("key=aid&name=AID&value=A0000000041010"),
            "AID: A0000000041010"
        );
        assert_eq!(
            line("key=tvr&name=TVR&value=00%2000%2000%2080%2000"),
            "TVR: 00 00 00 80 00"
        );
        assert_eq!(line("key=header&name=&value=Sale"), "Sale");
        assert_eq!(line("TSI: E800"), "TSI: E800");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%E5%BA%94"), "应");
    }

    #[test]
    fn the_repeated_payment_receipt_is_judged() {
        let body = json!({"RepeatedMessageResponse": {"RepeatedResponseMessageBody": {"PaymentResponse": {
            "PaymentReceipt": [{"DocumentQualifier": "CashierReceipt", "OutputContent": {"OutputFormat": "Text", "OutputText": [
                {"Text": "key=pan&name=Card&value=4111111111111111"},
                {"Text": "key=tvr&name=TVR&value=0000008000"},
                {"Text": "key=arc&name=ARC&value=Z3"},
            ]}}]
        }}}});
        let lines = receipt_lines(&body);
        assert_eq!(lines.len(), 3);
        let f = judge("terminal T1", &Some(lines));
        assert_eq!(f.verdict(), pb::Verdict::Warning);
        assert!(f.summary_en.contains("(Z3"), "{}", f.summary_en);
        assert!(f.summary_zh.contains("无法联机"), "{}", f.summary_zh);
        assert!(!format!("{f:?}").contains("4111111111111111"));
        assert_eq!(judge("terminal T1", &None).verdict(), pb::Verdict::Unknown);
    }
}
