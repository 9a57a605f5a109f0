//! Reading a file someone else names (a path in the configuration, a file in
//! a plugin bundle or a vendor code directory) without trusting what it is.
//!
//! A path may lead to `/dev/zero` (endless), a FIFO (an `open` or `read` that
//! never returns), a directory, or a 1 GB file. [`open_regular`] opens with
//! `O_NONBLOCK | O_NOCTTY`, so opening a FIFO or a device never blocks and
//! never makes a terminal the controlling one, then checks the *opened*
//! descriptor (`fstat`, not the path: nothing can be swapped in between):
//! only a regular file no larger than its [`Limit`] passes. [`read_bounded`]
//! then reads at most the limit plus one byte, so a file that grows after the
//! check is still refused rather than read without end.
//!
//! Every daemon crate reads such files through here; the caller adds the
//! path (quoted) and where it came from to the message.

#![forbid(unsafe_code)]

use std::fmt;
use std::fs::File;
use std::io::Read as _;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::Path;

/// What a kind of file is called in messages and how large it may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// What the file should be, for "expected ..." (`a PEM certificate file`).
    pub what: &'static str,
    /// The largest size accepted, in bytes.
    pub max_bytes: u64,
}

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// The daemon's configuration file.
pub const CONFIG: Limit = Limit {
    what: "a TOML configuration file",
    max_bytes: 4 * MIB,
};
/// A `ca_file`: PEM certificates.
pub const CERTIFICATES: Limit = Limit {
    what: "a PEM certificate file",
    max_bytes: MIB,
};
/// A TLS private key (PEM).
pub const PRIVATE_KEY: Limit = Limit {
    what: "a PEM private key file",
    max_bytes: 64 * KIB,
};
/// A bearer token file (`[[auth.token]] file`).
pub const TOKEN: Limit = Limit {
    what: "a token file",
    max_bytes: 4 * KIB,
};
/// A vendor code table (`*.tsv`).
pub const CODE_TABLE: Limit = Limit {
    what: "a code table (tab-separated text)",
    max_bytes: 4 * MIB,
};
/// A plugin bundle's `manifest.toml`.
pub const MANIFEST: Limit = Limit {
    what: "a plugin manifest (TOML)",
    max_bytes: 64 * KIB,
};
/// A plugin library (hashed, never read whole).
pub const LIBRARY: Limit = Limit {
    what: "a plugin library (a shared object)",
    max_bytes: 256 * MIB,
};

/// Why a file was not read. The message reads on from the file's path:
/// `"/dev/zero" is a character device, not a regular file; ...`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FsError {
    /// `open` failed (missing, no permission, a dangling symlink).
    #[error("cannot be opened: {source}; expected {}", .limit.what)]
    Open {
        /// What was expected.
        limit: Limit,
        /// The system's reason.
        source: std::io::Error,
    },
    /// A directory, FIFO, socket or device.
    #[error("is {kind}, not a regular file; expected {}", .limit.what)]
    NotRegular {
        /// What it is instead (`a FIFO`).
        kind: &'static str,
        /// What was expected.
        limit: Limit,
    },
    /// Larger than the limit (by `fstat`, or by reading past it).
    #[error(
        "is {} or more, over the limit of {} for {}; expected a smaller file (is it the right one?)",
        Size(*.size),
        Size(.limit.max_bytes),
        .limit.what
    )]
    TooLarge {
        /// The size seen (at least this many bytes).
        size: u64,
        /// The limit it broke.
        limit: Limit,
    },
    /// `fstat` or `read` failed after the open.
    #[error("cannot be read: {source}")]
    Read {
        /// The system's reason.
        source: std::io::Error,
    },
    /// The bytes are not UTF-8 text.
    #[error("is not UTF-8 text; expected {}", .limit.what)]
    NotText {
        /// What was expected.
        limit: Limit,
    },
}

/// A byte count for people: `1048576 bytes (1 MiB)`.
struct Size(u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n >= MIB && n.is_multiple_of(MIB) {
            write!(f, "{n} bytes ({} MiB)", n / MIB)
        } else if n >= KIB && n.is_multiple_of(KIB) {
            write!(f, "{n} bytes ({} KiB)", n / KIB)
        } else {
            write!(f, "{n} bytes")
        }
    }
}

/// Opens `path` without blocking and checks the open descriptor: a regular
/// file of at most `limit.max_bytes`. Returns the file and its size.
pub fn open_regular(path: &Path, limit: Limit) -> Result<(File, u64), FsError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|source| FsError::Open { limit, source })?;
    // `File::metadata` is fstat on the descriptor just opened.
    let meta = file.metadata().map_err(|source| FsError::Read { source })?;
    let ft = meta.file_type();
    if !ft.is_file() {
        let kind = if ft.is_dir() {
            "a directory"
        } else if ft.is_fifo() {
            "a FIFO (named pipe)"
        } else if ft.is_char_device() {
            "a character device"
        } else if ft.is_block_device() {
            "a block device"
        } else if ft.is_socket() {
            "a socket"
        } else {
            "not a plain file"
        };
        return Err(FsError::NotRegular { kind, limit });
    }
    if meta.len() > limit.max_bytes {
        return Err(FsError::TooLarge {
            size: meta.len(),
            limit,
        });
    }
    Ok((file, meta.len()))
}

/// The bytes of `path`, a regular file of at most `limit.max_bytes`.
pub fn read_bounded(path: &Path, limit: Limit) -> Result<Vec<u8>, FsError> {
    let (file, size) = open_regular(path, limit)?;
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // One byte past the limit tells a file that grew since fstat from one
    // that is exactly at the limit.
    file.take(limit.max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| FsError::Read { source })?;
    if bytes.len() as u64 > limit.max_bytes {
        return Err(FsError::TooLarge {
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

/// The text of `path`, a regular UTF-8 file of at most `limit.max_bytes`.
pub fn read_to_string_bounded(path: &Path, limit: Limit) -> Result<String, FsError> {
    String::from_utf8(read_bounded(path, limit)?).map_err(|_| FsError::NotText { limit })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::process::Command;

    use super::*;

    const SMALL: Limit = Limit {
        what: "a test file",
        max_bytes: 16,
    };

    fn err(path: &Path) -> String {
        read_bounded(path, SMALL).unwrap_err().to_string()
    }

    #[test]
    fn a_small_regular_file_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"0123456789abcdef").unwrap();
        assert_eq!(read_bounded(&p, SMALL).unwrap(), b"0123456789abcdef");
        assert_eq!(
            read_to_string_bounded(&p, SMALL).unwrap(),
            "0123456789abcdef"
        );
    }

    #[test]
    fn anything_but_a_regular_file_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        // Without O_NONBLOCK this open waits for a writer forever: run it
        // on a thread so a regression fails here instead of hanging.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(err(&fifo)));
        let got = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("opening a FIFO blocked");
        assert_eq!(
            got,
            "is a FIFO (named pipe), not a regular file; expected a test file"
        );
        assert_eq!(
            err(Path::new("/dev/zero")),
            "is a character device, not a regular file; expected a test file"
        );
        assert_eq!(
            err(dir.path()),
            "is a directory, not a regular file; expected a test file"
        );
        assert!(
            err(&dir.path().join("missing")).starts_with("cannot be opened: "),
            "{}",
            err(&dir.path().join("missing"))
        );
    }

    #[test]
    fn a_file_over_the_limit_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        // Sparse: no disk is used.
        File::create(&p).unwrap().set_len(2 * MIB).unwrap();
        assert_eq!(
            err(&p),
            "is 2097152 bytes (2 MiB) or more, over the limit of 16 bytes for a test file; expected a smaller file (is it the right one?)"
        );
        std::fs::write(&p, [b'x'; 17]).unwrap();
        assert!(err(&p).starts_with("is 17 bytes or more"));
    }

    #[test]
    fn text_must_be_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bin");
        std::fs::write(&p, [0xff, 0xfe]).unwrap();
        assert_eq!(
            read_to_string_bounded(&p, SMALL).unwrap_err().to_string(),
            "is not UTF-8 text; expected a test file"
        );
    }
}
