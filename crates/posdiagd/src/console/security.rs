//! What keeps a local web page from being a way in: the `Host` allow-list
//! (DNS rebinding: Transmission's CVE-2018-5702), the same-origin check of
//! every POST (`Origin`, `Sec-Fetch-Site`), the CSRF token tied to the
//! session, the response headers (CSP without inline script,
//! `frame-ancestors 'none'`, `nosniff`, `no-referrer`), sessions in
//! HttpOnly SameSite=Strict cookies, and the rate limit on failed logins.
//! Each rule is checked before any handler runs (`http.rs`).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::HeaderMap;
use subtle::ConstantTimeEq;

use crate::auth::Tier;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "posdiag_session";
/// The remembered language switch's cookie.
pub const LANG_COOKIE: &str = "posdiag_lang";

/// The Content-Security-Policy of every answer: only the console's own
/// script and style, no inline script, no framing, forms only to itself.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The headers every answer carries, refusals included.
pub fn harden(h: &mut HeaderMap) {
    use http::header::{self, HeaderValue};
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// The names the console answers to.
#[derive(Debug, Clone)]
pub struct Hosts {
    port: u16,
    names: Vec<String>,
}

impl Hosts {
    /// The listen address, `localhost`, the loopback addresses and `extra`.
    pub fn new(listen: SocketAddr, extra: &[String]) -> Hosts {
        let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()];
        match listen.ip() {
            IpAddr::V4(a) => names.push(a.to_string()),
            IpAddr::V6(a) => names.push(format!("[{a}]")),
        }
        names.extend(extra.iter().cloned());
        names.sort();
        names.dedup();
        Hosts {
            port: listen.port(),
            names,
        }
    }

    /// Whether `host` (a `Host` header or URI authority: `name[:port]`)
    /// names this console. The port, when given, must be the console's.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        let (name, port) = match host.rsplit_once(':') {
            // `[::1]` alone has colons inside the brackets only.
            Some((n, p)) if !p.contains(']') && (!n.contains(':') || n.ends_with(']')) => {
                (n.to_owned(), Some(p.to_owned()))
            }
            _ => (host.clone(), None),
        };
        let name = name.strip_suffix('.').unwrap_or(&name);
        let port_ok = match port {
            None => self.port == 80 || self.port == 443,
            Some(p) => p.parse::<u16>().ok() == Some(self.port),
        };
        port_ok && self.names.iter().any(|n| n == name)
    }

    /// Whether `origin` (`scheme://host[:port]`) is this console.
    pub fn allows_origin(&self, origin: &str) -> bool {
        let rest = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        match rest {
            Some(authority) if !authority.contains('/') => self.allows(authority),
            _ => false,
        }
    }
}

/// Why a POST is refused before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Another site's page sent it (`Origin`, `Sec-Fetch-Site`).
    CrossSite,
    /// No session, or its CSRF token is missing or wrong.
    Token,
}

/// The same-origin rule of every POST: an `Origin` header must name this
/// console; `Origin: null` (what browsers send under `no-referrer`) counts
/// only with `Sec-Fetch-Site: same-origin`; and `Sec-Fetch-Site`, when
/// sent, may only say `same-origin` or `none` (typed by the user). A request
/// with neither header passes here: old clients and tools send neither, and
/// the CSRF token still has to match.
pub fn same_origin(headers: &HeaderMap, hosts: &Hosts) -> Result<(), Refusal> {
    let site = headers.get("sec-fetch-site").map(|s| s.as_bytes());
    if let Some(site) = site
        && !matches!(site, b"same-origin" | b"none")
    {
        return Err(Refusal::CrossSite);
    }
    if let Some(o) = headers.get(http::header::ORIGIN) {
        let ok = match o.to_str() {
            Ok("null") => site == Some(b"same-origin".as_slice()),
            Ok(o) => hosts.allows_origin(o),
            Err(_) => false,
        };
        if !ok {
            return Err(Refusal::CrossSite);
        }
    }
    Ok(())
}

/// One browser's session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The token every form of this session carries.
    pub csrf: String,
    /// Who logged in (`console:NAME` and the tier); `None` before a login.
    pub user: Option<(String, Tier)>,
    last_used: Instant,
}

/// The sessions of the console, in memory (a restart logs everyone out).
#[derive(Debug)]
pub struct Sessions {
    ttl: Duration,
    map: Mutex<HashMap<String, Session>>,
}

/// At most this many sessions; the least recently used go first.
const MAX_SESSIONS: usize = 10_000;

impl Sessions {
    /// Sessions that end after `ttl` without use.
    pub fn new(ttl: Duration) -> Sessions {
        Sessions {
            ttl,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The session `id` names, if it exists and has not expired.
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut map = self.map.lock().ok()?;
        let s = map.get_mut(id)?;
        if s.last_used.elapsed() > self.ttl {
            map.remove(id);
            return None;
        }
        s.last_used = Instant::now();
        Some(s.clone())
    }

    /// A new session without a login; returns its id.
    pub fn create(&self) -> (String, Session) {
        let id = random_hex(32);
        let s = Session {
            csrf: random_hex(32),
            user: None,
            last_used: Instant::now(),
        };
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= MAX_SESSIONS {
                let ttl = self.ttl;
                map.retain(|_, s| s.last_used.elapsed() <= ttl);
                if map.len() >= MAX_SESSIONS
                    && let Some(oldest) = map
                        .iter()
                        .min_by_key(|(_, s)| s.last_used)
                        .map(|(k, _)| k.clone())
                {
                    map.remove(&oldest);
                }
            }
            map.insert(id.clone(), s.clone());
        }
        (id, s)
    }

    /// Logs `user` in: a fresh session id and token (the old id is
    /// dropped, so a session id planted before the login is worthless).
    pub fn login(&self, old: Option<&str>, user: (String, Tier)) -> (String, Session) {
        if let (Some(old), Ok(mut map)) = (old, self.map.lock()) {
            map.remove(old);
        }
        let (id, mut s) = self.create();
        s.user = Some(user);
        if let Ok(mut map) = self.map.lock() {
            map.insert(id.clone(), s.clone());
        }
        (id, s)
    }

    /// Ends the session `id`.
    pub fn logout(&self, id: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(id);
        }
    }
}

/// Whether `presented` is the session's CSRF token (constant time).
pub fn token_matches(session: &Session, presented: &str) -> bool {
    !presented.is_empty() && bool::from(session.csrf.as_bytes().ct_eq(presented.as_bytes()))
}

/// Failed logins per address: five in a minute, then a minute's wait.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

const LOGIN_WINDOW: Duration = Duration::from_secs(60);
const LOGIN_FAILURES: u32 = 5;

impl LoginLimiter {
    /// Whether `peer` may try now.
    pub fn allowed(&self, peer: IpAddr) -> bool {
        let Ok(map) = self.failures.lock() else {
            return false;
        };
        match map.get(&peer) {
            Some((since, n)) => since.elapsed() > LOGIN_WINDOW || *n < LOGIN_FAILURES,
            None => true,
        }
    }

    /// Counts a failed login of `peer`.
    pub fn failed(&self, peer: IpAddr) {
        if let Ok(mut map) = self.failures.lock() {
            if map.len() > 4096 {
                map.retain(|_, (since, _)| since.elapsed() <= LOGIN_WINDOW);
            }
            let e = map.entry(peer).or_insert((Instant::now(), 0));
            if e.0.elapsed() > LOGIN_WINDOW {
                *e = (Instant::now(), 0);
            }
            e.1 += 1;
        }
    }

    /// Forgets `peer`'s failures after a successful login.
    pub fn succeeded(&self, peer: IpAddr) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&peer);
        }
    }
}

/// `n` random bytes as hex.
pub fn random_hex(n: usize) -> String {
    use rand::RngCore;
    let mut b = vec![0u8; n];
    rand::rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, path `/`, `Secure`
/// over HTTPS.
pub fn set_cookie(name: &str, value: &str, max_age: Option<Duration>, secure: bool) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(a) = max_age {
        c.push_str(&format!("; Max-Age={}", a.as_secs()));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// Whether `password` matches the argon2 PHC `hash`.
pub fn password_matches(hash: &str, password: &str) -> bool {
    use argon2::PasswordVerifier;
    let Ok(parsed) = argon2::PasswordHash::new(hash) else {
        return false;
    };
    argon2::Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> Hosts {
        Hosts::new(
            "127.0.0.1:8631".parse().unwrap(),
            &["store-pc.local".into()],
        )
    }

    #[test]
    fn only_the_consoles_own_names_and_port_are_answered() {
        let h = hosts();
        for ok in [
            "127.0.0.1:8631",
            "localhost:8631",
            "LOCALHOST:8631",
            "[::1]:8631",
            "store-pc.local:8631",
            "localhost.:8631",
        ] {
            assert!(h.allows(ok), "{ok}");
        }
        for bad in [
            "attacker.example:8631",
            "127.0.0.1:80",
            "localhost",
            "127.0.0.2:8631",
            "",
            "localhost:8631.evil",
            "evil.localhost:8631",
        ] {
            assert!(!h.allows(bad), "{bad}");
        }
        assert!(h.allows_origin("http://127.0.0.1:8631"));
        assert!(!h.allows_origin("http://attacker.example:8631"));
        assert!(!h.allows_origin("null"));
    }

    #[test]
    fn a_cross_site_post_is_refused() {
        let h = hosts();
        let mut m = HeaderMap::new();
        assert_eq!(same_origin(&m, &h), Ok(()));
        m.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert_eq!(same_origin(&m, &h), Err(Refusal::CrossSite));
        m.insert("sec-fetch-site", "same-origin".parse().unwrap());
        m.insert("origin", "http://evil.example".parse().unwrap());
        assert_eq!(same_origin(&m, &h), Err(Refusal::CrossSite));
        m.insert("origin", "http://localhost:8631".parse().unwrap());
        assert_eq!(same_origin(&m, &h), Ok(()));
        // Under no-referrer a browser's own POST says `Origin: null`.
        m.insert("origin", "null".parse().unwrap());
        assert_eq!(same_origin(&m, &h), Ok(()));
        m.remove("sec-fetch-site");
        assert_eq!(same_origin(&m, &h), Err(Refusal::CrossSite));
    }

    #[test]
    fn sessions_carry_their_own_token() {
        let s = Sessions::new(Duration::from_secs(60));
        let (id, sess) = s.create();
        let got = s.get(&id).unwrap();
        assert!(token_matches(&got, &sess.csrf));
        assert!(!token_matches(&got, ""));
        assert!(!token_matches(&got, "0000"));
        let (new_id, _) = s.login(Some(&id), ("console:owner".into(), Tier::Diagnose));
        assert!(s.get(&id).is_none(), "the id from before the login is void");
        assert!(s.get(&new_id).unwrap().user.is_some());
    }

    #[test]
    fn failed_logins_are_limited_per_address() {
        let l = LoginLimiter::default();
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..LOGIN_FAILURES {
            assert!(l.allowed(a));
            l.failed(a);
        }
        assert!(!l.allowed(a));
        assert!(l.allowed("127.0.0.2".parse().unwrap()));
    }

    #[test]
    fn argon2_hashes_are_verified() {
        // argon2id of "correct horse" with salt "c29tZXNhbHQ".
        use argon2::PasswordHasher;
        let salt = argon2::password_hash::SaltString::from_b64("c29tZXNhbHRzb21lc2FsdA").unwrap();
        let hash = argon2::Argon2::default()
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        assert!(password_matches(&hash, "correct horse"));
        assert!(!password_matches(&hash, "wrong"));
        assert!(!password_matches("not a hash", "x"));
        // The hash the end-to-end login test configures.
        assert!(password_matches(
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$/HetJC6LZ4lnwgLB+wJSS2a9bFu2Kq4HxwNWzoJq2qU",
            "correct horse battery"
        ));
    }
}
