//! What an allowed ad-hoc probe may reach (`[auth.probe]`): a caller with
//! the diagnose tier may probe the store's own network, not use posdiagd to
//! scan the internet or open any file it can name. A host target must be an
//! address within `networks`, a configured host, or a name in `names`; a
//! serial path must be a serial device under `/dev` (`/dev/tty*`,
//! `/dev/serial/…`, or a configured pattern) — the engine then checks it is
//! a character device of a serial class, never a block device or a file.

use std::net::IpAddr;
use std::path::{Component, Path};

use posdiag_core::Text;

use crate::config::ProbeScope;

/// Why a probe target is out of scope: the rule that refused it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutOfScope(pub Text);

/// Checks a host target (a DNS name or an IP literal) against the scope;
/// `configured` are the hosts of the configured terminals.
pub fn host<'a>(
    scope: &ProbeScope,
    configured: impl IntoIterator<Item = &'a str>,
    target: &str,
) -> Result<(), OutOfScope> {
    let target = target.trim_start_matches('[').trim_end_matches(']');
    if configured
        .into_iter()
        .any(|c| c.eq_ignore_ascii_case(target))
    {
        return Ok(());
    }
    if let Ok(ip) = target.parse::<IpAddr>() {
        if scope.networks.iter().any(|n| n.contains(&ip)) {
            return Ok(());
        }
        let nets: Vec<String> = scope.networks.iter().map(|n| n.to_string()).collect();
        return Err(OutOfScope(Text::new(
            format!(
                "{ip} is outside the networks ad-hoc probes may reach ([auth.probe] networks = [{}]) and is no configured host; add its network to [auth.probe] networks",
                nets.join(", ")
            ),
            format!(
                "{ip} 不在临时探测允许的网络内（[auth.probe] networks = [{}]），也不是已配置的主机；请把它的网络加入 [auth.probe] networks",
                nets.join(", ")
            ),
        )));
    }
    let name = target.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || scope.names.iter().any(|p| name_matches(p, &name)) {
        return Ok(());
    }
    Err(OutOfScope(Text::new(
        format!(
            "the host name {name} is neither a configured host nor in [auth.probe] names; add it (or \"*.{}\") there",
            name.split_once('.').map(|(_, d)| d).unwrap_or(&name)
        ),
        format!(
            "主机名 {name} 既不是已配置的主机，也不在 [auth.probe] names 中；请把它（或 \"*.{}\"）加入该列表",
            name.split_once('.').map(|(_, d)| d).unwrap_or(&name)
        ),
    )))
}

/// `*` matches every name; `*.example.com` every name under example.com;
/// anything else only itself.
fn name_matches(pattern: &str, name: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    if pattern == "*" {
        return true;
    }
    match pattern.strip_prefix("*.") {
        Some(domain) => name
            .strip_suffix(domain)
            .is_some_and(|rest| rest.ends_with('.') && rest.len() > 1),
        None => pattern == name,
    }
}

/// Checks a serial path: absolute, without `..`, under `/dev/tty…`,
/// `/dev/serial/…` or a configured pattern.
pub fn serial(scope: &ProbeScope, path: &Path) -> Result<(), OutOfScope> {
    let text = path.to_string_lossy();
    let plain = path.is_absolute()
        && path
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    let built_in = text
        .strip_prefix("/dev/tty")
        .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
        || text
            .strip_prefix("/dev/serial/")
            .is_some_and(|rest| !rest.is_empty());
    if plain && (built_in || scope.serial.iter().any(|p| glob(p, &text))) {
        return Ok(());
    }
    Err(OutOfScope(Text::new(
        format!(
            "{text} is not a serial device path ad-hoc probes may open (/dev/tty*, /dev/serial/…{}); add a pattern to [auth.probe] serial for other serial devices",
            extra(scope)
        ),
        format!(
            "{text} 不是临时探测允许打开的串口设备路径（/dev/tty*、/dev/serial/…{}）；其他串口设备请在 [auth.probe] serial 中添加模式",
            extra(scope)
        ),
    )))
}

fn extra(scope: &ProbeScope) -> String {
    scope.serial.iter().map(|s| format!(", {s}")).collect()
}

/// A pattern with `*` matching any run of characters other than `/`.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            let Some(rest) = text.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len())
                .filter(|&i| rest.is_char_boundary(i))
                .take_while(|&i| !rest[..i].contains('/'))
                .any(|i| glob(tail, &rest[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> ProbeScope {
        crate::config::AuthConfig::default().probe
    }

    #[test]
    fn hosts_within_the_private_networks_and_configured_ones_are_allowed() {
        let s = scope();
        host(&s, [], "127.0.0.1").unwrap();
        host(&s, [], "192.168.1.50").unwrap();
        host(&s, [], "[::1]").unwrap();
        host(&s, [], "localhost").unwrap();
        host(&s, ["acq.bank.example"], "ACQ.bank.example").unwrap();
        let e = host(&s, [], "8.8.8.8").unwrap_err();
        assert!(e.0.en.contains("[auth.probe] networks"), "{e:?}");
        let e = host(&s, [], "evil.example.com").unwrap_err();
        assert!(e.0.zh.contains("[auth.probe] names"), "{e:?}");
        let mut wide = s.clone();
        wide.names.push("*.bank.example".into());
        host(&wide, [], "h2.bank.example").unwrap();
        assert!(host(&wide, [], "bank.example").is_err());
        assert!(host(&wide, [], "evilbank.example").is_err());
    }

    #[test]
    fn only_serial_device_paths_are_allowed() {
        let mut s = scope();
        serial(&s, Path::new("/dev/ttyUSB0")).unwrap();
        serial(&s, Path::new("/dev/serial/by-id/usb-FTDI-if00")).unwrap();
        for bad in [
            "/dev/sda",
            "/etc/shadow",
            "/dev/tty/../sda",
            "/dev/ttyS0/../../etc/passwd",
            "dev/ttyS0",
            "/dev/tty",
        ] {
            let e = serial(&s, Path::new(bad)).unwrap_err();
            assert!(e.0.en.contains("[auth.probe] serial"), "{bad}: {e:?}");
        }
        s.serial.push("/dev/rfcomm*".into());
        serial(&s, Path::new("/dev/rfcomm0")).unwrap();
        assert!(serial(&s, Path::new("/dev/rfcomm0/x")).is_err());
    }
}
