//! A fake `posdiag-plugin-host` for the lifecycle tests: a tokio task that
//! speaks the host protocol over an in-memory pipe, started through the same
//! seam as a real process ([`super::process::Spawn`]), so restart, back-off
//! and quarantine run on tokio's paused clock. A real child cannot: the
//! paused clock jumps to the next timer whenever the runtime is idle, even
//! while a real process is still working, so every handshake would time out.
//! The real child's faults are tested in `tests/faults.rs`.

use std::io;
use std::os::unix::process::ExitStatusExt as _;
use std::process::ExitStatus;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use posdiag_plugin_api::pb;
use posdiag_plugin_host::frame::{self, DEFAULT_MAX_FRAME_BYTES, FrameDecoder};
use posdiag_plugin_host::proto::{
    self, DaemonMessage, FailureKind, HostMessage, Outcome, daemon_message, host_message,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, DuplexStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::process::{PluginProcess, Spawn};

/// What one fake process does.
#[derive(Debug, Clone, Copy)]
pub(super) enum Behaviour {
    /// Handshakes, answers `ok` checks, and dies of SIGSEGV on the next.
    Checks { ok: u32 },
    /// `init()` fails: `Failed { INIT_FAILED }` instead of `Ready`.
    InitFails,
    /// Handshakes, then answers nothing (a plugin stuck in a loop).
    Deaf,
}

/// The fake process: killing it ends its task, which closes its end of the pipe.
#[derive(Debug)]
pub(super) struct FakeChild {
    kill: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<ExitStatus>>,
    exit: Option<ExitStatus>,
}

impl FakeChild {
    pub(super) fn kill(&mut self) {
        if let Some(k) = self.kill.take() {
            let _ = k.send(());
        }
    }

    pub(super) async fn wait(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.exit {
            return Ok(status);
        }
        let task = self
            .task
            .as_mut()
            .ok_or_else(|| io::Error::other("no fake task"))?;
        let status = task.await.map_err(io::Error::other)?;
        self.task = None;
        self.exit = Some(status);
        Ok(status)
    }
}

/// Starts fake processes; `behaviour` gets the spawn's number (1 = the
/// first). The counter says how many were started.
pub(super) fn spawner(
    mut behaviour: impl FnMut(u32) -> Behaviour + Send + 'static,
) -> (Spawn, Arc<AtomicU32>) {
    let spawned = Arc::new(AtomicU32::new(0));
    let count = spawned.clone();
    let spawn: Spawn = Box::new(move |_spec, config| {
        let n = count.fetch_add(1, Ordering::SeqCst) + 1;
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        let (kill, killed) = oneshot::channel();
        let task = tokio::spawn(host(theirs, behaviour(n), killed));
        let child = FakeChild {
            kill: Some(kill),
            task: Some(task),
            exit: None,
        };
        Ok(PluginProcess::fake(child, 1000 + n, ours, config))
    });
    (spawn, spawned)
}

async fn host(
    mut io: DuplexStream,
    behaviour: Behaviour,
    killed: oneshot::Receiver<()>,
) -> ExitStatus {
    tokio::select! {
        biased;
        // Killed, or the supervisor dropped the process (kill_on_drop).
        _ = killed => ExitStatus::from_raw(libc::SIGKILL),
        status = script(&mut io, behaviour) => status,
    }
}

fn exited(code: i32) -> ExitStatus {
    ExitStatus::from_raw(code << 8)
}

async fn send(io: &mut DuplexStream, msg: host_message::Msg) -> io::Result<()> {
    io.write_all(&frame::encode(&HostMessage { msg: Some(msg) }))
        .await
}

async fn recv(io: &mut DuplexStream, decoder: &mut FrameDecoder) -> Option<daemon_message::Msg> {
    loop {
        match decoder.next_message::<DaemonMessage>() {
            Ok(Some(DaemonMessage { msg: Some(m) })) => return Some(m),
            Ok(Some(DaemonMessage { msg: None })) => continue,
            Ok(None) => {}
            Err(_) => return None,
        }
        match io.read_buf(decoder.read_buf()).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

async fn script(io: &mut DuplexStream, behaviour: Behaviour) -> ExitStatus {
    let mut decoder = FrameDecoder::new(DEFAULT_MAX_FRAME_BYTES);
    let hello = host_message::Msg::Hello(proto::Hello {
        protocol_major: proto::PROTOCOL_MAJOR,
        protocol_minor: proto::PROTOCOL_MINOR,
        features: Vec::new(),
        rss_kib: 1024,
        pid: 0,
    });
    if send(io, hello).await.is_err() {
        return exited(65);
    }
    let mut checks = 0;
    let mut ready = false;
    while let Some(msg) = recv(io, &mut decoder).await {
        if ready && matches!(behaviour, Behaviour::Deaf) {
            continue;
        }
        let reply = match msg {
            daemon_message::Msg::Configure(_) => match behaviour {
                Behaviour::InitFails => {
                    let failed = host_message::Msg::Failed(proto::Failed {
                        kind: FailureKind::InitFailed as i32,
                        message: "init failed: no device".into(),
                    });
                    let _ = send(io, failed).await;
                    return exited(73);
                }
                Behaviour::Checks { .. } | Behaviour::Deaf => {
                    host_message::Msg::Ready(proto::Ready {
                        plugin_id: "fake.plugin".into(),
                        plugin_version: "1.0.0".into(),
                        abi_major: 1,
                        abi_minor: 0,
                        descriptor: frame::encode_payload(&pb::Descriptor {
                            id: "fake.plugin".into(),
                            ..Default::default()
                        }),
                    })
                }
            },
            daemon_message::Msg::RunCheck(r) => {
                checks += 1;
                match behaviour {
                    Behaviour::Checks { ok } if checks > ok => {
                        return ExitStatus::from_raw(libc::SIGSEGV);
                    }
                    _ => host_message::Msg::CheckDone(proto::CheckDone {
                        call_id: r.call_id,
                        outcome: Outcome::Ok as i32,
                        code: 0,
                        result: frame::encode_payload(&pb::CheckResult {
                            findings: vec![pb::Finding {
                                check: "fake".into(),
                                ..Default::default()
                            }],
                        }),
                        result_len: 0,
                    }),
                }
            }
            daemon_message::Msg::Ping(p) => host_message::Msg::Pong(proto::Pong { nonce: p.nonce }),
            daemon_message::Msg::Shutdown(_) => return exited(0),
            _ => continue,
        };
        ready |= matches!(reply, host_message::Msg::Ready(_));
        if send(io, reply).await.is_err() {
            return exited(65);
        }
    }
    exited(0)
}
