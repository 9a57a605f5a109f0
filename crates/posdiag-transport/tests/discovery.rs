//! Port discovery, selectors and the hot-plug watcher against a fake
//! sysfs, /dev and /proc built in a tempdir with the real layout: class
//! links into /sys/devices, attribute files with trailing newlines,
//! relative `device` links, by-id aliases.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Duration;

use posdiag_transport::{
    DiscoveryRoots, LinkErrorKind, Occupancy, PortEvent, PortKind, PortSelector, PortWatcher,
    discover_in, resolve,
};
use tempfile::TempDir;

const USB_HOST: &str = "devices/pci0000:00/0000:00:14.0/usb1";

struct FakeSystem {
    dir: TempDir,
}

impl FakeSystem {
    fn new() -> FakeSystem {
        let fake = FakeSystem {
            dir: tempfile::tempdir().unwrap(),
        };
        for d in [
            "sys/class/tty",
            "sys/bus/usb/drivers/cdc_acm",
            "sys/bus/usb-serial/drivers/ftdi_sio",
            "dev/pts",
            "dev/serial/by-id",
            "dev/serial/by-path",
            "proc",
        ] {
            fs::create_dir_all(fake.root().join(d)).unwrap();
        }
        fake
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn sys(&self, rel: &str) -> PathBuf {
        self.root().join("sys").join(rel)
    }

    fn roots(&self) -> DiscoveryRoots {
        DiscoveryRoots::under(self.root())
    }

    fn dev(&self, name: &str) -> PathBuf {
        self.root().join("dev").join(name)
    }

    fn write(&self, path: PathBuf, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn usb_device(&self, port: &str, vid: &str, pid: &str, serial: &str, product: &str) -> String {
        let usb = format!("{USB_HOST}/{port}");
        for (attr, value) in [
            ("idVendor", vid),
            ("idProduct", pid),
            ("manufacturer", "ACME"),
            ("product", product),
            ("serial", serial),
        ] {
            self.write(self.sys(&format!("{usb}/{attr}")), &format!("{value}\n"));
        }
        usb
    }

    /// A usb-serial adapter (FTDI): class → …/1-2:1.0/ttyUSB0/tty/ttyUSB0,
    /// whose `device` is the usb-serial port directory.
    fn add_ftdi(&self, tty: &str, port: &str, serial: &str) {
        let usb = self.usb_device(port, "0403", "6001", serial, "FT232R USB UART");
        let iface = format!("{usb}/{port}:1.0");
        self.write(self.sys(&format!("{iface}/bInterfaceNumber")), "00\n");
        symlink(
            self.sys("bus/usb/drivers/ftdi_sio"),
            self.sys(&format!("{iface}/driver")),
        )
        .unwrap();
        let port_dir = format!("{iface}/{tty}");
        let tty_dir = format!("{port_dir}/tty/{tty}");
        self.write(self.sys(&format!("{tty_dir}/dev")), "188:0\n");
        symlink(
            self.sys("bus/usb-serial/drivers/ftdi_sio"),
            self.sys(&format!("{port_dir}/driver")),
        )
        .unwrap();
        symlink(
            format!("../../../{tty}"),
            self.sys(&format!("{tty_dir}/device")),
        )
        .unwrap();
        symlink(
            format!("../../{tty_dir}"),
            self.sys(&format!("class/tty/{tty}")),
        )
        .unwrap();
        self.write(self.dev(tty), "");
        symlink(
            format!("../../{tty}"),
            self.dev(&format!(
                "serial/by-id/usb-ACME_FT232R_USB_UART_{serial}-if00-port0"
            )),
        )
        .unwrap();
        symlink(
            format!("../../{tty}"),
            self.dev(&format!(
                "serial/by-path/pci-0000:00:14.0-usb-0:{port}:1.0-port0"
            )),
        )
        .unwrap();
    }

    /// A terminal's own CDC ACM interface: `device` is the interface.
    fn add_cdc_acm(&self, tty: &str, port: &str, serial: &str) {
        let usb = self.usb_device(port, "079b", "0028", serial, "Move/5000");
        let iface = format!("{usb}/{port}:1.0");
        self.write(self.sys(&format!("{iface}/bInterfaceNumber")), "00\n");
        symlink(
            self.sys("bus/usb/drivers/cdc_acm"),
            self.sys(&format!("{iface}/driver")),
        )
        .unwrap();
        let tty_dir = format!("{iface}/tty/{tty}");
        self.write(self.sys(&format!("{tty_dir}/dev")), "166:0\n");
        symlink(
            format!("../../../{port}:1.0"),
            self.sys(&format!("{tty_dir}/device")),
        )
        .unwrap();
        symlink(
            format!("../../{tty_dir}"),
            self.sys(&format!("class/tty/{tty}")),
        )
        .unwrap();
        self.write(self.dev(tty), "");
    }

    /// An 8250 slot; `uart_type` 0 means no UART behind it.
    fn add_8250(&self, tty: &str, parent: &str, uart_type: &str) {
        let tty_dir = format!("devices/{parent}/tty/{tty}");
        self.write(
            self.sys(&format!("{tty_dir}/type")),
            &format!("{uart_type}\n"),
        );
        let device_name = Path::new(parent).file_name().unwrap().to_str().unwrap();
        symlink(
            self.sys("bus/pnp/drivers/serial"),
            self.sys(&format!("devices/{parent}/driver")),
        )
        .unwrap();
        symlink(
            format!("../../../{device_name}"),
            self.sys(&format!("{tty_dir}/device")),
        )
        .unwrap();
        symlink(
            format!("../../{tty_dir}"),
            self.sys(&format!("class/tty/{tty}")),
        )
        .unwrap();
        self.write(self.dev(tty), "");
    }

    /// An 8250 UART as Linux 6.5+ shows it: the tty's device is a
    /// `serial-base` port under a `serial-base` controller under the UART.
    fn add_8250_serial_base(&self, tty: &str, parent: &str) {
        let ctrl = format!("devices/{parent}/00:00:0");
        let port = format!("{ctrl}/00:00:0.0");
        let tty_dir = format!("{port}/tty/{tty}");
        self.write(self.sys(&format!("{tty_dir}/type")), "4\n");
        symlink(
            self.sys("bus/pnp/drivers/serial"),
            self.sys(&format!("devices/{parent}/driver")),
        )
        .unwrap();
        symlink(
            self.sys("bus/serial-base/drivers/ctrl"),
            self.sys(&format!("{ctrl}/driver")),
        )
        .unwrap();
        symlink(
            self.sys("bus/serial-base/drivers/port"),
            self.sys(&format!("{port}/driver")),
        )
        .unwrap();
        symlink("../../../00:00:0.0", self.sys(&format!("{tty_dir}/device"))).unwrap();
        symlink(
            format!("../../{tty_dir}"),
            self.sys(&format!("class/tty/{tty}")),
        )
        .unwrap();
        self.write(self.dev(tty), "");
    }

    /// A virtual console: no `device` link.
    fn add_virtual(&self, tty: &str) {
        let tty_dir = format!("devices/virtual/tty/{tty}");
        self.write(self.sys(&format!("{tty_dir}/dev")), "4:0\n");
        symlink(
            format!("../../{tty_dir}"),
            self.sys(&format!("class/tty/{tty}")),
        )
        .unwrap();
        self.write(self.dev(tty), "");
    }

    /// Unplugs a USB device: its sysfs tree, class link, node and aliases go.
    fn unplug(&self, tty: &str, port: &str) {
        fs::remove_dir_all(self.sys(&format!("{USB_HOST}/{port}"))).unwrap();
        fs::remove_file(self.sys(&format!("class/tty/{tty}"))).unwrap();
        fs::remove_file(self.dev(tty)).unwrap();
        for dir in ["serial/by-id", "serial/by-path"] {
            for e in fs::read_dir(self.dev(dir)).unwrap() {
                let e = e.unwrap();
                if fs::read_link(e.path()).unwrap().ends_with(tty) {
                    fs::remove_file(e.path()).unwrap();
                }
            }
        }
    }

    fn add_process(&self, pid: u32, comm: &str, fds: &[&str]) {
        let dir = self.root().join("proc").join(pid.to_string());
        fs::create_dir_all(dir.join("fd")).unwrap();
        fs::write(dir.join("comm"), format!("{comm}\n")).unwrap();
        for (i, target) in fds.iter().enumerate() {
            symlink(target, dir.join("fd").join(i.to_string())).unwrap();
        }
        // A socket, as every process has: not a path, never a holder.
        symlink("socket:[12345]", dir.join("fd").join("99")).unwrap();
    }

    /// A process whose open files cannot be listed (another user's, without
    /// root): simulated by an `fd` that is not a directory.
    fn add_unreadable_process(&self, pid: u32) {
        let dir = self.root().join("proc").join(pid.to_string());
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("fd"), "").unwrap();
    }
}

fn names(ports: &[posdiag_transport::PortInfo]) -> Vec<&str> {
    ports.iter().map(|p| p.name.as_str()).collect()
}

#[test]
fn finds_usb_platform_and_pseudo_ports_and_skips_the_rest() {
    let fake = FakeSystem::new();
    fake.add_ftdi("ttyUSB0", "1-2", "A12345");
    fake.add_cdc_acm("ttyACM0", "1-3", "0123456789");
    fake.add_8250("ttyS0", "pnp0/00:04", "4");
    fake.add_8250("ttyS1", "platform/serial8250", "0");
    fake.add_8250_serial_base("ttyS2", "pnp0/00:05");
    fake.add_virtual("tty0");
    fake.write(fake.dev("pts/0"), "");
    fake.write(fake.dev("pts/ptmx"), "");
    // A class entry whose device link dangles: skipped, not fatal.
    fs::create_dir_all(fake.sys("devices/broken/tty/ttyUSB9")).unwrap();
    symlink(
        "../../../gone",
        fake.sys("devices/broken/tty/ttyUSB9/device"),
    )
    .unwrap();
    symlink(
        "../../devices/broken/tty/ttyUSB9",
        fake.sys("class/tty/ttyUSB9"),
    )
    .unwrap();

    let ports = discover_in(&fake.roots());
    assert_eq!(
        names(&ports),
        ["pts/0", "ttyACM0", "ttyS0", "ttyS2", "ttyUSB0"]
    );

    let usb0 = &ports[4];
    assert_eq!(usb0.path, fake.dev("ttyUSB0"));
    let info = usb0.usb().expect("ttyUSB0 is USB");
    assert_eq!((info.vid, info.pid), (0x0403, 0x6001));
    assert_eq!(info.manufacturer.as_deref(), Some("ACME"));
    assert_eq!(info.product.as_deref(), Some("FT232R USB UART"));
    assert_eq!(info.serial_number.as_deref(), Some("A12345"));
    assert_eq!(info.interface, Some(0));
    assert_eq!(info.driver.as_deref(), Some("ftdi_sio"));
    assert_eq!(info.bus_path.as_deref(), Some("1-2"));
    assert_eq!(
        usb0.aliases,
        [
            fake.dev("serial/by-id/usb-ACME_FT232R_USB_UART_A12345-if00-port0"),
            fake.dev("serial/by-path/pci-0000:00:14.0-usb-0:1-2:1.0-port0"),
        ]
    );
    assert_eq!(usb0.occupancy, Occupancy::Free);

    let acm = ports[1].usb().expect("ttyACM0 is USB");
    assert_eq!((acm.vid, acm.pid), (0x079b, 0x0028));
    assert_eq!(acm.driver.as_deref(), Some("cdc_acm"));
    assert_eq!(acm.serial_number.as_deref(), Some("0123456789"));

    assert_eq!(
        ports[2].kind,
        PortKind::Platform {
            driver: Some("serial".into())
        }
    );
    assert_eq!(
        ports[3].kind,
        PortKind::Platform {
            driver: Some("serial".into())
        },
        "the UART's driver, not the serial core's"
    );
    assert_eq!(ports[0].kind, PortKind::Pseudo);
    assert_eq!(ports[0].path, fake.dev("pts/0"));
}

#[test]
fn without_sysfs_it_lists_known_device_names() {
    let fake = FakeSystem::new();
    fs::remove_dir_all(fake.root().join("sys")).unwrap();
    for name in ["ttyUSB0", "ttyS0", "tty0", "console", "ttyUSBfoo"] {
        fake.write(fake.dev(name), "");
    }
    fake.write(fake.dev("pts/1"), "");
    let ports = discover_in(&fake.roots());
    assert_eq!(names(&ports), ["pts/1", "ttyS0", "ttyUSB0"]);
    assert_eq!(ports[2].kind, PortKind::Unverified);
    assert_eq!(ports[0].kind, PortKind::Pseudo);

    // Nothing at all: an empty list, no panic.
    let nowhere = DiscoveryRoots::under(&fake.root().join("nowhere"));
    assert!(discover_in(&nowhere).is_empty());
}

#[test]
fn a_process_holding_a_port_is_named() {
    let fake = FakeSystem::new();
    fake.add_ftdi("ttyUSB0", "1-2", "A12345");
    fake.add_cdc_acm("ttyACM0", "1-3", "0123456789");
    fake.add_process(4321, "minicom", &["/dev/null", "/dev/ttyACM0"]);
    fake.add_process(77, "bash", &["/dev/pts/0"]);

    let ports = discover_in(&fake.roots());
    let acm = ports.iter().find(|p| p.name == "ttyACM0").unwrap();
    match &acm.occupancy {
        Occupancy::HeldBy(holders) => {
            assert_eq!(holders.len(), 1);
            assert_eq!(holders[0].pid, 4321);
            assert_eq!(holders[0].comm.as_deref(), Some("minicom"));
            assert_eq!(holders[0].to_string(), "4321 (minicom)");
        }
        other => panic!("expected a holder, got {other:?}"),
    }
    let usb = ports.iter().find(|p| p.name == "ttyUSB0").unwrap();
    assert_eq!(usb.occupancy, Occupancy::Free);
}

#[test]
fn unreadable_processes_make_occupancy_unknown_never_free() {
    let fake = FakeSystem::new();
    fake.add_ftdi("ttyUSB0", "1-2", "A12345");
    fake.add_cdc_acm("ttyACM0", "1-3", "0123456789");
    fake.add_process(4321, "minicom", &["/dev/ttyACM0"]);
    fake.add_unreadable_process(99);

    let ports = discover_in(&fake.roots());
    let usb = ports.iter().find(|p| p.name == "ttyUSB0").unwrap();
    assert!(
        matches!(usb.occupancy, Occupancy::Unknown { .. }),
        "{:?}",
        usb.occupancy
    );
    assert!(usb.occupancy.to_string().starts_with("unknown"));
    // A holder that was found is still reported.
    let acm = ports.iter().find(|p| p.name == "ttyACM0").unwrap();
    assert!(matches!(acm.occupancy, Occupancy::HeldBy(_)));
}

#[test]
fn a_usb_selector_follows_its_device_to_a_new_name() {
    let fake = FakeSystem::new();
    fake.add_ftdi("ttyUSB0", "1-2", "A12345");
    let selector: PortSelector = "usb:0403:6001:A12345".parse().unwrap();
    let ports = discover_in(&fake.roots());
    assert_eq!(
        resolve(&selector, &ports).unwrap().path,
        fake.dev("ttyUSB0")
    );

    // Unplugged: no match, and the error says which selector.
    fake.unplug("ttyUSB0", "1-2");
    let err = resolve(&selector, &discover_in(&fake.roots())).unwrap_err();
    assert_eq!(err.kind(), LinkErrorKind::NotFound);
    assert!(err.to_string().contains("usb:0403:6001:A12345"), "{err}");

    // Back, as ttyUSB1 on another USB port.
    fake.add_ftdi("ttyUSB1", "1-4", "A12345");
    let ports = discover_in(&fake.roots());
    assert_eq!(
        resolve(&selector, &ports).unwrap().path,
        fake.dev("ttyUSB1")
    );
}

#[test]
fn selectors_by_alias_and_ambiguity() {
    let fake = FakeSystem::new();
    fake.add_ftdi("ttyUSB0", "1-2", "A1");
    fake.add_ftdi("ttyUSB1", "1-3", "B2");
    let ports = discover_in(&fake.roots());

    let any_ftdi: PortSelector = "usb:0403:6001".parse().unwrap();
    let err = resolve(&any_ftdi, &ports).unwrap_err();
    assert_eq!(err.kind(), LinkErrorKind::Ambiguous);
    assert!(err.to_string().contains("ttyUSB1"), "{err}");

    let b2: PortSelector = "usb:0403:6001:B2:0".parse().unwrap();
    assert_eq!(resolve(&b2, &ports).unwrap().name, "ttyUSB1");

    let alias = fake.dev("serial/by-id/usb-ACME_FT232R_USB_UART_A1-if00-port0");
    let by_alias = PortSelector::Path(alias);
    assert_eq!(resolve(&by_alias, &ports).unwrap().name, "ttyUSB0");
    let by_path = PortSelector::Path(fake.dev("ttyUSB1"));
    assert_eq!(resolve(&by_path, &ports).unwrap().name, "ttyUSB1");
}

#[test]
fn the_watcher_reports_added_removed_and_changed_ports() {
    let fake = FakeSystem::new();
    fake.add_ftdi("ttyUSB0", "1-2", "A1");
    let mut watcher = PortWatcher::new(fake.roots(), Duration::from_secs(1));
    let mut events = watcher.subscribe();

    let first = watcher.rescan();
    assert_eq!(first.len(), 1);
    assert!(matches!(&first[0], PortEvent::Added(p) if p.name == "ttyUSB0"));
    assert_eq!(events.try_recv().unwrap(), first[0]);

    assert!(watcher.rescan().is_empty(), "nothing changed");

    fake.add_ftdi("ttyUSB1", "1-3", "B2");
    let added = watcher.rescan();
    assert_eq!(added.len(), 1);
    assert!(matches!(&added[0], PortEvent::Added(p) if p.name == "ttyUSB1"));

    fake.unplug("ttyUSB1", "1-3");
    let removed = watcher.rescan();
    assert_eq!(removed.len(), 1);
    assert!(matches!(&removed[0], PortEvent::Removed(p) if p.name == "ttyUSB1"));

    // Another adapter appears under the same name.
    fake.unplug("ttyUSB0", "1-2");
    fake.add_ftdi("ttyUSB0", "1-2", "C3");
    let changed = watcher.rescan();
    assert_eq!(changed.len(), 1);
    match &changed[0] {
        PortEvent::Changed { before, after } => {
            assert_eq!(before.usb().unwrap().serial_number.as_deref(), Some("A1"));
            assert_eq!(after.usb().unwrap().serial_number.as_deref(), Some("C3"));
        }
        other => panic!("expected a change, got {other:?}"),
    }

    let received: Vec<PortEvent> = std::iter::from_fn(|| events.try_recv().ok()).collect();
    assert_eq!(received.len(), 3, "subscribers see every later event");
    assert_eq!(watcher.ports().len(), 1);
}

#[tokio::test]
async fn a_running_watcher_sends_events_and_stops_without_subscribers() {
    let fake = FakeSystem::new();
    fake.add_ftdi("ttyUSB0", "1-2", "A1");
    let watcher = PortWatcher::new(fake.roots(), Duration::from_millis(10));
    let mut events = watcher.subscribe();
    let task = tokio::spawn(watcher.run());
    let bound = Duration::from_secs(20);
    let first = tokio::time::timeout(bound, events.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(first, PortEvent::Added(p) if p.name == "ttyUSB0"));
    drop(events);
    tokio::time::timeout(bound, task).await.unwrap().unwrap();
}
