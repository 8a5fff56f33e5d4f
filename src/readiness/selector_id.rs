//! `SelectorId`: the process-unique name of a [`Selector`](crate::Selector), by which the
//! sockets and pipes readyio owns remember the one selector they belong to (see
//! [`Evented`](crate::Evented) and `owned_evented_fd.rs`).
//!
//! Ids come from a global counter and are never reused. Beside it, a short list of the ids
//! whose selector is alive lets a socket go free when its selector is dropped (closing an
//! epoll or kqueue fd ends all of its registrations). The list is read only when a socket
//! that belongs to one selector is offered to another: never on a poll or an IO call.

use std::io;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Names one selector for the life of the process, so a socket that remembers an id can
/// tell its own selector from any other, even one created after its own was dropped. Never
/// zero, so that zero can mean "no selector".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SelectorId(NonZeroU64);

/// The next id to hand out.
static NEXT_SELECTOR_ID: AtomicU64 = AtomicU64::new(1);

/// The ids of the selectors alive now (a handful: one per `Poll` or `EventLoop`).
static LIVE_SELECTORS: Mutex<Vec<u64>> = Mutex::new(Vec::new());

impl SelectorId {
    /// A fresh id, recorded as live until [`retire`](Self::retire); an error once all
    /// 2^64 - 1 are spent (at a million selectors a second, after half a million years):
    /// an id is never handed out twice.
    pub(crate) fn new_live() -> io::Result<SelectorId> {
        let id = NEXT_SELECTOR_ID
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |id| id.checked_add(1))
            .ok()
            .and_then(NonZeroU64::new)
            .map(SelectorId)
            .ok_or_else(|| io::Error::other("selector ids exhausted"))?;
        live_selectors().push(id.get());
        Ok(id)
    }

    /// Marks the id's selector as gone (its kernel selector is being closed).
    pub(crate) fn retire(self) {
        let mut live = live_selectors();
        if let Some(index) = live.iter().position(|&id| id == self.get()) {
            live.swap_remove(index);
        }
    }

    /// The id as a non-zero integer.
    pub(crate) fn get(self) -> u64 {
        self.0.get()
    }

    /// Whether the selector with id `id` has been created and not yet dropped.
    pub(crate) fn is_live(id: u64) -> bool {
        live_selectors().contains(&id)
    }
}

/// The live-selector list; a panic elsewhere while it was held cannot leave it half
/// updated (each update is one `push` or `swap_remove`), so a poisoned lock is used as is.
fn live_selectors() -> MutexGuard<'static, Vec<u64>> {
    LIVE_SELECTORS.lock().unwrap_or_else(PoisonError::into_inner)
}
