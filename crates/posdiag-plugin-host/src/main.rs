//! `posdiag-plugin-host`: loads one vendor plugin library in its own process
//! and serves it to posdiagd over an inherited socket. Started by the daemon
//! (see `posdiag_plugin_supervisor`), not by people:
//!
//! ```text
//! posdiag-plugin-host --library PATH --fd N [--plugin-id ID]
//!                     [--max-memory-mb M] [--max-cpu-s S]
//! ```
//!
//! Arguments are parsed by hand: no argument-parser crate, to keep start-up
//! and resident memory small (the host must be ready in a few milliseconds).

use std::path::PathBuf;
use std::process::ExitCode;

use posdiag_plugin_host::host_process::{self, HostOptions, exit};

const USAGE: &str = "usage: posdiag-plugin-host --library PATH --fd N [--plugin-id ID] \
[--max-memory-mb M] [--max-cpu-s S]\n(started by posdiagd, which passes one end of a socketpair as fd N)";

fn parse(mut args: impl Iterator<Item = std::ffi::OsString>) -> Result<HostOptions, String> {
    let (mut library, mut fd, mut plugin_id, mut mem, mut cpu) = (None, None, None, 256u64, None);
    while let Some(flag) = args.next() {
        let flag = flag.to_string_lossy().into_owned();
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: std::ffi::OsString| {
            v.to_string_lossy()
                .parse::<u64>()
                .map_err(|_| format!("{flag}: {v:?} is not a non-negative integer"))
        };
        match flag.as_str() {
            "--library" => library = Some(PathBuf::from(value()?)),
            "--fd" => fd = Some(number(value()?)?),
            "--plugin-id" => plugin_id = Some(value()?.to_string_lossy().into_owned()),
            "--max-memory-mb" => mem = number(value()?)?,
            "--max-cpu-s" => cpu = Some(number(value()?)?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let library = library.ok_or("--library is required")?;
    let fd = fd.ok_or("--fd is required")?;
    let fd = i32::try_from(fd)
        .ok()
        .filter(|fd| *fd > 2)
        .ok_or(format!("--fd {fd}: must be a descriptor above 2"))?;
    Ok(HostOptions {
        library,
        fd,
        plugin_id,
        max_memory_mb: mem,
        max_cpu_s: cpu,
    })
}

fn main() -> ExitCode {
    match parse(std::env::args_os().skip(1)) {
        Ok(opts) => ExitCode::from(host_process::run(&opts)),
        Err(e) => {
            if !e.is_empty() {
                eprintln!("posdiag-plugin-host: {e}");
            }
            eprintln!("{USAGE}");
            ExitCode::from(exit::USAGE)
        }
    }
}
