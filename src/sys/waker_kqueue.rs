//! The waker of macOS, iOS and FreeBSD (and of Linux under `--cfg readyio_libkqueue`): an
//! `EVFILT_USER` knote in the selector's own kqueue.
//!
//! `EVFILT_USER` knotes are events that user space triggers itself. [`Waker::new`] adds one
//! (ident `WAKER_IDENT`, `EV_CLEAR`) to the selector's kqueue through the selector's own fd,
//! which the waker shares (`Selector::shared_kqueue` says why it is shared, not duplicated)
//! so that it lives on (in the event loop's senders) independently of the `Selector`;
//! [`Waker::wake`] triggers it with `NOTE_TRIGGER`, one `kevent` call, and the blocked `kevent`
//! wait returns it as a readable `WAKER_DATA` (see `kqueue.rs`).
//!
//! Compared with the pipe of `waker_pipe.rs`, which these systems used before: no fds of its
//! own, no pipe buffer to fill, nothing to read or drain, and no registration with the
//! selector's fd table, so [`Waker::fd`] is `None`. `EV_CLEAR` resets the knote each time
//! the kernel reports it, so wakes that arrive before the loop looks are reported once, and
//! every wake after that report raises a new one, like the edge-triggered eventfd on Linux.
//!
//! One kqueue holds at most one waker: a second `new` on the same selector re-adds the same
//! knote (`EV_ADD` on an existing knote modifies it), so both would share it.
//!
//! # References
//! `kqueue(2)` / `kevent(2)` on FreeBSD, macOS and NetBSD ("EVFILT_USER", "NOTE_TRIGGER").

use super::bindings as c;
use super::kqueue::{receipt, waker_registration, waker_trigger};
use super::{cvt_retry, Selector};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;

/// Wakes a thread blocked in `Selector::select` from any other thread.
#[derive(Debug)]
pub(crate) struct Waker {
    /// The selector's kqueue fd, shared: the kqueue stays open while either lives.
    kq: Arc<OwnedFd>,
}

impl Waker {
    /// Shares the kqueue fd of `selector` and adds the waker's `EVFILT_USER` knote to it
    /// (one `kevent` call, whose receipt carries any error).
    #[doc(alias = "EVFILT_USER")]
    pub(crate) fn new(selector: &Selector) -> io::Result<Waker> {
        let kq = selector.shared_kqueue();
        let mut change = [waker_registration()];
        let ptr = change.as_mut_ptr();
        let timeout = c::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: the kernel reads one change and writes at most one receipt to the same
        // array (the lists may alias); a zero timeout never waits.
        let received = cvt_retry(|| unsafe { c::kevent(kq.as_raw_fd(), ptr, 1, ptr, 1, &timeout) })?;
        if received == 1 {
            let (_, errno) = receipt(&change[0]);
            if errno != 0 {
                return Err(io::Error::from_raw_os_error(errno));
            }
        }
        Ok(Waker { kq })
    }

    /// `None`: the knote lives in the selector, so there is no fd to register.
    pub(crate) fn fd(&self) -> Option<RawFd> {
        None
    }

    /// One `kevent` call that triggers the knote (`NOTE_TRIGGER`). Triggering an already
    /// triggered knote changes nothing, so a retry after `EINTR` is harmless.
    pub(crate) fn wake(&self) -> io::Result<()> {
        let change = waker_trigger();
        let timeout = c::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: the kernel reads one change and writes no results (room for none); a zero
        // timeout never waits.
        cvt_retry(|| unsafe { c::kevent(self.kq.as_raw_fd(), &change, 1, std::ptr::null_mut(), 0, &timeout) })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::{SelectorEvents, WAKER_DATA};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    #[test]
    fn each_wake_is_reported_once_as_a_readable_waker_data() {
        let selector = Selector::new().unwrap();
        let waker = Waker::new(&selector).unwrap();
        assert_eq!(waker.fd(), None);
        let mut events = SelectorEvents::with_capacity(4).unwrap();
        for _ in 0..3 {
            waker.wake().unwrap();
            waker.wake().unwrap();
            selector.select(&mut events, Some(Duration::from_secs(1))).unwrap();
            assert_eq!(events.len(), 1, "wakes before a select are reported once");
            let ready = events.get(0).unwrap();
            assert_eq!((ready.data, ready.readable, ready.writable), (WAKER_DATA, true, false));
            selector.select(&mut events, Some(Duration::ZERO)).unwrap();
            assert_eq!(events.len(), 0, "EV_CLEAR: a report resets the knote");
        }
    }

    #[test]
    fn a_wake_from_another_thread_ends_a_blocking_select() {
        let selector = Selector::new().unwrap();
        let waker = Arc::new(Waker::new(&selector).unwrap());
        let remote = Arc::clone(&waker);
        let started = Instant::now();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            remote.wake().unwrap();
        });
        let mut events = SelectorEvents::with_capacity(4).unwrap();
        selector.select(&mut events, Some(Duration::from_secs(10))).unwrap();
        thread.join().unwrap();
        assert_eq!(events.len(), 1);
        assert!(started.elapsed() < Duration::from_secs(5), "woken, not timed out");
    }

    #[test]
    fn the_waker_outlives_its_selector() {
        let selector = Selector::new().unwrap();
        let waker = Waker::new(&selector).unwrap();
        drop(selector);
        waker.wake().unwrap();
    }
}
