//! One check on a ready process: the per-call multiplexer. While the plugin
//! runs, its log lines, progress events and link reads and writes arrive
//! interleaved; link I/O is handed to the caller (the engine owns the link)
//! and its answers relayed back, all within the caller's deadline. How the
//! call ended is one [`CallEnd`].

use std::time::Duration;

use posdiag_plugin_api::abi::{POSDIAG_E_FAILED, POSDIAG_E_NO_LINK, POSDIAG_OK};
use posdiag_plugin_api::pb;
use posdiag_plugin_host::frame::{self, ENVELOPE_SLACK};
use posdiag_plugin_host::proto::{self, Outcome, daemon_message, host_message};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until, timeout_at};
use tracing::debug;

use super::lifecycle::Supervisor;
use super::process::{Gone, PluginProcess, msg_name};
use super::{PluginFault, RunCall, TransportError, TransportRequest};

/// How one call ended.
#[derive(Debug)]
pub(super) enum CallEnd {
    /// The process answered: a result, or a fault that leaves the process
    /// serving (an error code, an invalid or oversized result).
    Answered(Result<pb::CheckResult, PluginFault>),
    /// The process was killed or died during the call: the call fails with
    /// this fault, and it counts as a death.
    Died(PluginFault),
}

impl CallEnd {
    fn crashed(detail: String) -> CallEnd {
        CallEnd::Died(PluginFault::Crashed { detail })
    }
}

impl Supervisor {
    /// Runs one check on a ready process and answers the caller. Returns the
    /// fault if the process had to die.
    pub(super) async fn run_one(
        &mut self,
        process: &mut PluginProcess,
        call: RunCall,
    ) -> Option<PluginFault> {
        let RunCall {
            request,
            transport,
            events,
            deadline,
            reply,
        } = call;
        let started = Instant::now();
        if deadline <= started {
            let _ = reply.send(Err(PluginFault::Timeout {
                after: Duration::ZERO,
            }));
            return None;
        }
        // The host would refuse the frame and die; the caller's bug is not the plugin's.
        let max_payload = process.max_frame.saturating_sub(ENVELOPE_SLACK);
        let len = frame::payload_len(&request);
        if len > max_payload {
            let detail =
                format!("request of {len} bytes exceeds the {max_payload}-byte frame limit");
            let _ = reply.send(Err(PluginFault::Protocol { detail }));
            return None;
        }
        self.next_call += 1;
        let call_id = self.next_call;
        let end = self
            .drive(process, call_id, &request, transport, events, deadline)
            .await;
        // The deadline is the caller's, so a timeout reports the time since its call.
        let for_caller = |f: &PluginFault| match f {
            PluginFault::Timeout { .. } => PluginFault::Timeout {
                after: started.elapsed(),
            },
            other => other.clone(),
        };
        match end {
            CallEnd::Answered(result) => {
                self.consecutive = 0;
                let _ = reply.send(result.map_err(|f| for_caller(&f)));
                None
            }
            CallEnd::Died(fault) => {
                // Recorded as the process's last error too: with the real time.
                let fault = for_caller(&fault);
                let _ = reply.send(Err(fault.clone()));
                Some(fault)
            }
        }
    }

    /// The exchange of one check.
    async fn drive(
        &mut self,
        process: &mut PluginProcess,
        call_id: u64,
        request: &pb::CheckRequest,
        transport: Option<mpsc::Sender<TransportRequest>>,
        events: mpsc::Sender<pb::Event>,
        deadline: Instant,
    ) -> CallEnd {
        let timed_out = |process: &mut PluginProcess| {
            process.kill();
            CallEnd::Died(PluginFault::Timeout {
                after: Duration::ZERO,
            })
        };
        let run = daemon_message::Msg::RunCheck(proto::RunCheck {
            call_id,
            request: frame::encode_payload(request),
        });
        match timeout_at(deadline, process.send(run)).await {
            Err(_) => return timed_out(process),
            Ok(Err(e)) => return CallEnd::crashed(process.death(Gone::Io(e)).await),
            Ok(Ok(())) => {}
        }
        let max_payload = process.max_frame.saturating_sub(ENVELOPE_SLACK);
        let mut pending: Option<Pending> = None;
        // The plugin's last error line of this call: why it returned an error
        // code (the SDK logs a PluginError's message), for the finding.
        let mut last_error: Option<String> = None;
        loop {
            tokio::select! {
                msg = process.next() => {
                    let msg = match msg {
                        Ok(m) => m,
                        Err(Gone::Protocol(e)) => {
                            return CallEnd::Died(PluginFault::Protocol {
                                detail: process.death(Gone::Protocol(e)).await,
                            });
                        }
                        Err(gone) => return CallEnd::crashed(process.death(gone).await),
                    };
                    match msg {
                        host_message::Msg::Log(l) => {
                            if l.level == 1 && l.call_id == call_id {
                                last_error = Some(first_chars(&l.text, 300));
                            }
                            self.log(&l);
                        }
                        host_message::Msg::Pong(_) => {}
                        host_message::Msg::Event(e) if e.call_id == call_id => {
                            match frame::decode_payload::<pb::Event>(&e.event) {
                                Ok(event) => {
                                    if events.try_send(event).is_err() {
                                        debug!(plugin = %self.spec.id, "progress event dropped: receiver full or gone");
                                    }
                                }
                                Err(err) => {
                                    debug!(plugin = %self.spec.id, "progress event dropped: not an Event: {err}");
                                }
                            }
                        }
                        host_message::Msg::TransportWrite(w) if w.call_id == call_id && pending.is_none() => {
                            let timeout = Duration::from_millis(u64::from(w.timeout_ms));
                            let (tx, rx) = oneshot::channel();
                            let req = TransportRequest::Write { bytes: w.data, timeout, reply: tx };
                            match forward(transport.as_ref(), req, deadline).await {
                                Forward::Sent => pending = Some(Pending::Write(rx)),
                                Forward::Refused(code) => {
                                    if let Err(e) = process.send(transport_reply(call_id, code, Vec::new())).await {
                                        return CallEnd::crashed(process.death(Gone::Io(e)).await);
                                    }
                                }
                                Forward::Deadline => return timed_out(process),
                            }
                        }
                        host_message::Msg::TransportRead(r) if r.call_id == call_id && pending.is_none() => {
                            let timeout = Duration::from_millis(u64::from(r.timeout_ms));
                            let max = (r.max as usize).min(max_payload);
                            let (tx, rx) = oneshot::channel();
                            let req = TransportRequest::Read { max, timeout, reply: tx };
                            match forward(transport.as_ref(), req, deadline).await {
                                Forward::Sent => pending = Some(Pending::Read(max, rx)),
                                Forward::Refused(code) => {
                                    if let Err(e) = process.send(transport_reply(call_id, code, Vec::new())).await {
                                        return CallEnd::crashed(process.death(Gone::Io(e)).await);
                                    }
                                }
                                Forward::Deadline => return timed_out(process),
                            }
                        }
                        host_message::Msg::CheckDone(d) if d.call_id == call_id => {
                            return CallEnd::Answered(judge(d, process.max_frame, last_error));
                        }
                        other => {
                            process.kill();
                            return CallEnd::Died(PluginFault::Protocol {
                                detail: format!("unexpected {} during check {call_id}", msg_name(&other)),
                            });
                        }
                    }
                }
                (code, data) = wait_pending(&mut pending), if pending.is_some() => {
                    pending = None;
                    match timeout_at(deadline, process.send(transport_reply(call_id, code, data))).await {
                        Err(_) => return timed_out(process),
                        Ok(Err(e)) => return CallEnd::crashed(process.death(Gone::Io(e)).await),
                        Ok(Ok(())) => {}
                    }
                }
                _ = sleep_until(deadline) => return timed_out(process),
            }
        }
    }
}

/// Turns the host's CheckDone into the caller's result: the plugin's
/// `CheckResult`, decoded (and so validated) once, here.
fn judge(
    d: proto::CheckDone,
    max_frame: usize,
    last_error: Option<String>,
) -> Result<pb::CheckResult, PluginFault> {
    match d.outcome() {
        Outcome::Ok => {
            frame::decode_payload::<pb::CheckResult>(&d.result).map_err(|e| PluginFault::Protocol {
                detail: format!(
                    "run_check returned {} bytes that are not a CheckResult: {e}",
                    d.result.len()
                ),
            })
        }
        Outcome::PluginError => {
            let code = posdiag_plugin_api::abi::return_code_name(d.code)
                .map_or_else(|| d.code.to_string(), str::to_owned);
            Err(PluginFault::CheckFailed {
                code: d.code,
                detail: match last_error {
                    Some(why) => format!("run_check returned {code}: {why}"),
                    None => format!("run_check returned {code}"),
                },
            })
        }
        Outcome::ResultTooLarge => Err(PluginFault::Protocol {
            detail: format!(
                "run_check returned {} bytes, over the {max_frame}-byte frame limit",
                d.result_len
            ),
        }),
        Outcome::Unspecified => Err(PluginFault::Protocol {
            detail: "CheckDone without an outcome".into(),
        }),
    }
}

/// At most `n` characters of `s`, with "…" when cut.
fn first_chars(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn transport_reply(call_id: u64, code: i32, data: Vec<u8>) -> daemon_message::Msg {
    daemon_message::Msg::TransportReply(proto::TransportReply {
        call_id,
        code,
        data,
    })
}

enum Pending {
    Write(oneshot::Receiver<Result<(), TransportError>>),
    Read(usize, oneshot::Receiver<Result<Vec<u8>, TransportError>>),
}

/// The engine's answer to the pending transport request, as a header code.
async fn wait_pending(pending: &mut Option<Pending>) -> (i32, Vec<u8>) {
    match pending {
        Some(Pending::Write(rx)) => match rx.await {
            Ok(Ok(())) => (POSDIAG_OK, Vec::new()),
            Ok(Err(e)) => (e.code(), Vec::new()),
            Err(_) => (POSDIAG_E_FAILED, Vec::new()),
        },
        Some(Pending::Read(max, rx)) => match rx.await {
            Ok(Ok(mut data)) => {
                data.truncate(*max);
                (POSDIAG_OK, data)
            }
            Ok(Err(e)) => (e.code(), Vec::new()),
            Err(_) => (POSDIAG_E_FAILED, Vec::new()),
        },
        None => std::future::pending().await,
    }
}

enum Forward {
    Sent,
    Refused(i32),
    Deadline,
}

async fn forward(
    transport: Option<&mpsc::Sender<TransportRequest>>,
    req: TransportRequest,
    deadline: Instant,
) -> Forward {
    let Some(tx) = transport else {
        return Forward::Refused(POSDIAG_E_NO_LINK);
    };
    match timeout_at(deadline, tx.send(req)).await {
        Ok(Ok(())) => Forward::Sent,
        // The engine dropped its end: the link is gone.
        Ok(Err(_)) => Forward::Refused(POSDIAG_E_NO_LINK),
        Err(_) => Forward::Deadline,
    }
}
