//! Who is calling and what they may do.
//!
//! Each listener identifies its callers its own way: the unix socket by the
//! peer's credentials (uid, gid, pid from `SO_PEERCRED`; tiers by user and
//! group, `[auth.unix]`), loopback TCP by an optional bearer token
//! (`[[auth.token]]`, compared in constant time; without one, the
//! `loopback_tier`), mutual TLS by the client certificate (its principal:
//! URI SAN, then e-mail SAN, then CN; tiers in `[auth.tls.roles]`). One table
//! (`tiers.rs`) says what each RPC needs; `layer.rs` decides every call
//! before a handler runs, applies the per-principal limits (`limits.rs`)
//! and writes the audit trail. `scope.rs` bounds what an allowed ad-hoc
//! probe may reach.

pub mod layer;
pub mod limits;
pub mod scope;
pub mod tiers;
pub mod tls;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use posdiag_core::Text;

pub use tiers::{Cost, Tier};

use crate::config::AuthConfig;

/// How a caller was identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authn {
    /// The unix socket's peer credentials.
    UnixPeer,
    /// A client certificate over mutual TLS.
    Mtls,
    /// A bearer token on loopback TCP.
    Token,
    /// Nothing: a loopback TCP caller without a token.
    Anonymous,
    /// The web console, for the person it serves (`console/`).
    Console,
}

impl Authn {
    /// The name in logs and the audit trail.
    pub fn name(self) -> &'static str {
        match self {
            Authn::UnixPeer => "uds_peercred",
            Authn::Mtls => "mtls",
            Authn::Token => "token",
            Authn::Anonymous => "anonymous",
            Authn::Console => "console",
        }
    }
}

/// A caller as identified, with the tier it holds and why.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The principal: `unix:alice` (or `uid:1234`), the certificate's
    /// principal, the token's principal, or `loopback`.
    pub principal: String,
    /// How it was identified.
    pub authn: Authn,
    /// What it may do.
    pub tier: Tier,
    /// Why it holds that tier (for a denial's message).
    pub grant: Text,
    /// Peer credentials over the unix socket.
    pub uid: Option<u32>,
    /// The peer's group (its effective gid) over the unix socket.
    pub gid: Option<u32>,
    /// The peer's process over the unix socket.
    pub pid: Option<u32>,
    /// The peer's address over TCP, `unix` over the socket.
    pub peer: String,
    /// The client certificate (subject and serial) over mutual TLS.
    pub certificate: String,
}

impl Identity {
    /// The history's view of the caller.
    pub fn caller(&self) -> posdiag_history::Caller {
        posdiag_history::Caller {
            uid: self.uid,
            pid: self.pid,
            peer: self.peer.clone(),
            principal: self.principal.clone(),
            gid: self.gid,
            authn: self.authn.name().to_owned(),
            certificate: self.certificate.clone(),
        }
    }
}

/// Users' names and groups by uid, from the system's user database
/// (NSS), cached for a minute: the lookups can be slow (LDAP, sssd), and
/// a caller's groups rarely change.
#[derive(Debug, Default)]
pub struct UserDb {
    cache: Mutex<HashMap<u32, UserEntry>>,
}

/// When a user was looked up, its name and its groups.
type UserEntry = (Instant, Option<String>, Vec<u32>);

const USER_TTL: Duration = Duration::from_secs(60);

impl UserDb {
    /// The user's name (if the database knows the uid) and every group it
    /// is in (its primary group and `gid`, the peer's own, included).
    pub fn lookup(&self, uid: u32, gid: u32) -> (Option<String>, Vec<u32>) {
        if let Ok(cache) = self.cache.lock()
            && let Some((at, name, groups)) = cache.get(&uid)
            && at.elapsed() < USER_TTL
        {
            let mut groups = groups.clone();
            if !groups.contains(&gid) {
                groups.push(gid);
            }
            return (name.clone(), groups);
        }
        let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
            .ok()
            .flatten();
        let name = user.as_ref().map(|u| u.name.clone());
        let mut groups: Vec<u32> = user
            .as_ref()
            .and_then(|u| {
                let c = std::ffi::CString::new(u.name.clone()).ok()?;
                nix::unistd::getgrouplist(&c, u.gid).ok()
            })
            .map(|g| g.into_iter().map(|g| g.as_raw()).collect())
            .unwrap_or_default();
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() > 1024 {
                cache.clear();
            }
            cache.insert(uid, (Instant::now(), name.clone(), groups.clone()));
        }
        if !groups.contains(&gid) {
            groups.push(gid);
        }
        (name, groups)
    }
}

/// The tier of a unix-socket caller: root and the daemon's own user are
/// admin; otherwise the highest of the users and groups the config names,
/// the socket group's tier for its members, and `others_tier`.
pub fn unix_tier(
    auth: &AuthConfig,
    uid: u32,
    groups: &[u32],
    socket_gid: Option<u32>,
    own_uid: u32,
) -> (Tier, Text) {
    if uid == 0 {
        return (Tier::Admin, Text::new("root", "root 用户"));
    }
    if uid == own_uid {
        return (
            Tier::Admin,
            Text::new("the daemon's own user", "守护进程自身的用户"),
        );
    }
    let u = &auth.unix;
    let mut tier = u.others_tier;
    let mut grant = Text::new(
        "[auth.unix] others_tier (not in the socket's group, no user or group entry)",
        "[auth.unix] others_tier（不在套接字所属组中，也没有用户或组条目）",
    );
    if let Some(g) = socket_gid
        && groups.contains(&g)
        && u.socket_group_tier > tier
    {
        tier = u.socket_group_tier;
        grant = Text::new(
            format!("member of the socket's group (gid {g}): [auth.unix] socket_group_tier"),
            format!("属于套接字所属组（gid {g}）：[auth.unix] socket_group_tier"),
        );
    }
    for &(gid, t) in &u.groups {
        if groups.contains(&gid) && t > tier {
            tier = t;
            grant = Text::new(
                format!("member of group {gid}, which [auth.unix] names"),
                format!("属于 [auth.unix] 中列出的组 {gid}"),
            );
        }
    }
    for &(id, t) in &u.users {
        if id == uid && t > tier {
            tier = t;
            grant = Text::new("named in [auth.unix] users", "在 [auth.unix] 用户列表中");
        }
    }
    (tier, grant)
}

/// The token whose secret is `presented`, compared in constant time with
/// each configured one (every token is compared, whichever matches).
pub fn token<'a>(auth: &'a AuthConfig, presented: &[u8]) -> Option<&'a crate::config::TokenAuth> {
    use subtle::ConstantTimeEq;
    // Hashing first makes every comparison the same length, so not even
    // the secret's length leaks through timing.
    let digest = |b: &[u8]| ring::digest::digest(&ring::digest::SHA256, b);
    let p = digest(presented);
    let mut found = None;
    for t in &auth.tokens {
        let s = digest(&t.secret);
        if bool::from(p.as_ref().ct_eq(s.as_ref())) {
            found = Some(t);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AuthConfig {
        let mut a = AuthConfig::default();
        a.unix.users.push((1001, Tier::Admin));
        a.unix.groups.push((2000, Tier::Read));
        a.unix.others_tier = Tier::None;
        a
    }

    #[test]
    fn unix_callers_get_the_highest_tier_that_applies() {
        let a = config();
        assert_eq!(unix_tier(&a, 0, &[0], Some(50), 999).0, Tier::Admin);
        assert_eq!(unix_tier(&a, 999, &[999], Some(50), 999).0, Tier::Admin);
        assert_eq!(unix_tier(&a, 1001, &[1001], Some(50), 999).0, Tier::Admin);
        // The socket's group: diagnose by default, even with a lower group entry.
        assert_eq!(
            unix_tier(&a, 1002, &[1002, 50, 2000], Some(50), 999).0,
            Tier::Diagnose
        );
        assert_eq!(unix_tier(&a, 1003, &[2000], Some(50), 999).0, Tier::Read);
        let (tier, why) = unix_tier(&a, 1004, &[1004], Some(50), 999);
        assert_eq!(tier, Tier::None);
        assert!(why.en.contains("others_tier"), "{why:?}");
    }

    #[test]
    fn a_token_matches_only_its_own_secret() {
        let mut a = AuthConfig::default();
        for (p, s) in [
            ("pos-app", "0123456789abcdef0123"),
            ("kiosk", "fedcba9876543210fedc"),
        ] {
            a.tokens.push(crate::config::TokenAuth {
                principal: p.into(),
                tier: Tier::Read,
                secret: s.as_bytes().into(),
            });
        }
        assert_eq!(
            token(&a, b"fedcba9876543210fedc").map(|t| t.principal.as_str()),
            Some("kiosk")
        );
        assert!(token(&a, b"fedcba9876543210fed").is_none());
        assert!(token(&a, b"").is_none());
        // The secret never shows in a debug dump.
        assert!(!format!("{:?}", a.tokens[0]).contains("0123456789"));
    }
}
