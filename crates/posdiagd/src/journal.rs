//! Findings as structured journal records: under systemd (`JOURNAL_STREAM`
//! or `INVOCATION_ID` set), every `posdiag::finding` event the engine emits
//! (one per finding: terminal, check, subject, verdict, reason, run id)
//! is sent to journald's native socket as one record with the fields
//! `TERMINAL`, `CHECK`, `SUBJECT`, `VERDICT`, `REASON`, `RUN_ID` and the
//! summary as `MESSAGE`, so Loki (`loki.source.journal`), Vector or the
//! OpenTelemetry journald receiver pick them up by field. Every value is
//! masked (card numbers) and bounded, like a stderr line. Elsewhere the
//! findings stay on stderr as before.
//!
//! The socket is `/run/systemd/journal/socket`; `POSDIAG_JOURNAL_SOCKET`
//! names another (tests bind a stand-in there).

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;

use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

/// The events that become journal records.
pub const TARGET: &str = "posdiag::finding";

/// Longest field value sent, in bytes; the rest is cut.
const MAX_VALUE_BYTES: usize = 4096;

/// journald's native socket, when the daemon runs under systemd.
pub fn socket_from_env() -> Option<PathBuf> {
    let under_systemd =
        std::env::var_os("JOURNAL_STREAM").is_some() || std::env::var_os("INVOCATION_ID").is_some();
    if !under_systemd {
        return None;
    }
    Some(
        std::env::var_os("POSDIAG_JOURNAL_SOCKET")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/run/systemd/journal/socket")),
    )
}

/// Sends each finding event to the journal.
#[derive(Debug)]
pub struct JournalLayer {
    socket: UnixDatagram,
    path: PathBuf,
}

impl JournalLayer {
    /// A layer sending to the journal socket at `path`.
    pub fn new(path: PathBuf) -> std::io::Result<JournalLayer> {
        Ok(JournalLayer {
            socket: UnixDatagram::unbound()?,
            path,
        })
    }
}

/// The fields of one event, journal-named.
#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl Fields {
    fn push(&mut self, field: &Field, value: String) {
        let name = match field.name() {
            "message" => "MESSAGE".to_owned(),
            n => n
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect(),
        };
        self.0.push((name, value));
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.push(field, format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value.to_owned());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, value.to_string());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, value.to_string());
    }
}

/// One record in journald's native protocol (`systemd.journal-fields(7)`,
/// "Native Protocol"): `KEY=value\n`, or for a value with a newline
/// `KEY\n`, its length as a little-endian u64, the value, `\n`.
pub(crate) fn encode(fields: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in fields {
        let mut v = posdiag_core::mask_card_numbers(v);
        if v.len() > MAX_VALUE_BYTES {
            let mut cut = MAX_VALUE_BYTES;
            while !v.is_char_boundary(cut) {
                cut -= 1;
            }
            v.truncate(cut);
        }
        out.extend_from_slice(k.as_bytes());
        if v.contains('\n') {
            out.push(b'\n');
            out.extend_from_slice(&(v.len() as u64).to_le_bytes());
            out.extend_from_slice(v.as_bytes());
        } else {
            out.push(b'=');
            out.extend_from_slice(v.as_bytes());
        }
        out.push(b'\n');
    }
    out
}

impl<S: tracing::Subscriber> Layer<S> for JournalLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != TARGET {
            return;
        }
        let priority = match *event.metadata().level() {
            tracing::Level::ERROR => "3",
            tracing::Level::WARN => "4",
            _ => "6",
        };
        let mut fields = Fields::default();
        fields.0.push(("PRIORITY".into(), priority.into()));
        fields
            .0
            .push(("SYSLOG_IDENTIFIER".into(), "posdiagd".into()));
        event.record(&mut fields);
        // A journal that is gone loses the record, never the daemon.
        let _ = self.socket.send_to(&encode(&fields.0), &self.path);
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// The fields of a native-protocol record.
    fn decode(mut raw: &[u8]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        while !raw.is_empty() {
            let nl = raw.iter().position(|b| *b == b'\n').unwrap();
            let line = &raw[..nl];
            if let Some(eq) = line.iter().position(|b| *b == b'=') {
                out.push((
                    String::from_utf8_lossy(&line[..eq]).into_owned(),
                    String::from_utf8_lossy(&line[eq + 1..]).into_owned(),
                ));
                raw = &raw[nl + 1..];
            } else {
                let key = String::from_utf8_lossy(line).into_owned();
                let len = u64::from_le_bytes(raw[nl + 1..nl + 9].try_into().unwrap()) as usize;
                let value = &raw[nl + 9..nl + 9 + len];
                out.push((key, String::from_utf8_lossy(value).into_owned()));
                raw = &raw[nl + 10 + len..];
            }
        }
        out
    }

    #[test]
    fn a_finding_is_one_masked_structured_record_and_other_events_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.sock");
        let journal = UnixDatagram::bind(&path).unwrap();
        journal.set_nonblocking(true).unwrap();
        let subscriber =
            tracing_subscriber::registry().with(JournalLayer::new(path.clone()).unwrap());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("not a finding");
            tracing::warn!(
                target: "posdiag::finding",
                terminal = "T2",
                check = "host.tcp",
                subject = "acquirer-down (localhost:1)",
                verdict = "CRITICAL",
                reason = "tcp.refused",
                run_id = 7u64,
                "card 4111111111111111 declined\nsecond line"
            );
        });
        let mut buf = vec![0u8; 65536];
        let n = journal.recv(&mut buf).unwrap();
        let fields = decode(&buf[..n]);
        let get = |k: &str| {
            fields
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("TERMINAL"), Some("T2"));
        assert_eq!(get("CHECK"), Some("host.tcp"));
        assert_eq!(get("VERDICT"), Some("CRITICAL"));
        assert_eq!(get("REASON"), Some("tcp.refused"));
        assert_eq!(get("RUN_ID"), Some("7"));
        assert_eq!(get("PRIORITY"), Some("4"));
        assert_eq!(get("SYSLOG_IDENTIFIER"), Some("posdiagd"));
        assert_eq!(
            get("MESSAGE"),
            Some("card 411111******1111 declined\nsecond line")
        );
        // Exactly one record: the other event was not a finding.
        assert!(journal.recv(&mut buf).is_err());
    }
}
