//! TCP: a non-blocking [`TcpListener`] and [`TcpStream`].
//!
//! ```
//! use readyio::tcp::{TcpListener, TcpStream};
//! use readyio::{EventSet, Poll, PollOpt, Token};
//! use std::io::Write;
//!
//! let listener = TcpListener::bind(&"127.0.0.1:0".parse().unwrap())?;
//! let mut client = TcpStream::connect(&listener.local_addr()?)?;
//!
//! let mut poll = Poll::new()?;
//! poll.register(&listener, Token(0), EventSet::readable(), PollOpt::edge())?;
//! poll.register(&client, Token(1), EventSet::writable(), PollOpt::edge())?;
//! // The connect completes when the client becomes writable and the listener readable.
//! let mut accepted = None;
//! while accepted.is_none() {
//!     poll.poll(Some(1000))?;
//!     accepted = listener.accept()?;
//! }
//! client.write_all(b"ping")?;
//! # Ok::<(), std::io::Error>(())
//! ```

use crate::io::would_block_to_none;
use crate::io::TryAccept;
use crate::net::fd_reserve::FdReserve;
use crate::readiness::owned_evented_fd::OwnedEventedFd;
use crate::sys::socket::{self, Domain, RawSockAddr, SocketType};
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// A non-blocking TCP socket listening for connections.
///
/// Made by [`bind`](TcpListener::bind) (with `SO_REUSEADDR` and a large backlog) or from a
/// `std::net::TcpListener`. Register it for readable events, then [`accept`](TcpListener::accept)
/// until it returns `Ok(None)`.
pub struct TcpListener {
    fd: OwnedEventedFd,
}

impl TcpListener {
    /// Creates a listener bound to `addr`, with `SO_REUSEADDR` set and a backlog of
    /// `SOMAXCONN` (4096 on Linux, capped by `net.core.somaxconn`).
    ///
    /// Port 0 picks a free port; read it back with [`local_addr`](TcpListener::local_addr).
    /// An address already listened on gives `ErrorKind::AddrInUse`.
    #[doc(alias = "listen")]
    pub fn bind(addr: &SocketAddr) -> io::Result<TcpListener> {
        let fd = socket::socket(Domain::of(addr), SocketType::Stream)?;
        socket::set_reuse_address(fd.as_fd(), true)?;
        socket::bind(fd.as_fd(), &RawSockAddr::from_inet(addr))?;
        socket::listen(fd.as_fd(), socket::LISTEN_BACKLOG)?;
        Ok(TcpListener { fd: fd.into() })
    }

    /// Creates a listener bound to `addr` as [`bind`](TcpListener::bind) does, with
    /// `SO_REUSEPORT` also set, so that several listeners (typically one per thread, each
    /// with its own event loop) can bind the same address and port.
    ///
    /// Every listener sharing the port must be made this way, by the same user; a plain
    /// [`bind`](TcpListener::bind) of that port gives `ErrorKind::AddrInUse`. To share a port
    /// picked by the kernel, bind the first listener to port 0 and the others to the
    /// address it reports.
    ///
    /// Where the connections go depends on the kernel: Linux (3.9 and later) spreads them
    /// across the listeners by a hash of each connection's addresses and ports, so every
    /// listener must be accepted from. FreeBSD (which balances only with its own
    /// `SO_REUSEPORT_LB`), macOS, NetBSD and OpenBSD let the listeners share the port but
    /// do not balance: one of them receives the connections.
    ///
    /// ```
    /// use readyio::tcp::TcpListener;
    ///
    /// let first = TcpListener::bind_reuseport(&"127.0.0.1:0".parse().unwrap())?;
    /// let second = TcpListener::bind_reuseport(&first.local_addr()?)?;
    /// assert_eq!(first.local_addr()?, second.local_addr()?);
    /// assert!(second.reuseport()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[doc(alias = "SO_REUSEPORT")]
    pub fn bind_reuseport(addr: &SocketAddr) -> io::Result<TcpListener> {
        let fd = socket::socket(Domain::of(addr), SocketType::Stream)?;
        socket::set_reuse_address(fd.as_fd(), true)?;
        socket::set_reuse_port(fd.as_fd(), true)?;
        socket::bind(fd.as_fd(), &RawSockAddr::from_inet(addr))?;
        socket::listen(fd.as_fd(), socket::LISTEN_BACKLOG)?;
        Ok(TcpListener { fd: fd.into() })
    }

    /// Whether `SO_REUSEPORT` is set on the listener (see
    /// [`bind_reuseport`](TcpListener::bind_reuseport)).
    pub fn reuseport(&self) -> io::Result<bool> {
        socket::reuse_port(self.fd.as_fd())
    }

    /// Takes over a listening `std::net::TcpListener`, making it non-blocking.
    ///
    /// `addr` is the listener's local address; Unix does not need it (it exists for the
    /// seed API's sake) and it is ignored.
    pub fn from_listener(listener: std::net::TcpListener, addr: &SocketAddr) -> io::Result<TcpListener> {
        let _ = addr;
        TcpListener::from_std(listener)
    }

    /// Takes over a listening `std::net::TcpListener`, making it non-blocking.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        let fd = OwnedFd::from(listener);
        socket::adopt(fd.as_fd())?;
        Ok(TcpListener { fd: fd.into() })
    }

    /// Accepts one pending connection: the new stream (non-blocking, close-on-exec) and the
    /// peer's address, or `Ok(None)` if no connection is pending.
    #[doc(alias = "accept4")]
    pub fn accept(&self) -> io::Result<Option<(TcpStream, SocketAddr)>> {
        let Some((fd, addr)) = would_block_to_none(socket::accept(self.fd.as_fd()))? else {
            return Ok(None);
        };
        Ok(Some((TcpStream { fd: fd.into() }, addr.to_inet()?)))
    }

    /// [`accept`](TcpListener::accept), shedding the backlog through `reserve` when the
    /// process or the system is out of fds, so that neither an edge-triggered listener is
    /// stranded nor a level-triggered one spins. See [`FdReserve::accept`] for what it
    /// returns and when to back off instead.
    pub fn accept_or_shed(&self, reserve: &mut FdReserve) -> io::Result<Option<(TcpStream, SocketAddr)>> {
        reserve.accept(|| self.accept())
    }

    /// The address the listener is bound to.
    #[doc(alias = "getsockname")]
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket::local_addr(self.fd.as_fd())?.to_inet()
    }

    /// A second handle to the same listening socket (a duplicated fd), belonging to the
    /// same selector as this one (see [`Evented`](crate::Evented)).
    ///
    /// Deregister the listener from a [`Poll`](crate::Poll) before dropping it while a
    /// clone lives: see [`Evented`](crate::Evented#dropping-a-registered-handle-while-a-clone-lives).
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        Ok(TcpListener { fd: self.fd.try_clone()? })
    }

    /// Takes the socket's pending error (`SO_ERROR`), clearing it: `Ok(())` if there was
    /// none, else `Err(that error)`. See [`take_error`](TcpListener::take_error) for the
    /// `Option` form.
    pub fn take_socket_error(&self) -> io::Result<()> {
        super::error_as_result(socket::take_error(self.fd.as_fd()))
    }

    /// Takes the socket's pending error (`SO_ERROR`), clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        socket::take_error(self.fd.as_fd())
    }
}

impl TryAccept for TcpListener {
    type Output = TcpStream;

    fn accept(&self) -> io::Result<Option<TcpStream>> {
        Ok(TcpListener::accept(self)?.map(|(stream, _)| stream))
    }
}

impl From<OwnedFd> for TcpListener {
    /// Wraps a listening TCP socket fd as is; it should already be non-blocking.
    fn from(fd: OwnedFd) -> TcpListener {
        TcpListener { fd: fd.into() }
    }
}

impl From<TcpListener> for OwnedFd {
    fn from(listener: TcpListener) -> OwnedFd {
        listener.fd.into()
    }
}

impl From<std::net::TcpListener> for TcpListener {
    /// Takes over a `std::net::TcpListener` and makes it non-blocking.
    ///
    /// Setting the flag cannot fail on an open socket; should it anyway, the listener is
    /// kept as is. Use [`TcpListener::from_std`] to see such an error.
    fn from(listener: std::net::TcpListener) -> TcpListener {
        let fd = OwnedFd::from(listener);
        let adopted = socket::adopt(fd.as_fd());
        debug_assert!(adopted.is_ok(), "making an open socket non-blocking failed: {adopted:?}");
        TcpListener { fd: fd.into() }
    }
}

crate::sys::fd_traits!(TcpListener, fd);
crate::readiness::evented::evented_by_fd!(TcpListener, fd);
crate::io::io_conversions!(TcpListener, fd);

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("TcpListener");
        out.field("fd", &self.fd.as_raw_fd());
        if let Ok(addr) = self.local_addr() {
            out.field("local_addr", &addr);
        }
        out.finish()
    }
}

/// A non-blocking TCP connection.
///
/// Reads and writes return `ErrorKind::WouldBlock` when the socket is not ready; the
/// [`TryRead`](crate::TryRead)/[`TryWrite`](crate::TryWrite) methods turn that into
/// `Ok(None)`. Writes never raise `SIGPIPE`: a peer that closed gives `EPIPE` or
/// `ECONNRESET`. Vectored reads and writes take one syscall each (`readv`, `sendmsg`).
pub struct TcpStream {
    fd: OwnedEventedFd,
}

impl TcpStream {
    /// Starts connecting to `addr` without waiting.
    ///
    /// The stream is returned at once; the connection is established when it becomes
    /// writable. If it failed (e.g. refused), the poll reports an error or hup event and
    /// [`take_socket_error`](TcpStream::take_socket_error) returns the reason.
    pub fn connect(addr: &SocketAddr) -> io::Result<TcpStream> {
        let fd = socket::socket(Domain::of(addr), SocketType::Stream)?;
        socket::connect(fd.as_fd(), &RawSockAddr::from_inet(addr))?;
        Ok(TcpStream { fd: fd.into() })
    }

    /// Takes over `stream`, makes it non-blocking and connects it to `addr` as
    /// [`connect`](TcpStream::connect) does.
    ///
    /// This is for sockets set up elsewhere (e.g. with options std has no setter for)
    /// but not yet connected. A stream that is already connected to `addr` is taken as is;
    /// one connected elsewhere gives the `EISCONN` error.
    pub fn connect_stream(stream: std::net::TcpStream, addr: &SocketAddr) -> io::Result<TcpStream> {
        let stream = TcpStream::from_std(stream)?;
        match socket::connect(stream.fd.as_fd(), &RawSockAddr::from_inet(addr)) {
            Ok(_) => Ok(stream),
            Err(e) if socket::is_already_connected(&e) && stream.peer_addr().ok().as_ref() == Some(addr) => Ok(stream),
            Err(e) => Err(e),
        }
    }

    /// Takes over a `std::net::TcpStream`, making it non-blocking.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        let fd = OwnedFd::from(stream);
        socket::adopt(fd.as_fd())?;
        Ok(TcpStream { fd: fd.into() })
    }

    /// The address of the remote end; `ErrorKind::NotConnected` while a connect is still
    /// in progress or after it failed.
    #[doc(alias = "getpeername")]
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        socket::peer_addr(self.fd.as_fd())?.to_inet()
    }

    /// The address of the local end.
    #[doc(alias = "getsockname")]
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket::local_addr(self.fd.as_fd())?.to_inet()
    }

    /// A second handle to the same connection (a duplicated fd), belonging to the same
    /// selector as this one (see [`Evented`](crate::Evented)).
    ///
    /// Deregister the stream from a [`Poll`](crate::Poll) before dropping it while a clone
    /// lives: see [`Evented`](crate::Evented#dropping-a-registered-handle-while-a-clone-lives).
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        Ok(TcpStream { fd: self.fd.try_clone()? })
    }

    /// Shuts down the read half, the write half or both (`shutdown(2)`).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        socket::shutdown(self.fd.as_fd(), how)
    }

    /// Turns Nagle's algorithm off (`true`) or on (`TCP_NODELAY`).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        socket::set_nodelay(self.fd.as_fd(), nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        socket::nodelay(self.fd.as_fd())
    }

    /// Turns keepalive probes on after `Some(seconds)` of idleness (`SO_KEEPALIVE` and
    /// `TCP_KEEPIDLE`), or off with `None`. `ErrorKind::InvalidInput` for `Some(0)` or
    /// more than `i32::MAX` seconds.
    pub fn set_keepalive(&self, idle_seconds: Option<u32>) -> io::Result<()> {
        socket::set_keepalive(self.fd.as_fd(), idle_seconds)
    }

    /// The keepalive idle time in seconds, or `None` if keepalive is off.
    pub fn keepalive(&self) -> io::Result<Option<u32>> {
        socket::keepalive(self.fd.as_fd())
    }

    /// Takes the socket's pending error (`SO_ERROR`), clearing it: `Ok(())` if there was
    /// none, else `Err(that error)`, e.g. `ConnectionRefused` after a failed connect.
    /// See [`take_error`](TcpStream::take_error) for the `Option` form.
    pub fn take_socket_error(&self) -> io::Result<()> {
        super::error_as_result(socket::take_error(self.fd.as_fd()))
    }

    /// Takes the socket's pending error (`SO_ERROR`), clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        socket::take_error(self.fd.as_fd())
    }
}

// One syscall each: recv, readv, send(MSG_NOSIGNAL), sendmsg(MSG_NOSIGNAL).
crate::io::read_through_fd!(TcpStream, socket::recv, socket::recv_vectored);
crate::io::write_through_fd!(TcpStream, socket::send, socket::send_vectored);

impl From<OwnedFd> for TcpStream {
    /// Wraps a TCP socket fd as is; it should already be non-blocking.
    fn from(fd: OwnedFd) -> TcpStream {
        TcpStream { fd: fd.into() }
    }
}

impl From<TcpStream> for OwnedFd {
    fn from(stream: TcpStream) -> OwnedFd {
        stream.fd.into()
    }
}

impl From<std::net::TcpStream> for TcpStream {
    /// Takes over a `std::net::TcpStream` and makes it non-blocking.
    ///
    /// Setting the flag cannot fail on an open socket; should it anyway, the stream is
    /// kept as is. Use [`TcpStream::from_std`] to see such an error.
    fn from(stream: std::net::TcpStream) -> TcpStream {
        let fd = OwnedFd::from(stream);
        let adopted = socket::adopt(fd.as_fd());
        debug_assert!(adopted.is_ok(), "making an open socket non-blocking failed: {adopted:?}");
        TcpStream { fd: fd.into() }
    }
}

crate::sys::fd_traits!(TcpStream, fd);
crate::readiness::evented::evented_by_fd!(TcpStream, fd);
crate::io::io_conversions!(TcpStream, fd);

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("TcpStream");
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
