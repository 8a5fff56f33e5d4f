//! Unix domain sockets ([`UnixListener`], [`UnixStream`], [`UnixSocket`]) with fd passing,
//! anonymous pipes ([`pipe`], [`PipeReader`], [`PipeWriter`]) and [`EventedFd`] for any
//! other fd.
//!
//! ```
//! use readyio::unix::{UnixListener, UnixStream};
//! use std::io::Write;
//!
//! let dir = std::env::temp_dir().join(format!("readyio-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let path = dir.join("server.sock");
//! # let _ = std::fs::remove_file(&path);
//! let listener = UnixListener::bind(&path)?;
//! let mut client = UnixStream::connect(&path)?;
//! let server = listener.accept()?.expect("a Unix connect completes at once");
//! client.write_all(b"hello")?;
//! # drop(server);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Paths follow `bind(2)`: a path that does not fit in `sun_path` (107 bytes on Linux)
//! or contains a NUL byte is `ErrorKind::InvalidInput`. On Linux a path whose first byte
//! is NUL names an abstract socket.

pub use super::pipe::{pipe, PipeReader, PipeWriter};
pub use crate::readiness::evented::EventedFd;

use crate::buf::{Buf, BufMut};
use crate::io::would_block_to_none;
use crate::io::{TryAccept, MAX_WRITE_CHUNKS};
use crate::net::fd_reserve::FdReserve;
use crate::readiness::owned_evented_fd::OwnedEventedFd;
use crate::sys::socket::{self, Domain, RawSockAddr, SocketType};
use std::fmt;
use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;

/// A Unix stream socket that is neither connected nor listening yet: bind it, then
/// [`listen`](UnixSocket::listen), or [`connect`](UnixSocket::connect) it.
pub struct UnixSocket {
    fd: OwnedEventedFd,
}

impl UnixSocket {
    /// A new Unix stream socket, non-blocking and close-on-exec.
    pub fn stream() -> io::Result<UnixSocket> {
        Ok(UnixSocket { fd: socket::socket(Domain::Unix, SocketType::Stream)?.into() })
    }

    /// Connects to the socket at `path`, returning the stream and whether the connection
    /// completed at once (`false`: it completes when the stream becomes writable).
    pub fn connect<P: AsRef<Path> + ?Sized>(self, path: &P) -> io::Result<(UnixStream, bool)> {
        let addr = RawSockAddr::from_unix_path(path.as_ref())?;
        let complete = socket::connect(self.fd.as_fd(), &addr)?;
        Ok((UnixStream { fd: self.fd }, complete))
    }

    /// Binds the socket to `path`, creating the socket file. `ErrorKind::AddrInUse` if the
    /// file exists.
    pub fn bind<P: AsRef<Path> + ?Sized>(&self, path: &P) -> io::Result<()> {
        socket::bind(self.fd.as_fd(), &RawSockAddr::from_unix_path(path.as_ref())?)
    }

    /// Starts listening with room for `backlog` pending connections (capped by the kernel).
    pub fn listen(self, backlog: usize) -> io::Result<UnixListener> {
        let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
        socket::listen(self.fd.as_fd(), backlog)?;
        Ok(UnixListener { fd: self.fd })
    }

    /// A second handle to the same socket (a duplicated fd), belonging to the same
    /// selector as this one (see [`Evented`](crate::Evented)).
    ///
    /// Deregister the socket from a [`Poll`](crate::Poll) before dropping it while a clone
    /// lives: see [`Evented`](crate::Evented#dropping-a-registered-handle-while-a-clone-lives).
    pub fn try_clone(&self) -> io::Result<UnixSocket> {
        Ok(UnixSocket { fd: self.fd.try_clone()? })
    }
}

/// A non-blocking Unix socket listening for connections.
pub struct UnixListener {
    fd: OwnedEventedFd,
}

impl UnixListener {
    /// Creates a listener bound to `path` with a backlog of `SOMAXCONN`.
    /// `ErrorKind::AddrInUse` if the socket file already exists (remove stale ones first).
    pub fn bind<P: AsRef<Path> + ?Sized>(path: &P) -> io::Result<UnixListener> {
        let socket = UnixSocket::stream()?;
        socket.bind(path)?;
        socket::listen(socket.fd.as_fd(), socket::LISTEN_BACKLOG)?;
        Ok(UnixListener { fd: socket.fd })
    }

    /// Takes over a `std::os::unix::net::UnixListener`, making it non-blocking.
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        let fd = OwnedFd::from(listener);
        socket::adopt(fd.as_fd())?;
        Ok(UnixListener { fd: fd.into() })
    }

    /// Accepts one pending connection, or `Ok(None)` if none is pending.
    pub fn accept(&self) -> io::Result<Option<UnixStream>> {
        Ok(would_block_to_none(socket::accept(self.fd.as_fd()))?.map(|(fd, _)| UnixStream { fd: fd.into() }))
    }

    /// [`accept`](UnixListener::accept), shedding the backlog through `reserve` when the
    /// process or the system is out of fds, so that neither an edge-triggered listener is
    /// stranded nor a level-triggered one spins. See [`FdReserve::accept`] for what it
    /// returns and when to back off instead.
    pub fn accept_or_shed(&self, reserve: &mut FdReserve) -> io::Result<Option<UnixStream>> {
        reserve.accept(|| self.accept())
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket::local_addr(self.fd.as_fd())?.to_unix()
    }

    /// A second handle to the same listening socket (a duplicated fd), belonging to the
    /// same selector as this one (see [`Evented`](crate::Evented)).
    ///
    /// Deregister the listener from a [`Poll`](crate::Poll) before dropping it while a
    /// clone lives: see [`Evented`](crate::Evented#dropping-a-registered-handle-while-a-clone-lives).
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        Ok(UnixListener { fd: self.fd.try_clone()? })
    }

    /// Takes the socket's pending error (`SO_ERROR`), clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        socket::take_error(self.fd.as_fd())
    }
}

impl TryAccept for UnixListener {
    type Output = UnixStream;

    fn accept(&self) -> io::Result<Option<UnixStream>> {
        UnixListener::accept(self)
    }
}

/// A non-blocking Unix stream connection, able to pass fds (`SCM_RIGHTS`).
///
/// Reads and writes return `ErrorKind::WouldBlock` when the socket is not ready. Writes
/// never raise `SIGPIPE`. Vectored reads and writes take one syscall each (`readv`, `sendmsg`).
pub struct UnixStream {
    fd: OwnedEventedFd,
}

impl UnixStream {
    /// Connects to the socket at `path`. A Unix connect completes at once or fails
    /// (`ConnectionRefused` with no listener, `WouldBlock` when its backlog is full).
    pub fn connect<P: AsRef<Path> + ?Sized>(path: &P) -> io::Result<UnixStream> {
        Ok(UnixSocket::stream()?.connect(path)?.0)
    }

    /// Two connected streams (`socketpair(2)`).
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = socket::socketpair(SocketType::Stream)?;
        Ok((UnixStream { fd: a.into() }, UnixStream { fd: b.into() }))
    }

    /// Takes over a `std::os::unix::net::UnixStream`, making it non-blocking.
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        let fd = OwnedFd::from(stream);
        socket::adopt(fd.as_fd())?;
        Ok(UnixStream { fd: fd.into() })
    }

    /// Sends `buf` with a copy of `fd` attached (`sendmsg` with `SCM_RIGHTS`):
    /// `Ok(Some(bytes sent))`, or `Ok(None)` if the socket cannot take data now. The fd
    /// travels with the first byte; the caller keeps (and still owns) its own copy.
    /// `buf` must not be empty, or the fd has nothing to travel with (`InvalidInput`).
    pub fn try_write_send_fd(&self, buf: &[u8], fd: RawFd) -> io::Result<Option<usize>> {
        would_block_to_none(self.write_send_fd(buf, fd))
    }

    /// As [`try_write_send_fd`](UnixStream::try_write_send_fd), with `WouldBlock` as an error.
    pub fn write_send_fd(&self, buf: &[u8], fd: RawFd) -> io::Result<usize> {
        if buf.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "an fd must be sent with at least one byte"));
        }
        socket::send_with_fd(self.fd.as_fd(), &[IoSlice::new(buf)], fd)
    }

    /// Sends the bytes of `buf` with a copy of `fd` attached and advances `buf` past the
    /// bytes sent: `Ok(Some(bytes sent))`, or `Ok(None)` (nothing sent, `buf` untouched) if
    /// the socket cannot take data now. The buffer form of
    /// [`try_write_send_fd`](UnixStream::try_write_send_fd), as
    /// [`try_write_buf`](crate::TryWrite::try_write_buf) is of `try_write`.
    ///
    /// One `sendmsg` carries all of `buf`'s chunks (up to 64), so a wrapped
    /// [`RingBuf`](crate::buf::RingBuf) goes out whole. The fd travels with the first byte;
    /// the caller keeps (and still owns) its own. An empty `buf` is `InvalidInput`: the fd
    /// would have nothing to travel with.
    ///
    /// The fd is borrowed (`&file`, `file.as_fd()`, ...), not a `RawFd` as in mio 0.5: a bare
    /// number can name an fd that another part of the program has closed and the kernel has
    /// given to an unrelated file, which would then be handed to the peer.
    pub fn try_write_buf_send_fd<B: Buf + ?Sized>(&self, buf: &mut B, fd: impl AsFd) -> io::Result<Option<usize>> {
        let mut slices = [IoSlice::new(&[]); MAX_WRITE_CHUNKS];
        let count = buf.chunks_vectored(&mut slices);
        if slices[..count].iter().all(|slice| slice.is_empty()) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "an fd must be sent with at least one byte"));
        }
        let passed = fd.as_fd().as_raw_fd();
        let Some(sent) = would_block_to_none(socket::send_with_fd(self.fd.as_fd(), &slices[..count], passed))? else {
            return Ok(None);
        };
        buf.advance(sent);
        Ok(Some(sent))
    }

    /// Receives into `buf`, taking in an fd if one came with the data:
    /// `Ok(Some((bytes, fd)))`, or `Ok(None)` if nothing is available. A received fd is
    /// close-on-exec and owned by the caller, who must close it. Prefer
    /// [`try_read_recv_owned_fd`](UnixStream::try_read_recv_owned_fd), which closes it for you.
    pub fn try_read_recv_fd(&self, buf: &mut [u8]) -> io::Result<Option<(usize, Option<RawFd>)>> {
        would_block_to_none(self.read_recv_fd(buf))
    }

    /// As [`try_read_recv_fd`](UnixStream::try_read_recv_fd), with `WouldBlock` as an error.
    pub fn read_recv_fd(&self, buf: &mut [u8]) -> io::Result<(usize, Option<RawFd>)> {
        let (len, fd) = socket::recv_with_fd(self.fd.as_fd(), buf)?;
        Ok((len, fd.map(IntoRawFd::into_raw_fd)))
    }

    /// Receives into `buf`, taking in an fd if one came with the data, as an `OwnedFd`
    /// (close-on-exec): `Ok(None)` if nothing is available. If a peer sent several fds with
    /// one message, the first is returned and the others are closed.
    pub fn try_read_recv_owned_fd(&self, buf: &mut [u8]) -> io::Result<Option<(usize, Option<OwnedFd>)>> {
        would_block_to_none(socket::recv_with_fd(self.fd.as_fd(), buf))
    }

    /// Receives into `buf`, taking in an fd if one came with the data, and advances `buf`
    /// past the bytes received: `Ok(Some((bytes, fd)))`, or `Ok(None)` (`buf` untouched) if
    /// nothing is available. The buffer form of
    /// [`try_read_recv_owned_fd`](UnixStream::try_read_recv_owned_fd), as
    /// [`try_read_buf`](crate::TryRead::try_read_buf) is of `try_read`: one `recvmsg` into
    /// `buf`'s first contiguous chunk (zero-filled first). `Ok(Some((0, None)))` means end of
    /// stream, or that `buf` had no room.
    ///
    /// The fd comes back owned and close-on-exec, so it cannot leak: drop it to close it.
    /// If a peer sent several fds with one message, the first is returned and the others
    /// are closed. (mio 0.5 returned a `RawFd` here; its `From::<Io>::from(From::from(fd))`
    /// still compiles, now through `From<OwnedFd>`, and gives the same `Io`.)
    ///
    /// ```
    /// use readyio::buf::{BytesMut, RingBuf};
    /// use readyio::unix::{pipe, UnixStream};
    ///
    /// let (ours, theirs) = UnixStream::pair()?;
    /// let (reader, _writer) = pipe()?;
    /// let mut out = RingBuf::with_capacity(64);
    /// readyio::buf::BufMut::put_slice(&mut out, b"here is a pipe");
    /// assert_eq!(ours.try_write_buf_send_fd(&mut out, &reader)?, Some(14));
    ///
    /// let mut into = BytesMut::with_capacity(64);
    /// let (len, fd) = theirs.try_read_buf_recv_fd(&mut into)?.expect("sent above");
    /// assert_eq!((len, &into[..]), (14, &b"here is a pipe"[..]));
    /// assert!(fd.is_some());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_read_buf_recv_fd<B: BufMut + ?Sized>(
        &self,
        buf: &mut B,
    ) -> io::Result<Option<(usize, Option<OwnedFd>)>> {
        let mut received = None;
        let read = crate::sys::buf::read_into_chunk(buf, |chunk| {
            let (len, fd) = socket::recv_with_fd(self.fd.as_fd(), chunk)?;
            received = fd;
            Ok(len)
        });
        // An fd taken in by a call that still failed is dropped with `received`: closed.
        Ok(would_block_to_none(read)?.map(|len| (len, received)))
    }

    /// The address of the local end (unnamed for connecting sockets and pairs).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket::local_addr(self.fd.as_fd())?.to_unix()
    }

    /// The address of the remote end.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        socket::peer_addr(self.fd.as_fd())?.to_unix()
    }

    /// A second handle to the same connection (a duplicated fd), belonging to the same
    /// selector as this one (see [`Evented`](crate::Evented)).
    ///
    /// Deregister the stream from a [`Poll`](crate::Poll) before dropping it while a clone
    /// lives: see [`Evented`](crate::Evented#dropping-a-registered-handle-while-a-clone-lives).
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        Ok(UnixStream { fd: self.fd.try_clone()? })
    }

    /// Shuts down the read half, the write half or both (`shutdown(2)`).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        socket::shutdown(self.fd.as_fd(), how)
    }

    /// Takes the socket's pending error (`SO_ERROR`), clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        socket::take_error(self.fd.as_fd())
    }
}

// One syscall each: recv, readv, send(MSG_NOSIGNAL), sendmsg(MSG_NOSIGNAL).
crate::io::read_through_fd!(UnixStream, socket::recv, socket::recv_vectored);
crate::io::write_through_fd!(UnixStream, socket::send, socket::send_vectored);

/// `From<OwnedFd>`, `Into<OwnedFd>`, `From<Io>`, `Into<Io>`, `From` the std type (made
/// non-blocking), the fd traits and `Evented`.
macro_rules! unix_conversions {
    ($ty:ident $(, $std:ty)?) => {
        impl From<OwnedFd> for $ty {
            /// Wraps a Unix socket fd as is; it should already be non-blocking.
            fn from(fd: OwnedFd) -> $ty {
                $ty { fd: fd.into() }
            }
        }
        impl From<$ty> for OwnedFd {
            fn from(socket: $ty) -> OwnedFd {
                socket.fd.into()
            }
        }
        $(
            impl From<$std> for $ty {
                /// Takes over the std socket and makes it non-blocking.
                ///
                /// Setting the flag cannot fail on an open socket; should it anyway, the
                /// socket is kept as is. Use `from_std` to see such an error.
                fn from(socket: $std) -> $ty {
                    let fd = OwnedFd::from(socket);
                    let adopted = socket::adopt(fd.as_fd());
                    debug_assert!(adopted.is_ok(), "making an open socket non-blocking failed: {adopted:?}");
                    $ty { fd: fd.into() }
                }
            }
        )?
        crate::sys::fd_traits!($ty, fd);
        crate::readiness::evented::evented_by_fd!($ty, fd);
        crate::io::io_conversions!($ty, fd);
    };
}

unix_conversions!(UnixSocket);
unix_conversions!(UnixListener, std::os::unix::net::UnixListener);
unix_conversions!(UnixStream, std::os::unix::net::UnixStream);

impl fmt::Debug for UnixSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("UnixSocket");
        out.field("fd", &self.fd.as_raw_fd());
        if let Ok(addr) = socket::local_addr(self.fd.as_fd()).and_then(|a| a.to_unix()) {
            out.field("local_addr", &addr);
        }
        out.finish()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("UnixListener");
        out.field("fd", &self.fd.as_raw_fd());
        if let Ok(addr) = self.local_addr() {
            out.field("local_addr", &addr);
        }
        out.finish()
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("UnixStream");
        out.field("fd", &self.fd.as_raw_fd());
        if let Ok(addr) = self.local_addr() {
            out.field("local_addr", &addr);
        }
        if let Ok(addr) = self.peer_addr() {
            out.field("peer_addr", &addr);
        }
        out.finish()
    }
}
