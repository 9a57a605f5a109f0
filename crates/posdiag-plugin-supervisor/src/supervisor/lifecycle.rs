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
use super::process::{Gone, PluginProcess, msg_name};
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
    use super::*;

    #[test]
    fn backoff_doubles_from_the_initial_delay_up_to_the_cap() {
        let b = (Duration::from_millis(100), Duration::from_secs(1));
        let got: Vec<u128> = (1..=6).map(|n| backoff_delay(b, n).as_millis()).collect();
        assert_eq!(got, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff_delay(b, u32::MAX), Duration::from_secs(1));
    }
}
