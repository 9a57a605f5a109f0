//! Spawning, talking to, killing and reaping one `posdiag-plugin-host`
//! process ([`PluginProcess`]). The process-level invariants (fd 3, its own
//! process group killed before it is reaped, the parent-death signal) are
//! explained in the [module docs](super); this is the only module of the
//! crate that needs `unsafe`: the `pre_exec` hook and `kill(-pgid)`.

#![allow(
    unsafe_code,
    reason = "pre_exec and kill(2); every block has a SAFETY comment"
)]

use std::io;
use std::os::fd::AsRawFd as _;
use std::os::unix::process::ExitStatusExt as _;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use posdiag_plugin_host::frame::{self, FrameDecoder};
use posdiag_plugin_host::host_process::exit;
use posdiag_plugin_host::proto::{self, daemon_message, host_message};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::time::timeout;
use tracing::debug;

use super::{PluginSpec, SupervisorConfig};

/// The fd number the host finds its socket on.
const HOST_FD: i32 = 3;

/// How long a host gets to exit after `Shutdown` before it is killed.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Why the host's stream ended.
pub(super) enum Gone {
    Eof,
    Io(io::Error),
    Protocol(String),
}

/// Starts a process for a plugin: [`PluginProcess::spawn`], or in tests a
/// fake host (`super::fake`) that runs on the paused test clock.
pub(super) type Spawn =
    Box<dyn FnMut(&PluginSpec, &SupervisorConfig) -> io::Result<PluginProcess> + Send>;

/// The byte stream to a process: the socket of a real one, or in tests an
/// in-memory pipe to a fake host task.
pub(super) trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// The process itself, to kill and reap.
enum Child {
    Os(tokio::process::Child),
    #[cfg(test)]
    Fake(super::fake::FakeChild),
}

impl Child {
    async fn wait(&mut self) -> io::Result<ExitStatus> {
        match self {
            Child::Os(c) => c.wait().await,
            #[cfg(test)]
            Child::Fake(c) => c.wait().await,
        }
    }
}

/// One running `posdiag-plugin-host` process and its socket.
pub(super) struct PluginProcess {
    child: Child,
    pub(super) pid: u32,
    stream: Box<dyn Stream>,
    decoder: FrameDecoder,
    pub(super) max_frame: usize,
    reaped: bool,
}

impl PluginProcess {
    pub(super) fn spawn(spec: &PluginSpec, config: &SupervisorConfig) -> io::Result<PluginProcess> {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
        let child_fd = theirs.as_raw_fd();
        // std::process::id() is the daemon's pid, what getppid() returns in the child.
        let parent = libc::pid_t::try_from(std::process::id()).unwrap_or(0);
        let mut cmd = tokio::process::Command::new(&config.host_binary);
        cmd.arg("--library")
            .arg(&spec.library)
            .arg("--fd")
            .arg(HOST_FD.to_string())
            .arg("--plugin-id")
            .arg(&spec.id)
            .arg("--max-memory-mb")
            .arg(config.max_memory_mb.to_string());
        if let Some(s) = config.max_cpu_s {
            cmd.arg("--max-cpu-s").arg(s.to_string());
        }
        // systemd's notification variables are the daemon's alone: a plugin
        // host that inherited them could report READY=1 or feed the
        // watchdog for a daemon that is wedged.
        for var in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            cmd.env_remove(var);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .process_group(0)
            .kill_on_drop(true);
        // SAFETY: the closure runs in the forked child before exec and only
        // makes async-signal-safe calls (fcntl, dup2, prctl, getppid, _exit)
        // on an fd number captured by value; it allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                if child_fd == HOST_FD {
                    let flags = libc::fcntl(child_fd, libc::F_GETFD);
                    if flags < 0
                        || libc::fcntl(child_fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0
                    {
                        return Err(io::Error::last_os_error());
                    }
                } else if libc::dup2(child_fd, HOST_FD) < 0 {
                    // dup2 leaves close-on-exec clear on the new descriptor.
                    return Err(io::Error::last_os_error());
                }
                libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                );
                // The daemon died between fork and prctl: nobody would kill us.
                if libc::getppid() != parent {
                    libc::_exit(i32::from(exit::SETUP));
                }
                Ok(())
            })
        };
        let child = cmd.spawn()?;
        drop(theirs);
        let pid = child
            .id()
            .ok_or_else(|| io::Error::other("host exited before it could be watched"))?;
        ours.set_nonblocking(true)?;
        let stream = tokio::net::UnixStream::from_std(ours)?;
        let max_frame = config.max_frame_bytes.clamp(1024, u32::MAX as usize);
        debug!(plugin = %spec.id, pid, "plugin host spawned");
        Ok(PluginProcess {
            child: Child::Os(child),
            pid,
            stream: Box::new(stream),
            decoder: FrameDecoder::new(max_frame),
            max_frame,
            reaped: false,
        })
    }

    /// A fake host task standing in for a process (tests on the paused clock).
    #[cfg(test)]
    pub(super) fn fake(
        child: super::fake::FakeChild,
        pid: u32,
        stream: impl Stream + 'static,
        config: &SupervisorConfig,
    ) -> PluginProcess {
        let max_frame = config.max_frame_bytes.clamp(1024, u32::MAX as usize);
        PluginProcess {
            child: Child::Fake(child),
            pid,
            stream: Box::new(stream),
            decoder: FrameDecoder::new(max_frame),
            max_frame,
            reaped: false,
        }
    }

    pub(super) async fn send(&mut self, msg: daemon_message::Msg) -> io::Result<()> {
        self.stream
            .write_all(&frame::encode(&proto::DaemonMessage { msg: Some(msg) }))
            .await
    }

    pub(super) async fn send_all(&mut self, msgs: &[daemon_message::Msg]) -> io::Result<()> {
        let mut bytes = Vec::new();
        for m in msgs {
            bytes.extend(frame::encode(&proto::DaemonMessage {
                msg: Some(m.clone()),
            }));
        }
        self.stream.write_all(&bytes).await
    }

    /// The next message from the host. Cancel-safe: bytes read are kept in
    /// the decoder, so it can be a `select!` branch.
    pub(super) async fn next(&mut self) -> Result<host_message::Msg, Gone> {
        loop {
            match self.decoder.next_message::<proto::HostMessage>() {
                Ok(Some(proto::HostMessage { msg: Some(msg) })) => return Ok(msg),
                // A message from a newer minor version: skip it.
                Ok(Some(proto::HostMessage { msg: None })) => continue,
                Ok(None) => {}
                Err(e) => return Err(Gone::Protocol(e.to_string())),
            }
            let buf = self.decoder.read_buf();
            buf.reserve(64 * 1024);
            match self.stream.read_buf(buf).await {
                Ok(0) => return Err(Gone::Eof),
                Ok(_) => {}
                Err(e) => return Err(Gone::Io(e)),
            }
        }
    }

    /// Kills the host's whole process group. Safe to repeat; never after reaping.
    pub(super) fn kill(&mut self) {
        if self.reaped {
            return;
        }
        match &mut self.child {
            Child::Os(_) => {
                if let Ok(pgid) = libc::pid_t::try_from(self.pid) {
                    // SAFETY: a plain syscall. The group leader is our unreaped child
                    // (at worst a zombie), so its pid, the pgid, cannot be reused yet.
                    unsafe { libc::kill(-pgid, libc::SIGKILL) };
                }
            }
            #[cfg(test)]
            Child::Fake(c) => c.kill(),
        }
    }

    /// Kills the group, reaps the host and describes how it ended.
    pub(super) async fn death(&mut self, why: Gone) -> String {
        // Kill first: the host may have closed its socket but still be running,
        // and children it forked must not outlive it. SIGKILL does not change
        // the status of a process that is already exiting.
        self.kill();
        let status = self.reap().await;
        match why {
            Gone::Eof => format!("plugin host (pid {}) {status}", self.pid),
            Gone::Io(e) => format!(
                "plugin host (pid {}) socket failed ({e}); {status}",
                self.pid
            ),
            Gone::Protocol(e) => format!(
                "plugin host (pid {}) sent a bad frame ({e}); killed",
                self.pid
            ),
        }
    }

    async fn reap(&mut self) -> String {
        let status = timeout(Duration::from_secs(2), self.child.wait()).await;
        match status {
            Ok(Ok(st)) => {
                self.reaped = true;
                describe_status(st)
            }
            Ok(Err(e)) => format!("could not be reaped ({e})"),
            Err(_) => "did not exit after SIGKILL".to_owned(),
        }
    }

    /// Graceful stop: Shutdown, then a grace period, then SIGKILL.
    pub(super) async fn stop(&mut self) {
        if self
            .send(daemon_message::Msg::Shutdown(proto::Shutdown {}))
            .await
            .is_ok()
            && let Ok(Ok(_)) = timeout(SHUTDOWN_GRACE, self.child.wait()).await
        {
            // Exited on its own; stray children of the group still go.
            self.kill();
            self.reaped = true;
            return;
        }
        self.kill();
        let _ = self.reap().await;
    }
}

impl Drop for PluginProcess {
    fn drop(&mut self) {
        // kill_on_drop covers the host itself; this covers its process group.
        self.kill();
    }
}

fn describe_status(st: ExitStatus) -> String {
    if let Some(sig) = st.signal() {
        let name = match sig {
            libc::SIGSEGV => "SIGSEGV",
            libc::SIGABRT => "SIGABRT",
            libc::SIGKILL => "SIGKILL",
            libc::SIGBUS => "SIGBUS",
            libc::SIGILL => "SIGILL",
            libc::SIGFPE => "SIGFPE",
            libc::SIGXCPU => "SIGXCPU (CPU limit)",
            libc::SIGTERM => "SIGTERM",
            _ => "signal",
        };
        format!("was killed by signal {sig} ({name})")
    } else {
        let code = st.code().unwrap_or(-1);
        format!("exited with code {code} ({})", exit::describe(code))
    }
}
/// The name of a host message, for protocol faults.
pub(super) fn msg_name(m: &host_message::Msg) -> &'static str {
    match m {
        host_message::Msg::Hello(_) => "Hello",
        host_message::Msg::Ready(_) => "Ready",
        host_message::Msg::Failed(_) => "Failed",
        host_message::Msg::Log(_) => "Log",
        host_message::Msg::Event(_) => "Event",
        host_message::Msg::TransportWrite(_) => "TransportWrite",
        host_message::Msg::TransportRead(_) => "TransportRead",
        host_message::Msg::CheckDone(_) => "CheckDone",
        host_message::Msg::Pong(_) => "Pong",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses_name_the_signal_or_code() {
        assert_eq!(
            describe_status(ExitStatus::from_raw(11)),
            "was killed by signal 11 (SIGSEGV)"
        );
        assert_eq!(
            describe_status(ExitStatus::from_raw(70 << 8)),
            "exited with code 70 (incompatible plugin ABI)"
        );
    }
}
