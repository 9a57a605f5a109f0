//! Simulators with fault injection for tests, demos and people: an acquirer host over TCP or
//! TLS ([`host`]), the PKI that signs its certificates ([`pki`]) and an authoritative DNS
//! responder ([`dns`]). Everything binds to loopback by default and needs no files or network.
//!
//! Every `start` function returns only once its sockets are bound, so a test can connect right
//! away without sleeping. Every running simulator shuts down promptly, releasing stalled
//! connections, when its `shutdown` is awaited or it is dropped.
#![forbid(unsafe_code)]

pub mod dns;
mod error;
pub mod host;
pub mod pki;

pub use error::SimError;
