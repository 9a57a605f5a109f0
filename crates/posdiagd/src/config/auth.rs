//! `[auth]`, `[auth.unix]`, `[auth.tls]` (+ `roles`), `[[auth.token]]`,
//! `[auth.probe]` and `[limits]`: who may call what, how callers are
//! identified on each listener, what ad-hoc probes may reach, and the
//! per-principal limits of the expensive calls. Files (certificates, key,
//! tokens) are read here, so a bad one refuses the file (or the reload)
//! with its location, and the listeners never start half-configured.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Validator};
use crate::auth::Tier;

/// `[auth]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuth {
    mode: Option<Spanned<String>>,
    loopback_tier: Option<Spanned<String>>,
    #[serde(default)]
    unix: RawUnix,
    tls: Option<Spanned<RawTls>>,
    #[serde(default)]
    token: Vec<Spanned<RawToken>>,
    #[serde(default)]
    probe: RawProbe,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawUnix {
    #[serde(default)]
    admin_users: Vec<Spanned<String>>,
    #[serde(default)]
    admin_groups: Vec<Spanned<String>>,
    #[serde(default)]
    diagnose_users: Vec<Spanned<String>>,
    #[serde(default)]
    diagnose_groups: Vec<Spanned<String>>,
    #[serde(default)]
    read_users: Vec<Spanned<String>>,
    #[serde(default)]
    read_groups: Vec<Spanned<String>>,
    socket_group_tier: Option<Spanned<String>>,
    others_tier: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Option<Spanned<String>>,
    key: Option<Spanned<String>>,
    client_ca: Option<Spanned<String>>,
    #[serde(default)]
    roles: BTreeMap<String, Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    file: Spanned<String>,
    principal: Spanned<String>,
    tier: Spanned<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawProbe {
    networks: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    names: Vec<Spanned<String>>,
    #[serde(default)]
    serial: Vec<Spanned<String>>,
}

/// `[limits]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    concurrent_per_principal: Option<Spanned<u32>>,
    calls_per_minute: Option<Spanned<u32>>,
    max_message_bytes: Option<Spanned<u64>>,
    stream_idle_timeout_s: Option<Spanned<u64>>,
    max_connections: Option<Spanned<u32>>,
}

/// Whether denials are enforced or only recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Denied calls are refused (the default).
    Enforce,
    /// Denied calls run, and are recorded as "would be denied": a site
    /// rolls a policy out by reading the audit trail first.
    AuditOnly,
}

/// Tiers of unix-socket callers by uid and group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixAuth {
    /// `(uid, tier)` for users named in the config.
    pub users: Vec<(u32, Tier)>,
    /// `(gid, tier)` for groups named in the config.
    pub groups: Vec<(u32, Tier)>,
    /// The tier of members of the socket file's group.
    pub socket_group_tier: Tier,
    /// The tier of anyone else the socket's mode lets connect.
    pub others_tier: Tier,
}

/// Mutual TLS: the server's certificate, the client CA, principals' roles.
#[derive(Debug, Clone)]
pub struct TlsAuth {
    /// The rustls server configuration (client certificates required and
    /// verified against the client CA).
    pub server: Arc<rustls::ServerConfig>,
    /// The same certificate and key without client certificates, for the
    /// web console over HTTPS (`[console]` beyond loopback).
    pub web: Arc<rustls::ServerConfig>,
    /// Principal → tier.
    pub roles: BTreeMap<String, Tier>,
    /// The certificate's file, for messages.
    pub cert_file: String,
}

impl PartialEq for TlsAuth {
    fn eq(&self, other: &TlsAuth) -> bool {
        // Two configs with the same files are the same; the reload compares
        // for "changed", and certificates reload on every SIGHUP anyway.
        self.roles == other.roles && self.cert_file == other.cert_file
    }
}

/// A bearer token accepted on loopback TCP.
#[derive(Clone)]
pub struct TokenAuth {
    /// Who presents it.
    pub principal: String,
    /// What it may do.
    pub tier: Tier,
    /// The secret, as read from the file (surrounding whitespace removed).
    pub secret: Arc<[u8]>,
}

impl std::fmt::Debug for TokenAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret, not even in a debug dump.
        f.debug_struct("TokenAuth")
            .field("principal", &self.principal)
            .field("tier", &self.tier)
            .finish_non_exhaustive()
    }
}

impl PartialEq for TokenAuth {
    fn eq(&self, other: &TokenAuth) -> bool {
        self.principal == other.principal && self.tier == other.tier && self.secret == other.secret
    }
}

/// What ad-hoc probes (`Probe`, `ProbeLink`) may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeScope {
    /// Host targets given as IP addresses must be in one of these.
    pub networks: Vec<IpNet>,
    /// Host names allowed besides the configured hosts' (`*.example.com`
    /// allows every name under example.com).
    pub names: Vec<String>,
    /// Serial paths allowed besides `/dev/tty[A-Z]*` and `/dev/serial/…`
    /// (glob: a trailing `*` matches any rest).
    pub serial: Vec<String>,
}

/// The default networks: loopback and the private ranges (RFC 1918, RFC
/// 4193 unique local, link-local).
pub const DEFAULT_NETWORKS: &[&str] = &[
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "fc00::/7",
    "fe80::/10",
];

/// Per-principal limits and transport bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Expensive calls one principal may have running at once.
    pub concurrent: u32,
    /// Expensive calls one principal may start per minute.
    pub per_minute: u32,
    /// Largest request message, in bytes.
    pub max_message_bytes: usize,
    /// A client stream that sends nothing for this long is ended.
    pub stream_idle: Duration,
    /// Connections served at once per listener.
    pub max_connections: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            concurrent: 8,
            per_minute: 120,
            max_message_bytes: 4 * 1024 * 1024,
            stream_idle: Duration::from_secs(300),
            max_connections: 256,
        }
    }
}

/// The validated `[auth]` and `[limits]`.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthConfig {
    /// Enforce or only record.
    pub mode: AuthMode,
    /// The tier of loopback TCP callers without a token.
    pub loopback_tier: Tier,
    /// Unix socket callers.
    pub unix: UnixAuth,
    /// Mutual TLS, when configured.
    pub tls: Option<TlsAuth>,
    /// Bearer tokens for loopback TCP.
    pub tokens: Vec<TokenAuth>,
    /// What ad-hoc probes may reach.
    pub probe: ProbeScope,
    /// Limits.
    pub limits: Limits,
}

impl Default for AuthConfig {
    fn default() -> AuthConfig {
        AuthConfig {
            mode: AuthMode::Enforce,
            loopback_tier: Tier::Read,
            unix: UnixAuth {
                users: Vec::new(),
                groups: Vec::new(),
                socket_group_tier: Tier::Diagnose,
                others_tier: Tier::Read,
            },
            tls: None,
            tokens: Vec::new(),
            probe: ProbeScope {
                networks: DEFAULT_NETWORKS
                    .iter()
                    .filter_map(|n| n.parse().ok())
                    .collect(),
                names: Vec::new(),
                serial: Vec::new(),
            },
            limits: Limits::default(),
        }
    }
}

fn tier(v: &Validator, s: &Spanned<String>, key: &str) -> Result<Tier, ConfigError> {
    Tier::parse(s.get_ref()).ok_or_else(|| {
        v.at(
            s,
            key,
            format!(
                "{} is not a tier; expected \"read\", \"diagnose\" or \"admin\" (or \"none\")",
                posdiag_core::quote(s.get_ref())
            ),
        )
    })
}

/// A user by name (from the system's user database) or by number.
fn uid(v: &Validator, s: &Spanned<String>, key: &str) -> Result<u32, ConfigError> {
    if let Ok(n) = s.get_ref().parse::<u32>() {
        return Ok(n);
    }
    match nix::unistd::User::from_name(s.get_ref()) {
        Ok(Some(u)) => Ok(u.uid.as_raw()),
        _ => Err(v.at(
            s,
            key,
            format!(
                "no user {} on this system; expected a user name (getent passwd NAME finds it) or a numeric uid",
                posdiag_core::quote(s.get_ref())
            ),
        )),
    }
}

fn gid(v: &Validator, s: &Spanned<String>, key: &str) -> Result<u32, ConfigError> {
    if let Ok(n) = s.get_ref().parse::<u32>() {
        return Ok(n);
    }
    match nix::unistd::Group::from_name(s.get_ref()) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        _ => Err(v.at(
            s,
            key,
            format!(
                "no group {} on this system; expected a group name (getent group NAME finds it) or a numeric gid",
                posdiag_core::quote(s.get_ref())
            ),
        )),
    }
}

/// Validates `[auth]` and `[limits]`; relative file names are taken from
/// `base`.
pub(super) fn validate(
    v: &Validator,
    raw: &RawAuth,
    limits: &RawLimits,
    base: &Path,
) -> Result<AuthConfig, ConfigError> {
    let mut out = AuthConfig::default();
    if let Some(m) = &raw.mode {
        out.mode = match m.get_ref().as_str() {
            "enforce" => AuthMode::Enforce,
            "audit" => AuthMode::AuditOnly,
            other => {
                return Err(v.at(
                    m,
                    "auth.mode",
                    format!(
                        "{} is not a mode; expected \"enforce\" (deny what a caller's tier does not allow) or \"audit\" (allow everything, record what would be denied)",
                        posdiag_core::quote(other)
                    ),
                ));
            }
        };
        if out.mode == AuthMode::AuditOnly {
            v.warn(
                Some(m.span()),
                "auth.mode",
                "\"audit\": nothing is denied, calls that the policy would deny are only recorded (posdiag audit --decision would-deny); set \"enforce\" once the audit trail shows no surprise",
            );
        }
    }
    if let Some(t) = &raw.loopback_tier {
        out.loopback_tier = tier(v, t, "auth.loopback_tier")?;
    }
    let u = &raw.unix;
    for (list, t, key) in [
        (&u.admin_users, Tier::Admin, "auth.unix.admin_users"),
        (
            &u.diagnose_users,
            Tier::Diagnose,
            "auth.unix.diagnose_users",
        ),
        (&u.read_users, Tier::Read, "auth.unix.read_users"),
    ] {
        for name in list {
            out.unix.users.push((uid(v, name, key)?, t));
        }
    }
    for (list, t, key) in [
        (&u.admin_groups, Tier::Admin, "auth.unix.admin_groups"),
        (
            &u.diagnose_groups,
            Tier::Diagnose,
            "auth.unix.diagnose_groups",
        ),
        (&u.read_groups, Tier::Read, "auth.unix.read_groups"),
    ] {
        for name in list {
            out.unix.groups.push((gid(v, name, key)?, t));
        }
    }
    if let Some(t) = &u.socket_group_tier {
        out.unix.socket_group_tier = tier(v, t, "auth.unix.socket_group_tier")?;
    }
    if let Some(t) = &u.others_tier {
        out.unix.others_tier = tier(v, t, "auth.unix.others_tier")?;
    }
    if let Some(t) = &raw.tls {
        out.tls = Some(tls(v, t, base)?);
    }
    let mut principals = std::collections::HashSet::new();
    for t in &raw.token {
        let tok = t.get_ref();
        let p = tok.principal.get_ref().trim();
        if p.is_empty() {
            return Err(v.at(
                &tok.principal,
                "auth.token.principal",
                "is empty; expected the name the token's holder is recorded under, e.g. \"pos-app\"",
            ));
        }
        if !principals.insert(p.to_owned()) {
            return Err(v.at(
                &tok.principal,
                "auth.token.principal",
                format!(
                    "{} has two tokens; give each holder its own principal",
                    posdiag_core::quote(p)
                ),
            ));
        }
        let path = base.join(tok.file.get_ref());
        let bytes = posdiag_fs::read_bounded(&path, posdiag_fs::TOKEN).map_err(|e| {
            v.at(
                &tok.file,
                "auth.token.file",
                format!("{} {e}", posdiag_core::quote(&path.display().to_string())),
            )
        })?;
        let secret = bytes.trim_ascii();
        if secret.len() < 16 || secret.iter().any(|b| !b.is_ascii_graphic()) {
            return Err(v.at(
                &tok.file,
                "auth.token.file",
                format!(
                    "{} does not hold a usable token; expected at least 16 printable characters on one line, e.g. from `openssl rand -hex 32 > {}`",
                    path.display(),
                    path.display()
                ),
            ));
        }
        {
            use std::os::unix::fs::MetadataExt;
            if let Ok(meta) = std::fs::metadata(&path)
                && meta.mode() & 0o004 != 0
            {
                v.warn(
                    Some(tok.file.span()),
                    "auth.token.file",
                    format!(
                        "{} is readable by every local user, who can then call with its tier; chmod 0640 it (owner root, group posdiag)",
                        path.display()
                    ),
                );
            }
        }
        out.tokens.push(TokenAuth {
            principal: p.to_owned(),
            tier: tier(v, &tok.tier, "auth.token.tier")?,
            secret: secret.into(),
        });
    }
    if let Some(nets) = &raw.probe.networks {
        out.probe.networks = Vec::new();
        for n in nets {
            let net = n
                .get_ref()
                .parse::<IpNet>()
                .or_else(|_| n.get_ref().parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    v.at(
                        n,
                        "auth.probe.networks",
                        format!(
                            "{} is not a network; expected an address with a prefix length, e.g. \"192.168.1.0/24\" or \"fd00::/8\"",
                            posdiag_core::quote(n.get_ref())
                        ),
                    )
                })?;
            out.probe.networks.push(net);
        }
    }
    for n in &raw.probe.names {
        let name = n.get_ref().trim().to_ascii_lowercase();
        let bare = name.strip_prefix("*.").unwrap_or(&name);
        if bare.is_empty()
            || bare.contains('*')
            || !bare
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(v.at(
                n,
                "auth.probe.names",
                format!(
                    "{} is not a host name or pattern; expected e.g. \"acquirer.example.com\" or \"*.example.com\"",
                    posdiag_core::quote(n.get_ref())
                ),
            ));
        }
        out.probe.names.push(name);
    }
    for s in &raw.probe.serial {
        let p = s.get_ref();
        let stem = p.strip_suffix('*').unwrap_or(p);
        if !stem.starts_with("/dev/") || stem.contains('*') || stem.contains("/../") {
            return Err(v.at(
                s,
                "auth.probe.serial",
                format!(
                    "{} is not a device path pattern; expected a path under /dev, optionally ending in *, e.g. \"/dev/pts/*\"",
                    posdiag_core::quote(p)
                ),
            ));
        }
        out.probe.serial.push(p.clone());
    }
    let l = &mut out.limits;
    l.concurrent = v.range_u32(
        &limits.concurrent_per_principal,
        "limits.concurrent_per_principal",
        1,
        1024,
        l.concurrent,
    )?;
    l.per_minute = v.range_u32(
        &limits.calls_per_minute,
        "limits.calls_per_minute",
        1,
        100_000,
        l.per_minute,
    )?;
    l.max_message_bytes = v.range_u64(
        &limits.max_message_bytes,
        "limits.max_message_bytes",
        4096,
        64 * 1024 * 1024,
        l.max_message_bytes as u64,
    )? as usize;
    l.stream_idle = Duration::from_secs(v.range_u64(
        &limits.stream_idle_timeout_s,
        "limits.stream_idle_timeout_s",
        1,
        86_400,
        l.stream_idle.as_secs(),
    )?);
    l.max_connections = v.range_u32(
        &limits.max_connections,
        "limits.max_connections",
        1,
        65_536,
        l.max_connections,
    )?;
    Ok(out)
}

fn tls(v: &Validator, t: &Spanned<RawTls>, base: &Path) -> Result<TlsAuth, ConfigError> {
    let raw = t.get_ref();
    let need = |f: &Option<Spanned<String>>, key: &str, what: &str| {
        f.clone().ok_or_else(|| {
            v.at(
                t,
                key,
                format!("is missing; mutual TLS needs the server's certificate, its key and the CA that issues client certificates ({what})"),
            )
        })
    };
    let cert = need(
        &raw.cert,
        "auth.tls.cert",
        "cert = \"/etc/posdiag/tls/server.pem\"",
    )?;
    let key = need(
        &raw.key,
        "auth.tls.key",
        "key = \"/etc/posdiag/tls/server.key\"",
    )?;
    let ca = need(
        &raw.client_ca,
        "auth.tls.client_ca",
        "client_ca = \"/etc/posdiag/tls/helpdesk-ca.pem\"",
    )?;
    let read = |f: &Spanned<String>, key: &str, limit| {
        let path = base.join(f.get_ref());
        posdiag_fs::read_bounded(&path, limit)
            .map(|b| (path.clone(), b))
            .map_err(|e| {
                v.at(
                    f,
                    key,
                    format!("{} {e}", posdiag_core::quote(&path.display().to_string())),
                )
            })
    };
    let (cert_path, cert_pem) = read(&cert, "auth.tls.cert", posdiag_fs::CERTIFICATES)?;
    let (key_path, key_pem) = read(&key, "auth.tls.key", posdiag_fs::PRIVATE_KEY)?;
    let (ca_path, ca_pem) = read(&ca, "auth.tls.client_ca", posdiag_fs::CERTIFICATES)?;
    let certs = |pem: &[u8], f: &Spanned<String>, key: &str, path: &Path| {
        let certs = super::hosts::pem_certificates(pem).map_err(|problem| {
            v.at(
                f,
                key,
                format!(
                    "{} holds a malformed PEM certificate: {problem}",
                    path.display()
                ),
            )
        })?;
        if certs.is_empty() {
            return Err(v.at(
                f,
                key,
                format!(
                    "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                    path.display()
                ),
            ));
        }
        Ok(certs)
    };
    let chain = certs(&cert_pem, &cert, "auth.tls.cert", &cert_path)?;
    let roots = certs(&ca_pem, &ca, "auth.tls.client_ca", &ca_path)?;
    let private = {
        use rustls_pki_types::PrivateKeyDer;
        use rustls_pki_types::pem::PemObject;
        PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
            v.at(
                &key,
                "auth.tls.key",
                format!(
                    "{} holds no usable PEM private key ({e}); expected a PKCS#8, PKCS#1 (RSA) or SEC1 (EC) key, unencrypted",
                    key_path.display()
                ),
            )
        })?
    };
    // The web console, when it listens beyond loopback, is served over
    // HTTPS with the same identity (browsers bring no client certificate).
    let web = crate::auth::tls::web_server_config(chain.clone(), private.clone_key())
        .map_err(|problem| v.at(t, "auth.tls", problem))?;
    let server = crate::auth::tls::server_config(chain, private, roots).map_err(|problem| {
        v.at(
            t,
            "auth.tls",
            format!(
                "{} and {} cannot serve TLS: {problem}",
                cert_path.display(),
                key_path.display()
            ),
        )
    })?;
    let mut roles = BTreeMap::new();
    for (principal, t) in &raw.roles {
        roles.insert(principal.clone(), tier(v, t, "auth.tls.roles")?);
    }
    Ok(TlsAuth {
        server,
        web,
        roles,
        cert_file: cert_path.display().to_string(),
    })
}
