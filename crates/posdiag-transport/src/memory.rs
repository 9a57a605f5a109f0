//! In-memory links for tests and simulators: [`pair`] gives a [`Link`] and a
//! [`MemoryPeer`] that plays the device, and can stall (go silent and stop
//! accepting bytes) or vanish (as if unplugged) on command.
//!
//! The shared state sits behind a plain mutex that is never held across an
//! await; waiting is done on a `Notify`, so deadlines behave exactly as on
//! real links, including under paused tokio time.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::error::LinkError;
use crate::link::Link;

#[derive(Debug, Default)]
struct State {
    to_link: VecDeque<u8>,
    to_peer: VecDeque<u8>,
    stalled: bool,
    vanished: bool,
    peer_closed: bool,
    link_closed: bool,
}

#[derive(Debug)]
struct Shared {
    name: String,
    state: Mutex<State>,
    changed: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock, and the state stays valid
        // even if something did: recover rather than propagate poison.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `check` until it yields, waking on every state change, until
    /// `deadline`.
    async fn wait<T>(
        &self,
        deadline: Instant,
        op: &'static str,
        mut check: impl FnMut(&mut State) -> Option<Result<T, LinkError>>,
    ) -> Result<T, LinkError> {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            // Registered before looking at the state, so a change between
            // the check and the await is not missed.
            notified.as_mut().enable();
            if let Some(result) = check(&mut self.lock()) {
                return result;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(LinkError::Timeout {
                    link: self.name.clone(),
                    op,
                });
            }
        }
    }

    fn lost(&self) -> LinkError {
        LinkError::Lost {
            link: self.name.clone(),
            detail: "the simulated device vanished".into(),
        }
    }

    fn closed(&self) -> LinkError {
        LinkError::Closed {
            link: self.name.clone(),
        }
    }
}

/// Creates a connected in-memory link named "memory".
pub fn pair() -> (Link, MemoryPeer) {
    pair_named("memory")
}

/// Creates a connected in-memory link with a name for messages and
/// [`Link::describe`].
pub fn pair_named(name: &str) -> (Link, MemoryPeer) {
    let shared = Arc::new(Shared {
        name: name.to_owned(),
        state: Mutex::new(State::default()),
        changed: Notify::new(),
    });
    (
        Link::from_memory(MemoryLink {
            shared: Arc::clone(&shared),
        }),
        MemoryPeer { shared },
    )
}

/// The link's half.
#[derive(Debug)]
pub(crate) struct MemoryLink {
    shared: Arc<Shared>,
}

impl MemoryLink {
    pub(crate) fn name(&self) -> &str {
        &self.shared.name
    }

    pub(crate) async fn read(
        &mut self,
        max: usize,
        deadline: Instant,
    ) -> Result<Vec<u8>, LinkError> {
        let shared = &self.shared;
        shared
            .wait(deadline, "reading from", |s| {
                if s.vanished {
                    Some(Err(shared.lost()))
                } else if !s.stalled && !s.to_link.is_empty() {
                    let n = max.min(s.to_link.len());
                    Some(Ok(s.to_link.drain(..n).collect()))
                } else if s.peer_closed && s.to_link.is_empty() {
                    Some(Err(shared.closed()))
                } else {
                    None
                }
            })
            .await
    }

    pub(crate) async fn write_all(
        &mut self,
        bytes: &[u8],
        deadline: Instant,
    ) -> Result<(), LinkError> {
        let shared = &self.shared;
        shared
            .wait(deadline, "writing to", |s| {
                if s.vanished {
                    Some(Err(shared.lost()))
                } else if s.peer_closed {
                    Some(Err(shared.closed()))
                } else if s.stalled {
                    None
                } else {
                    s.to_peer.extend(bytes);
                    Some(Ok(()))
                }
            })
            .await?;
        shared.changed.notify_waiters();
        Ok(())
    }

    pub(crate) fn discard_input(&mut self) -> Result<(), LinkError> {
        let mut s = self.shared.lock();
        if s.vanished {
            return Err(self.shared.lost());
        }
        s.to_link.clear();
        Ok(())
    }
}

impl Drop for MemoryLink {
    fn drop(&mut self) {
        self.shared.lock().link_closed = true;
        self.shared.changed.notify_waiters();
    }
}

/// The device's half of an in-memory link. Dropping it closes the link in
/// an orderly way (the link's reads then fail with `Closed`); [`Self::vanish`]
/// simulates a removal instead (`Lost`).
#[derive(Debug)]
pub struct MemoryPeer {
    shared: Arc<Shared>,
}

impl MemoryPeer {
    /// Sends bytes to the link. While stalled they are held back until
    /// [`Self::resume`].
    pub fn write(&self, bytes: &[u8]) -> Result<(), LinkError> {
        {
            let mut s = self.shared.lock();
            if s.link_closed {
                return Err(self.shared.closed());
            }
            s.to_link.extend(bytes);
        }
        self.shared.changed.notify_waiters();
        Ok(())
    }

    /// Receives what the link wrote: at least one byte, all that is there.
    pub async fn read(&self, deadline: Instant) -> Result<Vec<u8>, LinkError> {
        let shared = &self.shared;
        shared
            .wait(deadline, "reading from the peer of", |s| {
                if !s.to_peer.is_empty() {
                    Some(Ok(s.to_peer.drain(..).collect()))
                } else if s.link_closed {
                    Some(Err(shared.closed()))
                } else {
                    None
                }
            })
            .await
    }

    /// Receives exactly `n` bytes the link wrote.
    pub async fn read_exact(&self, n: usize, deadline: Instant) -> Result<Vec<u8>, LinkError> {
        let shared = &self.shared;
        shared
            .wait(deadline, "reading from the peer of", |s| {
                if s.to_peer.len() >= n {
                    Some(Ok(s.to_peer.drain(..n).collect()))
                } else if s.link_closed {
                    Some(Err(shared.closed()))
                } else {
                    None
                }
            })
            .await
    }

    /// The device goes silent: the link's reads get nothing and its writes
    /// block, until [`Self::resume`] (or their deadlines).
    pub fn stall(&self) {
        self.shared.lock().stalled = true;
        self.shared.changed.notify_waiters();
    }

    /// Ends a stall.
    pub fn resume(&self) {
        self.shared.lock().stalled = false;
        self.shared.changed.notify_waiters();
    }

    /// The device disappears, as if unplugged: every pending and later
    /// operation on the link fails with `Lost`.
    pub fn vanish(self) {
        self.shared.lock().vanished = true;
        self.shared.changed.notify_waiters();
    }
}

impl Drop for MemoryPeer {
    fn drop(&mut self) {
        self.shared.lock().peer_closed = true;
        self.shared.changed.notify_waiters();
    }
}
