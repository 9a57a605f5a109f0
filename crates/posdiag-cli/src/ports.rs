//! `posdiag ports`: the serial ports of the daemon's machine — kind, USB
//! identity, who holds them, which terminal uses them — and, with `--watch`,
//! one line per hot-plug change until Ctrl-C.

use std::io::Write;

use clap::Args;
use posdiag_core::{Lang, Text};
use posdiag_proto::v1;
use posdiag_proto::v1::port_service_client::PortServiceClient;
use tokio_stream::StreamExt;

use crate::commands::Context;

use crate::error::CliError;
use crate::i18n::{Label, t};
use crate::json::to_json;
use crate::output::{Cell, Table, sanitize};
use crate::render::format_timestamp;

/// `posdiag ports`.
#[derive(Debug, Args)]
pub struct PortsArgs {
    /// After the list, print a line each time a port appears, disappears or
    /// changes holder, until Ctrl-C.
    #[arg(long)]
    pub watch: bool,
}

/// Runs `posdiag ports`.
pub async fn run(args: PortsArgs, ctx: &Context) -> Result<u8, CliError> {
    let channel = crate::endpoint::connect_with(&ctx.endpoint, ctx.out.lang, &ctx.creds).await?;
    let mut client = PortServiceClient::new(channel);
    let endpoint = ctx.endpoint.to_string();
    let mut stdout = crate::term::stdout();
    if !args.watch {
        let resp = client
            .list_ports(v1::ListPortsRequest {})
            .await
            .map_err(|s| CliError::from_status(s, &endpoint))?
            .into_inner();
        if ctx.out.json {
            writeln!(stdout, "{}", to_json(&resp)?)?;
        } else {
            stdout.write_all(ports_report(&resp, ctx.out.lang, ctx.out.color).as_bytes())?;
        }
        stdout.flush()?;
        return Ok(0);
    }
    let mut stream = client
        .watch_ports(v1::WatchPortsRequest {})
        .await
        .map_err(|s| CliError::from_status(s, &endpoint))?
        .into_inner();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            biased;
            res = &mut ctrl_c => {
                res?;
                return Ok(0);
            }
            ev = stream.next() => match ev {
                None => return Err(CliError::WatchEnded),
                Some(Err(status)) => return Err(CliError::from_status(status, &endpoint)),
                Some(Ok(ev)) => {
                    if ctx.out.json {
                        writeln!(stdout, "{}", to_json(&ev)?)?;
                    } else {
                        writeln!(stdout, "{}", port_event_line(&ev, ctx.out.lang))?;
                    }
                    stdout.flush()?;
                }
            },
        }
    }
}

/// The ports table followed by discovery notes; a sentence when there is no port.
pub fn ports_report(resp: &v1::ListPortsResponse, lang: Lang, color: bool) -> String {
    let mut out = String::new();
    if resp.ports.is_empty() {
        out.push_str(t(Label::NoPorts, lang));
        out.push('\n');
    } else {
        let mut table = Table::new(
            [
                Label::Path,
                Label::Kind,
                Label::Device,
                Label::HeldBy,
                Label::Terminals,
            ]
            .map(|l| t(l, lang)),
        );
        for p in &resp.ports {
            table.push(vec![
                Cell::new(sanitize(&p.path)),
                Cell::new(kind_label(p.kind, lang)),
                Cell::new(device(p)),
                Cell::new(holders(p, lang)),
                Cell::new(if p.terminal_ids.is_empty() {
                    "-".to_owned()
                } else {
                    sanitize(&p.terminal_ids.join(","))
                }),
            ]);
        }
        out.push_str(&table.render(color));
    }
    for n in &resp.notes {
        out.push_str(&format!("{}: {}\n", t(Label::Notes, lang), sanitize(n)));
    }
    for p in &resp.ports {
        if let Some(hint) = modem_manager_hint(p) {
            out.push_str(hint.get(lang));
            out.push('\n');
        }
    }
    out
}

/// What to do when ModemManager holds a port: it probes serial ports as
/// modems (AT commands at several baud rates), which breaks ZVT sessions.
/// The package's udev rule marks the terminals its plugins know; others
/// need a line of the site's own.
fn modem_manager_hint(p: &v1::Port) -> Option<Text> {
    let held_by_mm = p
        .holders
        .iter()
        .any(|h| h.command.eq_ignore_ascii_case("ModemManager"));
    if !held_by_mm {
        return None;
    }
    let path = sanitize(&p.path);
    let id = match &p.usb {
        Some(u) => format!("{:04x}:{:04x}", u.vendor_id, u.product_id),
        None => "VID:PID".to_owned(),
    };
    Some(Text::new(
        format!(
            "hint: ModemManager holds {path}: it probes serial ports as modems and breaks terminal sessions. \
             Mark the device ID_MM_DEVICE_IGNORE=1: copy a line pair of /usr/lib/udev/rules.d/60-posdiag.rules \
             into /etc/udev/rules.d/61-posdiag-local.rules with {id}, run \"udevadm control --reload && \
             udevadm trigger --subsystem-match=tty\" and replug the cable"
        ),
        format!(
            "提示：ModemManager 占用了 {path}：它把串口当作调制解调器探测，会打断终端会话。\
             请给该设备设置 ID_MM_DEVICE_IGNORE=1：把 /usr/lib/udev/rules.d/60-posdiag.rules 中的一对规则\
             复制到 /etc/udev/rules.d/61-posdiag-local.rules 并改为 {id}，运行 \"udevadm control --reload && \
             udevadm trigger --subsystem-match=tty\"，然后重新插拔线缆"
        ),
    ))
}

/// One line per port event, e.g. `2026-11-22T06:30:00Z added /dev/ttyUSB1 usb 0403:6001 …`.
pub fn port_event_line(ev: &v1::PortEvent, lang: Lang) -> String {
    use v1::port_event::Kind;
    let at = format_timestamp(ev.at.as_ref()).unwrap_or_else(|| "-".into());
    let kind = match Kind::try_from(ev.kind).unwrap_or(Kind::Unspecified) {
        Kind::Added => t(Label::Added, lang),
        Kind::Removed => t(Label::Removed, lang),
        Kind::Changed => t(Label::Changed, lang),
        Kind::Snapshot | Kind::Unspecified => t(Label::Snapshot, lang),
    };
    let Some(p) = &ev.port else {
        return format!("{at} {kind}");
    };
    let mut line = format!(
        "{at} {kind} {} {} {}",
        sanitize(&p.path),
        kind_label(p.kind, lang),
        device(p)
    );
    if !p.terminal_ids.is_empty() {
        line.push_str(&format!(
            " [{}: {}]",
            t(Label::Terminals, lang),
            sanitize(&p.terminal_ids.join(","))
        ));
    }
    line
}

fn kind_label(kind: i32, lang: Lang) -> &'static str {
    match v1::PortKind::try_from(kind).unwrap_or(v1::PortKind::Unspecified) {
        v1::PortKind::Usb => t(Label::PortKindUsb, lang),
        v1::PortKind::Uart => t(Label::PortKindUart, lang),
        v1::PortKind::PseudoTerminal => t(Label::PortKindPty, lang),
        v1::PortKind::Other | v1::PortKind::Unspecified => t(Label::PortKindOther, lang),
    }
}

/// `0403:6001 FTDI FT232R USB UART sn A12345 (ftdi_sio)`, or `-`.
fn device(p: &v1::Port) -> String {
    let Some(u) = &p.usb else {
        return "-".to_owned();
    };
    let mut parts = vec![format!("{:04x}:{:04x}", u.vendor_id, u.product_id)];
    for s in [&u.manufacturer, &u.product] {
        if !s.is_empty() {
            parts.push(sanitize(s));
        }
    }
    if !u.serial_number.is_empty() {
        parts.push(format!("sn {}", sanitize(&u.serial_number)));
    }
    if !u.driver.is_empty() {
        parts.push(format!("({})", sanitize(&u.driver)));
    }
    parts.join(" ")
}

fn holders(p: &v1::Port, lang: Lang) -> String {
    match v1::HoldState::try_from(p.hold).unwrap_or(v1::HoldState::Unspecified) {
        v1::HoldState::Free => t(Label::PortFree, lang).to_owned(),
        v1::HoldState::Held => {
            let names: Vec<String> = p
                .holders
                .iter()
                .map(|h| {
                    if h.command.is_empty() {
                        h.pid.to_string()
                    } else {
                        format!("{} ({})", sanitize(&h.command), h.pid)
                    }
                })
                .collect();
            names.join(", ")
        }
        v1::HoldState::Unknown | v1::HoldState::Unspecified => {
            t(Label::PortHeldUnknown, lang).to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usb_port() -> v1::Port {
        v1::Port {
            path: "/dev/ttyUSB1".into(),
            kind: v1::PortKind::Usb as i32,
            usb: Some(v1::UsbDevice {
                vendor_id: 0x0403,
                product_id: 0x6001,
                manufacturer: "FTDI".into(),
                product: "FT232R USB UART".into(),
                serial_number: "A12345".into(),
                interface: "00".into(),
                driver: "ftdi_sio".into(),
            }),
            aliases: vec![],
            hold: v1::HoldState::Held as i32,
            holders: vec![v1::PortHolder {
                pid: 4242,
                command: "posdiagd".into(),
            }],
            terminal_ids: vec!["T2".into()],
        }
    }

    #[test]
    fn the_table_names_the_device_its_holder_and_its_terminal() {
        let resp = v1::ListPortsResponse {
            ports: vec![usb_port()],
            notes: vec!["no /proc: holders unknown".into()],
        };
        let text = ports_report(&resp, Lang::En, false);
        assert!(text.contains("/dev/ttyUSB1"), "{text}");
        assert!(
            text.contains("0403:6001 FTDI FT232R USB UART sn A12345 (ftdi_sio)"),
            "{text}"
        );
        assert!(text.contains("posdiagd (4242)"), "{text}");
        assert!(text.contains("T2"), "{text}");
        assert!(text.contains("no /proc: holders unknown"), "{text}");
        let zh = ports_report(&resp, Lang::ZhCn, false);
        assert!(zh.contains("占用进程"), "{zh}");
    }

    #[test]
    fn a_port_modem_manager_holds_gets_the_udev_hint() {
        let mut port = usb_port();
        port.holders[0].command = "ModemManager".into();
        let resp = v1::ListPortsResponse {
            ports: vec![port, usb_port()],
            notes: vec![],
        };
        let text = ports_report(&resp, Lang::En, false);
        assert_eq!(
            text.matches("hint: ModemManager holds").count(),
            1,
            "{text}"
        );
        assert!(text.contains("ID_MM_DEVICE_IGNORE=1"), "{text}");
        assert!(text.contains("with 0403:6001"), "{text}");
        let zh = ports_report(&resp, Lang::ZhCn, false);
        assert!(
            zh.contains("提示：ModemManager 占用了 /dev/ttyUSB1"),
            "{zh}"
        );
        let plain = ports_report(
            &v1::ListPortsResponse {
                ports: vec![usb_port()],
                notes: vec![],
            },
            Lang::En,
            false,
        );
        assert!(!plain.contains("ModemManager"), "{plain}");
    }

    #[test]
    fn no_ports_is_a_sentence_and_events_name_the_change() {
        let empty = ports_report(&v1::ListPortsResponse::default(), Lang::En, false);
        assert_eq!(empty.trim(), "no serial ports found");
        let ev = v1::PortEvent {
            kind: v1::port_event::Kind::Removed as i32,
            port: Some(usb_port()),
            at: None,
        };
        let line = port_event_line(&ev, Lang::En);
        assert!(
            line.contains("removed /dev/ttyUSB1 usb 0403:6001"),
            "{line}"
        );
        assert!(line.contains("[TERMINALS: T2]"), "{line}");
    }
}
