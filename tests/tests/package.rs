//! The Debian package, as a store PC's IT team gets it: `sh deploy/package.sh --debug` builds it
//! (with cargo-deb, from the debug binaries `cargo test` has built: no second, release build),
//! `dpkg-deb -x` extracts it into a temporary root, and the tests check what an install would
//! give: the layout and file modes, the conffile and maintainer scripts, the extracted
//! `posdiagd --check-config` on the shipped configuration, the extracted daemon starting on it
//! and running the reference plugins from the shipped directory with the shipped plugin host,
//! `systemd-analyze verify` and `security --offline=true` (exposure at most 2.0) on the shipped
//! unit, lintian without errors, the udev rule against the bundles' manifests, and the container
//! and Kubernetes files (valid TOML/YAML, the package's paths).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failure is a test failure"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use posdiag_proto::v1 as pb;
use posdiag_tests::{Daemon, workspace};
use yaml_rust2::{Yaml, YamlLoader};

/// The reference bundles the package ships (the examples are not shipped).
const BUNDLES: [&str; 3] = ["posdiag.iso8583", "posdiag.nexo", "posdiag.zvt"];

/// One built and extracted package, shared by the tests of this file.
struct Package {
    deb: PathBuf,
    /// `dpkg-deb -x`: the files as installed, under a temporary root.
    root: tempfile::TempDir,
    /// `dpkg-deb -e`: control, conffiles, maintainer scripts.
    control: tempfile::TempDir,
    /// `dpkg-deb -c`: path (without "./") → (mode bits, owner/group).
    listing: BTreeMap<String, (u32, String)>,
    /// Keeps the .deb's directory alive.
    _out: tempfile::TempDir,
}

fn package() -> &'static Package {
    static PACKAGE: OnceLock<Package> = OnceLock::new();
    PACKAGE.get_or_init(build_package)
}

fn build_package() -> Package {
    ensure_tool("dpkg-deb", "dpkg");
    // target/debug: where `cargo test` put the binaries this package is made of.
    let target = posdiag_tests::bin_dir()
        .parent()
        .expect("target/debug has a parent")
        .to_path_buf();
    let out = tempfile::tempdir().unwrap();
    let run = Command::new("sh")
        .arg(workspace().join("deploy/package.sh"))
        .args(["--debug", "--out"])
        .arg(out.path())
        .env("CARGO_TARGET_DIR", &target)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("running sh deploy/package.sh");
    assert!(
        run.status.success(),
        "deploy/package.sh --debug failed ({}); its output is above",
        run.status
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    let deb = PathBuf::from(
        stdout
            .lines()
            .last()
            .expect("package.sh prints the .deb")
            .trim(),
    );
    assert!(
        deb.starts_with(out.path()) && deb.extension().is_some_and(|e| e == "deb"),
        "{stdout}"
    );
    let root = tempfile::tempdir().unwrap();
    checked(
        Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(root.path()),
    );
    let control = tempfile::tempdir().unwrap();
    checked(
        Command::new("dpkg-deb")
            .arg("-e")
            .arg(&deb)
            .arg(control.path().join("DEBIAN")),
    );
    let list = checked(Command::new("dpkg-deb").arg("-c").arg(&deb));
    let listing = String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter_map(parse_listing_line)
        .collect();
    Package {
        deb,
        root,
        control,
        listing,
        _out: out,
    }
}

/// `-rwxr-xr-x 0/0 123 2026-12-06 00:00 ./usr/bin/posdiagd` → ("usr/bin/posdiagd", (0o755, "0/0")).
fn parse_listing_line(line: &str) -> Option<(String, (u32, String))> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (perms, owner, path) = (fields.first()?, fields.get(1)?, fields.get(5)?);
    let mode = perms
        .chars()
        .skip(1)
        .take(9)
        .fold(0u32, |m, c| (m << 1) | u32::from(c != '-'));
    let path = path.trim_start_matches("./").trim_end_matches('/');
    (!path.is_empty()).then(|| (path.to_owned(), (mode, (*owner).to_owned())))
}

fn checked(cmd: &mut Command) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Installs Debian's `package` through scripts/ensure-debian-packages when `tool` is missing.
fn ensure_tool(tool: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return;
    }
    let status = Command::new(workspace().join("scripts/ensure-debian-packages"))
        .arg(package)
        .status()
        .expect("running scripts/ensure-debian-packages");
    assert!(
        status.success(),
        "{tool} is missing and installing Debian's {package} failed ({status}): \
         run scripts/ensure-debian-packages {package} as root"
    );
}

#[test]
fn the_package_installs_the_documented_layout_with_safe_modes() {
    let pkg = package();
    let expect: &[(&str, u32)] = &[
        ("usr/bin/posdiagd", 0o755),
        ("usr/bin/posdiag", 0o755),
        ("usr/libexec/posdiag/posdiag-plugin-host", 0o755),
        ("usr/libexec/posdiag/posdiag-lab", 0o755),
        ("usr/lib/posdiag/plugins", 0o755),
        ("etc/posdiag/posdiagd.toml", 0o644),
        ("usr/lib/systemd/system/posdiagd.service", 0o644),
        ("usr/lib/sysusers.d/posdiag.conf", 0o644),
        ("usr/lib/tmpfiles.d/posdiagd.conf", 0o644),
        ("usr/lib/udev/rules.d/60-posdiag.rules", 0o644),
        ("usr/share/man/man1/posdiag.1.gz", 0o644),
        ("usr/share/man/man5/posdiagd.toml.5.gz", 0o644),
        ("usr/share/man/man8/posdiagd.8.gz", 0o644),
        ("usr/share/bash-completion/completions/posdiag", 0o644),
        ("usr/share/bash-completion/completions/posdiagd", 0o644),
        ("usr/share/zsh/vendor-completions/_posdiag", 0o644),
        ("usr/share/zsh/vendor-completions/_posdiagd", 0o644),
        ("usr/share/fish/vendor_completions.d/posdiag.fish", 0o644),
        ("usr/share/fish/vendor_completions.d/posdiagd.fish", 0o644),
        ("usr/share/doc/posdiag/copyright", 0o644),
        ("usr/share/doc/posdiag/changelog.Debian.gz", 0o644),
        ("usr/share/doc/posdiag/examples/posdiagd.toml", 0o644),
        // For the site's Prometheus and Grafana (README, "Observability").
        (
            "usr/share/doc/posdiag/examples/prometheus/posdiag-alerts.yml",
            0o644,
        ),
        (
            "usr/share/doc/posdiag/examples/grafana/posdiag-overview.json",
            0o644,
        ),
    ];
    for (path, mode) in expect {
        let (got, owner) = pkg
            .listing
            .get(*path)
            .unwrap_or_else(|| panic!("{path} is not in the package: {:#?}", pkg.listing.keys()));
        assert_eq!(*got, *mode, "{path}: mode {got:o}, expected {mode:o}");
        assert_eq!(owner, "0/0", "{path}: owned by root");
    }
    // The reference bundles, each a directory 0755 with its manifest and library 0644 (the
    // loader refuses group- or world-writable bundles); the examples stay out.
    let plugins: BTreeSet<&str> = pkg
        .listing
        .keys()
        .filter_map(|p| p.strip_prefix("usr/lib/posdiag/plugins/"))
        .filter_map(|p| p.split('/').next())
        .collect();
    assert_eq!(plugins, BUNDLES.into_iter().collect(), "{:#?}", pkg.listing);
    for (path, (mode, owner)) in &pkg.listing {
        assert_eq!(owner, "0/0", "{path}: owned by root");
        assert_eq!(
            mode & 0o022,
            0,
            "{path} is group- or world-writable ({mode:o})"
        );
        if path.starts_with("usr/lib/posdiag/plugins/") && path.matches('/').count() == 5 {
            assert_eq!(*mode, 0o644, "{path}");
        }
    }
    // The configuration is a conffile: an upgrade keeps the site's changes.
    let conffiles = std::fs::read_to_string(pkg.control.path().join("DEBIAN/conffiles")).unwrap();
    assert!(
        conffiles.lines().any(|l| l == "/etc/posdiag/posdiagd.toml"),
        "{conffiles}"
    );
    // The user before the directories, then the service enabled and started (restarted on
    // upgrade); nothing in the scripts touches /var/lib/posdiag, so the history survives.
    let postinst = std::fs::read_to_string(pkg.control.path().join("DEBIAN/postinst")).unwrap();
    let sysusers = postinst.find("systemd-sysusers").expect(&postinst);
    let tmpfiles = postinst
        .find("systemd-tmpfiles --create posdiagd.conf")
        .expect(&postinst);
    assert!(sysusers < tmpfiles, "{postinst}");
    assert!(
        postinst.contains("deb-systemd-helper enable posdiagd.service"),
        "{postinst}"
    );
    assert!(postinst.contains("posdiagd.service"), "{postinst}");
    for script in ["preinst", "postinst", "prerm", "postrm"] {
        let text = std::fs::read_to_string(pkg.control.path().join("DEBIAN").join(script))
            .unwrap_or_default();
        assert!(
            !text.contains("/var/lib/posdiag"),
            "{script} touches the history:\n{text}"
        );
        assert!(
            !text.contains("/etc/posdiag"),
            "{script} touches the configuration:\n{text}"
        );
    }
    let control = std::fs::read_to_string(pkg.control.path().join("DEBIAN/control")).unwrap();
    assert!(control.contains("Package: posdiag\n"), "{control}");
    assert!(
        control.contains("systemd | systemd-standalone-sysusers"),
        "{control}"
    );
    let sysusers =
        std::fs::read_to_string(pkg.root.path().join("usr/lib/sysusers.d/posdiag.conf")).unwrap();
    assert!(
        sysusers.lines().any(|l| l.starts_with("u posdiag ")),
        "{sysusers}"
    );
    assert!(
        sysusers.lines().any(|l| l == "m posdiag dialout"),
        "{sysusers}"
    );
    let size = std::fs::metadata(&pkg.deb).unwrap().len();
    eprintln!("package: {} ({size} bytes)", pkg.deb.display());
}

#[test]
fn the_extracted_daemon_accepts_the_shipped_configuration() {
    let root = package().root.path();
    let out = Command::new(root.join("usr/bin/posdiagd"))
        .arg("--check-config")
        .arg(root.join("etc/posdiag/posdiagd.toml"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("valid (0 terminals, 0 host checks)"),
        "{stdout}"
    );
    // The complete example, shipped as documentation, is valid too.
    let example = root.join("usr/share/doc/posdiag/examples/posdiagd.toml");
    let out = Command::new(root.join("usr/bin/posdiagd"))
        .arg("--check-config")
        .arg(&example)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_extracted_daemon_runs_the_reference_plugins_from_the_shipped_directory() {
    let root = package().root.path();
    let run = tempfile::tempdir().unwrap();
    let socket = run.path().join("posdiagd.sock");
    let state = run.path().join("state");
    std::fs::create_dir(&state).unwrap();
    // The shipped file as is, but for its console and metrics ports (fixed
    // ports could be taken on this machine): a free port each.
    let shipped = std::fs::read_to_string(root.join("etc/posdiag/posdiagd.toml")).unwrap();
    let mut config = shipped.clone();
    for (from, to) in [
        (
            "\nlisten = \"127.0.0.1:8631\"",
            "\nlisten = \"127.0.0.1:0\"",
        ),
        (
            "\nlisten = \"tcp:127.0.0.1:9842\"",
            "\nlisten = \"tcp:127.0.0.1:0\"",
        ),
    ] {
        assert!(
            config.contains(from),
            "the shipped file has no {from:?} any more; update this test:\n{shipped}"
        );
        config = config.replace(from, to);
    }
    let config_path = run.path().join("posdiagd.toml");
    std::fs::write(&config_path, config).unwrap();
    let mut cmd = Command::new(root.join("usr/bin/posdiagd"));
    cmd.arg("--config")
        .arg(&config_path)
        .arg("--listen")
        .arg(format!("unix:{}", socket.display()))
        // As systemd sets it from StateDirectory=: the history goes there.
        .env("STATE_DIRECTORY", &state)
        .env("POSDIAG_LOG", "warn");
    let daemon = tokio::task::spawn_blocking(move || Daemon::start_command(cmd, socket))
        .await
        .unwrap();
    let mut svc = pb::plugin_service_client::PluginServiceClient::new(daemon.channel().await);
    let list = svc
        .list_plugins(pb::ListPluginsRequest::default())
        .await
        .unwrap()
        .into_inner();
    // No [plugins] dir in the shipped file: the bundles installed beside the daemon, run by
    // the plugin host from usr/libexec/posdiag.
    assert!(
        Path::new(&list.directory).ends_with("usr/lib/posdiag/plugins"),
        "{list:#?}"
    );
    let ids: BTreeSet<&str> = list.plugins.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, BUNDLES.into_iter().collect(), "{list:#?}");
    for p in &list.plugins {
        assert_eq!(p.state(), pb::PluginState::Ready, "{p:#?}");
    }
    assert!(
        state.join("history.db").is_file(),
        "no history in $STATE_DIRECTORY"
    );
    // The packaged client lists them too.
    let out = Command::new(root.join("usr/bin/posdiag"))
        .arg("--endpoint")
        .arg(format!("unix:{}", daemon.socket.display()))
        .arg("plugins")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for id in BUNDLES {
        assert!(text.contains(id), "{text}");
    }
    // `posdiag plugin verify` runs the packaged lab bench (usr/libexec/posdiag), which runs the
    // bundle in the plugin host beside it.
    let bundle = root.join("usr/lib/posdiag/plugins/posdiag.iso8583");
    let out = Command::new(root.join("usr/bin/posdiag"))
        .args(["plugin", "verify"])
        .arg(&bundle)
        .env("NO_COLOR", "1")
        // Not under `cargo run` (which builds the lab bench in the source tree instead).
        .env_remove("CARGO")
        .env_remove("CARGO_MANIFEST_DIR")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("PASS load: ABI 1.0"), "{text}");
}

/// A root for `systemd-analyze verify --root`: the shipped unit, the binary and kill(1) it
/// runs, and the host's targets and slices it is ordered against.
fn verify_root(unit: &Path, daemon: &Path) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let units = root.path().join("usr/lib/systemd/system");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::create_dir_all(root.path().join("usr/bin")).unwrap();
    std::fs::create_dir_all(root.path().join("bin")).unwrap();
    std::fs::copy(unit, units.join("posdiagd.service")).unwrap();
    std::fs::copy(daemon, root.path().join("usr/bin/posdiagd")).unwrap();
    std::fs::copy("/bin/kill", root.path().join("bin/kill")).unwrap();
    for entry in std::fs::read_dir("/usr/lib/systemd/system").unwrap() {
        let path = entry.unwrap().path();
        if path
            .extension()
            .is_some_and(|e| e == "target" || e == "slice")
            && path.is_file()
        {
            std::fs::copy(&path, units.join(path.file_name().unwrap())).unwrap();
        }
    }
    root
}

#[test]
fn the_shipped_unit_verifies_and_is_sandboxed_to_an_exposure_of_at_most_2() {
    ensure_tool("systemd-analyze", "systemd");
    // verify opens the unit's Documentation= pages with man(1): the package's own.
    ensure_tool("man", "man-db");
    let root = package().root.path();
    let unit = root.join("usr/lib/systemd/system/posdiagd.service");
    let sysroot = verify_root(&unit, &root.join("usr/bin/posdiagd"));
    let out = checked(
        Command::new("systemd-analyze")
            .arg("verify")
            .arg(format!("--root={}", sysroot.path().display()))
            .arg("/usr/lib/systemd/system/posdiagd.service")
            .env("MANPATH", root.join("usr/share/man")),
    );
    let complaints = String::from_utf8_lossy(&out.stderr);
    assert!(
        !complaints.contains("posdiagd.service"),
        "systemd-analyze verify: {complaints}"
    );
    let out = checked(
        Command::new("systemd-analyze")
            .args(["security", "--offline=true", "--no-pager"])
            .arg(&unit),
    );
    let report = String::from_utf8_lossy(&out.stdout);
    let score: f64 = report
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for posdiagd.service:")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no overall exposure in:\n{report}"));
    eprintln!("systemd-analyze security --offline=true posdiagd.service: {score}");
    assert!(score <= 2.0, "exposure {score} > 2.0:\n{report}");
    // Serial terminals keep working: the device classes are allowed, read-write.
    let text = std::fs::read_to_string(&unit).unwrap();
    for class in ["ttyS", "ttyUSB", "ttyACM"] {
        assert!(
            text.contains(&format!("DeviceAllow=char-{class} rw")),
            "{class}"
        );
    }
    assert!(text.contains("DevicePolicy=closed") && text.contains("SupplementaryGroups=dialout"));
    // The repository's unit is the shipped one.
    assert_eq!(
        text,
        std::fs::read_to_string(workspace().join("deploy/posdiagd.service")).unwrap()
    );
}

#[test]
fn lintian_finds_no_errors_and_every_warning_is_explained() {
    ensure_tool("lintian", "lintian");
    let pkg = package();
    let out = Command::new("lintian")
        .args(["--no-tag-display-limit", "--allow-root"])
        .arg(&pkg.deb)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.lines().any(|l| l.starts_with("E: ")),
        "lintian errors:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every warning's tag is named in the README's list of lintian findings.
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    for line in text.lines().filter(|l| l.starts_with("W: ")) {
        let tag = line.split_whitespace().nth(2).unwrap_or(line);
        assert!(
            readme.contains(&format!("`{tag}`")),
            "lintian warning {tag} is not explained in README.md (Install): {line}"
        );
    }
}

/// `usb` entries of `[[match]]` tables in a manifest: "VID" or "VID:PID", lowercase.
fn manifest_usb_ids(manifest: &str) -> BTreeSet<String> {
    let value: toml::Table = toml::from_str(manifest).unwrap();
    value
        .get("match")
        .and_then(|m| m.as_array())
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("usb").and_then(|u| u.as_str()))
        .map(str::to_ascii_lowercase)
        .collect()
}

/// The ids of a udev rule file's lines on `subsystem`, when they set ID_MM_DEVICE_IGNORE=1 (and,
/// on the tty lines, the dialout group).
fn rule_ids(rules: &str, subsystem: &str) -> BTreeSet<String> {
    let attr = |line: &str, key: &str| {
        line.split(&format!("{key}==\""))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(str::to_owned)
    };
    rules
        .lines()
        .filter(|l| l.starts_with(&format!("SUBSYSTEM==\"{subsystem}\"")))
        .map(|l| {
            assert!(l.contains("ENV{ID_MM_DEVICE_IGNORE}=\"1\""), "{l}");
            if subsystem == "tty" {
                assert!(l.contains("GROUP=\"dialout\""), "{l}");
            }
            let (vendor, product) = if subsystem == "tty" {
                (attr(l, "ATTRS{idVendor}"), attr(l, "ATTRS{idProduct}"))
            } else {
                (attr(l, "ATTR{idVendor}"), attr(l, "ATTR{idProduct}"))
            };
            let vendor = vendor.unwrap_or_else(|| panic!("no idVendor in {l}"));
            match product {
                Some(p) => format!("{vendor}:{p}"),
                None => vendor,
            }
        })
        .collect()
}

#[test]
fn the_udev_rule_keeps_modem_manager_off_every_usb_id_the_shipped_plugins_declare() {
    let pkg = package();
    let mut declared = BTreeSet::new();
    for bundle in BUNDLES {
        let manifest = std::fs::read_to_string(
            pkg.root
                .path()
                .join("usr/lib/posdiag/plugins")
                .join(bundle)
                .join("manifest.toml"),
        )
        .unwrap();
        declared.extend(manifest_usb_ids(&manifest));
    }
    assert!(
        !declared.is_empty(),
        "the reference plugins declare USB ids (posdiag.zvt)"
    );
    let rules = std::fs::read_to_string(
        pkg.root
            .path()
            .join("usr/lib/udev/rules.d/60-posdiag.rules"),
    )
    .unwrap();
    assert_eq!(rule_ids(&rules, "tty"), declared, "{rules}");
    assert_eq!(rule_ids(&rules, "usb"), declared, "{rules}");
    // The documented place for a site's own ids.
    assert!(rules.contains("/etc/udev/rules.d/61-posdiag-local.rules"));
}

fn yaml_docs(path: &str) -> Vec<Yaml> {
    let text = std::fs::read_to_string(workspace().join(path)).unwrap();
    YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn check_config_text(text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("posdiagd.toml");
    std::fs::write(&path, text).unwrap();
    let out = posdiag_tests::run("posdiagd", &["--check-config", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Where the package puts a file (`[package.metadata.deb] assets`), by its source's file name.
fn packaged_dest(file: &str) -> String {
    let manifest: toml::Table = toml::from_str(
        &std::fs::read_to_string(workspace().join("crates/posdiagd/Cargo.toml")).unwrap(),
    )
    .unwrap();
    let assets = manifest["package"]["metadata"]["deb"]["assets"]
        .as_array()
        .unwrap();
    assets
        .iter()
        .filter_map(|a| a.as_array())
        .find(|a| {
            a[0].as_str()
                .is_some_and(|s| s.ends_with(&format!("/{file}")))
        })
        .and_then(|a| a[1].as_str())
        .map(|d| format!("/{d}"))
        .unwrap_or_else(|| panic!("{file} is not a package asset"))
}

#[test]
fn the_container_files_parse_and_use_the_packages_paths() {
    let containerfile =
        std::fs::read_to_string(workspace().join("deploy/container/Containerfile")).unwrap();
    let copies: Vec<&str> = containerfile
        .lines()
        .filter(|l| l.starts_with("COPY "))
        .collect();
    let copied_to = |file: &str| -> String {
        let line = copies
            .iter()
            .find(|l| l.contains(&format!("/{file} ")) || l.ends_with(&format!("/{file}")))
            .unwrap_or_else(|| panic!("the Containerfile copies no {file}"));
        line.split_whitespace().last().unwrap().to_owned()
    };
    for bin in ["posdiagd", "posdiag", "posdiag-plugin-host"] {
        assert_eq!(copied_to(bin), packaged_dest(bin), "{bin}");
    }
    let plugin_dir = packaged_dest("**/*");
    for bundle in BUNDLES {
        assert_eq!(
            copied_to(bundle),
            format!("{plugin_dir}{bundle}"),
            "{bundle}"
        );
    }
    assert_eq!(
        copied_to("posdiagd.toml"),
        format!("/{}", "etc/posdiag/posdiagd.toml")
    );
    assert!(
        containerfile.contains(
            r#"ENTRYPOINT ["/usr/bin/posdiagd", "--config", "/etc/posdiag/posdiagd.toml"]"#
        )
    );
    assert!(
        containerfile.lines().any(|l| l == "USER posdiag"),
        "runs as non-root"
    );
    assert_eq!(
        containerfile.matches("\nFROM ").count(),
        2,
        "multi-stage: a build and a runtime stage"
    );
    check_config_text(
        &std::fs::read_to_string(workspace().join("deploy/container/posdiagd.toml")).unwrap(),
    );

    // Compose: posdiagd beside Prometheus and Grafana with the observability files, never
    // privileged, the serial device classes allowed.
    let compose = &yaml_docs("deploy/container/compose.yaml")[0];
    let services = &compose["services"];
    for name in ["posdiagd", "prometheus", "grafana"] {
        assert!(!services[name].is_badvalue(), "compose has no {name}");
        assert!(
            services[name]["privileged"].is_badvalue(),
            "{name} is privileged"
        );
    }
    let rules: Vec<&str> = services["posdiagd"]["device_cgroup_rules"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert_eq!(rules, ["c 4:* rmw", "c 166:* rmw", "c 188:* rmw"]);
    let mounts = |name: &str| -> Vec<String> {
        services[name]["volumes"]
            .as_vec()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    assert!(
        mounts("posdiagd")
            .iter()
            .any(|m| m.ends_with(":/etc/posdiag/posdiagd.toml:ro")),
        "{:?}",
        mounts("posdiagd")
    );
    assert!(
        mounts("prometheus")
            .iter()
            .any(|m| m.starts_with("../prometheus/posdiag-alerts.yml:"))
    );
    assert!(
        mounts("grafana")
            .iter()
            .any(|m| m.starts_with("../grafana/posdiag-overview.json:"))
    );
    for m in mounts("prometheus").iter().chain(&mounts("grafana")) {
        // Every file mounted from the checkout exists (./ beside compose.yaml, ../ in deploy/).
        let local = m.split(':').next().unwrap();
        if local.starts_with("./") || local.starts_with("../") {
            let path = workspace().join("deploy/container").join(local);
            assert!(path.is_file(), "{m}: {} is missing", path.display());
        }
    }
    let prometheus = &yaml_docs("deploy/container/prometheus.yml")[0];
    assert_eq!(
        prometheus["scrape_configs"][0]["static_configs"][0]["targets"][0].as_str(),
        Some("127.0.0.1:9842")
    );
    for file in ["grafana/datasource.yaml", "grafana/dashboards.yaml"] {
        assert_eq!(
            yaml_docs(&format!("deploy/container/{file}"))[0]["apiVersion"].as_i64(),
            Some(1)
        );
    }

    // Kubernetes: a ConfigMap with a valid configuration and a DaemonSet on store nodes.
    let docs = yaml_docs("deploy/kubernetes/posdiagd.yaml");
    let kind = |k: &str| {
        docs.iter()
            .find(|d| d["kind"].as_str() == Some(k))
            .unwrap_or_else(|| panic!("no {k}"))
    };
    kind("Namespace");
    check_config_text(kind("ConfigMap")["data"]["posdiagd.toml"].as_str().unwrap());
    let pod = &kind("DaemonSet")["spec"]["template"]["spec"];
    assert_eq!(
        pod["nodeSelector"]["posdiag.example/store"].as_str(),
        Some("true")
    );
    let container = &pod["containers"][0];
    assert_eq!(container["command"][0].as_str(), Some("/usr/bin/posdiagd"));
    assert_eq!(container["ports"][0]["containerPort"].as_i64(), Some(9842));
    assert_eq!(
        container["resources"]["limits"]["squat.ai/serial"].as_i64(),
        Some(1)
    );
    assert!(container["securityContext"]["privileged"].is_badvalue());
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"].as_bool(),
        Some(false)
    );
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    // The user the image creates.
    let uid = pod["securityContext"]["runAsUser"].as_i64().unwrap();
    assert!(
        containerfile.contains(&format!("--uid {uid} ")),
        "runAsUser {uid}"
    );
}
