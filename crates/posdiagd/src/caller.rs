//! Who is calling: the peer's credentials over the unix socket (uid, pid
//! from SO_PEERCRED), its address over TCP. Kept with the runs it starts and
//! in the audit rows of the history.

use posdiag_history::{ApiCall, Caller, Record};
use tonic::Request;
use tonic::transport::server::UdsConnectInfo;

use crate::daemon_state::DaemonState;

/// The caller of `req`.
pub fn caller<T>(req: &Request<T>) -> Caller {
    if let Some(info) = req.extensions().get::<UdsConnectInfo>() {
        let cred = info.peer_cred;
        return Caller {
            uid: cred.map(|c| c.uid()),
            pid: cred
                .and_then(|c| c.pid())
                .and_then(|p| u32::try_from(p).ok()),
            peer: "unix".into(),
            principal: String::new(),
        };
    }
    Caller {
        peer: req.remote_addr().map(|a| a.to_string()).unwrap_or_default(),
        ..Caller::default()
    }
}

/// Writes the audit row of a call that runs checks (committed with the
/// next batch; the caller's run follows).
/// `terminal` is set for calls about a configured terminal, so its history
/// lists them.
pub fn audit(daemon: &DaemonState, method: &str, caller: &Caller, target: &str, terminal: bool) {
    daemon.record(Record::ApiCall(ApiCall {
        method: method.to_owned(),
        caller: caller.clone(),
        target: target.to_owned(),
        terminal: if terminal {
            posdiag_core::TerminalId::new(target).ok()
        } else {
            None
        },
        run_id: None,
        at: std::time::SystemTime::now(),
    }));
}
