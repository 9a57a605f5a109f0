//! Links to terminals and hosts, serial port discovery, and the deadlines
//! that hold on them.
//!
//! This crate knows sockets and serial ports, never a payment protocol. Its
//! one promise: no operation here waits longer than the deadline it was
//! given, whatever the peer or the driver does.
//!
//! - [`Link`]: an open serial, TCP or in-memory connection with absolute
//!   deadlines ([`tokio::time::Instant`]) on every call, errors classified
//!   into [`LinkErrorKind`] (`link.lost`, `link.timeout`, `link.busy`, …),
//!   and an optional bounded, masked [`Transcript`]. Serial ports run on a
//!   thread of their own, so a driver that hangs wedges one thread, not the
//!   runtime; the link then reports `Stuck` and can be reopened.
//! - [`SerialSettings`]: baud rate, framing, flow control, modem lines and
//!   exclusivity, with a compact string form (`9600-8N2`).
//! - [`memory::pair`]: an in-memory link and a peer that can stall or vanish,
//!   for engine tests and simulators.
//! - [`discover`] / [`discover_in`]: serial ports from sysfs, /dev and /proc
//!   (USB identity, aliases, which process holds each), with fake roots for
//!   tests; [`PortSelector`] and [`resolve`] follow a USB device across
//!   re-plugs; [`PortWatcher`] reports hot-plug events.
//! - [`connect`] and [`classify`]: TCP connect with a deadline and a failure
//!   class a person can act on.

#![forbid(unsafe_code)]

pub mod discovery;
mod error;
mod link;
pub mod memory;
mod selector;
mod serial;
mod settings;
mod tcp;
mod transcript;
mod watcher;

pub use discovery::{
    DiscoveryRoots, Holder, NotSerial, Occupancy, PortInfo, PortKind, UsbInfo, check_serial_device,
    discover, discover_in, occupancy,
};
pub use error::{LinkError, LinkErrorKind};
pub use link::{Link, LinkKind};
pub use memory::MemoryPeer;
pub use selector::{PortSelector, UsbSelector, resolve};
pub use settings::{AppliedSettings, DataBits, FlowControl, Parity, SerialSettings, StopBits};
pub use tcp::{ConnectError, ConnectFailure, classify, connect};
pub use transcript::{Direction, Entry, Mask, Transcript, TranscriptConfig, hexdump};
pub use watcher::{PortEvent, PortWatcher};
