//! The ABI layout test: compiles a C program that includes `include/posdiag_plugin.h` and
//! prints the size of the three structs and the offset of every field, with the system C
//! compiler, and asserts that the `#[repr(C)]` mirrors in `posdiag_plugin_api::abi` match
//! field by field. The header is the contract; this is what keeps the mirrors honest.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::collections::BTreeMap;
use std::mem::{offset_of, size_of};
use std::path::{Path, PathBuf};
use std::process::Command;

use posdiag_plugin_api::abi::{self, PosdiagBuf, PosdiagHostApi, PosdiagPluginV1};

const PROGRAM: &str = r#"
#include <stdio.h>
#include "posdiag_plugin.h"

#define SIZE(t) printf("sizeof %s %zu\n", #t, sizeof(t))
#define OFF(t, f) printf("offsetof %s.%s %zu\n", #t, #f, offsetof(t, f))
#define CONST(c) printf("const %s %lld\n", #c, (long long)(c))

int main(void) {
    SIZE(posdiag_buf);
    OFF(posdiag_buf, ptr);
    OFF(posdiag_buf, len);

    SIZE(posdiag_host_api);
    OFF(posdiag_host_api, struct_size);
    OFF(posdiag_host_api, abi_minor);
    OFF(posdiag_host_api, log);
    OFF(posdiag_host_api, emit_event);
    OFF(posdiag_host_api, transport_write);
    OFF(posdiag_host_api, transport_read);

    SIZE(posdiag_plugin_v1);
    OFF(posdiag_plugin_v1, struct_size);
    OFF(posdiag_plugin_v1, abi_major);
    OFF(posdiag_plugin_v1, abi_minor);
    OFF(posdiag_plugin_v1, reserved);
    OFF(posdiag_plugin_v1, plugin_id);
    OFF(posdiag_plugin_v1, plugin_version);
    OFF(posdiag_plugin_v1, describe);
    OFF(posdiag_plugin_v1, init);
    OFF(posdiag_plugin_v1, run_check);
    OFF(posdiag_plugin_v1, free_buf);
    OFF(posdiag_plugin_v1, shutdown);

    CONST(POSDIAG_ABI_MAJOR);
    CONST(POSDIAG_ABI_MINOR);
    CONST(POSDIAG_OK);
    CONST(POSDIAG_E_FAILED);
    CONST(POSDIAG_E_TIMEOUT);
    CONST(POSDIAG_E_LINK_LOST);
    CONST(POSDIAG_E_NO_LINK);
    CONST(POSDIAG_E_INVALID);
    CONST(POSDIAG_E_UNSUPPORTED);
    CONST(POSDIAG_E_PANIC);
    CONST(POSDIAG_LOG_ERROR);
    CONST(POSDIAG_LOG_WARN);
    CONST(POSDIAG_LOG_INFO);
    CONST(POSDIAG_LOG_DEBUG);
    return 0;
}
"#;

/// The first C compiler that runs: `$CC`, then `cc`, then `gcc`.
fn c_compiler() -> String {
    let candidates = std::env::var("CC")
        .ok()
        .into_iter()
        .chain(["cc".to_owned(), "gcc".to_owned()]);
    for cc in candidates {
        if Command::new(&cc)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return cc;
        }
    }
    panic!(
        "the ABI layout test needs a C compiler: none of $CC, `cc`, `gcc` runs. \
         Install one (e.g. `apt-get install gcc`) or set CC to its path."
    );
}

/// Compiles and runs the program; returns `key → value` of every printed line.
fn c_layout() -> BTreeMap<String, i64> {
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("include");
    let dir: PathBuf = std::env::temp_dir().join(format!("posdiag-layout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("layout.c");
    let exe = dir.join("layout");
    std::fs::write(&source, PROGRAM).unwrap();
    let cc = c_compiler();
    let out = Command::new(&cc)
        .args(["-std=c99", "-Wall", "-Werror", "-o"])
        .arg(&exe)
        .arg("-I")
        .arg(&include)
        .arg(&source)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{cc} could not compile a program including posdiag_plugin.h:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe).output().unwrap();
    assert!(run.status.success(), "the layout program failed: {run:?}");
    std::fs::remove_dir_all(&dir).ok();
    String::from_utf8(run.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let mut parts = line.split(' ');
            let (kind, name, value) = (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
            );
            (format!("{kind} {name}"), value.parse().unwrap())
        })
        .collect()
}

fn usize_of(n: usize) -> i64 {
    i64::try_from(n).unwrap()
}

#[test]
fn rust_mirrors_match_the_c_header() {
    let c = c_layout();
    let mut rust: BTreeMap<String, i64> = BTreeMap::new();
    let mut put = |key: &str, value: i64| {
        rust.insert(key.to_owned(), value);
    };

    put("sizeof posdiag_buf", usize_of(size_of::<PosdiagBuf>()));
    put(
        "offsetof posdiag_buf.ptr",
        usize_of(offset_of!(PosdiagBuf, ptr)),
    );
    put(
        "offsetof posdiag_buf.len",
        usize_of(offset_of!(PosdiagBuf, len)),
    );

    put(
        "sizeof posdiag_host_api",
        usize_of(size_of::<PosdiagHostApi>()),
    );
    macro_rules! host {
        ($($f:ident),*) => {$(
            put(concat!("offsetof posdiag_host_api.", stringify!($f)), usize_of(offset_of!(PosdiagHostApi, $f)));
        )*};
    }
    host!(
        struct_size,
        abi_minor,
        log,
        emit_event,
        transport_write,
        transport_read
    );

    put(
        "sizeof posdiag_plugin_v1",
        usize_of(size_of::<PosdiagPluginV1>()),
    );
    macro_rules! plugin {
        ($($f:ident),*) => {$(
            put(concat!("offsetof posdiag_plugin_v1.", stringify!($f)), usize_of(offset_of!(PosdiagPluginV1, $f)));
        )*};
    }
    plugin!(
        struct_size,
        abi_major,
        abi_minor,
        reserved,
        plugin_id,
        plugin_version,
        describe,
        init,
        run_check,
        free_buf,
        shutdown
    );

    put("const POSDIAG_ABI_MAJOR", i64::from(abi::POSDIAG_ABI_MAJOR));
    put("const POSDIAG_ABI_MINOR", i64::from(abi::POSDIAG_ABI_MINOR));
    let return_codes = [
        ("POSDIAG_OK", abi::POSDIAG_OK),
        ("POSDIAG_E_FAILED", abi::POSDIAG_E_FAILED),
        ("POSDIAG_E_TIMEOUT", abi::POSDIAG_E_TIMEOUT),
        ("POSDIAG_E_LINK_LOST", abi::POSDIAG_E_LINK_LOST),
        ("POSDIAG_E_NO_LINK", abi::POSDIAG_E_NO_LINK),
        ("POSDIAG_E_INVALID", abi::POSDIAG_E_INVALID),
        ("POSDIAG_E_UNSUPPORTED", abi::POSDIAG_E_UNSUPPORTED),
        ("POSDIAG_E_PANIC", abi::POSDIAG_E_PANIC),
    ];
    for (name, value) in return_codes {
        assert_eq!(abi::return_code_name(value), Some(name));
        put(&format!("const {name}"), i64::from(value));
    }
    let log_levels = [
        ("POSDIAG_LOG_ERROR", abi::POSDIAG_LOG_ERROR),
        ("POSDIAG_LOG_WARN", abi::POSDIAG_LOG_WARN),
        ("POSDIAG_LOG_INFO", abi::POSDIAG_LOG_INFO),
        ("POSDIAG_LOG_DEBUG", abi::POSDIAG_LOG_DEBUG),
    ];
    for (name, value) in log_levels {
        put(&format!("const {name}"), i64::from(value));
    }

    // Compare key by key so that a failure names the field.
    for (key, c_value) in &c {
        assert_eq!(
            rust.get(key),
            Some(c_value),
            "{key}: the Rust mirror differs from the C header"
        );
    }
    assert_eq!(
        rust.keys().collect::<Vec<_>>(),
        c.keys().collect::<Vec<_>>(),
        "the test checks a field on one side only"
    );
}
