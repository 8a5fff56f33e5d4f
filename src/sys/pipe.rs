//! Anonymous pipes: `pipe2(O_NONBLOCK | O_CLOEXEC)` where the kernel has it, `pipe` and
//! `fcntl` on Apple systems.
//!
//! Writing into a pipe whose read end is closed raises `SIGPIPE` unless the signal is
//! ignored: there is no `MSG_NOSIGNAL` for pipes. Rust programs ignore `SIGPIPE` from
//! start-up (the standard library's runtime sets it to `SIG_IGN`), so they see `EPIPE`.

use super::bindings as c;
use super::{cvt, fd};
use std::io;
use std::os::fd::OwnedFd;

cfg_atomic_flags! {
    /// Creates a pipe; returns `(read end, write end)`, both non-blocking and close-on-exec.
    pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
        let mut fds: [std::ffi::c_int; 2] = [-1, -1];
        // SAFETY: `fds` has room for the two fds the kernel writes.
        cvt(unsafe { c::pipe2(fds.as_mut_ptr(), c::O_NONBLOCK | c::O_CLOEXEC) })?;
        Ok((fd::owned(fds[0]), fd::owned(fds[1])))
    }
}

cfg_apple! {
    /// Creates a pipe; returns `(read end, write end)`, both non-blocking and close-on-exec.
    pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
        use std::os::fd::AsFd;
        let mut fds: [std::ffi::c_int; 2] = [-1, -1];
        // SAFETY: `fds` has room for the two fds the kernel writes.
        cvt(unsafe { c::pipe(fds.as_mut_ptr()) })?;
        let (reader, writer) = (fd::owned(fds[0]), fd::owned(fds[1]));
        for end in [reader.as_fd(), writer.as_fd()] {
            fd::set_cloexec(end)?;
            fd::set_nonblocking(end, true)?;
        }
        Ok((reader, writer))
    }
}
