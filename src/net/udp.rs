//! UDP: a non-blocking [`UdpSocket`] with broadcast and multicast options.
//!
//! ```
//! use readyio::udp::UdpSocket;
//! use readyio::{EventSet, Poll, PollOpt, Token};
//!
//! let receiver = UdpSocket::bound(&"127.0.0.1:0".parse().unwrap())?;
//! let sender = UdpSocket::v4()?;
//! let mut poll = Poll::new()?;
//! poll.register(&receiver, Token(0), EventSet::readable(), PollOpt::edge())?;
//!
//! sender.send_to(b"hello", &receiver.local_addr()?)?;
//! let mut buf = [0u8; 64];
//! let (len, from) = loop {
//!     if let Some(datagram) = receiver.recv_from(&mut buf)? {
//!         break datagram;
//!     }
//!     poll.poll(Some(1000))?;
//! };
//! assert_eq!(&buf[..len], b"hello");
//! # let _ = from;
//! # Ok::<(), std::io::Error>(())
//! ```

use crate::io::would_block_to_none;
use crate::readiness::owned_evented_fd::OwnedEventedFd;
use crate::sys::socket::{self, Domain, RawSockAddr, SocketType};
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// A non-blocking UDP socket.
///
/// Sends and receives return `Ok(None)` when the socket is not ready; register it for
/// readable (or writable) events to learn when to try again.
pub struct UdpSocket {
    fd: OwnedEventedFd,
}

impl UdpSocket {
    /// A new unbound IPv4 UDP socket.
    pub fn v4() -> io::Result<UdpSocket> {
        Ok(UdpSocket { fd: socket::socket(Domain::Ipv4, SocketType::Datagram)?.into() })
    }

    /// A new unbound IPv6 UDP socket.
    pub fn v6() -> io::Result<UdpSocket> {
        Ok(UdpSocket { fd: socket::socket(Domain::Ipv6, SocketType::Datagram)?.into() })
    }

    /// A new UDP socket of `addr`'s family, bound to `addr` (port 0 picks a free port).
    pub fn bound(addr: &SocketAddr) -> io::Result<UdpSocket> {
        let socket = UdpSocket { fd: socket::socket(Domain::of(addr), SocketType::Datagram)?.into() };
        socket.bind(addr)?;
        Ok(socket)
    }

    /// Binds the socket to `addr`. `ErrorKind::AddrInUse` if another socket holds it.
    pub fn bind(&self, addr: &SocketAddr) -> io::Result<()> {
        socket::bind(self.fd.as_fd(), &RawSockAddr::from_inet(addr))
    }

    /// Takes over a `std::net::UdpSocket`, making it non-blocking.
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        let fd = OwnedFd::from(socket);
        socket::adopt(fd.as_fd())?;
        Ok(UdpSocket { fd: fd.into() })
    }

    /// The address the socket is bound to (the unspecified address and port 0 while unbound).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket::local_addr(self.fd.as_fd())?.to_inet()
    }

    /// A second handle to the same socket (a duplicated fd), belonging to the same
    /// selector as this one (see [`Evented`](crate::Evented)).
    ///
    /// Deregister the socket from a [`Poll`](crate::Poll) before dropping it while a clone
    /// lives: see [`Evented`](crate::Evented#dropping-a-registered-handle-while-a-clone-lives).
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        Ok(UdpSocket { fd: self.fd.try_clone()? })
    }

    /// Sends `buf` as one datagram to `target`: `Ok(Some(len))`, or `Ok(None)` if the
    /// socket's send buffer is full. An unbound socket is bound to an ephemeral port first
    /// (by the kernel).
    #[doc(alias = "sendto")]
    pub fn send_to(&self, buf: &[u8], target: &SocketAddr) -> io::Result<Option<usize>> {
        would_block_to_none(socket::send_to(self.fd.as_fd(), buf, &RawSockAddr::from_inet(target)))
    }

    /// Receives one datagram into `buf`: its length and sender, or `Ok(None)` if none is
    /// queued. A datagram longer than `buf` is truncated to it (the rest is discarded).
    #[doc(alias = "recvfrom")]
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<Option<(usize, SocketAddr)>> {
        match would_block_to_none(socket::recv_from(self.fd.as_fd(), buf))? {
            Some((len, from)) => Ok(Some((len, from.to_inet()?))),
            None => Ok(None),
        }
    }

    /// Allows (or forbids) sending to broadcast addresses (`SO_BROADCAST`).
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        socket::set_broadcast(self.fd.as_fd(), on)
    }

    /// Whether `SO_BROADCAST` is set.
    pub fn broadcast(&self) -> io::Result<bool> {
        socket::broadcast(self.fd.as_fd())
    }

    /// Joins the multicast group `group` on the default interface
    /// (`IP_ADD_MEMBERSHIP` / `IPV6_JOIN_GROUP`). The group's family must be the socket's;
    /// a non-multicast address or a kernel without multicast routing gives an `io::Error`.
    pub fn join_multicast(&self, group: &IpAddr) -> io::Result<()> {
        socket::multicast_membership(self.fd.as_fd(), group, true)
    }

    /// Leaves the multicast group `group` (`IP_DROP_MEMBERSHIP` / `IPV6_LEAVE_GROUP`).
    /// Leaving a group not joined gives an `io::Error`.
    pub fn leave_multicast(&self, group: &IpAddr) -> io::Result<()> {
        socket::multicast_membership(self.fd.as_fd(), group, false)
    }

    /// Whether multicast datagrams this socket sends are looped back to local members
    /// (`IP_MULTICAST_LOOP` / `IPV6_MULTICAST_LOOP`; on by default).
    pub fn set_multicast_loop(&self, on: bool) -> io::Result<()> {
        socket::set_multicast_loop(self.fd.as_fd(), self.domain()?, on)
    }

    /// Whether multicast loopback is on.
    pub fn multicast_loop(&self) -> io::Result<bool> {
        socket::multicast_loop(self.fd.as_fd(), self.domain()?)
    }

    /// The time to live (hop limit) of outgoing multicast datagrams
    /// (`IP_MULTICAST_TTL` / `IPV6_MULTICAST_HOPS`; 1 by default: the local network).
    /// `ErrorKind::InvalidInput` outside 0..=255.
    pub fn set_multicast_time_to_live(&self, ttl: i32) -> io::Result<()> {
        socket::set_multicast_ttl(self.fd.as_fd(), self.domain()?, ttl)
    }

    /// The multicast time to live (hop limit).
    pub fn multicast_time_to_live(&self) -> io::Result<i32> {
        socket::multicast_ttl(self.fd.as_fd(), self.domain()?)
    }

    /// Takes the socket's pending error (`SO_ERROR`), clearing it: `Ok(())` if there was
    /// none, else `Err(that error)`.
    pub fn take_socket_error(&self) -> io::Result<()> {
        super::error_as_result(socket::take_error(self.fd.as_fd()))
    }

    /// Takes the socket's pending error (`SO_ERROR`), clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        socket::take_error(self.fd.as_fd())
    }

    fn domain(&self) -> io::Result<Domain> {
        socket::domain(self.fd.as_fd())
    }
}

impl From<OwnedFd> for UdpSocket {
    /// Wraps a UDP socket fd as is; it should already be non-blocking.
    fn from(fd: OwnedFd) -> UdpSocket {
        UdpSocket { fd: fd.into() }
    }
}

impl From<UdpSocket> for OwnedFd {
    fn from(socket: UdpSocket) -> OwnedFd {
        socket.fd.into()
    }
}

impl From<std::net::UdpSocket> for UdpSocket {
    /// Takes over a `std::net::UdpSocket` and makes it non-blocking.
    ///
    /// Setting the flag cannot fail on an open socket; should it anyway, the socket is
    /// kept as is. Use [`UdpSocket::from_std`] to see such an error.
    fn from(socket: std::net::UdpSocket) -> UdpSocket {
        let fd = OwnedFd::from(socket);
        let adopted = socket::adopt(fd.as_fd());
        debug_assert!(adopted.is_ok(), "making an open socket non-blocking failed: {adopted:?}");
        UdpSocket { fd: fd.into() }
    }
}

crate::sys::fd_traits!(UdpSocket, fd);
crate::readiness::evented::evented_by_fd!(UdpSocket, fd);
crate::io::io_conversions!(UdpSocket, fd);

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("UdpSocket");
        out.field("fd", &self.fd.as_raw_fd());
        if let Ok(addr) = self.local_addr() {
            out.field("local_addr", &addr);
        }
        out.finish()
    }
}
