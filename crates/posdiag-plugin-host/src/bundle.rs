//! Plugin bundles: a directory holding `manifest.toml` and the plugin's
//! library. This module reads manifests (two stages: serde, then validation
//! with messages that name the key), applies the loading policy (only bundles
//! owned by root or the service user and not writable by others, optionally
//! only libraries whose SHA-256 is pinned), and matches devices to plugins
//! from manifests alone, most specific match first: no vendor code runs to
//! decide who owns a device.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

/// The ABI string every manifest must declare.
pub const ABI_V1: &str = "posdiag-c-v1";

/// How calls into one plugin may overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrency {
    /// One call at a time for the whole plugin (one host process).
    Serialize,
    /// One call at a time per device (one host process per device).
    PerDevice,
    /// Calls may overlap.
    ThreadSafe,
}

impl Concurrency {
    /// The manifest spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Concurrency::Serialize => "serialize",
            Concurrency::PerDevice => "per_device",
            Concurrency::ThreadSafe => "thread_safe",
        }
    }
}

/// Which devices a plugin claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceMatch {
    /// A USB device: vendor id and, optionally, product id.
    Usb {
        /// Vendor id.
        vid: u16,
        /// Product id; `None` claims every product of the vendor.
        pid: Option<u16>,
    },
    /// A terminal reached over TCP on this port.
    TcpPort(u16),
    /// A terminal whose configured model is this (case-insensitive).
    Model(String),
}

impl DeviceMatch {
    /// Higher is more specific: USB VID:PID, then model, then USB vendor, then TCP port.
    fn specificity(&self) -> u8 {
        match self {
            DeviceMatch::Usb { pid: Some(_), .. } => 4,
            DeviceMatch::Model(_) => 3,
            DeviceMatch::Usb { pid: None, .. } => 2,
            DeviceMatch::TcpPort(_) => 1,
        }
    }
}

impl fmt::Display for DeviceMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceMatch::Usb { vid, pid: Some(p) } => write!(f, "usb {vid:04x}:{p:04x}"),
            DeviceMatch::Usb { vid, pid: None } => write!(f, "usb {vid:04x}:*"),
            DeviceMatch::TcpPort(p) => write!(f, "tcp port {p}"),
            DeviceMatch::Model(m) => write!(f, "model {m:?}"),
        }
    }
}

/// A validated manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Plugin id, `[a-z0-9._-]+`.
    pub id: String,
    /// Who ships it.
    pub vendor: String,
    /// Its version.
    pub version: String,
    /// Always [`ABI_V1`] for now.
    pub abi: String,
    /// The library, relative to the bundle directory.
    pub library: PathBuf,
    /// The check ids it offers.
    pub checks: Vec<String>,
    /// Checks run only when asked for by name, never in scheduled or
    /// "all checks" runs: interactive ones (a read-card test asks someone to
    /// present a card) or ones that disturb the terminal.
    pub on_demand: Vec<String>,
    /// How calls may overlap.
    pub concurrency: Concurrency,
    /// Deadline of a check when the request names none, in milliseconds.
    pub default_timeout_ms: u32,
    /// Vendor code tables it ships, relative to the bundle directory.
    pub code_tables: Vec<PathBuf>,
    /// Devices it claims.
    pub matches: Vec<DeviceMatch>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    id: String,
    #[serde(default)]
    vendor: String,
    version: String,
    abi: String,
    library: String,
    #[serde(default)]
    checks: Vec<String>,
    #[serde(default)]
    on_demand: Vec<String>,
    concurrency: Option<String>,
    default_timeout_ms: Option<u32>,
    #[serde(default)]
    code_tables: Vec<String>,
    #[serde(default, rename = "match")]
    matches: Vec<RawMatch>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    usb: Option<String>,
    tcp_port: Option<u16>,
    model: Option<String>,
}

/// A manifest or bundle that cannot be used, with the reason for a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {reason}", dir.display())]
pub struct Refusal {
    /// The bundle directory.
    pub dir: PathBuf,
    /// The plugin id, when the manifest got that far.
    pub id: Option<String>,
    /// What is wrong and what to do.
    pub reason: String,
}

/// A bundle the policy accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The bundle directory.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// The library's absolute path.
    pub library: PathBuf,
    /// The library's SHA-256, lowercase hex.
    pub sha256: String,
}

/// Which bundles may be loaded.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Owners allowed besides root (the service user's uid).
    pub owners: Vec<u32>,
    /// Plugin id → the SHA-256 its library must have.
    pub pins: BTreeMap<String, String>,
    /// Refuse bundles without a pin.
    pub require_pins: bool,
}

impl Policy {
    /// Root and the user this process runs as may own bundles.
    pub fn for_this_process() -> Policy {
        let mut owners = Vec::new();
        if let Ok(m) = std::fs::metadata("/proc/self") {
            owners.push(m.uid());
        }
        Policy {
            owners,
            ..Policy::default()
        }
    }
}

/// Parses and validates a manifest's text; `origin` names it in messages.
pub fn parse_manifest(text: &str) -> Result<Manifest, String> {
    let raw: RawManifest = toml::from_str(text).map_err(|e| {
        let msg = e.message().to_owned();
        match e.span() {
            Some(span) => {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                format!("line {line}: {msg}")
            }
            None => msg,
        }
    })?;
    let id_ok = !raw.id.is_empty()
        && raw
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !id_ok {
        return Err(format!(
            "id: {:?} is not a plugin id; expected lowercase letters, digits, '.', '_' or '-', e.g. \"acme.zvt\"",
            raw.id
        ));
    }
    if raw.version.trim().is_empty() {
        return Err("version: is empty; expected e.g. \"1.0.0\"".into());
    }
    if raw.abi != ABI_V1 {
        return Err(format!(
            "abi: {:?} is not supported; this posdiag loads {ABI_V1:?} plugins",
            raw.abi
        ));
    }
    let library = relative_path("library", &raw.library)?;
    let mut code_tables = Vec::new();
    for t in &raw.code_tables {
        code_tables.push(relative_path("code_tables", t)?);
    }
    let concurrency = match raw.concurrency.as_deref() {
        None | Some("serialize") => Concurrency::Serialize,
        Some("per_device") => Concurrency::PerDevice,
        Some("thread_safe") => Concurrency::ThreadSafe,
        Some(other) => {
            return Err(format!(
                "concurrency: {other:?} is not one of \"serialize\", \"per_device\", \"thread_safe\""
            ));
        }
    };
    let default_timeout_ms = raw.default_timeout_ms.unwrap_or(10_000);
    if !(100..=600_000).contains(&default_timeout_ms) {
        return Err(format!(
            "default_timeout_ms: {default_timeout_ms} is out of range; expected 100 to 600000"
        ));
    }
    for c in &raw.checks {
        if c.is_empty() || c.contains(char::is_whitespace) {
            return Err(format!(
                "checks: {c:?} is not a check id, e.g. \"terminal.status\""
            ));
        }
    }
    if let Some(c) = raw.on_demand.iter().find(|c| !raw.checks.contains(c)) {
        return Err(format!(
            "on_demand: {c:?} is not one of the plugin's checks; list it in `checks` too"
        ));
    }
    let mut matches = Vec::new();
    for (i, m) in raw.matches.iter().enumerate() {
        let set = [m.usb.is_some(), m.tcp_port.is_some(), m.model.is_some()];
        if set.iter().filter(|s| **s).count() != 1 {
            return Err(format!(
                "match[{i}]: give exactly one of usb = \"VID[:PID]\", tcp_port = N or model = \"NAME\""
            ));
        }
        if let Some(u) = &m.usb {
            let hex = |s: &str| u16::from_str_radix(s, 16).ok().filter(|_| s.len() == 4);
            let parsed = match u.split_once(':') {
                Some((v, p)) => hex(v).zip(hex(p)).map(|(vid, pid)| DeviceMatch::Usb {
                    vid,
                    pid: Some(pid),
                }),
                None => hex(u).map(|vid| DeviceMatch::Usb { vid, pid: None }),
            };
            matches.push(parsed.ok_or_else(|| {
                format!("match[{i}].usb: {u:?} is not VID[:PID] in hex, e.g. \"0403:6001\"")
            })?);
        }
        if let Some(p) = m.tcp_port {
            if p == 0 {
                return Err(format!("match[{i}].tcp_port: 0 is not a port"));
            }
            matches.push(DeviceMatch::TcpPort(p));
        }
        if let Some(model) = &m.model {
            matches.push(DeviceMatch::Model(model.clone()));
        }
    }
    Ok(Manifest {
        id: raw.id,
        vendor: raw.vendor,
        version: raw.version,
        abi: raw.abi,
        library,
        checks: raw.checks,
        on_demand: raw.on_demand,
        concurrency,
        default_timeout_ms,
        code_tables,
        matches,
    })
}

/// A path that must stay inside the bundle.
fn relative_path(key: &str, p: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(p);
    let inside = !p.is_empty()
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if inside {
        Ok(path)
    } else {
        Err(format!(
            "{key}: {p:?} must be a path inside the bundle directory (no '/' at the start, no '..')"
        ))
    }
}

/// Refuses `path` unless root or an allowed user owns it and neither its
/// group nor others may write it.
fn check_owner(path: &Path, policy: &Policy) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.uid() != 0 && !policy.owners.contains(&meta.uid()) {
        return Err(format!(
            "{} is owned by uid {}, not by root or the service user; chown it to root",
            path.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{} is writable by its group or by others (mode {:o}); chmod go-w it",
            path.display(),
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// SHA-256 of a plugin library, lowercase hex. The library must be a
/// regular file within [`posdiag_fs::LIBRARY`]'s limit (a FIFO would block
/// the scan, `/dev/zero` would never end).
pub fn sha256_file(path: &Path) -> Result<String, posdiag_fs::FsError> {
    let (file, _) = posdiag_fs::open_regular(path, posdiag_fs::LIBRARY)?;
    let mut file = file.take(posdiag_fs::LIBRARY.max_bytes);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|source| posdiag_fs::FsError::Read { source })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Reads one bundle directory and applies the policy.
pub fn load(dir: &Path, policy: &Policy) -> Result<Bundle, Refusal> {
    let refuse = |id: Option<&str>, reason: String| Refusal {
        dir: dir.to_owned(),
        id: id.map(str::to_owned),
        reason,
    };
    check_owner(dir, policy).map_err(|r| refuse(None, r))?;
    let manifest_path = dir.join("manifest.toml");
    check_owner(&manifest_path, policy).map_err(|r| refuse(None, r))?;
    let text = posdiag_fs::read_to_string_bounded(&manifest_path, posdiag_fs::MANIFEST)
        .map_err(|e| refuse(None, format!("manifest.toml {e}")))?;
    let manifest =
        parse_manifest(&text).map_err(|r| refuse(None, format!("manifest.toml: {r}")))?;
    let id = manifest.id.clone();
    let library = dir.join(&manifest.library);
    // Every directory between the bundle and the library, and the library
    // itself, must pass too, and none may be a symlink (which could lead
    // out of the bundle to a file someone else controls).
    let mut path = dir.to_owned();
    for part in manifest.library.components() {
        path.push(part);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(refuse(
                    Some(&id),
                    format!(
                        "{} is a symlink; the library and its directories must be plain files inside the bundle",
                        path.display()
                    ),
                ));
            }
            Ok(_) => check_owner(&path, policy).map_err(|r| refuse(Some(&id), r))?,
            Err(e) => return Err(refuse(Some(&id), format!("{}: {e}", path.display()))),
        }
    }
    let sha256 = sha256_file(&library)
        .map_err(|e| refuse(Some(&id), format!("{} {e}", library.display())))?;
    match policy.pins.get(&id) {
        Some(pin) if !pin.eq_ignore_ascii_case(&sha256) => {
            return Err(refuse(
                Some(&id),
                format!(
                    "{} has SHA-256 {sha256}, not the pinned {pin}; the library changed since it was pinned",
                    library.display()
                ),
            ));
        }
        None if policy.require_pins => {
            return Err(refuse(
                Some(&id),
                format!(
                    "no SHA-256 is pinned for plugin {id:?} and pins are required; pin {sha256} after reviewing it"
                ),
            ));
        }
        _ => {}
    }
    Ok(Bundle {
        dir: dir.to_owned(),
        manifest,
        library,
        sha256,
    })
}

/// Every bundle under `dir` (each subdirectory holding a `manifest.toml`),
/// sorted by path, and the refused ones with their reasons. Two bundles with
/// the same id: the second is refused.
pub fn scan(dir: &Path, policy: &Policy) -> (Vec<Bundle>, Vec<Refusal>) {
    let mut bundles: Vec<Bundle> = Vec::new();
    let mut refused = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            refused.push(Refusal {
                dir: dir.to_owned(),
                id: None,
                reason: format!("cannot read the plugin directory: {e}"),
            });
            return (bundles, refused);
        }
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.join("manifest.toml").exists())
        .collect();
    dirs.sort();
    for d in dirs {
        match load(&d, policy) {
            Ok(b) if bundles.iter().any(|x| x.manifest.id == b.manifest.id) => {
                refused.push(Refusal {
                    dir: d,
                    id: Some(b.manifest.id.clone()),
                    reason: format!(
                        "plugin id {:?} is already provided by another bundle",
                        b.manifest.id
                    ),
                });
            }
            Ok(b) => bundles.push(b),
            Err(r) => refused.push(r),
        }
    }
    (bundles, refused)
}

/// What is known about a device when choosing its plugin.
#[derive(Debug, Clone, Default)]
pub struct DeviceFacts {
    /// USB vendor and product id, for USB devices.
    pub usb: Option<(u16, u16)>,
    /// TCP port, for terminals reached over TCP.
    pub tcp_port: Option<u16>,
    /// The configured model.
    pub model: String,
}

impl DeviceMatch {
    fn matches(&self, d: &DeviceFacts) -> bool {
        match self {
            DeviceMatch::Usb { vid, pid } => d
                .usb
                .is_some_and(|(v, p)| v == *vid && pid.is_none_or(|want| want == p)),
            DeviceMatch::TcpPort(port) => d.tcp_port == Some(*port),
            DeviceMatch::Model(m) => !d.model.is_empty() && m.eq_ignore_ascii_case(&d.model),
        }
    }
}

/// The bundles that claim a device, most specific match first (ties keep
/// directory order).
pub fn matching<'a>(bundles: &'a [Bundle], device: &DeviceFacts) -> Vec<&'a Bundle> {
    let mut found: Vec<(u8, &Bundle)> = bundles
        .iter()
        .filter_map(|b| {
            b.manifest
                .matches
                .iter()
                .filter(|m| m.matches(device))
                .map(DeviceMatch::specificity)
                .max()
                .map(|s| (s, b))
        })
        .collect();
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    found.into_iter().map(|(_, b)| b).collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    const GOOD: &str = r#"
id = "acme.zvt"
vendor = "ACME"
version = "1.2.0"
abi = "posdiag-c-v1"
library = "libacme.so"
checks = ["terminal.status", "acme.battery"]
concurrency = "per_device"
default_timeout_ms = 5000
[[match]]
usb = "0403:6001"
[[match]]
model = "Move/5000"
[[match]]
tcp_port = 20007
"#;

    fn bundle(root: &Path, name: &str, manifest: &str) -> PathBuf {
        let dir = root.join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("manifest.toml"), manifest).unwrap();
        std::fs::write(dir.join("libacme.so"), b"\x7fELF not really").unwrap();
        for p in [dir.join("manifest.toml"), dir.join("libacme.so")] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir
    }

    #[test]
    fn a_manifest_is_read_completely() {
        let m = parse_manifest(GOOD).unwrap();
        assert_eq!(m.id, "acme.zvt");
        assert_eq!(m.concurrency, Concurrency::PerDevice);
        assert_eq!(
            m.matches,
            [
                DeviceMatch::Usb {
                    vid: 0x0403,
                    pid: Some(0x6001)
                },
                DeviceMatch::Model("Move/5000".into()),
                DeviceMatch::TcpPort(20007)
            ]
        );
    }

    #[test]
    fn bad_manifests_name_the_key_and_the_fix() {
        for (text, want) in [
            (
                GOOD.replace("posdiag-c-v1", "posdiag-c-v2"),
                "abi: \"posdiag-c-v2\" is not supported",
            ),
            (
                GOOD.replace("libacme.so", "../libacme.so"),
                "library: \"../libacme.so\" must be a path inside",
            ),
            (
                GOOD.replace("acme.zvt", "ACME ZVT"),
                "id: \"ACME ZVT\" is not a plugin id",
            ),
            (
                GOOD.replace("0403:6001", "403:6001"),
                "match[0].usb: \"403:6001\" is not VID[:PID]",
            ),
            (
                GOOD.replace("per_device", "whenever"),
                "concurrency: \"whenever\"",
            ),
            (
                format!("{GOOD}colour = \"red\"\n"),
                "unknown field `colour`",
            ),
        ] {
            let err = parse_manifest(&text).unwrap_err();
            assert!(err.contains(want), "{err} lacks {want}");
        }
    }

    #[test]
    fn the_policy_refuses_writable_bundles_and_unpinned_libraries() {
        let root = tempfile::tempdir().unwrap();
        let policy = Policy::for_this_process();
        let ok = bundle(root.path(), "a-ok", GOOD);
        let loaded = load(&ok, &policy).unwrap();
        assert_eq!(loaded.sha256.len(), 64);

        let writable = bundle(
            root.path(),
            "b-writable",
            &GOOD.replace("acme.zvt", "acme.w"),
        );
        std::fs::set_permissions(
            writable.join("libacme.so"),
            std::fs::Permissions::from_mode(0o666),
        )
        .unwrap();
        let r = load(&writable, &policy).unwrap_err();
        assert!(
            r.reason.contains("writable by its group or by others"),
            "{r}"
        );

        let mut pinned = policy.clone();
        pinned.pins.insert("acme.zvt".into(), "00".repeat(32));
        let r = load(&ok, &pinned).unwrap_err();
        assert!(r.reason.contains("not the pinned"), "{r}");
        pinned
            .pins
            .insert("acme.zvt".into(), loaded.sha256.to_uppercase());
        assert!(load(&ok, &pinned).is_ok());

        let strict = Policy {
            require_pins: true,
            ..policy.clone()
        };
        assert!(
            load(&ok, &strict)
                .unwrap_err()
                .reason
                .contains("no SHA-256 is pinned")
        );

        let stranger = Policy {
            owners: vec![],
            ..Policy::default()
        };
        if std::fs::metadata(&ok).unwrap().uid() != 0 {
            assert!(
                load(&ok, &stranger)
                    .unwrap_err()
                    .reason
                    .contains("not by root")
            );
        }

        // A library reached through a symlink is refused.
        let linked = bundle(
            root.path(),
            "d-linked",
            &GOOD.replace("acme.zvt", "acme.link"),
        );
        std::fs::remove_file(linked.join("libacme.so")).unwrap();
        std::os::unix::fs::symlink(ok.join("libacme.so"), linked.join("libacme.so")).unwrap();
        let r = load(&linked, &policy).unwrap_err();
        assert!(r.reason.contains("is a symlink"), "{r}");
        std::fs::remove_dir_all(&linked).unwrap();

        bundle(root.path(), "c-duplicate", GOOD);
        let (bundles, refused) = scan(root.path(), &policy);
        assert_eq!(bundles.len(), 1);
        assert_eq!(refused.len(), 2, "{refused:?}");
        assert!(
            refused
                .iter()
                .any(|r| r.reason.contains("already provided"))
        );
    }

    /// `load` on a thread, so a read that blocks (a FIFO) fails the test
    /// instead of hanging it.
    fn load_within_deadline(dir: &Path) -> Result<Bundle, Refusal> {
        let dir = dir.to_owned();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(load(&dir, &Policy::for_this_process()));
        });
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("loading the bundle blocked")
    }

    fn mkfifo(path: &Path) {
        let made = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap();
        assert!(made.success());
        // Whatever the umask, so the owner check passes and the file type is what is refused.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }

    #[test]
    fn manifests_and_libraries_must_be_small_regular_files() {
        let root = tempfile::tempdir().unwrap();
        let fifo = bundle(root.path(), "fifo", GOOD);
        std::fs::remove_file(fifo.join("manifest.toml")).unwrap();
        mkfifo(&fifo.join("manifest.toml"));
        let r = load_within_deadline(&fifo).unwrap_err();
        assert_eq!(
            r.reason,
            "manifest.toml is a FIFO (named pipe), not a regular file; expected a plugin manifest (TOML)"
        );

        let big = bundle(root.path(), "big", GOOD);
        std::fs::File::options()
            .write(true)
            .open(big.join("manifest.toml"))
            .unwrap()
            .set_len(1 << 30)
            .unwrap();
        let r = load_within_deadline(&big).unwrap_err();
        assert!(
            r.reason.starts_with(
                "manifest.toml is 1073741824 bytes (1024 MiB) or more, over the limit of 65536 bytes (64 KiB)"
            ),
            "{r}"
        );

        let lib = bundle(root.path(), "lib", GOOD);
        std::fs::remove_file(lib.join("libacme.so")).unwrap();
        mkfifo(&lib.join("libacme.so"));
        let r = load_within_deadline(&lib).unwrap_err();
        assert!(
            r.reason.ends_with(
                "libacme.so is a FIFO (named pipe), not a regular file; expected a plugin library (a shared object)"
            ),
            "{r}"
        );
    }

    #[test]
    fn the_most_specific_manifest_wins() {
        let root = tempfile::tempdir().unwrap();
        let policy = Policy::for_this_process();
        let generic = GOOD
            .replace("acme.zvt", "generic.zvt")
            .replace("usb = \"0403:6001\"", "usb = \"0403\"")
            .replace("model = \"Move/5000\"", "tcp_port = 20008");
        bundle(root.path(), "a-generic", &generic);
        bundle(root.path(), "b-acme", GOOD);
        let (bundles, _) = scan(root.path(), &policy);
        let ids = |d: &DeviceFacts| {
            matching(&bundles, d)
                .iter()
                .map(|b| b.manifest.id.clone())
                .collect::<Vec<_>>()
        };
        let usb = DeviceFacts {
            usb: Some((0x0403, 0x6001)),
            ..DeviceFacts::default()
        };
        assert_eq!(ids(&usb), ["acme.zvt", "generic.zvt"]);
        let other_product = DeviceFacts {
            usb: Some((0x0403, 0x6015)),
            ..DeviceFacts::default()
        };
        assert_eq!(ids(&other_product), ["generic.zvt"]);
        let by_model = DeviceFacts {
            model: "move/5000".into(),
            tcp_port: Some(20008),
            ..DeviceFacts::default()
        };
        assert_eq!(ids(&by_model), ["acme.zvt", "generic.zvt"]);
        assert!(ids(&DeviceFacts::default()).is_empty());
    }
}
