//! The life of a supervised plugin: the task that owns its process, starts
//! it (handshake in [`super::handshake`]), serves calls while it is idle
//! (pings), and after a death restarts it with exponential back-off or, after
//! too many deaths within the window, quarantines it.

use std::collections::VecDeque;
use std::time::Duration;

use posdiag_plugin_host::proto::{self, daemon_message, host_message};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, sleep_until};
use tracing::{debug, error, info, warn};

use super::handshake::StartError;
use super::process::{Gone, PluginProcess, Spawn, msg_name};
use super::{Command, PluginFault, PluginSpec, PluginState, PluginStatus, SupervisorConfig};

/// Restart delay after `consecutive` deaths in a row (1 = the first).
pub(super) fn backoff_delay((initial, max): (Duration, Duration), consecutive: u32) -> Duration {
    let exp = consecutive.saturating_sub(1).min(30);
    initial.saturating_mul(1u32 << exp).min(max)
}

/// How serving a process ended.
enum Exit {
    Stop(Option<oneshot::Sender<()>>),
    Died(PluginFault),
}

/// The task that owns one plugin's process; [`super::PluginHandle`]s talk
/// to it through `commands`.
pub(super) struct Supervisor {
    pub(super) spec: PluginSpec,
    pub(super) config: SupervisorConfig,
    /// How a process is started ([`PluginProcess::spawn`] but in tests).
    pub(super) spawn: Spawn,
    pub(super) commands: mpsc::Receiver<Command>,
    pub(super) status: watch::Sender<PluginStatus>,
    /// When recent deaths happened, oldest first, within the quarantine window.
    pub(super) deaths: VecDeque<Instant>,
    /// Deaths since the last process that served a check.
    pub(super) consecutive: u32,
    pub(super) next_call: u64,
    pub(super) next_nonce: u64,
}

impl Supervisor {
    pub(super) async fn run(mut self) {
        loop {
            let fault = match self.start().await {
                Ok(mut process) => match self.serve(&mut process).await {
                    Exit::Stop(done) => {
                        process.stop().await;
                        self.status.send_modify(|s| {
                            s.state = PluginState::Stopped;
                            s.pid = None;
                        });
                        if let Some(done) = done {
                            let _ = done.send(());
                        }
                        return;
                    }
                    Exit::Died(fault) => fault,
                },
                Err(StartError::Permanent(fault)) => {
                    error!(plugin = %self.spec.id, reason = fault.reason_code(), "{fault}");
                    self.status.send_modify(|s| {
                        s.state = PluginState::Failed;
                        s.last_error = Some(fault.clone());
                        s.pid = None;
                    });
                    return self.refuse_all(fault).await;
                }
                Err(StartError::Died(fault)) => fault,
            };
            warn!(plugin = %self.spec.id, reason = fault.reason_code(), "plugin host died: {fault}");
            if let Some(quarantine) = self.record_death(fault.clone()) {
                error!(plugin = %self.spec.id, reason = "plugin.quarantined", "{quarantine}");
                return self.refuse_all(quarantine).await;
            }
            let delay = backoff_delay(self.config.restart_backoff, self.consecutive);
            if !self.back_off(delay, &fault).await {
                return;
            }
        }
    }

    /// Counts a death; returns the quarantine fault when there were too many.
    fn record_death(&mut self, fault: PluginFault) -> Option<PluginFault> {
        let now = Instant::now();
        self.deaths.push_back(now);
        while self
            .deaths
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.config.quarantine_window)
        {
            self.deaths.pop_front();
        }
        self.consecutive = self.consecutive.saturating_add(1);
        let recent = u32::try_from(self.deaths.len()).unwrap_or(u32::MAX);
        let quarantine =
            (recent >= self.config.quarantine_after.max(1)).then(|| PluginFault::Quarantined {
                detail: format!(
                    "{recent} host deaths within {:?} (limit {}); last: {fault}",
                    self.config.quarantine_window, self.config.quarantine_after
                ),
            });
        self.status.send_modify(|s| {
            s.crashes = s.crashes.saturating_add(1);
            s.recent_crashes = recent;
            s.pid = None;
            match &quarantine {
                Some(q) => {
                    s.state = PluginState::Quarantined;
                    s.last_error = Some(q.clone());
                }
                None => {
                    s.state = PluginState::Restarting;
                    s.last_error = Some(fault);
                }
            }
        });
        quarantine
    }

    /// Waits out the restart delay; calls arriving meanwhile fail at once
    /// with the fault that killed the last host. False: stop supervising.
    async fn back_off(&mut self, delay: Duration, fault: &PluginFault) -> bool {
        let until = Instant::now() + delay;
        let refusal = PluginFault::Crashed {
            detail: format!("restarting after: {fault}"),
        };
        loop {
            tokio::select! {
                _ = sleep_until(until) => return true,
                cmd = self.commands.recv() => match cmd {
                    None => {
                        self.status.send_modify(|s| s.state = PluginState::Stopped);
                        return false;
                    }
                    Some(Command::Shutdown(done)) => {
                        self.status.send_modify(|s| s.state = PluginState::Stopped);
                        let _ = done.send(());
                        return false;
                    }
                    Some(Command::Run(call)) => {
                        let _ = call.reply.send(Err(refusal.clone()));
                    }
                },
            }
        }
    }

    /// Answers every call with `fault` until shut down (quarantined or failed).
    async fn refuse_all(mut self, fault: PluginFault) {
        while let Some(cmd) = self.commands.recv().await {
            match cmd {
                Command::Run(call) => {
                    let _ = call.reply.send(Err(fault.clone()));
                }
                Command::Shutdown(done) => {
                    let _ = done.send(());
                    return;
                }
            }
        }
    }

    async fn serve(&mut self, process: &mut PluginProcess) -> Exit {
        let mut ping = self
            .config
            .ping_interval
            .map(|p| tokio::time::interval_at(Instant::now() + p, p));
        let mut awaiting_pong: Option<(u64, Instant)> = None;
        loop {
            let pong_deadline = awaiting_pong.map(|(_, d)| d);
            tokio::select! {
                cmd = self.commands.recv() => match cmd {
                    None => return Exit::Stop(None),
                    Some(Command::Shutdown(done)) => return Exit::Stop(Some(done)),
                    Some(Command::Run(call)) => {
                        // A finished check proves liveness as well as a Pong.
                        awaiting_pong = None;
                        if let Some(fault) = self.run_one(process, *call).await {
                            return Exit::Died(fault);
                        }
                    }
                },
                msg = process.next() => match msg {
                    Ok(host_message::Msg::Log(l)) => self.log(&l),
                    Ok(host_message::Msg::Pong(p)) => {
                        if awaiting_pong.is_some_and(|(n, _)| n == p.nonce) {
                            awaiting_pong = None;
                        }
                    }
                    // Events or transport requests outside a check: a plugin
                    // thread gone astray, or a confused host. Either way the
                    // stream cannot be trusted.
                    Ok(other) => {
                        process.kill();
                        return Exit::Died(PluginFault::Protocol {
                            detail: format!("unexpected {} while no check runs", msg_name(&other)),
                        });
                    }
                    Err(gone) => {
                        let protocol = matches!(gone, Gone::Protocol(_));
                        let detail = process.death(gone).await;
                        return Exit::Died(if protocol {
                            PluginFault::Protocol { detail }
                        } else {
                            PluginFault::Crashed { detail: format!("{detail} while idle") }
                        });
                    }
                },
                _ = tick(&mut ping), if awaiting_pong.is_none() => {
                    self.next_nonce += 1;
                    let nonce = self.next_nonce;
                    if let Err(e) = process.send(daemon_message::Msg::Ping(proto::Ping { nonce })).await {
                        return Exit::Died(PluginFault::Crashed { detail: process.death(Gone::Io(e)).await });
                    }
                    awaiting_pong = Some((nonce, Instant::now() + self.config.handshake_timeout));
                },
                _ = sleep_until(pong_deadline.unwrap_or_else(Instant::now)), if pong_deadline.is_some() => {
                    process.kill();
                    return Exit::Died(PluginFault::Timeout { after: self.config.handshake_timeout });
                }
            }
        }
    }

    pub(super) fn log(&self, l: &proto::Log) {
        let id = &self.spec.id;
        match l.level {
            1 => error!(plugin = %id, call = l.call_id, "{}", l.text),
            2 => warn!(plugin = %id, call = l.call_id, "{}", l.text),
            3 => info!(plugin = %id, call = l.call_id, "{}", l.text),
            _ => debug!(plugin = %id, call = l.call_id, "{}", l.text),
        }
    }
}

async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::sync::atomic::Ordering;

    use posdiag_plugin_api::pb;

    use super::super::fake::{Behaviour, spawner};
    use super::super::{PluginHandle, process::Spawn};
    use super::*;

    fn spec() -> PluginSpec {
        PluginSpec {
            id: "fake.plugin".into(),
            library: "/fake/libfake.so".into(),
            init_request: Default::default(),
        }
    }

    /// The defaults (back-off 0.5 s doubling to 30 s, quarantine after 5
    /// deaths in 10 minutes), no pings.
    fn config() -> SupervisorConfig {
        let mut c = SupervisorConfig::new("/fake/posdiag-plugin-host".into());
        c.ping_interval = None;
        c
    }

    fn start(config: SupervisorConfig, spawn: Spawn) -> PluginHandle {
        PluginHandle::start_with(spec(), config, spawn)
    }

    async fn check(p: &PluginHandle) -> Result<pb::CheckResult, PluginFault> {
        let (events, _rx) = mpsc::channel(1);
        let deadline = Instant::now() + Duration::from_secs(5);
        p.run_check(Default::default(), None, events, deadline)
            .await
    }

    /// How long `ready()` took on the paused clock.
    async fn time_to_ready(p: &PluginHandle) -> Duration {
        let t = Instant::now();
        p.ready().await.unwrap();
        t.elapsed()
    }

    fn assert_about(got: Duration, want_ms: u64) {
        let want = Duration::from_millis(want_ms);
        assert!(
            got >= want && got < want + Duration::from_millis(50),
            "took {got:?}, expected {want:?}"
        );
    }

    #[test]
    fn backoff_doubles_from_the_initial_delay_up_to_the_cap() {
        let b = (Duration::from_millis(100), Duration::from_secs(1));
        let got: Vec<u128> = (1..=6).map(|n| backoff_delay(b, n).as_millis()).collect();
        assert_eq!(got, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff_delay(b, u32::MAX), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_dead_process_is_restarted_after_a_back_off_that_doubles_then_resets() {
        // Processes 1 and 2 crash on their first check; 3 serves one, then crashes.
        let (spawn, spawned) = spawner(|n| match n {
            3 => Behaviour::Checks { ok: 1 },
            _ => Behaviour::Checks { ok: 0 },
        });
        let p = start(config(), spawn);
        let first = p.ready().await.unwrap();
        assert_eq!(first.descriptor.id, "fake.plugin");

        let err = check(&p).await.unwrap_err();
        assert!(
            matches!(&err, PluginFault::Crashed { detail } if detail.contains("SIGSEGV")),
            "{err:?}"
        );
        let status = p.status();
        assert_eq!((status.state, status.crashes), (PluginState::Restarting, 1));
        assert_eq!(status.last_error.as_ref(), Some(&err));
        // A call during the back-off fails at once, naming the death.
        let t = Instant::now();
        match check(&p).await.unwrap_err() {
            PluginFault::Crashed { detail } => {
                assert!(
                    detail.starts_with("restarting after: plugin host crashed"),
                    "{detail}"
                )
            }
            other => panic!("expected Crashed, got {other:?}"),
        }
        assert_eq!(t.elapsed(), Duration::ZERO);
        assert_about(time_to_ready(&p).await, 500);
        assert_ne!(p.status().pid, Some(first.pid), "a new process was started");

        // The second death in a row: the delay doubles.
        check(&p).await.unwrap_err();
        assert_about(time_to_ready(&p).await, 1_000);

        // A check served resets the count: the next death waits 0.5 s again.
        assert_eq!(check(&p).await.unwrap().findings[0].check, "fake");
        check(&p).await.unwrap_err();
        assert_about(time_to_ready(&p).await, 500);
        let status = p.status();
        assert_eq!((status.state, status.crashes), (PluginState::Ready, 3));
        assert_eq!(spawned.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_plugin_that_keeps_dying_is_quarantined_and_refused_at_once() {
        let mut c = config();
        c.quarantine_after = 3;
        c.quarantine_window = Duration::from_secs(60);
        let (spawn, spawned) = spawner(|_| Behaviour::InitFails);
        let p = start(c, spawn);
        let t = Instant::now();
        let err = p.ready().await.unwrap_err();
        // Deaths at 0 s, 0.5 s and 1.5 s (back-off 0.5 s, then 1 s).
        assert_about(t.elapsed(), 1_500);
        match &err {
            PluginFault::Quarantined { detail } => assert_eq!(
                detail,
                "3 host deaths within 60s (limit 3); last: plugin host crashed: \
                 plugin failed to start: init failed: no device"
            ),
            other => panic!("expected Quarantined, got {other:?}"),
        }
        let status = p.status();
        assert_eq!(
            (status.state, status.crashes, status.recent_crashes),
            (PluginState::Quarantined, 3, 3)
        );
        assert_eq!(status.last_error.as_ref(), Some(&err));

        // Calls fail at once, and no process is started again, however long.
        let t = Instant::now();
        assert_eq!(check(&p).await.unwrap_err(), err);
        assert_eq!(t.elapsed(), Duration::ZERO);
        tokio::time::sleep(Duration::from_secs(3_600)).await;
        assert_eq!(spawned.load(Ordering::SeqCst), 3);
        assert_eq!(p.status().state, PluginState::Quarantined);
    }

    #[tokio::test(start_paused = true)]
    async fn deaths_older_than_the_window_do_not_count_towards_quarantine() {
        let mut c = config();
        c.quarantine_after = 3;
        c.quarantine_window = Duration::from_secs(1);
        c.restart_backoff = (Duration::from_secs(2), Duration::from_secs(2));
        let (spawn, spawned) = spawner(|_| Behaviour::InitFails);
        let p = start(c, spawn);
        // Deaths at 0, 2, 4, 6 and 8 s: never more than one within a second.
        tokio::time::sleep(Duration::from_millis(9_000)).await;
        let status = p.status();
        assert_eq!(
            (status.state, status.crashes, status.recent_crashes),
            (PluginState::Restarting, 5, 1)
        );
        assert_eq!(spawned.load(Ordering::SeqCst), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn a_check_past_its_deadline_is_a_timeout_and_the_process_is_replaced() {
        let (spawn, spawned) = spawner(|n| match n {
            1 => Behaviour::Deaf,
            _ => Behaviour::Checks { ok: u32::MAX },
        });
        let p = start(config(), spawn);
        let first = p.ready().await.unwrap();
        let (events, _rx) = mpsc::channel(1);
        let t = Instant::now();
        let deadline = t + Duration::from_millis(300);
        let err = p
            .run_check(Default::default(), None, events, deadline)
            .await
            .unwrap_err();
        // The supervisor's verdict at the deadline, not the caller's own after the grace.
        assert_eq!(t.elapsed(), Duration::from_millis(300));
        assert_eq!(
            err,
            PluginFault::Timeout {
                after: Duration::from_millis(300)
            }
        );
        assert_eq!(p.status().crashes, 1);
        // The plugin list shows the same time, not the zero the kill was made with.
        assert_eq!(p.status().last_error, Some(err));
        assert_about(time_to_ready(&p).await, 500);
        assert_ne!(p.status().pid, Some(first.pid));
        assert_eq!(check(&p).await.unwrap().findings.len(), 1);
        assert_eq!(spawned.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_process_that_stops_answering_pings_is_replaced() {
        let mut c = config();
        c.ping_interval = Some(Duration::from_secs(30));
        let (spawn, spawned) = spawner(|n| match n {
            1 => Behaviour::Deaf,
            _ => Behaviour::Checks { ok: u32::MAX },
        });
        let p = start(c, spawn);
        p.ready().await.unwrap();
        // Pinged at 30 s, no Pong within the 5 s handshake timeout: killed at 35 s.
        tokio::time::sleep(Duration::from_millis(34_900)).await;
        assert_eq!(p.status().state, PluginState::Ready);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let status = p.status();
        assert_eq!((status.state, status.crashes), (PluginState::Restarting, 1));
        assert_eq!(
            status.last_error,
            Some(PluginFault::Timeout {
                after: Duration::from_secs(5)
            })
        );
        p.ready().await.unwrap();
        // The new process answers its pings: still the same one a minute later.
        let pid = p.status().pid;
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!((p.status().pid, p.status().crashes), (pid, 1));
        assert_eq!(spawned.load(Ordering::SeqCst), 2);
    }
}
