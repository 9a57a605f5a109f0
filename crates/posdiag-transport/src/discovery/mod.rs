//! Serial port discovery from sysfs, /dev and /proc, without libudev.
//!
//! The roots are injectable ([`DiscoveryRoots`]) so tests build a fake tree
//! in a tempdir with the real layout. Discovery never fails as a whole: a
//! missing sysfs (containers) falls back to known device names in /dev, and
//! an entry that cannot be read is skipped with a debug event.

mod proc;

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use proc::ProcScan;
pub(crate) use proc::occupancy_in;
pub use proc::{Holder, Occupancy, occupancy};

/// Where discovery looks: normally `/sys`, `/dev` and `/proc`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DiscoveryRoots {
    /// The sysfs mount.
    pub sys: PathBuf,
    /// The device directory.
    pub dev: PathBuf,
    /// The procfs mount.
    pub proc: PathBuf,
}

impl Default for DiscoveryRoots {
    fn default() -> Self {
        DiscoveryRoots {
            sys: PathBuf::from("/sys"),
            dev: PathBuf::from("/dev"),
            proc: PathBuf::from("/proc"),
        }
    }
}

impl DiscoveryRoots {
    /// `root/sys`, `root/dev` and `root/proc`: a whole fake system in one
    /// directory.
    pub fn under(root: &Path) -> Self {
        DiscoveryRoots {
            sys: root.join("sys"),
            dev: root.join("dev"),
            proc: root.join("proc"),
        }
    }
}

/// What is behind a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PortKind {
    /// A USB serial adapter or a terminal's own USB CDC interface.
    Usb(UsbInfo),
    /// An on-board or PCI UART (ttyS*, ttyAMA*, ttymxc*, …).
    Platform {
        /// The kernel driver, e.g. `serial8250`, `uart-pl011`.
        driver: Option<String>,
    },
    /// A pseudo-terminal (/dev/pts/N): a simulator or a test.
    Pseudo,
    /// Found in /dev by its name only: sysfs was not readable, so the
    /// hardware behind it is unverified.
    Unverified,
}

/// A USB device's identity, from sysfs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UsbInfo {
    /// Vendor id.
    pub vid: u16,
    /// Product id.
    pub pid: u16,
    /// Manufacturer string.
    pub manufacturer: Option<String>,
    /// Product string.
    pub product: Option<String>,
    /// Serial number string (what follows a device across re-plugs).
    pub serial_number: Option<String>,
    /// Interface number (multi-port adapters and composite terminals).
    pub interface: Option<u8>,
    /// The kernel driver: `cdc_acm`, `ftdi_sio`, `pl2303`, `cp210x`, …
    pub driver: Option<String>,
    /// Where the device sits on the bus, e.g. `1-2.3` (bus 1, port 2, port 3).
    pub bus_path: Option<String>,
}

impl fmt::Display for UsbInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}:{:04x}", self.vid, self.pid)?;
        for s in [&self.manufacturer, &self.product].into_iter().flatten() {
            write!(f, " {s}")?;
        }
        if let Some(serial) = &self.serial_number {
            write!(f, " serial {serial}")?;
        }
        if let Some(interface) = self.interface {
            write!(f, " interface {interface}")?;
        }
        if let Some(driver) = &self.driver {
            write!(f, " ({driver})")?;
        }
        Ok(())
    }
}

/// One serial port found.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PortInfo {
    /// The device node, e.g. `/dev/ttyUSB0`, `/dev/pts/3`.
    pub path: PathBuf,
    /// The kernel name, e.g. `ttyUSB0`, `pts/3`.
    pub name: String,
    /// What is behind it.
    pub kind: PortKind,
    /// Stable aliases pointing at it (/dev/serial/by-id, by-path), sorted.
    pub aliases: Vec<PathBuf>,
    /// Whether another process holds it open.
    pub occupancy: Occupancy,
}

impl PortInfo {
    /// The USB identity, for USB ports.
    pub fn usb(&self) -> Option<&UsbInfo> {
        match &self.kind {
            PortKind::Usb(u) => Some(u),
            _ => None,
        }
    }

    /// Everything but the occupancy is the same: the same device, as far as
    /// a watcher is concerned.
    pub fn same_device(&self, other: &PortInfo) -> bool {
        self.path == other.path
            && self.name == other.name
            && self.kind == other.kind
            && self.aliases == other.aliases
    }
}

/// Kernel name prefixes of real serial ports, used when sysfs is missing.
const KNOWN_PREFIXES: [&str; 14] = [
    "ttyUSB", "ttyACM", "ttyS", "ttyAMA", "ttymxc", "ttyO", "ttySAC", "ttyTHS", "ttyMSM", "ttyHS",
    "ttyLP", "ttyXRUSB", "ttyGS", "rfcomm",
];

/// Lists the serial ports of this machine. Never fails; see [`discover_in`].
/// Blocking file system reads: from async code, call it through
/// `spawn_blocking` (as [`crate::PortWatcher::run`] does).
pub fn discover() -> Vec<PortInfo> {
    discover_in(&DiscoveryRoots::default())
}

/// Lists the serial ports under `roots`, sorted by path.
pub fn discover_in(roots: &DiscoveryRoots) -> Vec<PortInfo> {
    let mut ports: BTreeMap<PathBuf, (String, PortKind)> = BTreeMap::new();
    match fs::read_dir(roots.sys.join("class/tty")) {
        Ok(entries) => {
            let sys_root = fs::canonicalize(&roots.sys).unwrap_or_else(|_| roots.sys.clone());
            for entry in entries {
                let name = match entry {
                    Ok(e) => e.file_name().to_string_lossy().into_owned(),
                    Err(e) => {
                        tracing::debug!(error = %e, "skipping an unreadable sysfs tty entry");
                        continue;
                    }
                };
                if let Some(kind) = sysfs_port(roots, &sys_root, &name) {
                    ports.insert(roots.dev.join(&name), (name, kind));
                }
            }
        }
        Err(e) => {
            tracing::debug!(sys = %roots.sys.display(), error = %e, "no sysfs tty class; listing /dev by name");
            for (path, name) in dev_by_name(&roots.dev) {
                ports.insert(path, (name, PortKind::Unverified));
            }
        }
    }
    for (path, name) in pseudo_terminals(&roots.dev) {
        ports.insert(path, (name, PortKind::Pseudo));
    }

    let aliases = aliases(&roots.dev);
    let scan = ProcScan::scan(&roots.proc);
    ports
        .into_iter()
        .map(|(path, (name, kind))| {
            let canonical = fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            let mut port_aliases: Vec<PathBuf> = aliases
                .iter()
                .filter(|(_, target)| *target == canonical)
                .map(|(alias, _)| alias.clone())
                .collect();
            port_aliases.sort();
            let occupancy = scan.occupancy(&path, Some(&roots.dev));
            PortInfo {
                path,
                name,
                kind,
                aliases: port_aliases,
                occupancy,
            }
        })
        .collect()
}

/// Reads one `/sys/class/tty/<name>` entry; `None` for virtual terminals,
/// UART slots without a UART, unreadable entries and missing device nodes.
fn sysfs_port(roots: &DiscoveryRoots, sys_root: &Path, name: &str) -> Option<PortKind> {
    let class_dir = roots.sys.join("class/tty").join(name);
    // Virtual terminals (tty0, console, ptmx) have no `device` link.
    let device = class_dir.join("device");
    fs::symlink_metadata(&device).ok()?;
    let device_dir = match fs::canonicalize(&device) {
        Ok(d) => d,
        Err(e) => {
            tracing::debug!(port = name, error = %e, "skipping a tty whose device link does not resolve");
            return None;
        }
    };
    // The 8250 driver registers slots for UARTs that may not exist; type 0
    // (PORT_UNKNOWN) means nothing answered the probe.
    if name.starts_with("ttyS") && read_attr(&class_dir.join("type")).as_deref() == Some("0") {
        return None;
    }
    if fs::metadata(roots.dev.join(name)).is_err() {
        tracing::debug!(port = name, "skipping a tty with no device node");
        return None;
    }
    let driver = device_driver(&device_dir);
    Some(match usb_info(sys_root, &device_dir, driver.clone()) {
        Some(usb) => PortKind::Usb(usb),
        None => PortKind::Platform { driver },
    })
}

/// The driver of a tty's device. Since Linux 6.5 the serial core puts its
/// own `serial-base` devices (drivers `ctrl` and `port`) between the tty and
/// the UART; the driver that tells people something is above them.
fn device_driver(device_dir: &Path) -> Option<String> {
    let mut dir = device_dir.to_path_buf();
    for _ in 0..3 {
        let link = fs::read_link(dir.join("driver")).ok()?;
        if !link.to_string_lossy().contains("serial-base") {
            return link.file_name().map(|n| n.to_string_lossy().into_owned());
        }
        if !dir.pop() {
            return None;
        }
    }
    None
}

/// Walks up from a tty's device directory to the USB device (the directory
/// with `idVendor`), picking up the interface on the way.
fn usb_info(sys_root: &Path, device_dir: &Path, driver: Option<String>) -> Option<UsbInfo> {
    let mut interface = None;
    let mut interface_driver = None;
    let mut dir = device_dir.to_path_buf();
    // USB trees are shallow above a tty: interface, device. Ten levels is
    // plenty and bounds a strange tree.
    for _ in 0..10 {
        if interface.is_none()
            && let Some(n) = read_attr(&dir.join("bInterfaceNumber"))
        {
            interface = u8::from_str_radix(&n, 16).ok();
            interface_driver = link_name(&dir.join("driver"));
        }
        if let (Some(vid), Some(pid)) = (
            read_attr(&dir.join("idVendor")),
            read_attr(&dir.join("idProduct")),
        ) {
            let (Ok(vid), Ok(pid)) = (u16::from_str_radix(&vid, 16), u16::from_str_radix(&pid, 16))
            else {
                tracing::debug!(dir = %dir.display(), "skipping a USB device with unreadable ids");
                return None;
            };
            // usb-serial ports (ttyUSB) name their own driver; CDC ACM ports
            // sit on the interface, whose driver is the one that matters.
            let driver = driver.filter(|d| d != "usb").or(interface_driver);
            return Some(UsbInfo {
                vid,
                pid,
                manufacturer: read_attr(&dir.join("manufacturer")),
                product: read_attr(&dir.join("product")),
                serial_number: read_attr(&dir.join("serial")),
                interface,
                driver,
                bus_path: dir.file_name().map(|n| n.to_string_lossy().into_owned()),
            });
        }
        if !dir.pop() || !dir.starts_with(sys_root) {
            return None;
        }
    }
    None
}

/// Without sysfs: character devices (or, in fake trees, files) in /dev whose
/// names are known serial port names.
fn dev_by_name(dev: &Path) -> Vec<(PathBuf, String)> {
    let Ok(entries) = fs::read_dir(dev) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let known = KNOWN_PREFIXES.iter().any(|p| {
                name.strip_prefix(p)
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            });
            let is_node = e.file_type().is_ok_and(|t| !t.is_dir() && !t.is_symlink());
            (known && is_node).then(|| (e.path(), name))
        })
        .collect()
}

/// The pseudo-terminals that exist now (/dev/pts/N; not ptmx).
fn pseudo_terminals(dev: &Path) -> Vec<(PathBuf, String)> {
    let Ok(entries) = fs::read_dir(dev.join("pts")) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .then(|| (e.path(), format!("pts/{n}")))
        })
        .collect()
}

/// Every alias symlink in /dev/serial/by-id and by-path (and /dev/serialN,
/// the Raspberry Pi's names), with the canonical path it points at.
fn aliases(dev: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut links = Vec::new();
    for dir in [dev.join("serial/by-id"), dev.join("serial/by-path")] {
        if let Ok(entries) = fs::read_dir(&dir) {
            links.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
        }
    }
    if let Ok(entries) = fs::read_dir(dev) {
        links.extend(entries.filter_map(|e| e.ok()).filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let is_link = e.file_type().is_ok_and(|t| t.is_symlink());
            (is_link
                && name
                    .strip_prefix("serial")
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))
            .then(|| e.path())
        }));
    }
    links
        .into_iter()
        .filter_map(|link| match fs::canonicalize(&link) {
            Ok(target) => Some((link, target)),
            Err(e) => {
                tracing::debug!(alias = %link.display(), error = %e, "skipping a dangling serial alias");
                None
            }
        })
        .collect()
}

/// A sysfs attribute, trimmed of its trailing newline; `None` if missing or
/// empty.
fn read_attr(path: &Path) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The last component of a symlink's target (e.g. a driver's name).
fn link_name(path: &Path) -> Option<String> {
    let target = fs::read_link(path).ok()?;
    target.file_name().map(|n| n.to_string_lossy().into_owned())
}

/// Why a path given for an ad-hoc serial probe is not opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotSerial {
    /// Nothing is at the path.
    #[error("{0}: no such device")]
    Missing(String),
    /// The path is a file, a directory or another non-device.
    #[error("{0} is not a device; expected a serial port such as /dev/ttyUSB0 or /dev/ttyS0")]
    NotADevice(String),
    /// A character device of another kind (a watchdog, a disk, a console).
    #[error(
        "{path} is a device but not a serial port ({what}); expected a serial port such as /dev/ttyUSB0, /dev/ttyACM0 or /dev/ttyS0"
    )]
    OtherDevice {
        /// The path asked for.
        path: String,
        /// What it is instead (its subsystem or device number).
        what: String,
    },
}

/// Checks, without opening it, that `path` is a serial port a terminal can
/// be on: a character device in sysfs' `tty` subsystem (UARTs, USB serial
/// adapters, ACM modems) or a pseudo-terminal (Unix98 PTY slaves, major
/// 136 to 143) — not the system's consoles (`/dev/tty`, `/dev/console`,
/// virtual terminals). Opening an arbitrary device node has side effects (a
/// watchdog arms on open), so ad-hoc probes ask this first.
pub fn check_serial_device(path: &Path, sys: &Path) -> Result<PathBuf, NotSerial> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let shown = path.display().to_string();
    let real = fs::canonicalize(path).map_err(|_| NotSerial::Missing(shown.clone()))?;
    let meta = fs::metadata(&real).map_err(|_| NotSerial::Missing(shown.clone()))?;
    if !meta.file_type().is_char_device() {
        return Err(NotSerial::NotADevice(shown));
    }
    let rdev = meta.rdev();
    let major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff);
    let minor = (rdev & 0xff) | ((rdev >> 12) & !0xff);
    let other = |what: String| NotSerial::OtherDevice {
        path: shown.clone(),
        what,
    };
    // /dev/tty, /dev/console, /dev/ptmx; virtual consoles tty0..tty63.
    if major == 5 || (major == 4 && minor < 64) {
        return Err(other(format!("a console, device {major}:{minor}")));
    }
    if (136..=143).contains(&major) {
        return Ok(real);
    }
    let subsystem = fs::read_link(sys.join(format!("dev/char/{major}:{minor}/subsystem")))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    match subsystem.as_deref() {
        Some("tty") => Ok(real),
        Some(s) => Err(other(format!("subsystem {s}"))),
        None => Err(other(format!("device {major}:{minor}"))),
    }
}

#[cfg(test)]
mod serial_device_tests {
    use super::*;

    #[test]
    fn only_serial_devices_pass() {
        let sys = Path::new("/sys");
        for (path, want) in [
            ("/etc/passwd", "is not a device"),
            ("/dev", "is not a device"),
            ("/dev/null", "not a serial port"),
            ("/dev/tty", "not a serial port"),
            ("/dev/does-not-exist", "no such device"),
        ] {
            let e = check_serial_device(Path::new(path), sys).unwrap_err();
            assert!(e.to_string().contains(want), "{path}: {e}");
        }
    }
}
