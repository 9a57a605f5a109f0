//! `posdiag ports`: the serial ports of the daemon's machine — kind, USB
//! identity, who holds them, which terminal uses them — and, with `--watch`,
//! one line per hot-plug change until Ctrl-C.

use std::io::Write;

use clap::Args;
use posdiag_core::Lang;
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
    out
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
