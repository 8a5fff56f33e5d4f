//! `Io` (an owned non-blocking fd) and the non-blocking traits `TryRead`, `TryWrite` and
//! `TryAccept`, which turn `WouldBlock` into `Ok(None)`.
//!
//! `TryRead`/`TryWrite` also read into and write from the `bytes` buffer traits (see
//! [`crate::buf`]), one syscall per call.

use crate::buf::{Buf, BufMut, BufMutVectored};
use crate::readiness::owned_evented_fd::OwnedEventedFd;
use crate::sys::fd;
use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// An owned file descriptor used for non-blocking IO; closed on drop.
///
/// `Io` does not change the fd's flags: make it non-blocking first (all readyio types
/// are) or reads and writes will block.
///
/// # Conversions
///
/// * From and into an `OwnedFd` (`Io::from(owned)`, `OwnedFd::from(io)`), and the raw-fd
///   traits: `FromRawFd` (unsafe), `AsRawFd`, `IntoRawFd`, `AsFd`.
/// * From and into every readyio socket and pipe type (`PipeReader::from(io)`,
///   `Io::from(stream)`, ...). These keep the [selector the fd belongs
///   to](crate::Evented#a-socket-belongs-to-one-selector); conversions into a bare fd lose it.
///
/// An fd received with [`UnixStream::try_read_buf_recv_fd`](crate::unix::UnixStream::try_read_buf_recv_fd)
/// becomes a pipe end as it did in mio 0.5:
///
/// ```
/// use readyio::buf::BytesMut;
/// use readyio::unix::{pipe, PipeReader, UnixStream};
/// use readyio::{Io, TryRead, TryWrite};
///
/// let (ours, theirs) = UnixStream::pair()?;
/// let (reader, mut writer) = pipe()?;
/// ours.try_write_buf_send_fd(&mut &b"x"[..], &reader)?;
/// let mut buf = BytesMut::with_capacity(16);
/// let (_, fd) = theirs.try_read_buf_recv_fd(&mut buf)?.expect("sent above");
/// let mut passed: PipeReader = From::<Io>::from(From::from(fd.expect("an fd came")));
/// writer.try_write(b"hi")?;
/// let mut data = [0u8; 2];
/// assert_eq!(passed.try_read(&mut data)?, Some(2));
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # No `From<RawFd>`
///
/// mio 0.5 also had a safe `From<RawFd> for Io` (and a safe `Io::from_raw_fd`). Both let
/// safe code take ownership of any integer: dropping `Io::from(socket.as_raw_fd())` closed
/// `socket`'s fd behind its back, the next socket opened reused the number, and dropping
/// `socket` then closed that unrelated socket. readyio leaves them out: use
/// `Io::from(OwnedFd)` when you own the fd, or `unsafe { Io::from_raw_fd(fd) }` (the
/// `FromRawFd` trait) when you can promise that you do.
///
/// ```compile_fail,E0277
/// use std::os::fd::AsRawFd;
/// let (reader, _writer) = readyio::unix::pipe().unwrap();
/// let _closes_on_drop = readyio::Io::from(reader.as_raw_fd()); // no longer compiles
/// ```
///
/// The sound forms:
///
/// ```
/// use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
/// let (reader, writer) = readyio::unix::pipe()?;
/// let _owned = readyio::Io::from(OwnedFd::from(reader));
/// // SAFETY: `into_raw_fd` hands over the fd; nothing else owns or closes it.
/// let _raw = unsafe { readyio::Io::from_raw_fd(writer.into_raw_fd()) };
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Io {
    fd: OwnedEventedFd,
}

impl Io {
    /// Sets or clears `O_NONBLOCK` on the fd.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        fd::set_nonblocking(self.fd.as_fd(), nonblocking)
    }

    /// A second handle to the same open file (`F_DUPFD_CLOEXEC`). If `self` belongs to a
    /// selector, so does the clone (see [`Evented`](crate::Evented)).
    ///
    /// Deregister the fd from a [`Poll`](crate::Poll) before dropping it while a clone
    /// lives: see [`Evented`](crate::Evented#dropping-a-registered-handle-while-a-clone-lives).
    pub fn try_clone(&self) -> io::Result<Io> {
        Ok(Io { fd: self.fd.try_clone()? })
    }

    /// The fd and the selector it belongs to, for `From<Io>` of the IO types.
    pub(crate) fn into_evented_fd(self) -> OwnedEventedFd {
        self.fd
    }

    /// An `Io` over another IO type's fd and selector, for `From<$ty> for Io`.
    pub(crate) fn from_evented_fd(fd: OwnedEventedFd) -> Io {
        Io { fd }
    }
}

impl From<OwnedFd> for Io {
    fn from(fd: OwnedFd) -> Io {
        Io { fd: OwnedEventedFd::new(fd) }
    }
}

impl From<Io> for OwnedFd {
    fn from(io: Io) -> OwnedFd {
        io.fd.into()
    }
}

impl fmt::Debug for Io {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Io").field("fd", &self.fd.as_raw_fd()).finish()
    }
}

/// Implements `From<Io>` for `$ty` and `From<$ty>` for `Io`, for a readyio IO type that keeps
/// its [`OwnedEventedFd`] in `$field`: the fd moves with the selector it belongs to.
macro_rules! io_conversions {
    ($ty:ident, $field:ident) => {
        impl From<$crate::io::Io> for $ty {
            /// Takes over the fd of an [`Io`](crate::Io), keeping the selector it belongs to.
            /// The fd should be of this type's kind and non-blocking.
            fn from(io: $crate::io::Io) -> $ty {
                $ty { $field: io.into_evented_fd() }
            }
        }
        impl From<$ty> for $crate::io::Io {
            /// Hands the fd over to an [`Io`](crate::Io), keeping the selector it belongs to.
            fn from(value: $ty) -> $crate::io::Io {
                $crate::io::Io::from_evented_fd(value.$field)
            }
        }
    };
}
pub(crate) use io_conversions;

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
pub(crate) const MAX_WRITE_CHUNKS: usize = 64;

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
