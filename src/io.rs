//! `Io` (an owned non-blocking fd) and the non-blocking traits `TryRead`, `TryWrite` and
//! `TryAccept`, which turn `WouldBlock` into `Ok(None)`.

use crate::sys::fd;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd, RawFd};

/// An owned file descriptor used for non-blocking IO; closed on drop.
///
/// `Io` does not change the fd's flags: make it non-blocking first (all readyio types
/// are) or reads and writes will block.
#[derive(Debug)]
pub struct Io {
    fd: OwnedFd,
}

impl Io {
    /// Sets or clears `O_NONBLOCK` on the fd.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        fd::set_nonblocking(self.fd.as_fd(), nonblocking)
    }

    /// A second handle to the same open file (`F_DUPFD_CLOEXEC`).
    pub fn try_clone(&self) -> io::Result<Io> {
        Ok(Io { fd: fd::duplicate(self.fd.as_fd())? })
    }
}

impl From<OwnedFd> for Io {
    fn from(fd: OwnedFd) -> Io {
        Io { fd }
    }
}

impl From<Io> for OwnedFd {
    fn from(io: Io) -> OwnedFd {
        io.fd
    }
}

/// Takes ownership of `fd`, as the seed's `Io::from(RawFd)` did.
///
/// The caller must own `fd` and not close it elsewhere: this conversion has the contract
/// of `FromRawFd::from_raw_fd` without the `unsafe` marker, kept for seed compatibility.
/// Prefer `Io::from(OwnedFd)`.
impl From<RawFd> for Io {
    fn from(fd: RawFd) -> Io {
        Io { fd: fd::owned(fd) }
    }
}

crate::sys::fd_traits!(Io, fd);

/// Implements `Read` for `$ty` and `&$ty` (so a shared handle can read, as with std's
/// sockets) by calling `$read(fd, buf)` and `$readv(fd, bufs)` on the fd in `self.fd`:
/// one syscall per call.
macro_rules! read_through_fd {
    ($ty:ty, $read:path, $readv:path) => {
        impl ::std::io::Read for $ty {
            fn read(&mut self, buf: &mut [u8]) -> ::std::io::Result<usize> {
                (&*self).read(buf)
            }
            fn read_vectored(&mut self, bufs: &mut [::std::io::IoSliceMut<'_>]) -> ::std::io::Result<usize> {
                (&*self).read_vectored(bufs)
            }
        }
        impl ::std::io::Read for &$ty {
            fn read(&mut self, buf: &mut [u8]) -> ::std::io::Result<usize> {
                $read(::std::os::fd::AsFd::as_fd(&self.fd), buf)
            }
            fn read_vectored(&mut self, bufs: &mut [::std::io::IoSliceMut<'_>]) -> ::std::io::Result<usize> {
                $readv(::std::os::fd::AsFd::as_fd(&self.fd), bufs)
            }
        }
    };
}
pub(crate) use read_through_fd;

/// Implements `Write` for `$ty` and `&$ty` by calling `$write(fd, buf)` and
/// `$writev(fd, bufs)` on the fd in `self.fd`; `flush` does nothing (no user-space buffer).
macro_rules! write_through_fd {
    ($ty:ty, $write:path, $writev:path) => {
        impl ::std::io::Write for $ty {
            fn write(&mut self, buf: &[u8]) -> ::std::io::Result<usize> {
                (&*self).write(buf)
            }
            fn write_vectored(&mut self, bufs: &[::std::io::IoSlice<'_>]) -> ::std::io::Result<usize> {
                (&*self).write_vectored(bufs)
            }
            fn flush(&mut self) -> ::std::io::Result<()> {
                Ok(())
            }
        }
        impl ::std::io::Write for &$ty {
            fn write(&mut self, buf: &[u8]) -> ::std::io::Result<usize> {
                $write(::std::os::fd::AsFd::as_fd(&self.fd), buf)
            }
            fn write_vectored(&mut self, bufs: &[::std::io::IoSlice<'_>]) -> ::std::io::Result<usize> {
                $writev(::std::os::fd::AsFd::as_fd(&self.fd), bufs)
            }
            fn flush(&mut self) -> ::std::io::Result<()> {
                Ok(())
            }
        }
    };
}
pub(crate) use write_through_fd;

read_through_fd!(Io, fd::read, fd::readv);
write_through_fd!(Io, fd::write, fd::writev);
crate::evented::evented_by_fd!(Io, fd);

/// Non-blocking reads: `Ok(None)` instead of a `WouldBlock` error.
///
/// Implemented for every `Read`.
pub trait TryRead {
    /// Reads into `buf`: `Ok(Some(n))` (0 at end of stream), or `Ok(None)` if nothing
    /// is available yet.
    fn try_read(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>>;
}

/// Non-blocking writes: `Ok(None)` instead of a `WouldBlock` error.
///
/// Implemented for every `Write`.
pub trait TryWrite {
    /// Writes from `buf`: `Ok(Some(n))`, or `Ok(None)` if the handle cannot take data yet.
    fn try_write(&mut self, buf: &[u8]) -> io::Result<Option<usize>>;
}

/// Non-blocking accepts.
pub trait TryAccept {
    /// What an accept yields.
    type Output;
    /// Accepts one pending connection, or `Ok(None)` if none is pending.
    fn accept(&self) -> io::Result<Option<Self::Output>>;
}

impl<R: Read + ?Sized> TryRead for R {
    fn try_read(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        would_block_to_none(self.read(buf))
    }
}

impl<W: Write + ?Sized> TryWrite for W {
    fn try_write(&mut self, buf: &[u8]) -> io::Result<Option<usize>> {
        would_block_to_none(self.write(buf))
    }
}

/// `Err(WouldBlock)` becomes `Ok(None)`; everything else is wrapped or passed on.
pub(crate) fn would_block_to_none<T>(result: io::Result<T>) -> io::Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}
