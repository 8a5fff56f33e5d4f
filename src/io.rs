//! `Io` (an owned non-blocking fd) and the non-blocking traits `TryRead`, `TryWrite` and
//! `TryAccept`, which turn `WouldBlock` into `Ok(None)`.
//!
//! `TryRead`/`TryWrite` also read into and write from the `bytes` buffer traits (see
//! [`crate::buf`]), one syscall per call.

use crate::buf::{Buf, BufMut, BufMutVectored};
use crate::sys::fd;
use std::io::{self, IoSlice, Read, Write};
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
    ///
    /// Deregister the fd from a [`Poll`](crate::Poll) before dropping it while a clone
    /// lives: see [`Evented`](crate::Evented#dropping-a-registered-handle-while-a-clone-lives).
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
crate::readiness::evented::evented_by_fd!(Io, fd);

/// Non-blocking reads: `Ok(None)` instead of a `WouldBlock` error.
///
/// Implemented for every `Read`.
pub trait TryRead {
    /// Reads into `buf`: `Ok(Some(n))` (0 at end of stream), or `Ok(None)` if nothing
    /// is available yet.
    fn try_read(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>>;

    /// Reads into any [`BufMut`] (`BytesMut`, `Vec<u8>`, `&mut [u8]`, ...) with one read
    /// call into its first contiguous chunk, and advances it by the bytes read.
    ///
    /// `Ok(Some(0))` means end of stream, or that `buf` had no room. The chunk is
    /// zero-filled first (a `Read` must not see uninitialised memory); use
    /// [`try_read_buf_vectored`](TryRead::try_read_buf_vectored) for a [`RingBuf`](crate::buf::RingBuf),
    /// whose free space may be split in two.
    fn try_read_buf<B: BufMut + ?Sized>(&mut self, buf: &mut B) -> io::Result<Option<usize>> {
        would_block_to_none(crate::sys::buf::read_into_chunk(buf, |chunk| {
            self.try_read(chunk)?.ok_or_else(|| io::Error::from(io::ErrorKind::WouldBlock))
        }))
    }

    /// Reads into `buf` with exactly one read call over all of its free space (one `readv`
    /// for a wrapped [`RingBuf`](crate::buf::RingBuf)), and advances it by the bytes read.
    ///
    /// `Ok(Some(0))` means end of stream, or that `buf` had no room. See
    /// [`BufMutVectored`] for why this exists beside `try_read_buf`.
    fn try_read_buf_vectored<B: BufMutVectored + ?Sized>(&mut self, buf: &mut B) -> io::Result<Option<usize>>
    where
        Self: Read,
    {
        would_block_to_none(buf.read_vectored_from(self))
    }
}

/// Non-blocking writes: `Ok(None)` instead of a `WouldBlock` error.
///
/// Implemented for every `Write`.
pub trait TryWrite {
    /// Writes from `buf`: `Ok(Some(n))`, or `Ok(None)` if the handle cannot take data yet.
    fn try_write(&mut self, buf: &[u8]) -> io::Result<Option<usize>>;

    /// Writes from any [`Buf`] with one call, and advances it by the bytes written: one
    /// `write_vectored` over its chunks when it has several (one `writev`/`sendmsg` for a
    /// wrapped [`RingBuf`](crate::buf::RingBuf) or a `Chain`), a plain `write` when it has
    /// one (the cheaper syscall for sockets: `send` rather than `sendmsg`).
    ///
    /// An empty `buf` gives `Ok(Some(0))` without a syscall. At most 64 chunks go out per
    /// call (the iovec array lives on the stack); the rest goes out on the next call.
    fn try_write_buf<B: Buf + ?Sized>(&mut self, buf: &mut B) -> io::Result<Option<usize>>
    where
        Self: Write,
    {
        if !buf.has_remaining() {
            return Ok(Some(0));
        }
        let mut slices = [IoSlice::new(&[]); MAX_WRITE_CHUNKS];
        let count = buf.chunks_vectored(&mut slices);
        let result = match count {
            1 => self.write(&slices[0]),
            _ => self.write_vectored(&slices[..count]),
        };
        let written = match would_block_to_none(result)? {
            Some(written) => written,
            None => return Ok(None),
        };
        let offered: usize = slices[..count].iter().map(|slice| slice.len()).sum();
        if written > offered {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "writer claimed more bytes than it was given"));
        }
        buf.advance(written);
        Ok(Some(written))
    }
}

/// The most chunks of a `Buf` that one `try_write_buf` hands to `write_vectored`.
const MAX_WRITE_CHUNKS: usize = 64;

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
