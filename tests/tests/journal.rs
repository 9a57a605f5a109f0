//! Under systemd (here `INVOCATION_ID`, with the test's stand-in journal
//! socket in `POSDIAG_JOURNAL_SOCKET`), the real daemon sends one
//! structured journal record per finding, OK ones included, with the
//! fields Loki or Vector select on, and no longer logs them on stderr.

#![allow(clippy::unwrap_used, reason = "test code: a failure is a test failure")]

use posdiag_tests::RecvRetry;
use std::collections::BTreeMap;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use posdiag_tests::Daemon;

/// The fields of a native-protocol record (values without newlines here,
/// except MESSAGE, which may have its length-prefixed form).
fn decode(mut raw: &[u8]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    while let Some(nl) = raw.iter().position(|b| *b == b'\n') {
        let line = &raw[..nl];
        if let Some(eq) = line.iter().position(|b| *b == b'=') {
            out.insert(
                String::from_utf8_lossy(&line[..eq]).into_owned(),
                String::from_utf8_lossy(&line[eq + 1..]).into_owned(),
            );
            raw = &raw[nl + 1..];
        } else {
            let len = u64::from_le_bytes(raw[nl + 1..nl + 9].try_into().unwrap()) as usize;
            out.insert(
                String::from_utf8_lossy(line).into_owned(),
                String::from_utf8_lossy(&raw[nl + 9..nl + 9 + len]).into_owned(),
            );
            raw = &raw[nl + 10 + len..];
        }
    }
    out
}

#[test]
fn every_finding_is_one_structured_journal_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sock");
    let journal = UnixDatagram::bind(&path).unwrap();
    journal
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let daemon = Daemon::start_with_env(
        "[defaults]\ncount = 1\ntimeout_ms = 300\ncheck_interval_s = 3600\n\
         [hosts.acquirer-down]\naddress = \"localhost\"\nport = 1\n\
         [[terminals]]\nid = \"T2\"\nhosts = [\"acquirer-down\"]\n",
        &[
            ("INVOCATION_ID", "0123456789abcdef0123456789abcdef"),
            ("POSDIAG_JOURNAL_SOCKET", path.to_str().unwrap()),
        ],
        "info",
    );
    let mut records = Vec::new();
    let mut buf = vec![0u8; 65536];
    while records.len() < 2 {
        let n = journal.recv_retrying(&mut buf).expect("no journal record");
        records.push(decode(&buf[..n]));
    }
    let by_check = |check: &str| {
        records
            .iter()
            .find(|r| r.get("CHECK").map(String::as_str) == Some(check))
            .unwrap_or_else(|| panic!("no record of {check}: {records:?}"))
    };
    let refused = by_check("host.tcp");
    assert_eq!(refused["TERMINAL"], "T2");
    assert_eq!(refused["VERDICT"], "CRITICAL");
    assert_eq!(refused["REASON"], "tcp.refused");
    assert_eq!(refused["PRIORITY"], "4");
    assert_eq!(refused["SYSLOG_IDENTIFIER"], "posdiagd");
    assert!(
        refused["SUBJECT"].starts_with("acquirer-down"),
        "{refused:?}"
    );
    assert!(refused["MESSAGE"].contains("refused"), "{refused:?}");
    let run: u64 = refused["RUN_ID"].parse().unwrap();
    // The resolution that worked is a record too, of the same run.
    let resolved = by_check("host.dns");
    assert_eq!(resolved["VERDICT"], "OK");
    assert_eq!(resolved["PRIORITY"], "6");
    assert_eq!(resolved["RUN_ID"].parse::<u64>().unwrap(), run);
    // Not a second time on stderr (which systemd also sends to the journal).
    assert!(
        !daemon.log().contains("posdiag::finding"),
        "{}",
        daemon.log()
    );
}
