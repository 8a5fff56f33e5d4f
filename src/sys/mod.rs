//! The operating-system layer: the only module with `unsafe` code.
//!
//! Everything above `sys` is safe Rust that speaks in `io::Result`s, `OwnedFd`s and the
//! small neutral types defined here; nothing above it names a binding. Each mechanism has
//! its own file and is chosen by `#[cfg]` in this one place.
//!
//! # The contract every selector backend meets
//!
//! A backend (`epoll.rs` on Linux, `kqueue.rs` on macOS and the BSDs) provides
//! `Selector` and `SelectorEvents` with these semantics:
//!
//! * `add(fd, data, interest, trigger)` starts watching `fd`; `data` is an opaque `u64`
//!   handed back with each of its events. `modify` replaces interest, trigger and data of a
//!   watched fd; `delete` stops watching it. One kernel call each, and errors surface at once:
//!   adding a watched fd fails with `EEXIST`, modifying or deleting an unwatched one with
//!   `ENOENT` (backends whose kernel cannot tell translate to these).
//! * `Trigger::Level` reports readiness on every `select` while it lasts; `Trigger::Edge`
//!   reports it once per change; `oneshot` disables the fd after one report until `modify`.
//! * `select(events, timeout)` makes one blocking kernel call and fills `events` (cleared
//!   first) with at most one `Readiness` per fd. `None` waits forever; a timeout is never
//!   shortened by rounding (sub-millisecond where the kernel allows, else rounded up).
//!   An interrupted wait is returned as `ErrorKind::Interrupted`.
//! * `Readiness::hup` is set when the peer closed its side (EPOLLHUP/EPOLLRDHUP, EV_EOF),
//!   `error` when the fd has a pending error (EPOLLERR, EV_ERROR or EV_EOF with fflags).
//! * `select` allocates nothing: the event buffer is sized at construction.
//! * `CLOSE_KEEPS_REGISTRATIONS` says whether a registration outlives the closing of its fd
//!   while a duplicate of the fd keeps the open file alive (epoll: yes, it is keyed on the
//!   open file; kqueue: no, closing a descriptor removes its knotes). Where it does, the core
//!   selector may replace the backend `Selector` with a new one to drop such orphans, so a
//!   backend whose waker lives inside the selector must say `false`.
//! * `Waker::new(&selector)` makes the waker of that selector. If `Waker::fd()` is `Some`,
//!   the caller registers the fd for readable, edge-triggered interest with data of its
//!   choice; if it is `None`, the waker is already inside the selector and each wake is
//!   reported as a readable `Readiness` whose data is `WAKER_DATA`.
//!
//! kqueue meets the contract with these differences, each explained in `kqueue.rs`: oneshot
//! disarms each filter (read, write) separately, not the whole fd; an fd registered with an
//! empty interest reports nothing (epoll still reports hup and error); `modify` always
//! re-creates the registration, so readiness already there is reported again (as
//! `EPOLL_CTL_MOD` does); only 64-bit targets are supported. Its `EEXIST` comes from its own
//! table of what it added, checked against a witness knote in a second kqueue for fds closed
//! since, never from a kernel lookup of the registration itself, which would disturb it.

#![allow(unsafe_code)]

/// Kernels whose `socket`, `socketpair` and `accept4` take `SOCK_NONBLOCK | SOCK_CLOEXEC`,
/// whose `pipe2` exists, and whose sends take `MSG_NOSIGNAL`.
macro_rules! cfg_atomic_flags {
    ($($item:item)*) => {$(
        #[cfg(any(
            target_os = "linux",
            target_os = "android",
            target_os = "freebsd",
            target_os = "netbsd",
            target_os = "openbsd",
            target_os = "dragonfly",
        ))]
        $item
    )*};
}

/// Apple systems: no `SOCK_NONBLOCK`, no `accept4`, no `MSG_NOSIGNAL` (`SO_NOSIGPIPE` instead).
macro_rules! cfg_apple {
    ($($item:item)*) => {$(
        #[cfg(target_vendor = "apple")]
        $item
    )*};
}

pub(crate) mod bindings;
pub(crate) mod buf;
pub(crate) mod fd;
pub(crate) mod pipe;
pub(crate) mod socket;

// The selector: epoll on Linux and Android, kqueue everywhere else. `--cfg readyio_libkqueue`
// (build.rs, ci/test-libkqueue.sh) chooses kqueue on Linux too, run over libkqueue, a userspace
// kqueue on epoll: that is how the kqueue selector and waker execute on this project's Linux
// machines, not only compile. Nothing outside `sys` can tell which one it got.
#[cfg(all(any(target_os = "linux", target_os = "android"), not(readyio_libkqueue)))]
mod epoll;
#[cfg(all(any(target_os = "linux", target_os = "android"), not(readyio_libkqueue)))]
pub(crate) use epoll::{Selector, SelectorEvents, CLOSE_KEEPS_REGISTRATIONS};

// The kqueue translation is compiled (and unit-tested against the BSD and macOS bindings)
// on 64-bit Linux too; its selector only on the kqueue systems and under libkqueue. Every
// kqueue ABI with committed bindings is 64-bit, and their layout assertions hold only in a
// 64-bit build: 32-bit Linux (i686, armv7) leaves the module out.
// `cargo fuzz` (--cfg fuzzing) builds it with `kqueue_fuzz.rs`, the fuzz target's way in.
#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly",
    readyio_libkqueue,
    all(test, target_pointer_width = "64"),
    all(fuzzing, target_pointer_width = "64")
))]
#[cfg_attr(fuzzing, macro_use)]
mod kqueue;
#[cfg(fuzzing)]
pub mod kqueue_fuzz;
#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly",
    readyio_libkqueue
))]
pub(crate) use kqueue::{Selector, SelectorEvents, CLOSE_KEEPS_REGISTRATIONS};

// The waker that lets another thread interrupt `Selector::select` (the event loop's notify
// channel). Every mechanism has the same small API: `Waker::new(&Selector)`, `fd()` and
// `wake()`. `fd()` is `Some` when the waker is an fd of its own, which the owner of the
// selector must register for readable, edge-triggered interest; it is `None` when the waker
// posts into the selector itself and reports `WAKER_DATA` (registered by `new`).
//
// Which waker each system uses, and why:
// * Linux, Android: an eventfd (`waker_eventfd.rs`): one fd, one 8-byte write per wake.
// * macOS, iOS, FreeBSD (and Linux under `--cfg readyio_libkqueue`): an `EVFILT_USER` knote
//   in the selector's own kqueue (`waker_kqueue.rs`): one `kevent` call per wake, and no fds,
//   pipe buffer or draining.
// * Everything else, which today means NetBSD, OpenBSD and DragonFly: a pipe
//   (`waker_pipe.rs`), which works on every Unix. NetBSD's headers define `EVFILT_USER`,
//   but its kernel has it only since NetBSD 10: with it, creating an event loop on
//   NetBSD 9 would fail instead of falling back. OpenBSD has long lacked it, and no
//   bindings are committed for OpenBSD or DragonFly to check.
#[cfg(all(any(target_os = "linux", target_os = "android"), not(readyio_libkqueue)))]
mod waker_eventfd;
#[cfg(all(any(target_os = "linux", target_os = "android"), not(readyio_libkqueue)))]
pub(crate) use waker_eventfd::Waker;
#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd", readyio_libkqueue))]
mod waker_kqueue;
#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd", readyio_libkqueue))]
pub(crate) use waker_kqueue::Waker;
// The pipe waker is also built (and its tests run) on Linux so that it cannot rot unseen.
#[cfg_attr(
    any(target_os = "linux", target_os = "android", target_os = "macos", target_os = "ios", target_os = "freebsd"),
    allow(dead_code)
)]
mod waker_pipe;
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd"
)))]
pub(crate) use waker_pipe::Waker;

/// The `Readiness::data` of a waker that lives inside the selector (`EVFILT_USER`) and so
/// has no fd of its own. Callers must not give it as the `data` of an fd: the core selector
/// never does, since its data keeps a non-negative fd in the low 32 bits, and this value
/// has all 32 set.
pub(crate) const WAKER_DATA: u64 = u64::MAX;

use std::io;

/// Which readiness a registration asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Interest {
    pub readable: bool,
    pub writable: bool,
}

/// How a registration reports readiness (see the module contract); the default is level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Trigger {
    pub edge: bool,
    pub oneshot: bool,
}

/// One fd's readiness as reported by one `select`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Readiness {
    /// The `data` given when the fd was added or last modified.
    pub data: u64,
    pub readable: bool,
    pub writable: bool,
    pub error: bool,
    pub hup: bool,
}

/// Turns a C-style `-1 and errno` result into an `io::Result`.
#[inline]
pub(crate) fn cvt<T: IsMinusOne>(ret: T) -> io::Result<T> {
    if ret.is_minus_one() {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Return types of calls that signal failure with -1.
pub(crate) trait IsMinusOne: Copy {
    fn is_minus_one(self) -> bool;
}

impl IsMinusOne for i32 {
    fn is_minus_one(self) -> bool {
        self == -1
    }
}

impl IsMinusOne for isize {
    fn is_minus_one(self) -> bool {
        self == -1
    }
}

impl IsMinusOne for i64 {
    fn is_minus_one(self) -> bool {
        self == -1
    }
}

/// Like [`cvt`], but retries while the call was interrupted by a signal.
///
/// Compares errno with `EINTR` directly: the `EAGAIN` that ends every edge-triggered
/// drain should cost no more than reading errno.
#[inline]
pub(crate) fn cvt_retry<T: IsMinusOne>(mut call: impl FnMut() -> T) -> io::Result<T> {
    loop {
        let ret = call();
        if !ret.is_minus_one() {
            return Ok(ret);
        }
        let error = io::Error::last_os_error();
        if error.raw_os_error() != Some(bindings::EINTR) {
            return Err(error);
        }
    }
}

/// errno values the layers above compare against.
pub(crate) const ENOENT: i32 = bindings::ENOENT;
pub(crate) const EBADF: i32 = bindings::EBADF;
/// The process has no free fd number below its `RLIMIT_NOFILE`.
pub(crate) const EMFILE: i32 = bindings::EMFILE;
/// The system's open-file table is full.
pub(crate) const ENFILE: i32 = bindings::ENFILE;

/// The `io::Error` for a buffer that could not be reserved: `what` names the buffer (and
/// its size), `error` says whether the size overflowed or the allocator refused.
///
/// Sizes come from callers, so every buffer readyio sizes on their behalf is reserved
/// with `try_reserve_exact` and fails with this instead of aborting the process.
pub(crate) fn reserve_error(what: std::fmt::Arguments<'_>, error: std::collections::TryReserveError) -> io::Error {
    io::Error::new(io::ErrorKind::OutOfMemory, format!("readyio could not allocate {what}: {error}"))
}

/// Implements `AsRawFd`, `AsFd`, `IntoRawFd` and `FromRawFd` for a type that stores its fd
/// in `$field` (anything with those traits) and can be built `From<OwnedFd>`.
///
/// Lives here because `FromRawFd::from_raw_fd` is an `unsafe fn`, and `unsafe` is kept
/// inside `sys`.
macro_rules! fd_traits {
    ($ty:ty, $field:ident) => {
        impl ::std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> ::std::os::fd::RawFd {
                ::std::os::fd::AsRawFd::as_raw_fd(&self.$field)
            }
        }
        impl ::std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> ::std::os::fd::BorrowedFd<'_> {
                ::std::os::fd::AsFd::as_fd(&self.$field)
            }
        }
        impl ::std::os::fd::IntoRawFd for $ty {
            fn into_raw_fd(self) -> ::std::os::fd::RawFd {
                ::std::os::fd::IntoRawFd::into_raw_fd(self.$field)
            }
        }
        impl ::std::os::fd::FromRawFd for $ty {
            #[allow(unsafe_code)]
            unsafe fn from_raw_fd(fd: ::std::os::fd::RawFd) -> Self {
                // SAFETY: the caller of `from_raw_fd` guarantees that `fd` is open and owned.
                Self::from(unsafe { <::std::os::fd::OwnedFd as ::std::os::fd::FromRawFd>::from_raw_fd(fd) })
            }
        }
    };
}
pub(crate) use fd_traits;
