//! Tidy tests: the workspace's structure rules that a reviewer would
//! otherwise have to remember. Dependency edges between workspace crates
//! must be the ones ARCHITECTURE.md lists, and every Rust file says what it
//! is for in a `//!` comment.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The allowed edges, exactly as drawn in ARCHITECTURE.md ("Layering").
const ALLOWED: &[(&str, &[&str])] = &[
    ("posdiag-core", &[]),
    ("posdiag-transport", &[]),
    ("posdiag-ids", &["posdiag-core"]),
    ("posdiag-codes", &["posdiag-core"]),
    ("posdiag-proto", &[]),
    (
        "posdiag-engine",
        &[
            "posdiag-core",
            "posdiag-plugin-api",
            "posdiag-plugin-host",
            "posdiag-plugin-supervisor",
            "posdiag-transport",
        ],
    ),
    ("posdiag-sim", &["posdiag-core"]),
    ("posdiag-plugin-api", &[]),
    ("posdiag-fs", &[]),
    (
        "posdiag-zvt-driver",
        &["posdiag-core", "posdiag-plugin-api"],
    ),
    ("posdiag-plugin-host", &["posdiag-fs", "posdiag-plugin-api"]),
    (
        "posdiag-plugin-supervisor",
        &["posdiag-plugin-api", "posdiag-plugin-host"],
    ),
    (
        "posdiagd",
        &[
            "posdiag-api",
            "posdiag-codes",
            "posdiag-core",
            "posdiag-engine",
            "posdiag-fs",
            "posdiag-ids",
            "posdiag-plugin-api",
            "posdiag-plugin-host",
            "posdiag-plugin-supervisor",
            "posdiag-proto",
        ],
    ),
    (
        "posdiag-api",
        &[
            "posdiag-codes",
            "posdiag-core",
            "posdiag-ids",
            "posdiag-proto",
        ],
    ),
    (
        "posdiag-cli",
        &[
            "posdiag-api",
            "posdiag-codes",
            "posdiag-core",
            "posdiag-ids",
            "posdiag-proto",
        ],
    ),
    (
        "posdiag-lab",
        &[
            "posdiag-cli",
            "posdiag-core",
            "posdiag-engine",
            "posdiag-plugin-api",
            "posdiag-plugin-host",
            "posdiag-plugin-supervisor",
            "posdiag-sim",
            "posdiagd",
        ],
    ),
    (
        "posdiag-tests",
        &["posdiag-lab", "posdiag-proto", "posdiag-sim"],
    ),
];

fn workspace_deps(manifest: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let mut deps = BTreeSet::new();
    let mut in_deps = false;
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            in_deps = l.ends_with("dependencies]");
            continue;
        }
        if !in_deps {
            continue;
        }
        if let Some((name, _)) = l.split_once('=') {
            let name = name.trim().trim_end_matches(".workspace").to_owned();
            if name.starts_with("posdiag") {
                deps.insert(name);
            }
        }
    }
    deps
}

#[test]
fn crate_dependencies_follow_the_documented_layering() {
    for (krate, allowed) in ALLOWED {
        let dir = if *krate == "posdiag-tests" {
            root().join("tests")
        } else {
            root().join("crates").join(krate)
        };
        let found = workspace_deps(&dir.join("Cargo.toml"));
        let allowed: BTreeSet<String> = allowed.iter().map(|s| (*s).to_owned()).collect();
        let extra: Vec<_> = found.difference(&allowed).collect();
        assert!(
            extra.is_empty(),
            "{krate} depends on {extra:?}, which ARCHITECTURE.md does not allow; change the design there first"
        );
    }
    let crates: BTreeSet<String> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let listed: BTreeSet<String> = ALLOWED
        .iter()
        .map(|(k, _)| (*k).to_owned())
        .filter(|k| k != "posdiag-tests")
        .collect();
    assert_eq!(
        crates, listed,
        "every crate needs a row in ALLOWED and in ARCHITECTURE.md"
    );
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() && p.file_name().is_some_and(|n| n != "target") {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_rust_file_starts_with_a_doc_comment() {
    let mut files = Vec::new();
    rust_files(&root().join("crates"), &mut files);
    rust_files(&root().join("tests"), &mut files);
    assert!(files.len() > 20);
    let missing: Vec<_> = files
        .iter()
        .filter(|f| {
            !std::fs::read_to_string(f)
                .unwrap()
                .trim_start()
                .starts_with("//!")
        })
        .map(|f| f.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a //! comment: {missing:?}"
    );
}

/// The crates that may contain `unsafe`, named one by one (ARCHITECTURE.md,
/// "unsafe"): the vendor contract and the child process at the C boundary,
/// and the supervisor's `pre_exec` hook and process-group kill. Every other
/// crate's lib.rs says `#![forbid(unsafe_code)]`; the supervisor's says
/// `#![deny(unsafe_code)]`, lifted only in `supervisor/process.rs`.
const UNSAFE_CRATES: &[&str] = &[
    "posdiag-plugin-api",
    "posdiag-plugin-host",
    "posdiag-plugin-supervisor",
];

#[test]
fn only_the_listed_crates_may_use_unsafe() {
    let supervisor = root().join("crates/posdiag-plugin-supervisor/src");
    let lib = std::fs::read_to_string(supervisor.join("lib.rs")).unwrap();
    assert!(
        lib.contains("#![deny(unsafe_code)]"),
        "posdiag-plugin-supervisor must deny unsafe outside supervisor/process.rs"
    );
    let mut supervisor_files = Vec::new();
    rust_files(&supervisor, &mut supervisor_files);
    for f in &supervisor_files {
        let text = std::fs::read_to_string(f).unwrap();
        if !f.ends_with("supervisor/process.rs") {
            assert!(
                !text.contains("allow(unsafe_code"),
                "{} allows unsafe; only supervisor/process.rs may",
                f.display()
            );
        }
    }
    let mut files = Vec::new();
    rust_files(&root().join("crates"), &mut files);
    for f in files
        .iter()
        .filter(|f| f.ends_with("src/lib.rs") || f.ends_with("src/main.rs"))
    {
        let text = std::fs::read_to_string(f).unwrap();
        let krate = f
            .parent()
            .and_then(Path::parent)
            .and_then(Path::file_name)
            .unwrap()
            .to_string_lossy();
        if !UNSAFE_CRATES.contains(&krate.as_ref()) && f.ends_with("src/lib.rs") {
            assert!(
                text.contains("#![forbid(unsafe_code)]"),
                "{} lacks #![forbid(unsafe_code)]",
                f.display()
            );
        }
    }
}
