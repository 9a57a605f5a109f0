//! Tidy tests: the workspace's structure rules that a reviewer would
//! otherwise have to remember. Dependency edges between workspace crates
//! must be the ones ARCHITECTURE.md lists, and every Rust file says what it
//! is for in a `//!` comment.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Text with everything inside parentheses (nested too) removed: the
/// Layering list gives its reasons in parentheses, which may name crates
/// that are not edges.
fn without_parentheses(text: &str) -> String {
    let mut depth = 0usize;
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The names written in backticks.
fn ticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The allowed edges, read from ARCHITECTURE.md's "Layering" list (the one
/// source of truth): each bullet is a crate in backticks, an arrow and its
/// allowed dependencies in backticks (reasons in parentheses), or `none`; a
/// bullet may name several crates on the left.
fn layering() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let section = text
        .split("\n## Layering\n")
        .nth(1)
        .expect("ARCHITECTURE.md has a \"## Layering\" section")
        .split("\n## ")
        .next()
        .unwrap();
    let mut bullets: Vec<String> = Vec::new();
    for line in section.lines() {
        if let Some(b) = line.strip_prefix("- ") {
            bullets.push(b.to_owned());
        } else if line.starts_with("  ")
            && let Some(last) = bullets.last_mut()
        {
            last.push(' ');
            last.push_str(line.trim());
        }
    }
    let mut rows = BTreeMap::new();
    for b in &bullets {
        let Some((left, right)) = b.split_once('→') else {
            continue;
        };
        let right = without_parentheses(right);
        let deps: BTreeSet<String> = if right.trim_start().starts_with("none") {
            BTreeSet::new()
        } else {
            ticked(&right).into_iter().collect()
        };
        for krate in ticked(left) {
            let previous = rows.insert(krate.clone(), deps.clone());
            assert!(
                previous.is_none(),
                "{krate} has two rows in the Layering list"
            );
        }
    }
    rows
}

/// Every workspace crate by package name, with its directory: `crates/*`,
/// the Rust plugins under `plugins/` and `tests/`.
fn workspace_crates() -> BTreeMap<String, PathBuf> {
    let mut dirs = vec![root().join("tests")];
    for parent in ["crates", "plugins"] {
        for e in std::fs::read_dir(root().join(parent)).unwrap() {
            let dir = e.unwrap().path();
            if dir.join("Cargo.toml").is_file() {
                dirs.push(dir);
            }
        }
    }
    dirs.into_iter()
        .map(|dir| {
            let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
            let name = manifest
                .lines()
                .find_map(|l| {
                    l.trim()
                        .strip_prefix("name = \"")
                        .and_then(|n| n.strip_suffix('"'))
                })
                .unwrap_or_else(|| panic!("{} has no package name", dir.display()))
                .to_owned();
            (name, dir)
        })
        .collect()
}

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
fn the_layering_list_is_read_as_written() {
    let rows = layering();
    assert_eq!(rows["posdiag-core"], BTreeSet::new());
    assert_eq!(rows["posdiag-fs"], BTreeSet::new());
    // A crate named only in a reason is not an edge.
    assert!(rows["posdiag-cli"].contains("posdiag-api"));
    assert!(!rows["posdiag-cli"].contains("posdiag-lab"));
    assert!(rows["posdiag-engine"].contains("posdiag-plugin-supervisor"));
    assert_eq!(
        without_parentheses("`a`, `b` (why `c` (nested)), `d`"),
        "`a`, `b` , `d`"
    );
}

#[test]
fn crate_dependencies_follow_the_documented_layering() {
    let rows = layering();
    let crates = workspace_crates();
    let unlisted: Vec<&String> = crates.keys().filter(|k| !rows.contains_key(*k)).collect();
    assert!(
        unlisted.is_empty(),
        "{unlisted:?} have no row in ARCHITECTURE.md's Layering list"
    );
    let stale: Vec<&String> = rows.keys().filter(|k| !crates.contains_key(*k)).collect();
    assert!(
        stale.is_empty(),
        "ARCHITECTURE.md's Layering list names {stale:?}, which are not workspace crates"
    );
    for (krate, dir) in &crates {
        let found = workspace_deps(&dir.join("Cargo.toml"));
        let extra: Vec<_> = found.difference(&rows[krate]).collect();
        assert!(
            extra.is_empty(),
            "{krate} depends on {extra:?}, which ARCHITECTURE.md's Layering list does not allow; change the design there first"
        );
    }
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
    rust_files(&root().join("plugins"), &mut files);
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

/// Spelled in two halves so that this file does not match itself.
const ALLOW_UNSAFE: &str = concat!("allow(", "unsafe_code");

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
                !text.contains(ALLOW_UNSAFE),
                "{} allows unsafe; only supervisor/process.rs may",
                f.display()
            );
        }
    }
    // The plugins take the workspace's lints, which forbid unsafe: a vendor
    // copies them, and their C boundary is the SDK's `export_plugin!`.
    let workspace_lints = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    assert!(workspace_lints.contains("unsafe_code = \"forbid\""));
    for (krate, dir) in workspace_crates() {
        if UNSAFE_CRATES.contains(&krate.as_str()) {
            continue;
        }
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap_or_default();
        assert!(
            manifest.contains("[lints]\nworkspace = true")
                || lib.contains("#![forbid(unsafe_code)]"),
            "{krate} neither takes the workspace lints nor forbids unsafe_code"
        );
        let mut files = Vec::new();
        rust_files(&dir, &mut files);
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            assert!(
                !text.contains(ALLOW_UNSAFE),
                "{} allows unsafe, but {krate} is not one of the crates that may",
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

/// The CLI, the lab, the daemon, the engine and the plugins speak through
/// `Text` (one value holding English and Chinese) and the `labels!` table,
/// never by choosing a language by hand: a branch on the language or an
/// `(en, zh)` tuple is where one language gets a sentence the other does not.
#[test]
fn user_facing_crates_never_pick_a_language_by_hand() {
    const FORBIDDEN: &[&str] = &[
        "if zh",
        "zh: bool",
        "lang == Lang::",
        "lang != Lang::",
        "(&str, &str)",
        "(&'static str, &'static str)",
    ];
    let mut files = Vec::new();
    for krate in [
        "posdiag-cli",
        "posdiag-lab",
        "posdiagd",
        "posdiag-engine",
        "posdiag-api",
    ] {
        rust_files(&root().join("crates").join(krate).join("src"), &mut files);
    }
    for e in std::fs::read_dir(root().join("plugins")).unwrap() {
        let src = e.unwrap().path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    assert!(files.len() > 10);
    // Test tables of (input, expected) are not texts: test files, and a
    // file's `#[cfg(test)]` module (at its end, by convention), are skipped.
    files.retain(|f| !f.ends_with("tests.rs"));
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (i, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("#[cfg(test)]") {
                break;
            }
            let code = line.split("//").next().unwrap_or_default();
            for pat in FORBIDDEN {
                if code.contains(pat) {
                    let rel = f.strip_prefix(root()).unwrap_or(f);
                    found.push(format!("{}:{}: {pat}", rel.display(), i + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "choose the language through posdiag_core::Text or a labels! row instead:\n{}",
        found.join("\n")
    );
}
