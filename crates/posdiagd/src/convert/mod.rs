//! Conversions between the API's protobuf messages and the domain types.
//! Nothing else in the daemon builds or reads proto messages field by field.
//! The mappings of the pure domain crates (ids, codes, actors) live in
//! `posdiag-api`, shared with the CLI; they are re-exported here so the
//! handlers have one module to call. This module keeps the engine's.

use std::time::{Duration, SystemTime};

use posdiag_core::{Evidence, EvidenceValue, Finding, Lang, Text, Verdict, quote};
use posdiag_engine::model::{ExchangeSpec, HostSpec, ProbeSpec, Thresholds, TlsSpec};
use posdiag_engine::{Progress, TerminalSnapshot};
use posdiag_proto::v1 as pb;

use crate::status::ApiError;

pub use posdiag_api::{actor, code_entry, explain, id_kind, id_result, rule_set};

pub mod history;

/// The request's language; empty means English.
pub fn lang(tag: &str) -> Result<Lang, ApiError> {
    Lang::from_tag_or_default(tag).map_err(|e| {
        ApiError::invalid(
            "lang",
            e.to_string(),
            format!("不支持的语言 {}：应为 \"en\" 或 \"zh-CN\"", quote(&e.0)),
        )
    })
}

/// The most values a repeated request field (or entries a map field) may
/// hold. Every repeated and map field of every request passes [`list`] or
/// [`args`]; a test fails when a request gains one that is not listed in
/// [`BOUNDED_REQUEST_FIELDS`].
pub const MAX_LIST: usize = 256;

/// The longest single value of a repeated or map request field, in bytes.
pub const MAX_LIST_VALUE_BYTES: usize = 4096;

/// Every repeated or map field of a request message, checked by the test
/// against the API's descriptors.
pub const BOUNDED_REQUEST_FIELDS: &[&str] = &[
    "posdiag.v1.WatchTerminalsRequest.ids",
    "posdiag.v1.RunCheckRequest.checks",
    "posdiag.v1.ProbeLinkRequest.args",
    "posdiag.v1.ListEventsRequest.kinds",
    "posdiag.v1.HistoryFilter.checks",
    "posdiag.v1.HistoryFilter.verdicts",
    "posdiag.v1.HistoryFilter.reasons",
    "posdiag.v1.HistoryFilter.origins",
];

/// A repeated request field: at most [`MAX_LIST`] values of at most
/// [`MAX_LIST_VALUE_BYTES`] each, duplicates dropped (first order kept),
/// since asking twice for the same terminal or check means nothing more.
pub fn list(field: &'static str, values: &[String]) -> Result<Vec<String>, ApiError> {
    if values.len() > MAX_LIST {
        return Err(ApiError::invalid(
            field,
            format!("{} values is too many; at most {MAX_LIST}", values.len()),
            format!("{} 个值太多；最多 {MAX_LIST} 个", values.len()),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for v in values {
        if v.len() > MAX_LIST_VALUE_BYTES {
            return Err(ApiError::invalid(
                field,
                format!(
                    "{} is too long; at most {MAX_LIST_VALUE_BYTES} bytes",
                    quote(v)
                ),
                format!("{} 太长；最多 {MAX_LIST_VALUE_BYTES} 字节", quote(v)),
            ));
        }
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    Ok(out)
}

/// A map request field (a check's arguments): at most [`MAX_LIST`] entries,
/// keys of at most 64 bytes, values of at most [`MAX_LIST_VALUE_BYTES`].
pub fn args(
    field: &'static str,
    map: &std::collections::HashMap<String, String>,
) -> Result<std::collections::BTreeMap<String, String>, ApiError> {
    if map.len() > MAX_LIST {
        return Err(ApiError::invalid(
            field,
            format!("{} entries is too many; at most {MAX_LIST}", map.len()),
            format!("{} 个条目太多；最多 {MAX_LIST} 个", map.len()),
        ));
    }
    let mut out = std::collections::BTreeMap::new();
    for (k, v) in map {
        if k.is_empty() || k.len() > 64 {
            return Err(ApiError::invalid(
                field,
                format!("key {} must be 1 to 64 bytes", quote(k)),
                format!("键 {} 必须为 1 到 64 字节", quote(k)),
            ));
        }
        if v.len() > MAX_LIST_VALUE_BYTES {
            return Err(ApiError::invalid(
                field,
                format!(
                    "the value of {} is too long; at most {MAX_LIST_VALUE_BYTES} bytes",
                    quote(k)
                ),
                format!("{} 的值太长；最多 {MAX_LIST_VALUE_BYTES} 字节", quote(k)),
            ));
        }
        out.insert(k.clone(), v.clone());
    }
    Ok(out)
}

/// A verdict as its proto enum value.
pub fn verdict(v: Verdict) -> i32 {
    (match v {
        Verdict::Ok => pb::Verdict::Ok,
        Verdict::Warning => pb::Verdict::Warning,
        Verdict::Critical => pb::Verdict::Critical,
        Verdict::Unknown => pb::Verdict::Unknown,
        Verdict::Error => pb::Verdict::Error,
    }) as i32
}

pub(crate) fn opt_verdict(v: Option<Verdict>) -> i32 {
    v.map(verdict).unwrap_or(pb::Verdict::Unspecified as i32)
}

/// A duration; durations beyond the proto range saturate.
pub fn duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration::try_from(d).unwrap_or(prost_types::Duration {
        seconds: i64::MAX,
        nanos: 999_999_999,
    })
}

/// A point in time.
pub fn timestamp(t: SystemTime) -> prost_types::Timestamp {
    prost_types::Timestamp::from(t)
}

/// A text for a reply: every string the daemon answers with passes here, so
/// a card number that reached a finding, a name or a path (from a request, a
/// config file, a terminal or a plugin) leaves masked.
pub(crate) fn out(text: &str) -> String {
    posdiag_core::mask_card_numbers(text)
}

fn evidence(e: &Evidence) -> pb::Evidence {
    use pb::evidence::Value;
    let value = match &e.value {
        EvidenceValue::Number(n) => Value::Number(*n),
        EvidenceValue::Text(t) => Value::Text(out(t)),
        EvidenceValue::Flag(b) => Value::Flag(*b),
    };
    pb::Evidence {
        name: out(&e.name),
        value: Some(value),
        unit: e.unit.as_str().to_owned(),
    }
}

/// A finding, with its texts in `lang`.
pub fn finding(f: &Finding, lang: Lang) -> pb::Finding {
    pb::Finding {
        check: out(&f.check),
        verdict: verdict(f.verdict),
        reason: f.reason.code().to_owned(),
        summary: out(f.summary.get(lang)),
        evidence: f.evidence.iter().map(evidence).collect(),
        remedies: f
            .remedies
            .iter()
            .map(|r| pb::Remedy {
                actor: actor(r.actor),
                text: out(r.text.get(lang)),
            })
            .collect(),
        duration: Some(duration(f.duration)),
        observed_at: Some(timestamp(f.observed_at)),
        terminal_id: f
            .terminal
            .as_ref()
            .map(|t| t.to_string())
            .unwrap_or_default(),
        subject: out(&f.subject),
        producer: Some(pb::Producer {
            id: out(&f.producer.id),
            version: out(&f.producer.version),
        }),
    }
}

/// A terminal; its latest findings only when `with_findings`.
pub fn terminal(s: &TerminalSnapshot, lang: Lang, with_findings: bool) -> pb::Terminal {
    let spec = &s.spec;
    pb::Terminal {
        id: spec.id.to_string(),
        name: out(&spec.name),
        vendor: out(&spec.vendor),
        model: out(&spec.model),
        link: Some(pb::Link {
            kind: spec.link.kind().to_owned(),
            address: out(&spec.link.address()),
            path: s
                .link
                .path
                .as_ref()
                .map(|p| out(&p.display().to_string()))
                .unwrap_or_default(),
            present: match &spec.link {
                posdiag_engine::model::LinkSpec::Serial { .. } => s.link.present(),
                posdiag_engine::model::LinkSpec::Tcp(_) => true,
                posdiag_engine::model::LinkSpec::None => false,
            },
            settings: spec
                .link
                .settings()
                .map(|x| x.to_string())
                .unwrap_or_default(),
            protocol: spec
                .protocol
                .map(|p| p.name().to_owned())
                .unwrap_or_default(),
        }),
        hosts: spec
            .hosts
            .iter()
            .map(|h| pb::Host {
                name: out(&h.name),
                address: out(&h.host),
                port: u32::from(h.port),
                tls: h.tls.is_some(),
            })
            .collect(),
        status: opt_verdict(s.status),
        last_checked: s.last_checked.map(timestamp),
        latest_findings: if with_findings {
            s.latest.iter().map(|f| finding(f, lang)).collect()
        } else {
            Vec::new()
        },
        check_interval_s: spec
            .check_interval
            .map(|d| d.as_secs().min(u64::from(u32::MAX)) as u32)
            .unwrap_or(0),
    }
}

/// A progress event of a running check.
pub fn progress(p: &Progress, lang: Lang) -> pb::CheckEvent {
    use pb::check_event::Event;
    let event = match p {
        Progress::PhaseStarted { phase, subject } => Event::PhaseStarted(pb::PhaseStarted {
            phase: out(phase),
            subject: out(subject),
        }),
        Progress::PhaseFinished {
            phase,
            subject,
            verdict: v,
            duration: d,
        } => Event::PhaseFinished(pb::PhaseFinished {
            phase: out(phase),
            subject: out(subject),
            verdict: verdict(*v),
            duration: Some(duration(*d)),
        }),
        Progress::Finding(f) => Event::Finding(finding(f, lang)),
        Progress::Completed {
            overall,
            findings,
            duration: d,
            ..
        } => Event::Completed(pb::Completed {
            overall: opt_verdict(*overall),
            findings: *findings,
            duration: Some(duration(*d)),
        }),
    };
    pb::CheckEvent { event: Some(event) }
}

/// Splits `host:port` (`[v6]:port` for IPv6).
pub fn split_target(target: &str) -> Result<(String, u16), Text> {
    let expected = Text::new(
        "expected HOST:PORT, for example \"acquirer.example:5000\" or \"[2001:db8::1]:5000\"",
        "应为 HOST:PORT，例如 \"acquirer.example:5000\" 或 \"[2001:db8::1]:5000\"",
    );
    let fail = |en: String, zh: String| {
        Text::new(
            format!("{en}; {}", expected.en),
            format!("{zh}；{}", expected.zh),
        )
    };
    let t = quote(target);
    let (host, port) = target
        .rsplit_once(':')
        .ok_or_else(|| fail(format!("{t} has no port"), format!("{t} 没有端口")))?;
    let host = if let Some(inner) = host.strip_prefix('[') {
        inner.strip_suffix(']').ok_or_else(|| {
            fail(
                format!("{t} has an unclosed '['"),
                format!("{t} 的 '[' 没有闭合"),
            )
        })?
    } else if host.contains(':') {
        return Err(fail(
            format!("{t}: put IPv6 addresses in brackets"),
            format!("{t}：IPv6 地址请放在方括号中"),
        ));
    } else {
        host
    };
    if host.is_empty() || host.contains(char::is_whitespace) || host.contains('/') {
        return Err(fail(
            format!("{t} has no valid host"),
            format!("{t} 没有有效的主机"),
        ));
    }
    let port: u16 = port.parse().ok().filter(|p| *p > 0).ok_or_else(|| {
        let p = quote(port);
        fail(
            format!("{p} is not a port (1-65535)"),
            format!("{p} 不是端口（1-65535）"),
        )
    })?;
    Ok((host.to_owned(), port))
}

/// The longest an ad-hoc probe may run: `count` attempts, `interval_ms`
/// apart, each up to `timeout_ms`.
pub const MAX_PROBE_SPAN: Duration = Duration::from_secs(300);

/// Validates a Probe request into a host to probe, naming the bad field
/// (its `lang` is read by the handler).
pub fn probe_request(
    req: &pb::ProbeRequest,
    defaults: ProbeSpec,
    thresholds: Thresholds,
) -> Result<HostSpec, ApiError> {
    if req.target.is_empty() {
        return Err(ApiError::invalid(
            "target",
            "is required (HOST:PORT)",
            "必填（HOST:PORT）",
        ));
    }
    let (host, port) =
        split_target(&req.target).map_err(|m| ApiError::invalid("target", m.en, m.zh))?;
    if req.count > 100 {
        return Err(ApiError::invalid(
            "count",
            format!("{} is too many; at most 100 attempts", req.count),
            format!("{} 次太多；最多 100 次尝试", req.count),
        ));
    }
    if req.timeout_ms > 60_000 {
        return Err(ApiError::invalid(
            "timeout_ms",
            format!("{} ms is too long; at most 60000", req.timeout_ms),
            format!("{} 毫秒太长；最多 60000", req.timeout_ms),
        ));
    }
    if req.interval_ms > 60_000 {
        return Err(ApiError::invalid(
            "interval_ms",
            format!("{} ms is too long; at most 60000", req.interval_ms),
            format!("{} 毫秒太长；最多 60000", req.interval_ms),
        ));
    }
    if !req.server_name.is_empty() && !req.tls {
        return Err(ApiError::invalid(
            "server_name",
            "is only used with tls = true",
            "仅在 tls = true 时使用",
        ));
    }
    let exchange = match (req.send.is_empty(), req.expect.is_empty()) {
        (true, true) => None,
        (false, false) => Some(ExchangeSpec {
            send: req.send.clone(),
            expect: req.expect.clone(),
        }),
        (false, true) => {
            return Err(ApiError::invalid(
                "expect",
                "is required when send is set",
                "设置了 send 时必填",
            ));
        }
        (true, false) => {
            return Err(ApiError::invalid(
                "send",
                "is required when expect is set",
                "设置了 expect 时必填",
            ));
        }
    };
    let probe = ProbeSpec {
        count: if req.count == 0 {
            defaults.count
        } else {
            req.count
        },
        interval: if req.interval_ms == 0 {
            defaults.interval
        } else {
            Duration::from_millis(u64::from(req.interval_ms))
        },
        timeout: if req.timeout_ms == 0 {
            defaults.timeout
        } else {
            Duration::from_millis(u64::from(req.timeout_ms))
        },
    };
    // The longest a probe may hold its slot: a request for 100 attempts a
    // minute apart would otherwise run for 99 minutes.
    let attempts = probe.count.max(1);
    let span = probe.interval * (attempts - 1) + probe.timeout * attempts;
    if span > MAX_PROBE_SPAN {
        return Err(ApiError::invalid(
            "count",
            format!(
                "{attempts} attempts {} ms apart, each with a {} ms timeout, could take {} s; a probe may take at most {} s: lower count, interval_ms or timeout_ms",
                probe.interval.as_millis(),
                probe.timeout.as_millis(),
                span.as_secs(),
                MAX_PROBE_SPAN.as_secs()
            ),
            format!(
                "{attempts} 次尝试、间隔 {} 毫秒、每次超时 {} 毫秒，可能耗时 {} 秒；一次探测最多 {} 秒：请降低 count、interval_ms 或 timeout_ms",
                probe.interval.as_millis(),
                probe.timeout.as_millis(),
                span.as_secs(),
                MAX_PROBE_SPAN.as_secs()
            ),
        ));
    }
    let tls = req.tls.then(|| TlsSpec {
        server_name: (!req.server_name.is_empty()).then(|| req.server_name.clone()),
        ca_certs: Vec::new(),
    });
    let spec = HostSpec {
        name: "probe".into(),
        host,
        port,
        tls,
        exchange,
        echo: None,
        probe,
        thresholds,
    };
    Ok(spec)
}

/// The ad-hoc terminal of a ProbeLink request: its link, the protocol's
/// link check and reference plugin, the check arguments.
pub fn probe_link_spec(
    r: &pb::ProbeLinkRequest,
) -> Result<posdiag_engine::model::TerminalSpec, ApiError> {
    use posdiag_engine::model::{
        LinkProbeSpec, LinkProtocol, LinkSpec, LinkSpecError, PortSelector, TerminalSpec,
    };
    let protocol = match r.protocol.as_str() {
        "zvt" => Some(LinkProtocol::Zvt),
        "nexo" => Some(LinkProtocol::Nexo),
        // The acquirer echo opens its own connection; no terminal link check.
        "iso8583" => None,
        other => {
            return Err(ApiError::invalid(
                "protocol",
                format!(
                    "{} is not a protocol; expected \"zvt\", \"nexo\" or \"iso8583\"",
                    quote(other)
                ),
                format!(
                    "{} 不是协议；应为 \"zvt\"、\"nexo\" 或 \"iso8583\"",
                    quote(other)
                ),
            ));
        }
    };
    // A serial port, after `serial:`: a device path, or a usb:VID:PID
    // selector (what `posdiag probe zvt --serial usb:…` sends).
    let serial = |port: Result<PortSelector, String>| -> Result<LinkSpec, ApiError> {
        if r.protocol == "iso8583" {
            return Err(ApiError::invalid(
                "link",
                "the ISO 8583 echo needs a tcp:HOST:PORT link",
                "ISO 8583 回显需要 tcp:HOST:PORT 连接",
            ));
        }
        let port =
            port.map_err(|e| ApiError::invalid("link", &e, format!("串口选择器无效：{e}")))?;
        let settings = if r.serial.is_empty() {
            posdiag_engine::model::SerialSettings::default()
        } else {
            r.serial.parse().map_err(|e| {
                ApiError::invalid(
                    "serial",
                    format!("{e}; expected for example \"9600-8N2\""),
                    format!("串口参数无效（{e}）；应为例如 \"9600-8N2\""),
                )
            })?
        };
        Ok(LinkSpec::Serial { port, settings })
    };
    let link = match r.link.parse::<LinkSpec>() {
        Ok(LinkSpec::Tcp(address)) => LinkSpec::Tcp(address),
        Ok(LinkSpec::Serial {
            port: port @ PortSelector::Path(_),
            ..
        }) => serial(Ok(port))?,
        Err(LinkSpecError::NotDevicePath { selector, .. }) => {
            serial(selector.map_err(|e| e.to_string()))?
        }
        Err(LinkSpecError::NotHostPort { address }) => {
            return Err(ApiError::invalid(
                "link",
                format!(
                    "{} is not HOST:PORT; expected for example \"tcp:192.168.1.50:20007\"",
                    quote(&address)
                ),
                format!(
                    "{} 不是 HOST:PORT；应为例如 \"tcp:192.168.1.50:20007\"",
                    quote(&address)
                ),
            ));
        }
        // none, usb:… without serial:, anything else.
        _ => {
            return Err(ApiError::invalid(
                "link",
                format!(
                    "{} is neither tcp:HOST:PORT nor serial:/dev/PATH",
                    quote(&r.link)
                ),
                format!(
                    "{} 既不是 tcp:HOST:PORT 也不是 serial:/dev/PATH",
                    quote(&r.link)
                ),
            ));
        }
    };
    Ok(TerminalSpec {
        id: posdiag_core::TerminalId::new("probe")
            .map_err(|e| ApiError::invalid("link", e.to_string(), e.text().zh))?,
        name: "probe".into(),
        vendor: String::new(),
        model: String::new(),
        link,
        protocol,
        link_probe: LinkProbeSpec::default(),
        plugin: Some(format!("posdiag.{}", r.protocol)),
        plugin_args: args("args", &r.args)?,
        plugin_timeout: None,
        hosts: Vec::new(),
        check_interval: None,
    })
}

/// A terminal change as a watch event.
pub fn terminal_change(c: &posdiag_engine::TerminalChange, lang: Lang) -> pb::TerminalEvent {
    let kind = match c.kind {
        posdiag_engine::ChangeKind::Status => pb::terminal_event::Kind::Changed,
        posdiag_engine::ChangeKind::Link => pb::terminal_event::Kind::LinkChanged,
    };
    pb::TerminalEvent {
        kind: kind as i32,
        terminal: Some(terminal(&c.snapshot, lang, true)),
        previous_status: c.previous.map(verdict).unwrap_or(0),
        at: Some(timestamp(c.at)),
    }
}

/// A discovered port with the terminals using it.
pub fn port(p: &posdiag_engine::PortView) -> pb::Port {
    use posdiag_engine::model::{Occupancy, PortKind};
    let info = &p.info;
    let (kind, usb) = match &info.kind {
        PortKind::Usb(u) => (
            pb::PortKind::Usb,
            Some(pb::UsbDevice {
                vendor_id: u32::from(u.vid),
                product_id: u32::from(u.pid),
                manufacturer: u.manufacturer.clone().unwrap_or_default(),
                product: u.product.clone().unwrap_or_default(),
                serial_number: u.serial_number.clone().unwrap_or_default(),
                interface: u.interface.map(|i| format!("{i:02}")).unwrap_or_default(),
                driver: u.driver.clone().unwrap_or_default(),
            }),
        ),
        PortKind::Platform { .. } => (pb::PortKind::Uart, None),
        PortKind::Pseudo => (pb::PortKind::PseudoTerminal, None),
        _ => (pb::PortKind::Other, None),
    };
    let (hold, holders) = match &info.occupancy {
        Occupancy::Free => (pb::HoldState::Free, Vec::new()),
        Occupancy::HeldBy(h) => (
            pb::HoldState::Held,
            h.iter()
                .map(|h| pb::PortHolder {
                    pid: h.pid,
                    command: h.comm.clone().unwrap_or_default(),
                })
                .collect(),
        ),
        _ => (pb::HoldState::Unknown, Vec::new()),
    };
    pb::Port {
        path: out(&info.path.display().to_string()),
        kind: kind as i32,
        usb,
        aliases: info
            .aliases
            .iter()
            .map(|a| out(&a.display().to_string()))
            .collect(),
        hold: hold as i32,
        holders,
        terminal_ids: p.terminals.iter().map(|t| t.to_string()).collect(),
    }
}

/// A hot-plug change as a watch event.
pub fn port_change(c: &posdiag_engine::PortChange) -> pb::PortEvent {
    use posdiag_engine::PortChangeKind as K;
    let kind = match c.kind {
        K::Added => pb::port_event::Kind::Added,
        K::Removed => pb::port_event::Kind::Removed,
        K::Changed => pb::port_event::Kind::Changed,
    };
    pb::PortEvent {
        kind: kind as i32,
        port: Some(port(&posdiag_engine::PortView {
            info: c.port.clone(),
            terminals: c.terminals.clone(),
        })),
        at: Some(timestamp(c.at)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_repeated_request_field_is_bounded() {
        use prost::Message;
        let set = prost_types::FileDescriptorSet::decode(posdiag_proto::FILE_DESCRIPTOR_SET)
            .expect("the API's descriptors decode");
        let mut found = Vec::new();
        for file in &set.file {
            let package = file.package();
            for m in &file.message_type {
                if !(m.name().ends_with("Request") || m.name().ends_with("Filter")) {
                    continue;
                }
                for f in &m.field {
                    if f.label() == prost_types::field_descriptor_proto::Label::Repeated {
                        found.push(format!("{package}.{}.{}", m.name(), f.name()));
                    }
                }
            }
        }
        found.sort();
        let mut listed: Vec<String> = BOUNDED_REQUEST_FIELDS
            .iter()
            .map(|s| s.to_string())
            .collect();
        listed.sort();
        assert_eq!(
            found, listed,
            "a request's repeated or map field must pass convert::list or convert::args and be listed"
        );
    }

    #[test]
    fn repeated_fields_are_bounded_and_deduplicated() {
        let many = vec!["T1".to_string(); MAX_LIST + 1];
        let e = list("ids", &many).unwrap_err().to_string();
        assert!(e.contains("257 values is too many; at most 256"), "{e}");
        let twice = vec!["T1".to_string(), "T2".into(), "T1".into()];
        assert_eq!(list("ids", &twice).unwrap(), vec!["T1", "T2"]);
        let long = vec!["x".repeat(MAX_LIST_VALUE_BYTES + 1)];
        assert!(list("ids", &long).is_err());
    }

    #[test]
    fn targets_split_into_host_and_port() {
        assert_eq!(
            split_target("acq.example:5000"),
            Ok(("acq.example".into(), 5000))
        );
        assert_eq!(split_target("[::1]:443"), Ok(("::1".into(), 443)));
        for bad in [
            "acq.example",
            "::1:443",
            ":443",
            "acq:0",
            "acq:http",
            "[::1:443",
        ] {
            assert!(split_target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn probe_requests_name_the_bad_field() {
        let ok = pb::ProbeRequest {
            target: "127.0.0.1:5000".into(),
            ..Default::default()
        };
        let spec = probe_request(&ok, ProbeSpec::default(), Thresholds::default()).unwrap();
        assert_eq!(spec.probe, ProbeSpec::default());
        let field = |r: pb::ProbeRequest| match probe_request(
            &r,
            ProbeSpec::default(),
            Thresholds::default(),
        ) {
            Err(ApiError::InvalidArgument { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(pb::ProbeRequest::default()), "target");
        assert_eq!(
            field(pb::ProbeRequest {
                count: 1000,
                ..ok.clone()
            }),
            "count"
        );
        assert_eq!(
            field(pb::ProbeRequest {
                send: b"x".to_vec(),
                ..ok.clone()
            }),
            "expect"
        );
    }

    #[test]
    fn probe_links_take_tcp_and_serial_paths_or_usb_selectors() {
        let probe = |protocol: &str, link: &str| {
            probe_link_spec(&pb::ProbeLinkRequest {
                protocol: protocol.into(),
                link: link.into(),
                ..Default::default()
            })
            .map(|s| s.link.kind())
            .map_err(|e| e.to_string())
        };
        assert_eq!(probe("zvt", "tcp:127.0.0.1:20007"), Ok("tcp"));
        assert_eq!(probe("zvt", "serial:/dev/ttyS0"), Ok("serial"));
        assert_eq!(probe("zvt", "serial:usb:0403:6001"), Ok("usb"));
        for (protocol, link, want) in [
            ("zvt", "tcp:host", "\"host\" is not HOST:PORT"),
            ("zvt", "serial:ttyS0", "invalid port selector \"ttyS0\""),
            (
                "iso8583",
                "serial:/dev/ttyS0",
                "the ISO 8583 echo needs a tcp:HOST:PORT link",
            ),
            (
                "zvt",
                "usb:0403:6001",
                "\"usb:0403:6001\" is neither tcp:HOST:PORT nor serial:/dev/PATH",
            ),
            (
                "zvt",
                "none",
                "\"none\" is neither tcp:HOST:PORT nor serial:/dev/PATH",
            ),
        ] {
            let got = probe(protocol, link).unwrap_err();
            assert!(got.contains(want), "{link}: {got}");
        }
    }
}
