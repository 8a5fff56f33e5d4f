//! Plain file-descriptor calls shared by every fd type: read, write and their vectored
//! forms, close-on-exec and non-blocking flags, duplication.
//!
//! Every function borrows the fd (`BorrowedFd`) or returns an `OwnedFd`, so ownership
//! and closing stay with the caller's safe types.

use super::bindings as c;
use super::{cvt, cvt_retry};
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// `read(2)` into `buf`; interrupted calls are retried.
#[inline]
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the pointer and length describe `buf`, which is valid for writes for the
    // whole call; the kernel writes at most `buf.len()` bytes.
    let n = cvt_retry(|| unsafe { c::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) })?;
    Ok(n as usize)
}

/// `write(2)` from `buf`; interrupted calls are retried.
#[inline]
pub(crate) fn write(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: the pointer and length describe `buf`, valid for reads for the whole call.
    let n = cvt_retry(|| unsafe { c::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) })?;
    Ok(n as usize)
}

/// The most iovecs one call may take (POSIX's `IOV_MAX` minimum is 16; Linux and the BSDs
/// allow 1024). Longer lists are truncated, which a vectored read or write may do anyway.
pub(crate) const MAX_IOVECS: usize = 1024;

/// `readv(2)` into `bufs` with one syscall.
#[inline]
pub(crate) fn readv(fd: BorrowedFd<'_>, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
    let count = bufs.len().min(MAX_IOVECS) as i32;
    // SAFETY: `IoSliceMut` is documented to be ABI-compatible with `struct iovec` on Unix;
    // every slice is valid for writes of its length for the whole call.
    let n = cvt_retry(|| unsafe { c::readv(fd.as_raw_fd(), bufs.as_mut_ptr().cast::<c::iovec>(), count) })?;
    Ok(n as usize)
}

/// `writev(2)` from `bufs` with one syscall.
#[inline]
pub(crate) fn writev(fd: BorrowedFd<'_>, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    let count = bufs.len().min(MAX_IOVECS) as i32;
    // SAFETY: `IoSlice` is ABI-compatible with `struct iovec` on Unix and the kernel only
    // reads through it; every slice is valid for reads of its length.
    let n = cvt_retry(|| unsafe { c::writev(fd.as_raw_fd(), bufs.as_ptr().cast::<c::iovec>(), count) })?;
    Ok(n as usize)
}

/// Sets or clears `O_NONBLOCK` with `fcntl(2)`.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>, nonblocking: bool) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: F_GETFL takes no third argument and only reads the fd's flags.
    let flags = cvt(unsafe { c::fcntl(raw, c::F_GETFL) })?;
    let wanted = if nonblocking { flags | c::O_NONBLOCK } else { flags & !c::O_NONBLOCK };
    if wanted != flags {
        // SAFETY: F_SETFL takes an int flags argument.
        cvt(unsafe { c::fcntl(raw, c::F_SETFL, wanted) })?;
    }
    Ok(())
}

/// Sets `FD_CLOEXEC` with `fcntl(2)`, for the calls that cannot set it atomically.
#[cfg_attr(not(target_vendor = "apple"), allow(dead_code))] // only Apple lacks the atomic forms
pub(crate) fn set_cloexec(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: F_SETFD takes an int flags argument; FD_CLOEXEC is the only fd flag.
    cvt(unsafe { c::fcntl(fd.as_raw_fd(), c::F_SETFD, c::FD_CLOEXEC) })?;
    Ok(())
}

/// Duplicates `fd` with close-on-exec set (`F_DUPFD_CLOEXEC`).
pub(crate) fn duplicate(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC takes the lowest acceptable new fd number.
    let new = cvt(unsafe { c::fcntl(fd.as_raw_fd(), c::F_DUPFD_CLOEXEC, 0) })?;
    Ok(owned(new))
}

/// Takes ownership of an fd a successful kernel call just returned.
pub(crate) fn owned(raw: RawFd) -> OwnedFd {
    debug_assert!(raw >= 0);
    // SAFETY: callers pass only fds freshly returned by the kernel, owned by no one else.
    unsafe { OwnedFd::from_raw_fd(raw) }
}
