//! The fallback waker, for the systems with neither eventfd nor (known) `EVFILT_USER`:
//! today OpenBSD and DragonFly (see `sys/mod.rs` for which waker each system uses, and why).
//! A non-blocking pipe works on every Unix.
//!
//! The loop registers the read end ([`Waker::fd`]) for readable, edge-triggered; each wake
//! writes one byte to the write end, and every write to a pipe raises a new edge, so the loop
//! need not read per wake-up. When the pipe is full (64 KiB of unread wake-ups on Linux) a
//! write fails with `EAGAIN` and would raise no edge: [`Waker::wake`] then drains the pipe
//! and writes again, so no wake-up is lost.
//!
//! # References
//! `pipe(2)`, `pipe2(2)`.

use super::fd;
use super::Selector;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

/// Wakes a thread blocked in `Selector::select` from any other thread.
#[derive(Debug)]
pub(crate) struct Waker {
    reader: OwnedFd,
    writer: OwnedFd,
}

impl Waker {
    /// A non-blocking, close-on-exec pipe: `pipe2(O_NONBLOCK | O_CLOEXEC)`, or `pipe` and
    /// `fcntl` on Apple systems, which have no `pipe2` (see `sys/pipe.rs`).
    /// The pipe is an fd of its own, which the owner of `selector` registers
    /// ([`Waker::fd`]); `selector` is not touched here.
    #[doc(alias = "pipe2")]
    pub(crate) fn new(_selector: &Selector) -> io::Result<Waker> {
        let (reader, writer) = super::pipe::pipe()?;
        Ok(Waker { reader, writer })
    }

    /// The fd to register for readable, edge-triggered interest: the read end (always `Some`).
    pub(crate) fn fd(&self) -> Option<RawFd> {
        Some(self.reader.as_raw_fd())
    }

    /// One one-byte `write(2)`; if the pipe is full, drains it first.
    pub(crate) fn wake(&self) -> io::Result<()> {
        match fd::write(self.writer.as_fd(), &[1]) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.reset()?;
                fd::write(self.writer.as_fd(), &[1]).map(|_| ())
            }
            Err(e) => Err(e),
        }
    }

    /// Reads the pipe empty.
    pub(crate) fn reset(&self) -> io::Result<()> {
        let mut sink = [0u8; 256];
        loop {
            match fd::read(self.reader.as_fd(), &mut sink) {
                Ok(0) => return Ok(()),
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    use super::*;
    use crate::sys::{Interest, SelectorEvents, Trigger};
    use std::time::Duration;

    /// A selector watching a new pipe waker edge-triggered, and room for its events.
    fn registered_waker() -> (Selector, Waker, SelectorEvents) {
        let selector = Selector::new().unwrap();
        let waker = Waker::new(&selector).unwrap();
        let interest = Interest { readable: true, writable: false };
        selector.add(waker.fd().unwrap(), 3, interest, Trigger { edge: true, oneshot: false }).unwrap();
        (selector, waker, SelectorEvents::with_capacity(4).unwrap())
    }

    #[test]
    fn a_full_pipe_is_drained_and_the_wake_still_arrives() {
        let (selector, waker, mut events) = registered_waker();
        let filler = [0u8; 4096];
        while fd::write(waker.writer.as_fd(), &filler).is_ok() {}
        selector.select(&mut events, Some(Duration::ZERO)).unwrap();
        assert_eq!(events.len(), 1);
        selector.select(&mut events, Some(Duration::ZERO)).unwrap();
        assert_eq!(events.len(), 0, "the edge was consumed");
        waker.wake().unwrap();
        selector.select(&mut events, Some(Duration::from_secs(1))).unwrap();
        assert_eq!(events.len(), 1, "a wake on a full pipe still raises an edge");
    }

    #[test]
    fn each_wake_raises_an_edge_without_reading() {
        let (selector, waker, mut events) = registered_waker();
        for _ in 0..3 {
            waker.wake().unwrap();
            selector.select(&mut events, Some(Duration::from_secs(1))).unwrap();
            assert_eq!(events.len(), 1);
        }
    }
}
