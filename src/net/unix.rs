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

use crate::io::would_block_to_none;
use crate::io::TryAccept;
use crate::net::fd_reserve::FdReserve;
use crate::sys::socket::{self, Domain, RawSockAddr, SocketType};
use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;

/// A Unix stream socket that is neither connected nor listening yet: bind it, then
/// [`listen`](UnixSocket::listen), or [`connect`](UnixSocket::connect) it.
pub struct UnixSocket {
    fd: OwnedFd,
}

impl UnixSocket {
    /// A new Unix stream socket, non-blocking and close-on-exec.
    pub fn stream() -> io::Result<UnixSocket> {
        Ok(UnixSocket { fd: socket::socket(Domain::Unix, SocketType::Stream)? })
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

    /// A second handle to the same socket (a duplicated fd).
    ///
    /// Deregister the socket from a [`Poll`](crate::Poll) before dropping it while a clone
    /// lives: see [`Evented`](crate::Evented#dropping-a-registered-handle-while-a-clone-lives).
    pub fn try_clone(&self) -> io::Result<UnixSocket> {
        Ok(UnixSocket { fd: crate::sys::fd::duplicate(self.fd.as_fd())? })
    }
}

/// A non-blocking Unix socket listening for connections.
pub struct UnixListener {
    fd: OwnedFd,
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
        Ok(UnixListener { fd })
    }

    /// Accepts one pending connection, or `Ok(None)` if none is pending.
    pub fn accept(&self) -> io::Result<Option<UnixStream>> {
        Ok(would_block_to_none(socket::accept(self.fd.as_fd()))?.map(|(fd, _)| UnixStream { fd }))
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

    /// A second handle to the same listening socket (a duplicated fd).
    ///
    /// Deregister the listener from a [`Poll`](crate::Poll) before dropping it while a
    /// clone lives: see [`Evented`](crate::Evented#dropping-a-registered-handle-while-a-clone-lives).
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        Ok(UnixListener { fd: crate::sys::fd::duplicate(self.fd.as_fd())? })
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
    fd: OwnedFd,
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
        Ok((UnixStream { fd: a }, UnixStream { fd: b }))
    }

    /// Takes over a `std::os::unix::net::UnixStream`, making it non-blocking.
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        let fd = OwnedFd::from(stream);
        socket::adopt(fd.as_fd())?;
        Ok(UnixStream { fd })
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
        socket::send_with_fd(self.fd.as_fd(), buf, fd)
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

    /// The address of the local end (unnamed for connecting sockets and pairs).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket::local_addr(self.fd.as_fd())?.to_unix()
    }

    /// The address of the remote end.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        socket::peer_addr(self.fd.as_fd())?.to_unix()
    }

    /// A second handle to the same connection (a duplicated fd).
    ///
    /// Deregister the stream from a [`Poll`](crate::Poll) before dropping it while a clone
    /// lives: see [`Evented`](crate::Evented#dropping-a-registered-handle-while-a-clone-lives).
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        Ok(UnixStream { fd: crate::sys::fd::duplicate(self.fd.as_fd())? })
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

/// `From<OwnedFd>`, `Into<OwnedFd>`, `From` the std type (made non-blocking), the fd
/// traits and `Evented`.
macro_rules! unix_conversions {
    ($ty:ident $(, $std:ty)?) => {
        impl From<OwnedFd> for $ty {
            /// Wraps a Unix socket fd as is; it should already be non-blocking.
            fn from(fd: OwnedFd) -> $ty {
                $ty { fd }
            }
        }
        impl From<$ty> for OwnedFd {
            fn from(socket: $ty) -> OwnedFd {
                socket.fd
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
                    $ty { fd }
                }
            }
        )?
        crate::sys::fd_traits!($ty, fd);
        crate::readiness::evented::evented_by_fd!($ty, fd);
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
