//! Simulators with fault injection for tests, demos and people: an acquirer host over TCP or
//! TLS ([`host`]), the PKI that signs its certificates ([`pki`]) and an authoritative DNS
//! responder ([`dns`]), and a ZVT payment terminal over TCP, a pseudo-terminal or a serial
//! port ([`zvt`]). Everything binds to loopback by default and needs no files or network.
//!
//! [`iso8583`] gives the host ISO 8583 answers (echo and sign-on in the `ascii`, `binary`,
//! `ascii-1993` and `cup` dialects, with scenario-driven field 39); [`nexo`] simulates a payment
//! terminal serving nexo Sale-to-POI Diagnosis over HTTP or HTTPS.
//!
//! Every `start` function returns only once its sockets are bound, so a test can connect right
//! away without sleeping. Every running simulator shuts down promptly, releasing stalled
//! connections, when its `shutdown` is awaited or it is dropped.
#![forbid(unsafe_code)]

pub mod dns;
mod error;
pub mod host;
pub mod iso8583;
pub mod nexo;
pub mod pki;
pub mod zvt;

pub use error::SimError;
