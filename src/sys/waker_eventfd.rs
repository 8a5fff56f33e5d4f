//! The Linux waker: an `eventfd(2)` that another thread writes to wake a sleeping
//! `epoll_wait`.
//!
//! The event loop registers [`Waker::fd`] for readable, **edge-triggered**: every `write`
//! to an eventfd wakes its waiters and re-queues an edge-triggered epoll event, whether or
//! not the counter was read, so the loop never spends a `read` per wake-up. The counter
//! just keeps growing. It saturates only after 2^64 - 2 wakes; should that ever happen, a
//! `write` fails with `EAGAIN`, and [`Waker::wake`] then resets the counter with one `read`
//! and writes again, so no wake-up is lost.
//!
//! # References
//! `eventfd(2)`, `epoll(7)` ("edge-triggered").

use super::bindings as c;
use super::cvt;
use super::fd::{self, owned};
use super::Selector;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// Wakes a thread blocked in `Selector::select` from any other thread.
#[derive(Debug)]
pub(crate) struct Waker {
    fd: OwnedFd,
}

impl Waker {
    /// `eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)`. The eventfd is an fd of its own, which
    /// the owner of `selector` registers ([`Waker::fd`]); `selector` is not touched here.
    #[doc(alias = "eventfd")]
    pub(crate) fn new(_selector: &Selector) -> io::Result<Waker> {
        // SAFETY: plain syscall with an initial value and flags.
        let raw = cvt(unsafe { c::eventfd(0, c::EFD_NONBLOCK | c::EFD_CLOEXEC) })?;
        Ok(Waker { fd: owned(raw) })
    }

    /// The fd to register for readable, edge-triggered interest (always `Some`).
    pub(crate) fn fd(&self) -> Option<RawFd> {
        Some(self.fd.as_raw_fd())
    }

    /// One `write(2)` of 1 to the counter (plus a `read` and a second `write` in the
    /// practically unreachable case of a saturated counter).
    pub(crate) fn wake(&self) -> io::Result<()> {
        match fd::write(self.fd.as_fd(), &1u64.to_ne_bytes()) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.reset()?;
                fd::write(self.fd.as_fd(), &1u64.to_ne_bytes()).map(|_| ())
            }
            Err(e) => Err(e),
        }
    }

    /// Reads the counter back to zero (one `read(2)`); not needed per wake-up.
    pub(crate) fn reset(&self) -> io::Result<()> {
        let mut counter = [0u8; 8];
        match fd::read(self.fd.as_fd(), &mut counter) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl AsFd for Waker {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::{Interest, SelectorEvents, Trigger};
    use std::time::Duration;

    fn edge_selector(waker: &Waker) -> (Selector, SelectorEvents) {
        let selector = Selector::new().unwrap();
        let interest = Interest { readable: true, writable: false };
        selector.add(waker.fd().unwrap(), 7, interest, Trigger { edge: true, oneshot: false }).unwrap();
        (selector, SelectorEvents::with_capacity(4).unwrap())
    }

    fn new_waker() -> Waker {
        Waker::new(&Selector::new().unwrap()).unwrap()
    }

    #[test]
    fn every_wake_is_reported_edge_triggered_without_reading() {
        let waker = new_waker();
        let (selector, mut events) = edge_selector(&waker);
        for _ in 0..3 {
            waker.wake().unwrap();
            selector.select(&mut events, Some(Duration::from_secs(1))).unwrap();
            assert_eq!(events.len(), 1);
            assert_eq!(events.get(0).unwrap().data, 7);
            selector.select(&mut events, Some(Duration::ZERO)).unwrap();
            assert_eq!(events.len(), 0, "an edge is reported once");
        }
    }

    #[test]
    fn saturated_counter_is_reset_and_the_wake_still_arrives() {
        let waker = new_waker();
        // Bring the counter to its maximum, 2^64 - 2, so that the next write would block.
        fd::write(waker.as_fd(), &(u64::MAX - 1).to_ne_bytes()).unwrap();
        let err = fd::write(waker.as_fd(), &1u64.to_ne_bytes()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        let (selector, mut events) = edge_selector(&waker);
        selector.select(&mut events, Some(Duration::ZERO)).unwrap();
        waker.wake().unwrap();
        selector.select(&mut events, Some(Duration::from_secs(1))).unwrap();
        assert_eq!(events.len(), 1);
    }

    #[test]
    fn reset_of_an_unwoken_waker_is_a_no_op() {
        new_waker().reset().unwrap();
    }
}
