//! The check `poi.diagnosis`: one nexo DiagnosisRequest posted to the terminal's Terminal API
//! (`POST /nexo`, HTTP/1.1, over TLS on port 8443 by default) through the host's transport
//! callbacks, optionally under the shared-key protection, and its DiagnosisResponse turned
//! into findings ([`crate::interpret`]).

use std::time::{Duration, Instant};

use posdiag_core::nexo::http::{self, HttpLimits, HttpMessage, HttpParser, NEXO_PATH};
use posdiag_core::nexo::{
    DiagnosisRequest, MessageHeader, NexoError, SaleToPOIRequest, SaleToPOIResponse,
};
use posdiag_plugin_api::pb;
use posdiag_plugin_api::sdk::{
    Host, PluginError, TransportError, evidence_flag, evidence_number, evidence_text, finding, ms,
    remedy,
};
use ring::rand::{SecureRandom, SystemRandom};

use crate::args::Settings;
use crate::channel::{Channel, ChannelError, Phase};
use crate::interpret::{self, Limits};
use crate::shared_key::SharedKeyError;

/// The check id.
pub const CHECK_ID: &str = "poi.diagnosis";

/// `SaleID` of every request.
pub const SALE_ID: &str = "posdiag";

/// Time kept back from the check's budget (at most a tenth of it) to write the findings.
pub(crate) const MARGIN: Duration = Duration::from_millis(250);

/// The deadline when the request gives none (the manifest's `default_timeout_ms`).
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_millis(15_000);

/// Bytes per read.
const READ_CHUNK: usize = 16 * 1024;

/// Why the exchange ended without an HTTP response.
#[derive(Debug)]
pub(crate) enum Broken {
    Channel(ChannelError),
    /// The answer is not HTTP (or too large).
    Http(NexoError),
    /// The connection ended before a complete answer.
    Closed,
}

/// A fresh 10-character ServiceID (Adyen rejects a SaleID + ServiceID pair used within 48 h).
pub(crate) fn service_id() -> Result<String, PluginError> {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut bytes = [0u8; 10];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| PluginError::failed("the system random source failed"))?;
    // 62 does not divide 256: the slight bias is irrelevant for an id that only has to differ.
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect())
}

/// Sends the request and reads one HTTP response.
/// Posts one Sale-to-POI message `body` (protected with the shared key when
/// the settings have one) to the terminal's Terminal API and reads its
/// answer, by a deadline `timeout` after `started` less the time kept back
/// to write the findings: the daemon stops a plugin that overruns, and a
/// terminal that never answers must read as "no answer", not as a hung
/// plugin.
pub(crate) fn post(
    host: &Host,
    settings: &Settings,
    mut body: Vec<u8>,
    started: Instant,
    timeout: Duration,
) -> Result<Result<HttpMessage, Broken>, PluginError> {
    if let Some(key) = &settings.key {
        body = key
            .protect_message(&body)
            .map_err(|e| PluginError::failed(format!("protecting the request: {e}")))?;
    }
    let wire = http::post_request(&settings.authority, NEXO_PATH, &[], &body);
    let deadline = started + timeout.saturating_sub(MARGIN.min(timeout / 10));
    let mut chan = match &settings.tls {
        None => Channel::plain(host, deadline),
        Some(tls) => Channel::tls(host, deadline, tls.config.clone(), tls.server_name.clone())
            .map_err(|e| PluginError::failed(format!("tls setup: {e:?}")))?,
    };
    let result = exchange(&mut chan, &wire);
    chan.close();
    Ok(result)
}

fn exchange(chan: &mut Channel<'_>, wire: &[u8]) -> Result<HttpMessage, Broken> {
    chan.handshake().map_err(Broken::Channel)?;
    chan.send(wire).map_err(Broken::Channel)?;
    let mut parser = HttpParser::response(HttpLimits::default());
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let n = chan.recv(&mut buf).map_err(Broken::Channel)?;
        if n == 0 {
            return match parser.finish() {
                Ok(Some(message)) => Ok(message),
                Ok(None) | Err(NexoError::HttpIncomplete) => Err(Broken::Closed),
                Err(e) => Err(Broken::Http(e)),
            };
        }
        parser.push(&buf[..n]);
        match parser.next_message() {
            // An interim 1xx answer: the real one follows.
            Ok(Some(m)) if m.status().is_some_and(|s| (100..200).contains(&s)) => {}
            Ok(Some(m)) => return Ok(m),
            Ok(None) => {}
            Err(e) => return Err(Broken::Http(e)),
        }
    }
}

/// Runs the check.
pub fn run(host: &Host, req: &pb::CheckRequest) -> Result<pb::CheckResult, PluginError> {
    if req.link_kind != "tcp" {
        host.warn(&format!(
            "{CHECK_ID} needs a tcp link to the terminal's Terminal API; terminal {} has {:?}",
            req.terminal_id, req.link_kind
        ));
        return Err(TransportError::NoLink.into());
    }
    let settings = Settings::from_request(&req.args, &req.terminal_id, &req.link_address)?;
    let timeout = match req.timeout_ms {
        0 => DEFAULT_TIMEOUT,
        t => Duration::from_millis(u64::from(t)),
    };
    let subject = format!("terminal {}", req.terminal_id);
    let limits = Limits {
        subject: subject.clone(),
        min_battery: settings.min_battery,
        max_unconfirmed: settings.max_unconfirmed,
    };
    let service_id = service_id()?;
    let request = SaleToPOIRequest::diagnosis(
        MessageHeader::diagnosis_request(SALE_ID, service_id.as_str(), settings.poi_id.as_str()),
        DiagnosisRequest {
            poi_id: Some(settings.poi_id.clone()),
            host_diagnosis: settings.host_diagnosis,
            acquirer_ids: Vec::new(),
        },
    );
    let started = Instant::now();
    host.phase_started("diagnosis", &subject);
    let result = post(host, &settings, request.encode(), started, timeout)?;
    let round_trip = started.elapsed();
    let mut findings = match result {
        Ok(message) => {
            host.metric("round_trip", ms(round_trip), "ms");
            let mut findings = answer_findings(host, &settings, &limits, &service_id, &message);
            if let Some(first) = findings.first_mut() {
                first
                    .evidence
                    .push(evidence_number("round_trip", ms(round_trip), "ms"));
            }
            findings
        }
        Err(broken) => vec![broken_finding(&subject, &settings, &broken, timeout)],
    };
    if let Some(first) = findings.first_mut() {
        first
            .evidence
            .push(evidence_flag("tls", settings.tls.is_some()));
        first
            .evidence
            .push(evidence_flag("message_protection", settings.key.is_some()));
    }
    let worst = findings
        .iter()
        .map(pb::Finding::verdict)
        .max_by_key(|v| severity(*v))
        .unwrap_or(pb::Verdict::Unknown);
    host.phase_finished("diagnosis", &subject, worst, started.elapsed());
    Ok(pb::CheckResult { findings })
}

fn severity(v: pb::Verdict) -> u8 {
    match v {
        pb::Verdict::Unspecified | pb::Verdict::Ok => 0,
        pb::Verdict::Unknown => 1,
        pb::Verdict::Warning => 2,
        pb::Verdict::Critical => 3,
        pb::Verdict::Error => 4,
    }
}

/// At most 120 printable characters of a body, for evidence (never a whole payload).
pub(crate) fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect::<String>()
        .trim()
        .to_owned()
}

fn protocol_finding(subject: &str, en: String, zh: String, detail: Option<String>) -> pb::Finding {
    let mut f = finding(
        CHECK_ID,
        subject,
        pb::Verdict::Critical,
        "link.protocol",
        en,
        zh,
    );
    if let Some(d) = detail {
        f.evidence.push(evidence_text("detail", &d));
    }
    f.remedies.push(remedy(
        pb::Actor::Merchant,
        "Check that the link points to the terminal's Terminal API (port 8443, path /nexo) and that local Terminal API access is enabled for it.",
        "请确认连接指向终端的 Terminal API（端口 8443，路径 /nexo），并且已为该终端启用本地 Terminal API。",
    ));
    f
}

/// Findings for an HTTP answer.
fn answer_findings(
    host: &Host,
    settings: &Settings,
    limits: &Limits,
    service_id: &str,
    message: &HttpMessage,
) -> Vec<pb::Finding> {
    let subject = limits.subject.as_str();
    let status = message.status().unwrap_or(0);
    if status != 200 {
        let mut f = protocol_finding(
            subject,
            format!("the terminal answered the diagnosis with HTTP status {status}"),
            format!("终端以 HTTP 状态 {status} 应答了诊断请求"),
            None,
        );
        f.evidence
            .push(evidence_number("http_status", f64::from(status), ""));
        let body = excerpt(&message.body);
        if !body.is_empty() {
            f.evidence.push(evidence_text("body", &body));
        }
        return vec![f];
    }
    let mut body = message.body.clone();
    if let Some(key) = &settings.key {
        match key.unprotect_message(&body) {
            Ok(Some(plain)) => body = plain,
            Ok(None) => {
                return vec![protocol_finding(
                    subject,
                    "the terminal answered without the shared-key protection the request used"
                        .into(),
                    "终端的应答没有使用请求所用的共享密钥保护".into(),
                    Some(excerpt(&body)),
                )];
            }
            Err(SharedKeyError::Authentication) => {
                let mut f = protocol_finding(
                    subject,
                    "message authentication failed: the terminal's answer does not verify with the configured shared key".into(),
                    "消息认证失败：终端的应答无法用所配置的共享密钥验证".into(),
                    None,
                );
                f.evidence
                    .push(evidence_text("key_identifier", key.key_identifier()));
                f.evidence.push(evidence_number(
                    "key_version",
                    f64::from(key.key_version()),
                    "",
                ));
                f.remedies.insert(
                    0,
                    remedy(
                        pb::Actor::Merchant,
                        "Check that key_passphrase, key_identifier and key_version match the shared key set up for this terminal in the Customer Area.",
                        "请确认 key_passphrase、key_identifier 和 key_version 与为该终端配置的共享密钥一致。",
                    ),
                );
                return vec![f];
            }
            Err(e) => {
                return vec![protocol_finding(
                    subject,
                    "the terminal's protected answer is malformed".into(),
                    "终端受保护的应答格式错误".into(),
                    Some(e.to_string()),
                )];
            }
        }
    }
    let response = match SaleToPOIResponse::parse(&body) {
        Ok(r) => r,
        Err(NexoError::Encrypted { .. }) => {
            let mut f = protocol_finding(
                subject,
                "the terminal answered with a protected message (NexoBlob) and no shared key is configured".into(),
                "终端以受保护的消息（NexoBlob）应答，但未配置共享密钥".into(),
                None,
            );
            f.remedies.insert(
                0,
                remedy(
                    pb::Actor::Merchant,
                    "Set key_passphrase, key_identifier and key_version to the terminal's shared key.",
                    "请将 key_passphrase、key_identifier 和 key_version 设置为终端的共享密钥。",
                ),
            );
            return vec![f];
        }
        Err(e) => {
            return vec![protocol_finding(
                subject,
                "the terminal's answer is not a nexo SaleToPOIResponse".into(),
                "终端的应答不是 nexo SaleToPOIResponse".into(),
                Some(e.to_string()),
            )];
        }
    };
    if response.header.service_id != service_id {
        // The link is opened for this check only, so this is a terminal quirk, not a stale
        // answer: worth a log line, not a verdict.
        host.warn(&format!(
            "{CHECK_ID}: the answer's ServiceID {:?} differs from the request's {service_id:?}",
            response.header.service_id
        ));
    }
    interpret::response_findings(limits, &response)
}

/// The TLS failure's reason code.
fn tls_reason(e: &rustls::Error) -> &'static str {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::Expired | C::ExpiredContext { .. } => "tls.cert_expired",
            C::NotValidYet | C::NotValidYetContext { .. } => "tls.cert_not_yet_valid",
            C::NotValidForName | C::NotValidForNameContext { .. } => "tls.hostname_mismatch",
            _ => "tls.untrusted",
        },
        _ => "tls.handshake_failed",
    }
}

fn broken_finding(
    subject: &str,
    settings: &Settings,
    broken: &Broken,
    timeout: Duration,
) -> pb::Finding {
    let mut f = match broken {
        Broken::Channel(ChannelError::Timeout(Phase::Handshake)) => {
            // Connected, but no TLS server answered: a silent terminal, or one that speaks
            // plain HTTP and waits for a request line that never comes.
            let mut f = finding(
                CHECK_ID,
                subject,
                pb::Verdict::Critical,
                "tls.timeout",
                format!(
                    "the TLS handshake with the terminal did not finish within {} ms",
                    timeout.as_millis()
                ),
                format!("与终端的 TLS 握手没有在 {} 毫秒内完成", timeout.as_millis()),
            );
            f.evidence
                .push(evidence_number("timeout", ms(timeout), "ms"));
            f.evidence
                .push(evidence_text("phase", Phase::Handshake.as_str()));
            f.remedies.push(remedy(
                pb::Actor::Merchant,
                "Check that the terminal is switched on and serves HTTPS on this port; for a plain-HTTP test terminal set tls=false.",
                "请确认终端已开机并在该端口提供 HTTPS；测试终端使用明文 HTTP 时请设置 tls=false。",
            ));
            f
        }
        Broken::Channel(ChannelError::Timeout(phase)) => {
            let mut f = finding(
                CHECK_ID,
                subject,
                pb::Verdict::Critical,
                "link.no_answer",
                format!(
                    "the terminal did not answer the diagnosis within {} ms",
                    timeout.as_millis()
                ),
                format!("终端没有在 {} 毫秒内应答诊断请求", timeout.as_millis()),
            );
            f.evidence
                .push(evidence_number("timeout", ms(timeout), "ms"));
            f.evidence.push(evidence_text("phase", phase.as_str()));
            f.remedies.push(remedy(
                pb::Actor::Merchant,
                "Check that the terminal is switched on, on the network and showing its idle screen, then run the check again.",
                "请确认终端已开机、已联网并处于待机界面，然后再次运行检查。",
            ));
            f
        }
        Broken::Channel(ChannelError::Lost(Phase::Handshake)) => finding(
            CHECK_ID,
            subject,
            pb::Verdict::Critical,
            "tls.handshake_failed",
            "the terminal closed the connection during the TLS handshake",
            "终端在 TLS 握手过程中关闭了连接",
        ),
        Broken::Channel(ChannelError::Lost(phase)) => {
            let mut f = lost(subject);
            f.evidence.push(evidence_text("phase", phase.as_str()));
            f
        }
        Broken::Closed => lost(subject),
        Broken::Channel(ChannelError::NoLink) => {
            let mut f = finding(
                CHECK_ID,
                subject,
                pb::Verdict::Critical,
                "link.error",
                "posdiag could not connect to the terminal's Terminal API",
                "posdiag 无法连接终端的 Terminal API",
            );
            f.remedies.push(remedy(
                pb::Actor::Merchant,
                "Check that the terminal is switched on and that its address and port (8443) are right.",
                "请确认终端已开机，并且其地址和端口（8443）正确。",
            ));
            f
        }
        Broken::Channel(ChannelError::Transport(phase, e)) => {
            let mut f = finding(
                CHECK_ID,
                subject,
                pb::Verdict::Critical,
                "link.error",
                "the link to the terminal failed during the diagnosis",
                "与终端的连接在诊断过程中失败",
            );
            f.evidence.push(evidence_text("detail", &e.to_string()));
            f.evidence.push(evidence_text("phase", phase.as_str()));
            f
        }
        Broken::Channel(ChannelError::Tls(e)) => {
            let reason = tls_reason(e);
            let untrusted = reason != "tls.handshake_failed";
            let mut f = finding(
                CHECK_ID,
                subject,
                pb::Verdict::Critical,
                reason,
                if untrusted {
                    "the terminal's TLS certificate is not accepted"
                } else {
                    "the TLS handshake with the terminal failed"
                },
                if untrusted {
                    "终端的 TLS 证书未被接受"
                } else {
                    "与终端的 TLS 握手失败"
                },
            );
            f.evidence.push(evidence_text("detail", &e.to_string()));
            if let Some(tls) = &settings.tls {
                f.evidence
                    .push(evidence_text("server_name", &tls.server_name.to_str()));
                f.evidence.push(evidence_text("tls_roots", tls.roots));
            }
            f.remedies.push(remedy(
                pb::Actor::Merchant,
                "Give the terminal's CA (Adyen's terminal root certificate) in ca_pem or ca_file and the certificate's name in server_name, or set tls=false for a plain-HTTP test terminal.",
                "请在 ca_pem 或 ca_file 中提供终端的 CA（Adyen 终端根证书），在 server_name 中提供证书名称；测试终端使用明文 HTTP 时请设置 tls=false。",
            ));
            f
        }
        Broken::Http(e) => protocol_finding(
            subject,
            "the terminal's answer is not valid HTTP".into(),
            "终端的应答不是有效的 HTTP".into(),
            Some(e.to_string()),
        ),
    };
    f.evidence
        .push(evidence_text("address", &settings.authority));
    f
}

fn lost(subject: &str) -> pb::Finding {
    let mut f = finding(
        CHECK_ID,
        subject,
        pb::Verdict::Critical,
        "link.lost",
        "the connection to the terminal ended before it answered the diagnosis",
        "与终端的连接在其应答诊断请求之前中断",
    );
    f.remedies.push(remedy(
        pb::Actor::Merchant,
        "Check the terminal's network connection and that it is not restarting, then run the check again.",
        "请检查终端的网络连接并确认其没有在重启，然后再次运行检查。",
    ));
    f
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;

    #[test]
    fn service_ids_are_ten_alphanumerics_and_differ() {
        let a = service_id().unwrap();
        let b = service_id().unwrap();
        assert_eq!(a.len(), 10);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn excerpts_are_short_and_printable() {
        assert_eq!(excerpt(b"\x00ab\ncd"), "ab cd");
        assert_eq!(excerpt(&[b'x'; 500]).len(), 120);
    }
}
