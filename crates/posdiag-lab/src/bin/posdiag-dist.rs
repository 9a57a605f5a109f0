//! `posdiag-dist OUT_DIR`: writes what the Debian package ships besides the
//! binaries and that is generated from the command lines themselves, so it
//! cannot drift from them: shell completions of `posdiag` and `posdiagd`
//! (bash, zsh, fish; clap_complete) and the man pages posdiag(1) and
//! posdiagd(8) (clap_mangen, plus a hand-written FILES and SEE ALSO).
//! `deploy/package.sh` runs it; it is not installed.
//!
//!   OUT_DIR/completions/{posdiag,posdiagd}.bash    bash
//!   OUT_DIR/completions/{_posdiag,_posdiagd}       zsh
//!   OUT_DIR/completions/{posdiag,posdiagd}.fish    fish
//!   OUT_DIR/man/posdiag.1, OUT_DIR/man/posdiagd.8

#![forbid(unsafe_code)]

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::CommandFactory as _;
use clap_complete::Shell;
use posdiag_cli::errln;

/// Appended to posdiag(1).
const POSDIAG_TAIL: &str = r#".SH ENVIRONMENT
.TP
\fBPOSDIAG_ENDPOINT\fR
The daemon to talk to, as \fB\-\-endpoint\fR (default unix:/run/posdiag/posdiagd.sock).
.TP
\fBPOSDIAG_TLS_CA\fR, \fBPOSDIAG_TLS_CERT\fR, \fBPOSDIAG_TLS_KEY\fR
Mutual TLS credentials for https:// endpoints.
.TP
\fBNO_COLOR\fR
No colour in tables and timelines.
.SH EXIT STATUS
\fBcheck\fR and \fBdoctor\fR follow the monitoring-plugin convention: 0 OK, 1 WARNING,
2 CRITICAL, 3 UNKNOWN. 64: invalid arguments.
.SH FILES
.TP
\fI/run/posdiag/posdiagd.sock\fR
The daemon's API socket; members of the \fBposdiag\fR group may use it.
.SH SEE ALSO
\fBposdiagd\fR(8), \fBposdiagd.toml\fR(5)
"#;

/// Appended to posdiagd(8).
const POSDIAGD_TAIL: &str = r#".SH SIGNALS
.TP
\fBSIGHUP\fR
Re-read the configuration (\fBsystemctl reload posdiagd\fR). An invalid file changes nothing.
.TP
\fBSIGTERM\fR, \fBSIGINT\fR
Stop, cancelling checks in flight.
.SH ENVIRONMENT
.TP
\fBPOSDIAG_LOG\fR
Log filter (default info), e.g. POSDIAG_LOG=debug.
.TP
\fBSTATE_DIRECTORY\fR
Set by systemd from the unit's StateDirectory=; the history file defaults to history.db in it.
.SH FILES
.TP
\fI/etc/posdiag/posdiagd.toml\fR
The configuration, see \fBposdiagd.toml\fR(5).
.TP
\fI/var/lib/posdiag/history.db\fR
The durable history (SQLite).
.TP
\fI/run/posdiag/posdiagd.sock\fR
The gRPC API socket.
.TP
\fI/usr/lib/posdiag/plugins/\fR
Plugin bundles loaded when the configuration names no \fBplugins.dir\fR.
.TP
\fI/usr/libexec/posdiag/posdiag\-plugin\-host\fR
The process each plugin runs in.
.TP
\fI/usr/lib/udev/rules.d/60\-posdiag.rules\fR
Keeps ModemManager off the terminals' serial ports; a site's own in
\fI/etc/udev/rules.d/61\-posdiag\-local.rules\fR.
.SH SEE ALSO
\fBposdiag\fR(1), \fBposdiagd.toml\fR(5), \fBsystemd.exec\fR(5)
"#;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(out), None) = (args.next(), args.next()) else {
        errln!("usage: posdiag-dist OUT_DIR");
        return ExitCode::from(64);
    };
    match write_all(Path::new(&out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            errln!("posdiag-dist: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn write_all(out: &Path) -> anyhow::Result<()> {
    let completions = out.join("completions");
    let man = out.join("man");
    for dir in [&completions, &man] {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let commands = [
        (posdiag_cli::cli::Cli::command(), "1", POSDIAG_TAIL),
        (posdiagd::args::Args::command(), "8", POSDIAGD_TAIL),
    ];
    for (cmd, section, tail) in commands {
        let name = cmd.get_name().to_owned();
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut cmd = cmd.clone();
            clap_complete::generate_to(shell, &mut cmd, &name, &completions)
                .with_context(|| format!("writing the {shell} completion of {name}"))?;
        }
        let path: PathBuf = man.join(format!("{name}.{section}"));
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd)
            .section(section)
            .manual("posdiag")
            .render(&mut page)
            .with_context(|| format!("rendering {}", path.display()))?;
        page.write_all(tail.as_bytes())?;
        fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
