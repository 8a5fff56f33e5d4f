//! `OwnedEventedFd`: the fd inside every socket and pipe readyio owns, together with the one
//! selector it belongs to.
//!
//! # The rule it keeps
//!
//! A handle belongs to the selector it was registered with, until it is deregistered from
//! it or that selector is dropped. Registering or reregistering it with any other selector
//! meanwhile fails with `ErrorKind::Other`, "socket already registered", as mio 0.5 did
//! (mio 0.5 never let go: not on deregister, not when its selector was dropped). A
//! `try_clone` made while the handle belongs to a selector belongs to it too.
//!
//! # What it costs
//!
//! One atomic word beside the fd. `register` does one compare-and-swap before its kernel
//! call, `reregister` one load, `deregister` one table lookup and one compare-and-swap.
//! Polling and IO never look at it. Only a conflict (another selector) takes a lock, to
//! ask whether the selector the handle belongs to is still alive.
//!
//! # How each call moves the association
//!
//! `-` is no selector; `S` is the selector of the call, `T` another live selector.
//!
//! | call | before | kernel call | after |
//! |---|---|---|---|
//! | `register(S)` | `-`, or a dropped selector | succeeds | `S` |
//! | `register(S)` | `-`, or a dropped selector | fails | `-` (the claim is rolled back) |
//! | `register(S)` | `S` | made (`AlreadyExists` if the fd is registered) | `S` |
//! | `register(S)` | `T` | not made: `Other`, "socket already registered" | `T` |
//! | `reregister(S)` | `-`, `S`, or a dropped selector | succeeds | `S` |
//! | `reregister(S)` | `-`, `S`, or a dropped selector | fails (`NotFound` if not registered) | unchanged |
//! | `reregister(S)` | `T` | not made: `Other`, "socket already registered" | `T` |
//! | `deregister(S)` | `S` | afterwards `S` does not hold the fd (done, not registered, or closed) | `-` |
//! | `deregister(S)` | `S` | failed and `S` still holds the fd | `S` |
//! | `deregister(S)` | anything else | made | unchanged |
//! | `try_clone` | `x` | | the clone: `x` |
//! | a move between readyio types (`From<Io>`, `UnixSocket::connect`, ...) | `x` | | `x` |
//! | into `OwnedFd`/`RawFd`, from either | `x` | | lost: a bare fd carries no state |
//!
//! A bare fd is the one way around the rule, as with [`EventedFd`](crate::unix::EventedFd):
//! convert only handles that are not registered, or deregister them first.

use crate::readiness::event::{EventSet, PollOpt};
use crate::readiness::evented::Evented;
use crate::readiness::selector::Selector;
use crate::readiness::selector_id::SelectorId;
use crate::readiness::token::Token;
use crate::sys::fd;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};

/// The association's value for "no selector" (selector ids are never zero).
const NO_SELECTOR: u64 = 0;

/// An owned fd and the id of the selector it belongs to (see the module docs).
///
/// The id is atomic so that handles stay `Sync`: a `&TcpStream` shared between threads can
/// be registered from any of them, and two racing registrations with different selectors
/// cannot both win. `Relaxed` suffices: the word guards nothing but itself.
pub(crate) struct OwnedEventedFd {
    fd: OwnedFd,
    selector: AtomicU64,
}

impl OwnedEventedFd {
    /// Wraps `fd`, belonging to no selector.
    pub(crate) fn new(fd: OwnedFd) -> OwnedEventedFd {
        OwnedEventedFd { fd, selector: AtomicU64::new(NO_SELECTOR) }
    }

    /// A second fd for the same open file (`F_DUPFD_CLOEXEC`) that belongs to the same
    /// selector as this one, as a clone did in mio 0.5.
    pub(crate) fn try_clone(&self) -> io::Result<OwnedEventedFd> {
        let fd = fd::duplicate(self.fd.as_fd())?;
        Ok(OwnedEventedFd { fd, selector: AtomicU64::new(self.selector.load(Ordering::Relaxed)) })
    }

    /// Makes `selector` the one this fd belongs to, unless it belongs to another live
    /// selector. `Ok(true)` if it was claimed now, `Ok(false)` if it was `selector`'s already.
    fn claim(&self, selector: SelectorId) -> io::Result<bool> {
        let id = selector.get();
        let mut current = self.selector.load(Ordering::Relaxed);
        loop {
            if current == id {
                return Ok(false);
            }
            if current != NO_SELECTOR && SelectorId::is_live(current) {
                return Err(already_registered());
            }
            match self.selector.compare_exchange(current, id, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Ok(true),
                Err(actual) => current = actual,
            }
        }
    }

    /// Lets go of `selector` if this fd belongs to it.
    fn release(&self, selector: SelectorId) {
        // Fails (harmlessly) if the fd belongs to another selector or to none.
        let _ = self.selector.compare_exchange(selector.get(), NO_SELECTOR, Ordering::Relaxed, Ordering::Relaxed);
    }
}

impl Evented for OwnedEventedFd {
    fn register(&self, selector: &mut Selector, token: Token, interest: EventSet, opts: PollOpt) -> io::Result<()> {
        let claimed = self.claim(selector.id())?;
        let result = selector.register(self.fd.as_raw_fd(), token, interest, opts);
        if result.is_err() && claimed {
            // A claim that did not become a registration is rolled back, or the fd would be
            // tied to a selector that does not hold it. No one else can have moved the word
            // meanwhile: other selectors are refused while it names this one, and this one
            // is borrowed mutably here.
            self.release(selector.id());
        }
        result
    }

    fn reregister(&self, selector: &mut Selector, token: Token, interest: EventSet, opts: PollOpt) -> io::Result<()> {
        let id = selector.id().get();
        let current = self.selector.load(Ordering::Relaxed);
        if current != id && current != NO_SELECTOR && SelectorId::is_live(current) {
            return Err(already_registered());
        }
        selector.reregister(self.fd.as_raw_fd(), token, interest, opts)?;
        if current != id {
            // The selector holds the fd (it was registered through a bare fd, or its old
            // selector was dropped): from now on the fd is this selector's. Should a racing
            // `register` on another thread have claimed it meanwhile, that claim stands.
            let _ = self.claim(selector.id());
        }
        Ok(())
    }

    fn deregister(&self, selector: &mut Selector) -> io::Result<()> {
        let fd = self.fd.as_raw_fd();
        let result = selector.deregister(fd);
        // Whatever the call returned, once the selector does not hold the fd (deregistered
        // now, never registered there, or forgotten because the kernel said it was closed)
        // the fd no longer belongs to it.
        if !selector.is_registered(fd) {
            self.release(selector.id());
        }
        result
    }
}

/// The error of registering a handle with a selector other than the one it belongs to.
fn already_registered() -> io::Error {
    io::Error::other("socket already registered")
}

impl From<OwnedFd> for OwnedEventedFd {
    fn from(fd: OwnedFd) -> OwnedEventedFd {
        OwnedEventedFd::new(fd)
    }
}

impl From<OwnedEventedFd> for OwnedFd {
    fn from(fd: OwnedEventedFd) -> OwnedFd {
        fd.fd
    }
}

impl AsFd for OwnedEventedFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for OwnedEventedFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl IntoRawFd for OwnedEventedFd {
    fn into_raw_fd(self) -> RawFd {
        self.fd.into_raw_fd()
    }
}

impl fmt::Debug for OwnedEventedFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("OwnedEventedFd");
        out.field("fd", &self.fd.as_raw_fd());
        match self.selector.load(Ordering::Relaxed) {
            NO_SELECTOR => out.field("selector", &None::<u64>),
            id => out.field("selector", &Some(id)),
        };
        out.finish()
    }
}
