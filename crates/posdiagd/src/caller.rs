//! Who is calling, as the auth layer identified them (`auth::Identity` in
//! the request's extensions), kept with the runs a call starts; and the
//! target a handler adds to its call's audit row (`auth::layer::AuditNote`).

use posdiag_history::Caller;
use tonic::Request;
use tonic::transport::server::UdsConnectInfo;

use crate::auth::Identity;
use crate::auth::layer::AuditNote;

/// The caller of `req`: the identity the auth layer found; without one (a
/// server assembled without the layer, as in some tests), the peer's
/// credentials or address.
pub fn caller<T>(req: &Request<T>) -> Caller {
    if let Some(id) = req.extensions().get::<Identity>() {
        return id.caller();
    }
    if let Some(info) = req.extensions().get::<UdsConnectInfo>() {
        let cred = info.peer_cred;
        return Caller {
            uid: cred.map(|c| c.uid()),
            gid: cred.map(|c| c.gid()),
            pid: cred
                .and_then(|c| c.pid())
                .and_then(|p| u32::try_from(p).ok()),
            peer: "unix".into(),
            ..Caller::default()
        };
    }
    Caller {
        peer: req.remote_addr().map(|a| a.to_string()).unwrap_or_default(),
        ..Caller::default()
    }
}

/// The caller's identity, when the auth layer found one.
pub fn identity<T>(req: &Request<T>) -> Option<&Identity> {
    req.extensions().get::<Identity>()
}

/// Names the terminal or target of the call in its audit row (written by
/// the auth layer when the call ends); `terminal` when it is a configured
/// terminal, so the terminal's history lists the call.
pub fn audit<T>(req: &Request<T>, target: &str, terminal: bool) {
    if let Some(note) = req.extensions().get::<AuditNote>() {
        note.set(target, terminal);
    }
}
