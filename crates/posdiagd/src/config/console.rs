//! `[console]`: the store's web page (`console/`): where it listens, the
//! host names it answers to, and who may log in. Off unless `listen` is set.
//!
//! A console on a non-loopback address is a way into the daemon from the
//! store's network: it needs `daemon.allow_non_loopback_tcp`, `[auth.tls]`
//! (the page is then served over HTTPS with the daemon's certificate) and a
//! login (`[[console.user]]` or `[[auth.token]]`); otherwise the daemon
//! refuses to start (exit 64).

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Validator};
use crate::auth::Tier;

/// `[console]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConsole {
    listen: Option<Spanned<String>>,
    hosts: Option<Vec<Spanned<String>>>,
    session_ttl_s: Option<Spanned<u64>>,
    #[serde(default)]
    user: Vec<RawUser>,
}

/// `[[console.user]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUser {
    name: Spanned<String>,
    password_hash: Spanned<String>,
    tier: Option<Spanned<String>>,
}

/// A person who may log in to the console.
#[derive(Clone, PartialEq, Eq)]
pub struct ConsoleUser {
    /// The login name (the principal is `console:NAME`).
    pub name: String,
    /// The password's argon2 hash in PHC form (`$argon2id$v=19$...`).
    pub password_hash: String,
    /// What the user may do through the console.
    pub tier: Tier,
}

impl std::fmt::Debug for ConsoleUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The hash is not a secret in the strict sense, but has no business in logs.
        f.debug_struct("ConsoleUser")
            .field("name", &self.name)
            .field("tier", &self.tier)
            .finish_non_exhaustive()
    }
}

/// The validated `[console]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsoleConfig {
    /// Where the page is served; `None`: no console.
    pub listen: Option<SocketAddr>,
    /// Host names the page answers to besides its address, `localhost`
    /// and the loopback addresses (DNS rebinding: any other `Host` header
    /// is refused before anything runs).
    pub hosts: Vec<String>,
    /// How long a login lasts without use.
    pub session_ttl: Duration,
    /// People who may log in; none: no login (loopback only).
    pub users: Vec<ConsoleUser>,
}

impl ConsoleConfig {
    /// Whether the console asks people to log in (users or tokens configured).
    pub fn login(&self, tokens: usize) -> bool {
        !self.users.is_empty() || tokens > 0
    }
}

/// Validates `[console]`; `allow_non_loopback` is `daemon.allow_non_loopback_tcp`,
/// `has_tls` whether `[auth.tls]` is configured, `tokens` how many
/// `[[auth.token]]` there are (they log in too).
pub(super) fn validate(
    v: &Validator,
    raw: &RawConsole,
    allow_non_loopback: bool,
    has_tls: bool,
    tokens: usize,
) -> Result<ConsoleConfig, ConfigError> {
    let mut users = Vec::new();
    for u in &raw.user {
        let name = u.name.get_ref().trim();
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
        {
            return Err(v.at(
                &u.name,
                "console.user.name",
                format!(
                    "{} is not a login name; expected 1 to 64 letters, digits, '-', '_', '.' or '@'",
                    posdiag_core::quote(u.name.get_ref())
                ),
            ));
        }
        if users.iter().any(|x: &ConsoleUser| x.name == name) {
            return Err(v.at(
                &u.name,
                "console.user.name",
                format!("{name} is named twice; each [[console.user]] needs its own name"),
            ));
        }
        let hash = u.password_hash.get_ref().trim();
        if argon2::PasswordHash::new(hash).is_err() || !hash.starts_with("$argon2") {
            return Err(v.at(
                &u.password_hash,
                "console.user.password_hash",
                "is not an argon2 hash; expected the PHC string \"$argon2id$v=19$m=...,t=...,p=...$SALT$HASH\" (make one with: printf %s PASSWORD | argon2 SALT16CHARACTERS -id -e)",
            ));
        }
        let tier = match &u.tier {
            None => Tier::Diagnose,
            Some(t) => Tier::parse(t.get_ref()).ok_or_else(|| {
                v.at(
                    t,
                    "console.user.tier",
                    format!(
                        "{} is not a tier; expected \"read\", \"diagnose\" or \"admin\"",
                        posdiag_core::quote(t.get_ref())
                    ),
                )
            })?,
        };
        users.push(ConsoleUser {
            name: name.to_owned(),
            password_hash: hash.to_owned(),
            tier,
        });
    }
    let mut hosts = Vec::new();
    for h in raw.hosts.iter().flatten() {
        let name = h.get_ref().trim().to_ascii_lowercase();
        let ok = !name.is_empty()
            && name.len() <= 253
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !ok {
            return Err(v.at(
                h,
                "console.hosts",
                format!(
                    "{} is not a host name; expected a DNS name such as \"store-pc.local\" (no port, no scheme)",
                    posdiag_core::quote(h.get_ref())
                ),
            ));
        }
        hosts.push(name);
    }
    let ttl = v.range_u64(
        &raw.session_ttl_s,
        "console.session_ttl_s",
        60,
        86_400,
        8 * 3600,
    )?;
    let listen = match &raw.listen {
        None => None,
        Some(l) => {
            let text = l.get_ref().trim();
            let text = text.strip_prefix("http://").unwrap_or(text);
            let addr: SocketAddr = text.parse().map_err(|_| {
                v.at(
                    l,
                    "console.listen",
                    format!(
                        "{} is not an address; expected ADDR:PORT, for example \"127.0.0.1:8631\"",
                        posdiag_core::quote(l.get_ref())
                    ),
                )
            })?;
            if !addr.ip().is_loopback() {
                let login = !users.is_empty() || tokens > 0;
                let mut missing = Vec::new();
                if !allow_non_loopback {
                    missing.push("daemon.allow_non_loopback_tcp = true");
                }
                if !has_tls {
                    missing
                        .push("[auth.tls] (the page is served over HTTPS with its cert and key)");
                }
                if !login {
                    missing.push(
                        "a login: [[console.user]] with an argon2 password_hash, or [[auth.token]]",
                    );
                }
                if !missing.is_empty() {
                    return Err(v.at(
                        l,
                        "console.listen",
                        format!(
                            "{addr} is not a loopback address; a console other machines can reach needs {}; or listen on 127.0.0.1:PORT",
                            missing.join(", ")
                        ),
                    ));
                }
            }
            Some(addr)
        }
    };
    Ok(ConsoleConfig {
        listen,
        hosts,
        session_ttl: Duration::from_secs(ttl),
        users,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn parse(text: &str) -> Result<crate::Config, crate::ConfigError> {
        crate::config::parse(text, "posdiagd.toml", Path::new("."))
    }

    #[test]
    fn the_console_is_off_unless_it_listens() {
        let c = parse("").unwrap();
        assert_eq!(c.console.listen, None);
        let c = parse("[console]\nlisten = \"127.0.0.1:8631\"\nhosts = [\"Store-PC.local\"]\n")
            .unwrap();
        assert_eq!(c.console.listen, Some("127.0.0.1:8631".parse().unwrap()));
        assert_eq!(c.console.hosts, ["store-pc.local"]);
    }

    #[test]
    fn beyond_loopback_it_needs_tls_and_a_login() {
        let e = parse("[console]\nlisten = \"0.0.0.0:8631\"\n").unwrap_err();
        assert_eq!(e.key, "console.listen");
        assert_eq!((e.line, e.column), (Some(2), Some(10)));
        assert!(e.message.contains("allow_non_loopback_tcp"), "{e}");
        assert!(e.message.contains("[auth.tls]"), "{e}");
        assert!(e.message.contains("[[console.user]]"), "{e}");
    }

    #[test]
    fn bad_values_are_located() {
        for (text, key) in [
            ("[console]\nlisten = \"localhost\"\n", "console.listen"),
            ("[console]\nhosts = [\"http://x\"]\n", "console.hosts"),
            (
                "[[console.user]]\nname = \"owner\"\npassword_hash = \"secret\"\n",
                "console.user.password_hash",
            ),
            (
                "[[console.user]]\nname = \"a b\"\npassword_hash = \"x\"\n",
                "console.user.name",
            ),
            ("[console]\nsession_ttl_s = 5\n", "console.session_ttl_s"),
            ("[console]\nport = 1\n", "console.port"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.key, key, "{text}: {e}");
            assert!(e.line.is_some(), "{e}");
        }
        let ok = "[[console.user]]\nname = \"owner\"\npassword_hash = \"$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2nISFPX1kv9l4ZcSsdWr1aVvBchoDG4hPvYSzTzlZ4I\"\ntier = \"read\"\n";
        let c = parse(ok).unwrap();
        assert_eq!(c.console.users[0].tier, crate::auth::Tier::Read);
        assert!(!format!("{:?}", c.console.users[0]).contains("argon2id"));
    }
}
