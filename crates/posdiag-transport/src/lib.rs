//! Links to terminals and hosts, and the deadlines that hold on them.
//!
//! This crate knows sockets and (in later issues) serial ports, never a
//! payment protocol. Its one promise: no operation here waits longer than
//! the deadline it was given, whatever the peer or the driver does.

#![forbid(unsafe_code)]

mod tcp;

pub use tcp::{ConnectError, ConnectFailure, classify, connect};
