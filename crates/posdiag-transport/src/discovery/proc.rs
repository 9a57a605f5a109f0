//! Who holds a port open: a scan of `/proc/<pid>/fd` like `fuser` does.
//!
//! Without root, other users' fd directories are unreadable; then a port
//! with no holder found is reported as unknown, never as free, because a
//! diagnosis that says "free" about a port another process holds sends
//! people the wrong way.

use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};

/// A process holding a port open.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Holder {
    /// Its process id.
    pub pid: u32,
    /// Its command name (`/proc/<pid>/comm`), when readable.
    pub comm: Option<String>,
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({})",
            self.pid,
            self.comm.as_deref().unwrap_or("unknown")
        )
    }
}

/// Whether a port is held open by some process.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Occupancy {
    /// Every process's open files were readable and none holds the port.
    Free,
    /// These processes hold it (there may be more among unreadable ones).
    HeldBy(Vec<Holder>),
    /// No holder found, but some processes could not be inspected.
    Unknown {
        /// Why, for people ("5 processes' open files are not readable …").
        reason: String,
    },
}

impl fmt::Display for Occupancy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Occupancy::Free => f.write_str("free"),
            Occupancy::HeldBy(holders) => {
                f.write_str("held by ")?;
                for (i, h) in holders.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{h}")?;
                }
                Ok(())
            }
            Occupancy::Unknown { reason } => write!(f, "unknown ({reason})"),
        }
    }
}

/// Who holds `port` open, from `/proc`.
pub fn occupancy(port: &Path) -> Occupancy {
    occupancy_in(Path::new("/proc"), port)
}

/// Who holds `port` open, from the procfs at `proc_root`.
pub(crate) fn occupancy_in(proc_root: &Path, port: &Path) -> Occupancy {
    ProcScan::scan(proc_root).occupancy(port, None)
}

#[derive(Debug)]
struct OpenFile {
    target: PathBuf,
    /// The device number when the fd is a character device, so an open
    /// through an alias or an old name still matches.
    rdev: Option<u64>,
    pid: u32,
}

/// One pass over /proc, shared by all ports of a discovery.
#[derive(Debug)]
pub(crate) struct ProcScan {
    open: Vec<OpenFile>,
    unreadable: usize,
    failure: Option<String>,
    proc_root: PathBuf,
}

impl ProcScan {
    pub(crate) fn scan(proc_root: &Path) -> ProcScan {
        let mut scan = ProcScan {
            open: Vec::new(),
            unreadable: 0,
            failure: None,
            proc_root: proc_root.to_path_buf(),
        };
        let entries = match fs::read_dir(proc_root) {
            Ok(e) => e,
            Err(e) => {
                scan.failure = Some(format!("{} is not readable: {e}", proc_root.display()));
                return scan;
            }
        };
        for entry in entries.filter_map(|e| e.ok()) {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let fd_dir = entry.path().join("fd");
            let fds = match fs::read_dir(&fd_dir) {
                Ok(fds) => fds,
                // The process ended between listing and looking.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    tracing::debug!(pid, error = %e, "open files of a process are not readable");
                    scan.unreadable += 1;
                    continue;
                }
            };
            for fd in fds.filter_map(|e| e.ok()) {
                let Ok(target) = fs::read_link(fd.path()) else {
                    continue;
                };
                // Sockets, pipes and anon inodes are not paths.
                if !target.is_absolute() {
                    continue;
                }
                let rdev = fs::metadata(fd.path())
                    .ok()
                    .filter(|m| m.file_type().is_char_device())
                    .map(|m| m.rdev());
                if rdev.is_none() && !target.starts_with("/dev") {
                    continue;
                }
                scan.open.push(OpenFile { target, rdev, pid });
            }
        }
        scan
    }

    /// Who holds `port`. With `dev_root` (a fake tree's /dev), an fd
    /// pointing at the real `/dev/<same name>` counts too.
    pub(crate) fn occupancy(&self, port: &Path, dev_root: Option<&Path>) -> Occupancy {
        let mut names = vec![port.to_path_buf()];
        if let Ok(canonical) = fs::canonicalize(port) {
            names.push(canonical);
        }
        if let Some(rel) = dev_root.and_then(|d| port.strip_prefix(d).ok()) {
            names.push(Path::new("/dev").join(rel));
        }
        let rdev = fs::metadata(port)
            .ok()
            .filter(|m| m.file_type().is_char_device())
            .map(|m| m.rdev());
        let mut pids: Vec<u32> = self
            .open
            .iter()
            .filter(|f| names.contains(&f.target) || (rdev.is_some() && f.rdev == rdev))
            .map(|f| f.pid)
            .collect();
        pids.sort_unstable();
        pids.dedup();
        if !pids.is_empty() {
            return Occupancy::HeldBy(
                pids.into_iter()
                    .map(|pid| Holder {
                        pid,
                        comm: fs::read_to_string(self.proc_root.join(pid.to_string()).join("comm"))
                            .ok()
                            .map(|c| c.trim().to_owned())
                            .filter(|c| !c.is_empty()),
                    })
                    .collect(),
            );
        }
        if let Some(failure) = &self.failure {
            return Occupancy::Unknown {
                reason: failure.clone(),
            };
        }
        if self.unreadable > 0 {
            return Occupancy::Unknown {
                reason: format!(
                    "the open files of {} processes are not readable; run as root or with CAP_SYS_PTRACE to see them",
                    self.unreadable
                ),
            };
        }
        Occupancy::Free
    }
}
