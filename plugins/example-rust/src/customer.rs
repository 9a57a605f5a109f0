//! `customer.status`, the well-known check `posdiag doctor --symptom unsupported-id` runs when a
//! plugin offers it: is the customer behind a valid ID registered, and may they use the
//! terminal? This example answers from a registry the merchant's system exports as a text
//! file (`plugin_args.customer_list`), one customer a line:
//!
//! ```text
//! # id,status[,note]      status: active | blocked | closed | suspended
//! 138 0013 8000,active
//! 110101199003074514,blocked,card reported lost
//! ```
//!
//! IDs are compared without spaces, dashes and dots, case-insensitively. An ID that is not
//! listed is `customer.unknown`; a blocked, closed or suspended one `customer.blocked`. A
//! vendor's own plugin would ask its customer system instead; the contract (arguments,
//! reasons, no ID in the findings) stays the same.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};

use posdiag_plugin_api::pb;
use posdiag_plugin_api::sdk::{PluginError, evidence_number, evidence_text, finding, remedy};

/// The check id (well known to the doctor).
pub const CHECK_ID: &str = "customer.status";

/// The longest registry line read; longer lines are counted as malformed, not loaded.
const MAX_LINE: u64 = 4096;
/// The largest registry read (bytes), so a wrong path (a device, a huge log) cannot stall the
/// check or fill the plugin host's memory.
const MAX_FILE: u64 = 256 * 1024 * 1024;

/// What the registry says about one customer.
#[derive(Debug, PartialEq, Eq)]
enum Status {
    Active,
    Blocked { status: String, note: String },
}

/// An ID as compared: spaces, dashes and dots removed, upper case (an `x` check digit of a
/// resident ID is the same as `X`).
fn normalise(id: &str) -> String {
    id.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '.'))
        .flat_map(char::to_uppercase)
        .collect()
}

/// Looks `id` up in the registry `path`: its status if listed, with the number of entries
/// read and the number of lines that were not understood.
fn look_up(path: &str, id: &str) -> Result<(Option<Status>, u64, u64), PluginError> {
    let file = File::open(path).map_err(|e| {
        PluginError::invalid(format!("args.customer_list: cannot open {path:?}: {e}"))
    })?;
    if !file.metadata().map(|m| m.is_file()).unwrap_or(false) {
        return Err(PluginError::invalid(format!(
            "args.customer_list: {path:?} is not a regular file"
        )));
    }
    let wanted = normalise(id);
    let mut reader = BufReader::new(file.take(MAX_FILE));
    let (mut entries, mut malformed) = (0u64, 0u64);
    let mut found = None;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .map_err(|e| PluginError::failed(format!("reading {path:?}: {e}")))?;
        if n == 0 {
            break;
        }
        if !line.ends_with(b"\n") && n as u64 == MAX_LINE {
            // Skip the rest of an overlong line.
            malformed += 1;
            let mut rest = Vec::new();
            let _ = reader.read_until(b'\n', &mut rest);
            continue;
        }
        let Ok(text) = std::str::from_utf8(&line) else {
            malformed += 1;
            continue;
        };
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let mut fields = text.splitn(3, ',').map(str::trim);
        let (Some(key), Some(status)) = (fields.next(), fields.next()) else {
            malformed += 1;
            continue;
        };
        if key.eq_ignore_ascii_case("id") && status.eq_ignore_ascii_case("status") {
            continue; // a header line
        }
        let status = status.to_ascii_lowercase();
        let parsed = match status.as_str() {
            "active" | "ok" => Status::Active,
            "blocked" | "closed" | "suspended" => Status::Blocked {
                status,
                note: fields.next().unwrap_or("").to_owned(),
            },
            _ => {
                malformed += 1;
                continue;
            }
        };
        entries += 1;
        if found.is_none() && normalise(key) == wanted {
            found = Some(parsed);
        }
    }
    Ok((found, entries, malformed))
}

/// Runs the check.
pub fn run(req: &pb::CheckRequest) -> Result<pb::CheckResult, PluginError> {
    let id = req
        .args
        .get("customer_id")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            PluginError::invalid(
                "args.customer_id: the ID to look up is missing (the doctor passes it with --symptom unsupported-id --id VALUE)",
            )
        })?;
    let path = req.args.get("customer_list").ok_or_else(|| {
        PluginError::invalid(
            "args.customer_list: no customer registry configured; set plugin_args.customer_list to the exported file",
        )
    })?;
    let (status, entries, malformed) = look_up(path, id)?;
    // The subject and every text name the registry, never the ID: it is the customer's.
    let subject = format!("customer registry {path}");
    let mut f = match status {
        Some(Status::Active) => finding(
            CHECK_ID,
            &subject,
            pb::Verdict::Ok,
            "ok",
            "the customer is registered and active",
            "该客户已登记且状态正常",
        ),
        Some(Status::Blocked { status, note }) => {
            let mut f = finding(
                CHECK_ID,
                &subject,
                pb::Verdict::Critical,
                "customer.blocked",
                format!("the customer is registered, but their account is {status}"),
                format!("该客户已登记，但账户状态为 {status}"),
            );
            f.evidence.push(evidence_text("customer_status", &status));
            if !note.is_empty() {
                f.evidence.push(evidence_text("note", &note));
            }
            f.remedies = vec![
                remedy(
                    pb::Actor::Merchant,
                    "Ask the customer to pay another way; the terminal rejects this customer's ID until the account is reopened",
                    "请顾客改用其他方式支付；账户重新开通前，终端会拒绝该客户ID",
                ),
                remedy(
                    pb::Actor::Acquirer,
                    "The customer asks the issuer of their account why it is blocked",
                    "由顾客向其账户发行方询问账户被冻结的原因",
                ),
            ];
            f
        }
        None => {
            let mut f = finding(
                CHECK_ID,
                &subject,
                pb::Verdict::Critical,
                "customer.unknown",
                "the ID is valid, but no customer with this ID is registered",
                "ID 格式有效，但没有登记该ID的客户",
            );
            f.remedies = vec![
                remedy(
                    pb::Actor::Merchant,
                    "Check the ID with the customer (a mistyped digit can still pass the format check), then register the customer if they are new",
                    "与顾客核对ID（输错一位仍可能通过格式检查）；若是新客户，请先登记",
                ),
                remedy(
                    pb::Actor::Merchant,
                    "If the customer was registered recently, export the registry again: the terminal may be using an older list",
                    "若客户刚刚登记，请重新导出客户名单：终端可能仍在使用旧名单",
                ),
            ];
            f
        }
    };
    f.evidence
        .push(evidence_number("registry_entries", entries as f64, "count"));
    if malformed > 0 {
        f.evidence.push(evidence_number(
            "registry_malformed_lines",
            malformed as f64,
            "count",
        ));
    }
    Ok(pb::CheckResult { findings: vec![f] })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(id: &str, path: &std::path::Path) -> pb::CheckRequest {
        pb::CheckRequest {
            check: CHECK_ID.into(),
            args: [
                ("customer_id".to_owned(), id.to_owned()),
                ("customer_list".to_owned(), path.display().to_string()),
            ]
            .into(),
            ..Default::default()
        }
    }

    fn reason(id: &str, path: &std::path::Path) -> (String, pb::Finding) {
        let r = run(&request(id, path)).unwrap_or_else(|e| panic!("{e:?}"));
        (r.findings[0].reason.clone(), r.findings[0].clone())
    }

    #[test]
    fn the_registry_tells_active_blocked_and_unknown_customers_apart() {
        let dir = std::env::temp_dir().join(format!("posdiag-customer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating the test directory");
        let path = dir.join("customers.csv");
        std::fs::write(
            &path,
            "id,status,note\n# exported 2026-11-22\n138 0013 8000,active\n\
             110101199003074514,blocked,card reported lost\nnot a line\n42,sleeping\n",
        )
        .expect("writing the test registry");
        let (r, f) = reason("13800138000", &path);
        assert_eq!(r, "ok");
        assert_eq!(f.verdict, pb::Verdict::Ok as i32);
        let (r, f) = reason("11010119900307451x", &path);
        assert_eq!(r, "customer.unknown");
        assert!(f.summary_en.contains("no customer"));
        let (r, f) = reason("110101199003074514", &path);
        assert_eq!(r, "customer.blocked");
        assert!(f.evidence.iter().any(|e| e.name == "note"));
        assert!(
            !format!("{f:?}").contains("110101199003074514"),
            "the ID never appears in a finding: {f:?}"
        );
        let entries = f
            .evidence
            .iter()
            .find(|e| e.name == "registry_entries")
            .and_then(|e| match e.value {
                Some(pb::evidence::Value::Number(n)) => Some(n),
                _ => None,
            });
        assert_eq!(entries, Some(2.0));
        assert!(
            f.evidence
                .iter()
                .any(|e| e.name == "registry_malformed_lines")
        );
        // Bad arguments are errors that say what to set.
        let missing = dir.join("missing.csv");
        let e = run(&request("1", &missing)).err().map(|e| format!("{e:?}"));
        assert!(e.is_some_and(|e| e.contains("customer_list")));
        let mut no_id = request("", &path);
        no_id.args.remove("customer_id");
        assert!(run(&no_id).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
