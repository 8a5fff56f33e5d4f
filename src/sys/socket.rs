//! Socket calls: creation, addresses, connection set-up, options, and the send/receive
//! calls (including `SCM_RIGHTS` fd passing), each turned into an `io::Result`.
//!
//! What this file guarantees to the layers above, on every OS:
//!
//! * every socket it returns is non-blocking and close-on-exec; where the kernel can set
//!   both in the creating call (`SOCK_NONBLOCK | SOCK_CLOEXEC`, `accept4`) it does, so no
//!   other thread's `fork` + `exec` can inherit the fd in between;
//! * no send raises `SIGPIPE`: sends pass `MSG_NOSIGNAL`, or on Apple systems (which lack
//!   it) the socket carries `SO_NOSIGPIPE` from birth. A send to a closed peer returns `EPIPE`;
//! * addresses cross the boundary as `std::net::SocketAddr` or
//!   `std::os::unix::net::SocketAddr`; malformed input (a Unix path too long or holding a
//!   NUL byte) is `ErrorKind::InvalidInput`, never a panic or a truncated address.
//!
//! Nothing here names `fcntl` flags or socket options above `sys`: each option the
//! networking types need has its own small function.

use super::bindings as c;
use super::{cvt, cvt_retry, fd};
use std::ffi::c_int;
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::{self, size_of, MaybeUninit};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;

/// The address family of a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Domain {
    Ipv4,
    Ipv6,
    Unix,
}

impl Domain {
    /// The family an IP socket address belongs to.
    pub(crate) fn of(addr: &SocketAddr) -> Domain {
        match addr {
            SocketAddr::V4(_) => Domain::Ipv4,
            SocketAddr::V6(_) => Domain::Ipv6,
        }
    }

    fn raw(self) -> c_int {
        match self {
            Domain::Ipv4 => c::AF_INET,
            Domain::Ipv6 => c::AF_INET6,
            Domain::Unix => c::AF_UNIX,
        }
    }
}

/// Stream or datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SocketType {
    Stream,
    Datagram,
}

impl SocketType {
    fn raw(self) -> c_int {
        match self {
            SocketType::Stream => c::SOCK_STREAM,
            SocketType::Datagram => c::SOCK_DGRAM,
        }
    }
}

cfg_atomic_flags! {
    /// Flags added to every send so that a closed peer gives `EPIPE`, not `SIGPIPE`.
    const SEND_FLAGS: c_int = c::MSG_NOSIGNAL;
    /// Flags for `recvmsg` so that received fds are close-on-exec from birth.
    const RECV_FD_FLAGS: c_int = c::MSG_CMSG_CLOEXEC;
}
cfg_apple! {
    use std::os::fd::AsFd;

    /// Apple sockets carry `SO_NOSIGPIPE` instead (set in `socket` and `accept`).
    const SEND_FLAGS: c_int = 0;
    /// Apple has no `MSG_CMSG_CLOEXEC`: received fds get `FD_CLOEXEC` right after `recvmsg`.
    const RECV_FD_FLAGS: c_int = 0;
}

/// The backlog `listen` is given: the system's `SOMAXCONN` (4096 on current Linux), which
/// the kernel further caps at `net.core.somaxconn`.
pub(crate) const LISTEN_BACKLOG: c_int = c::SOMAXCONN;

cfg_atomic_flags! {
    /// `socket(2)`, non-blocking and close-on-exec in the same call.
    pub(crate) fn socket(domain: Domain, ty: SocketType) -> io::Result<OwnedFd> {
        let flags = c::SOCK_NONBLOCK | c::SOCK_CLOEXEC;
        // SAFETY: plain integer arguments; the returned fd is owned by nobody else.
        let raw = cvt(unsafe { c::socket(domain.raw(), ty.raw() | flags, 0) })?;
        Ok(fd::owned(raw))
    }

    /// `socketpair(2)` of two connected Unix sockets, non-blocking and close-on-exec.
    pub(crate) fn socketpair(ty: SocketType) -> io::Result<(OwnedFd, OwnedFd)> {
        let mut fds: [c_int; 2] = [-1, -1];
        let flags = c::SOCK_NONBLOCK | c::SOCK_CLOEXEC;
        // SAFETY: `fds` has room for the two fds the kernel writes.
        cvt(unsafe { c::socketpair(c::AF_UNIX, ty.raw() | flags, 0, fds.as_mut_ptr()) })?;
        Ok((fd::owned(fds[0]), fd::owned(fds[1])))
    }

    /// `accept4(2)`: the accepted socket is non-blocking and close-on-exec from birth.
    pub(crate) fn accept(listener: BorrowedFd<'_>) -> io::Result<(OwnedFd, RawSockAddr)> {
        let mut addr = RawSockAddr::empty();
        let flags = c::SOCK_NONBLOCK | c::SOCK_CLOEXEC;
        // SAFETY: `addr` is a writable sockaddr_storage and `addr.len` its size; the
        // kernel writes at most that many bytes and the true length back into `len`.
        let raw = cvt_retry(|| unsafe { c::accept4(listener.as_raw_fd(), addr.as_mut_ptr(), &mut addr.len, flags) })?;
        Ok((fd::owned(raw), addr))
    }
}

cfg_apple! {
    /// `socket(2)`, then close-on-exec, non-blocking and `SO_NOSIGPIPE` by `fcntl`/`setsockopt`.
    pub(crate) fn socket(domain: Domain, ty: SocketType) -> io::Result<OwnedFd> {
        // SAFETY: plain integer arguments; the returned fd is owned by nobody else.
        let raw = cvt(unsafe { c::socket(domain.raw(), ty.raw(), 0) })?;
        let socket = fd::owned(raw);
        prepare_apple_socket(socket.as_fd())?;
        Ok(socket)
    }

    /// `socketpair(2)` of two connected Unix sockets, then the flags as in `socket`.
    pub(crate) fn socketpair(ty: SocketType) -> io::Result<(OwnedFd, OwnedFd)> {
        let mut fds: [c_int; 2] = [-1, -1];
        // SAFETY: `fds` has room for the two fds the kernel writes.
        cvt(unsafe { c::socketpair(c::AF_UNIX, ty.raw(), 0, fds.as_mut_ptr()) })?;
        let (a, b) = (fd::owned(fds[0]), fd::owned(fds[1]));
        prepare_apple_socket(a.as_fd())?;
        prepare_apple_socket(b.as_fd())?;
        Ok((a, b))
    }

    /// `accept(2)`, then the flags as in `socket`.
    pub(crate) fn accept(listener: BorrowedFd<'_>) -> io::Result<(OwnedFd, RawSockAddr)> {
        let mut addr = RawSockAddr::empty();
        // SAFETY: as for accept4 above.
        let raw = cvt_retry(|| unsafe { c::accept(listener.as_raw_fd(), addr.as_mut_ptr(), &mut addr.len) })?;
        let socket = fd::owned(raw);
        prepare_apple_socket(socket.as_fd())?;
        Ok((socket, addr))
    }

    fn prepare_apple_socket(socket: BorrowedFd<'_>) -> io::Result<()> {
        fd::set_cloexec(socket)?;
        fd::set_nonblocking(socket, true)?;
        set_no_sigpipe(socket)
    }
}

/// Makes a socket that came from elsewhere (a std type) safe for readyio: non-blocking,
/// and on Apple systems `SO_NOSIGPIPE`.
pub(crate) fn adopt(socket: BorrowedFd<'_>) -> io::Result<()> {
    fd::set_nonblocking(socket, true)?;
    set_no_sigpipe(socket)
}

cfg_atomic_flags! {
    fn set_no_sigpipe(_socket: BorrowedFd<'_>) -> io::Result<()> {
        // Sends pass MSG_NOSIGNAL instead.
        Ok(())
    }
}

cfg_apple! {
    fn set_no_sigpipe(socket: BorrowedFd<'_>) -> io::Result<()> {
        setsockopt(socket, c::SOL_SOCKET, c::SO_NOSIGPIPE, 1 as c_int)
    }
}

/// A socket address in the kernel's form: a `sockaddr_storage` and the length in use.
pub(crate) struct RawSockAddr {
    storage: c::sockaddr_storage,
    len: c::socklen_t,
}

impl std::fmt::Debug for RawSockAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawSockAddr").field("family", &self.family()).field("len", &self.len).finish()
    }
}

/// The `sockaddr_*` structs: plain old data that fits in `sockaddr_storage` and needs no
/// more alignment than it (which is what `sockaddr_storage` is defined for).
trait SockAddrStruct: Copy {}
impl SockAddrStruct for c::sockaddr_in {}
impl SockAddrStruct for c::sockaddr_in6 {}
impl SockAddrStruct for c::sockaddr_un {}

/// `offsetof(struct sockaddr_un, sun_path)`.
const SUN_PATH_OFFSET: usize = mem::offset_of!(c::sockaddr_un, sun_path);

impl RawSockAddr {
    /// All zeroes, with the full capacity as length: ready to be filled by the kernel.
    fn empty() -> RawSockAddr {
        RawSockAddr { storage: c::sockaddr_storage::default(), len: size_of::<c::sockaddr_storage>() as c::socklen_t }
    }

    /// Stores `value`, a `sockaddr_*` struct, at the start of the storage.
    fn with<T: SockAddrStruct>(value: T) -> RawSockAddr {
        let mut addr = RawSockAddr::empty();
        // SAFETY: sockaddr_storage is large enough for every sockaddr_* and aligned for all
        // of them, which is its purpose; `value` is plain old data.
        unsafe { ptr::write(ptr::addr_of_mut!(addr.storage).cast::<T>(), value) };
        addr.len = size_of::<T>() as c::socklen_t;
        addr
    }

    /// The kernel form of an IP socket address.
    pub(crate) fn from_inet(addr: &SocketAddr) -> RawSockAddr {
        match addr {
            SocketAddr::V4(v4) => {
                let sin = c::sockaddr_in {
                    #[cfg(not(any(target_os = "linux", target_os = "android")))]
                    sin_len: size_of::<c::sockaddr_in>() as u8,
                    sin_family: c::AF_INET as c::sa_family_t,
                    sin_port: v4.port().to_be(),
                    // s_addr holds the address in network byte order: the octets in order.
                    sin_addr: c::in_addr { s_addr: u32::from_ne_bytes(v4.ip().octets()) },
                    ..Default::default()
                };
                RawSockAddr::with(sin)
            }
            SocketAddr::V6(v6) => {
                let sin6 = c::sockaddr_in6 {
                    #[cfg(not(any(target_os = "linux", target_os = "android")))]
                    sin6_len: size_of::<c::sockaddr_in6>() as u8,
                    sin6_family: c::AF_INET6 as c::sa_family_t,
                    sin6_port: v6.port().to_be(),
                    sin6_flowinfo: v6.flowinfo().to_be(),
                    sin6_addr: in6_addr(v6.ip()),
                    sin6_scope_id: v6.scope_id(),
                };
                RawSockAddr::with(sin6)
            }
        }
    }

    /// The kernel form of a Unix socket path.
    ///
    /// A path whose first byte is NUL names a Linux abstract socket (the rest of the bytes,
    /// NULs included, are the name). Errors: `InvalidInput` if the path does not fit in
    /// `sun_path` with its terminating NUL, or if a pathname contains a NUL byte.
    pub(crate) fn from_unix_path(path: &Path) -> io::Result<RawSockAddr> {
        let bytes = path.as_os_str().as_bytes();
        let mut sun = c::sockaddr_un { sun_family: c::AF_UNIX as c::sa_family_t, ..Default::default() };
        let abstract_name = bytes.first() == Some(&0);
        if !abstract_name && bytes.contains(&0) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "Unix socket path contains a NUL byte"));
        }
        // A pathname needs room for its terminating NUL; an abstract name does not.
        let capacity = sun.sun_path.len() - usize::from(!abstract_name);
        if bytes.len() > capacity {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("Unix socket path is {} bytes long; at most {capacity} fit", bytes.len()),
            ));
        }
        if bytes.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "Unix socket path is empty"));
        }
        for (dst, src) in sun.sun_path.iter_mut().zip(bytes) {
            *dst = *src as _;
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            sun.sun_len = (SUN_PATH_OFFSET + bytes.len() + 1) as u8;
        }
        let mut addr = RawSockAddr::with(sun);
        addr.len = (SUN_PATH_OFFSET + bytes.len() + usize::from(!abstract_name)) as c::socklen_t;
        Ok(addr)
    }

    fn as_ptr(&self) -> *const c::sockaddr {
        ptr::addr_of!(self.storage).cast()
    }

    fn as_mut_ptr(&mut self) -> *mut c::sockaddr {
        ptr::addr_of_mut!(self.storage).cast()
    }

    fn family(&self) -> c_int {
        c_int::from(self.storage.ss_family)
    }

    /// Reads the storage as `T`, if the kernel filled at least `size_of::<T>()` bytes.
    fn read<T: SockAddrStruct>(&self) -> io::Result<T> {
        if (self.len as usize) < size_of::<T>() {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "socket address shorter than its family's"));
        }
        // SAFETY: the storage is at least as large and aligned as any sockaddr_* and `T`
        // is one of them: plain old data for which every bit pattern is valid.
        Ok(unsafe { ptr::read(ptr::addr_of!(self.storage).cast::<T>()) })
    }

    /// The IP socket address, or `InvalidInput` if this is not an IPv4/IPv6 address.
    pub(crate) fn to_inet(&self) -> io::Result<SocketAddr> {
        match self.family() {
            c::AF_INET => {
                let sin: c::sockaddr_in = self.read()?;
                let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
                Ok(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(sin.sin_port))))
            }
            c::AF_INET6 => {
                let sin6: c::sockaddr_in6 = self.read()?;
                // SAFETY: in6_addr is 16 bytes of address on every OS, whatever its field names.
                let octets: [u8; 16] = unsafe { mem::transmute(sin6.sin6_addr) };
                Ok(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(octets),
                    u16::from_be(sin6.sin6_port),
                    u32::from_be(sin6.sin6_flowinfo),
                    sin6.sin6_scope_id,
                )))
            }
            other => {
                Err(io::Error::new(io::ErrorKind::InvalidInput, format!("address family {other} is not IPv4 or IPv6")))
            }
        }
    }

    /// The Unix socket address (pathname, abstract name or unnamed).
    pub(crate) fn to_unix(&self) -> io::Result<std::os::unix::net::SocketAddr> {
        if self.family() != c::AF_UNIX {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a Unix socket address"));
        }
        let len = (self.len as usize).min(size_of::<c::sockaddr_un>());
        let path_len = len.saturating_sub(SUN_PATH_OFFSET);
        // SAFETY: sockaddr_un fits in the storage; reading it whole is fine since
        // `empty()` zeroed what the kernel did not write.
        let sun: c::sockaddr_un = unsafe { ptr::read(ptr::addr_of!(self.storage).cast()) };
        // `c_char` is `i8` on x86 and `u8` on ARM, POWER, RISC-V and s390x.
        #[allow(clippy::unnecessary_cast)]
        let path: Vec<u8> = sun.sun_path[..path_len].iter().map(|&b| b as u8).collect();
        match path.first() {
            None => std::os::unix::net::SocketAddr::from_pathname(""),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Some(0) => {
                #[cfg(target_os = "android")]
                use std::os::android::net::SocketAddrExt;
                #[cfg(target_os = "linux")]
                use std::os::linux::net::SocketAddrExt;
                std::os::unix::net::SocketAddr::from_abstract_name(&path[1..])
            }
            Some(_) => {
                let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
                std::os::unix::net::SocketAddr::from_pathname(Path::new(std::ffi::OsStr::from_bytes(&path[..end])))
            }
        }
    }
}

/// The kernel's `in6_addr` for `ip`.
fn in6_addr(ip: &Ipv6Addr) -> c::in6_addr {
    // SAFETY: in6_addr is 16 bytes of address in network order on every OS, whatever its
    // (OS-specific) union field names; any 16 bytes are a valid value.
    unsafe { mem::transmute::<[u8; 16], c::in6_addr>(ip.octets()) }
}

/// `bind(2)` to `addr`.
pub(crate) fn bind(socket: BorrowedFd<'_>, addr: &RawSockAddr) -> io::Result<()> {
    // SAFETY: `addr` points at `addr.len` initialised bytes of a sockaddr.
    cvt(unsafe { c::bind(socket.as_raw_fd(), addr.as_ptr(), addr.len) })?;
    Ok(())
}

/// `listen(2)` with `backlog` pending connections (the kernel may cap it).
pub(crate) fn listen(socket: BorrowedFd<'_>, backlog: c_int) -> io::Result<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { c::listen(socket.as_raw_fd(), backlog) })?;
    Ok(())
}

/// Starts a non-blocking `connect(2)`. Returns `Ok(true)` if the connection completed at
/// once, `Ok(false)` if it is in progress (`EINPROGRESS`): completion is then reported as
/// writability, and failure as an error event / [`take_error`].
pub(crate) fn connect(socket: BorrowedFd<'_>, addr: &RawSockAddr) -> io::Result<bool> {
    // SAFETY: `addr` points at `addr.len` initialised bytes of a sockaddr.
    match cvt(unsafe { c::connect(socket.as_raw_fd(), addr.as_ptr(), addr.len) }) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(c::EINPROGRESS) => Ok(false),
        // An interrupted connect continues in the background, like EINPROGRESS.
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether `err` says the socket was already connected (`EISCONN`).
pub(crate) fn is_already_connected(err: &io::Error) -> bool {
    err.raw_os_error() == Some(c::EISCONN)
}

/// `getsockname(2)`.
pub(crate) fn local_addr(socket: BorrowedFd<'_>) -> io::Result<RawSockAddr> {
    let mut addr = RawSockAddr::empty();
    // SAFETY: `addr` is writable for `addr.len` bytes; the kernel stores the true length.
    cvt(unsafe { c::getsockname(socket.as_raw_fd(), addr.as_mut_ptr(), &mut addr.len) })?;
    Ok(addr)
}

/// `getpeername(2)`.
pub(crate) fn peer_addr(socket: BorrowedFd<'_>) -> io::Result<RawSockAddr> {
    let mut addr = RawSockAddr::empty();
    // SAFETY: as in `local_addr`.
    cvt(unsafe { c::getpeername(socket.as_raw_fd(), addr.as_mut_ptr(), &mut addr.len) })?;
    Ok(addr)
}

/// The family of a socket, read from its (possibly unbound) local address.
pub(crate) fn domain(socket: BorrowedFd<'_>) -> io::Result<Domain> {
    match local_addr(socket)?.family() {
        c::AF_INET => Ok(Domain::Ipv4),
        c::AF_INET6 => Ok(Domain::Ipv6),
        c::AF_UNIX => Ok(Domain::Unix),
        other => Err(io::Error::new(io::ErrorKind::InvalidInput, format!("unsupported address family {other}"))),
    }
}

/// `shutdown(2)`.
pub(crate) fn shutdown(socket: BorrowedFd<'_>, how: Shutdown) -> io::Result<()> {
    let how = match how {
        Shutdown::Read => c::SHUT_RD,
        Shutdown::Write => c::SHUT_WR,
        Shutdown::Both => c::SHUT_RDWR,
    };
    // SAFETY: integer arguments only.
    cvt(unsafe { c::shutdown(socket.as_raw_fd(), how) })?;
    Ok(())
}

/// `setsockopt(2)` with a plain-old-data `value`.
fn setsockopt<T: Copy>(socket: BorrowedFd<'_>, level: c_int, name: c_int, value: T) -> io::Result<()> {
    // SAFETY: the pointer and length describe `value`, which lives for the whole call.
    cvt(unsafe {
        c::setsockopt(socket.as_raw_fd(), level, name, ptr::addr_of!(value).cast(), size_of::<T>() as c::socklen_t)
    })?;
    Ok(())
}

/// `getsockopt(2)` of an `int` option.
fn getsockopt_int(socket: BorrowedFd<'_>, level: c_int, name: c_int) -> io::Result<c_int> {
    let mut value = MaybeUninit::<c_int>::zeroed();
    let mut len = size_of::<c_int>() as c::socklen_t;
    // SAFETY: `value` is writable for `len` bytes; the kernel writes at most that many.
    cvt(unsafe { c::getsockopt(socket.as_raw_fd(), level, name, value.as_mut_ptr().cast(), &mut len) })?;
    // SAFETY: zero-initialised and possibly overwritten by the kernel: an int either way.
    Ok(unsafe { value.assume_init() })
}

fn flag(on: bool) -> c_int {
    c_int::from(on)
}

/// `SO_REUSEADDR`: lets a listener bind a port whose old connections are in TIME_WAIT.
pub(crate) fn set_reuse_address(socket: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    setsockopt(socket, c::SOL_SOCKET, c::SO_REUSEADDR, flag(on))
}

/// `SO_REUSEPORT`: lets several sockets bind the same address and port, each set before
/// its `bind`, and all owned by the same user. On Linux the kernel then spreads incoming
/// connections across the listeners (by a hash of the connection's addresses).
pub(crate) fn set_reuse_port(socket: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    setsockopt(socket, c::SOL_SOCKET, c::SO_REUSEPORT, flag(on))
}

/// Whether `SO_REUSEPORT` is set.
pub(crate) fn reuse_port(socket: BorrowedFd<'_>) -> io::Result<bool> {
    Ok(getsockopt_int(socket, c::SOL_SOCKET, c::SO_REUSEPORT)? != 0)
}

/// `SO_ERROR`: takes (and clears) the socket's pending error.
pub(crate) fn take_error(socket: BorrowedFd<'_>) -> io::Result<Option<io::Error>> {
    let code = getsockopt_int(socket, c::SOL_SOCKET, c::SO_ERROR)?;
    Ok((code != 0).then(|| io::Error::from_raw_os_error(code)))
}

/// `TCP_NODELAY`.
pub(crate) fn set_nodelay(socket: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    setsockopt(socket, c::IPPROTO_TCP, c::TCP_NODELAY, flag(on))
}

/// Reads `TCP_NODELAY`.
pub(crate) fn nodelay(socket: BorrowedFd<'_>) -> io::Result<bool> {
    Ok(getsockopt_int(socket, c::IPPROTO_TCP, c::TCP_NODELAY)? != 0)
}

/// `SO_KEEPALIVE`, and with `Some(seconds)` the idle time before the first probe
/// (`TCP_KEEPIDLE`, `TCP_KEEPALIVE` on Apple). `InvalidInput` if `seconds` is 0 or does
/// not fit an `int`.
pub(crate) fn set_keepalive(socket: BorrowedFd<'_>, idle_seconds: Option<u32>) -> io::Result<()> {
    let Some(seconds) = idle_seconds else {
        return setsockopt(socket, c::SOL_SOCKET, c::SO_KEEPALIVE, flag(false));
    };
    let seconds = c_int::try_from(seconds)
        .ok()
        .filter(|&s| s > 0)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "keepalive idle time must be 1..=i32::MAX s"))?;
    #[cfg(not(target_vendor = "apple"))]
    let idle_option = c::TCP_KEEPIDLE;
    #[cfg(target_vendor = "apple")]
    let idle_option = c::TCP_KEEPALIVE;
    setsockopt(socket, c::IPPROTO_TCP, idle_option, seconds)?;
    setsockopt(socket, c::SOL_SOCKET, c::SO_KEEPALIVE, flag(true))
}

/// Reads the keepalive setting back: `None` if off, else the idle seconds.
pub(crate) fn keepalive(socket: BorrowedFd<'_>) -> io::Result<Option<u32>> {
    if getsockopt_int(socket, c::SOL_SOCKET, c::SO_KEEPALIVE)? == 0 {
        return Ok(None);
    }
    #[cfg(not(target_vendor = "apple"))]
    let idle_option = c::TCP_KEEPIDLE;
    #[cfg(target_vendor = "apple")]
    let idle_option = c::TCP_KEEPALIVE;
    Ok(Some(getsockopt_int(socket, c::IPPROTO_TCP, idle_option)? as u32))
}

/// `SO_BROADCAST`.
pub(crate) fn set_broadcast(socket: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    setsockopt(socket, c::SOL_SOCKET, c::SO_BROADCAST, flag(on))
}

/// Reads `SO_BROADCAST`.
pub(crate) fn broadcast(socket: BorrowedFd<'_>) -> io::Result<bool> {
    Ok(getsockopt_int(socket, c::SOL_SOCKET, c::SO_BROADCAST)? != 0)
}

/// Joins (`join == true`) or leaves the multicast group `group` on the default interface:
/// `IP_ADD_MEMBERSHIP`/`IP_DROP_MEMBERSHIP` or `IPV6_JOIN_GROUP`/`IPV6_LEAVE_GROUP`.
pub(crate) fn multicast_membership(socket: BorrowedFd<'_>, group: &std::net::IpAddr, join: bool) -> io::Result<()> {
    match group {
        std::net::IpAddr::V4(v4) => {
            let mut request = c::ip_mreq::default();
            request.imr_multiaddr.s_addr = u32::from_ne_bytes(v4.octets());
            // INADDR_ANY: let the kernel pick the interface by route.
            request.imr_interface.s_addr = 0;
            let name = if join { c::IP_ADD_MEMBERSHIP } else { c::IP_DROP_MEMBERSHIP };
            setsockopt(socket, c::IPPROTO_IP, name, request)
        }
        std::net::IpAddr::V6(v6) => {
            let request = c::ipv6_mreq { ipv6mr_multiaddr: in6_addr(v6), ipv6mr_interface: 0 };
            let name = if join { c::IPV6_JOIN_GROUP } else { c::IPV6_LEAVE_GROUP };
            setsockopt(socket, c::IPPROTO_IPV6, name, request)
        }
    }
}

/// `IP_MULTICAST_LOOP` or `IPV6_MULTICAST_LOOP`, chosen by `domain`.
pub(crate) fn set_multicast_loop(socket: BorrowedFd<'_>, domain: Domain, on: bool) -> io::Result<()> {
    match domain {
        // Linux takes an int; the BSDs and Apple want an u_char for IPv4.
        Domain::Ipv4 => set_ipv4_byte_option(socket, c::IP_MULTICAST_LOOP, u8::from(on)),
        Domain::Ipv6 => setsockopt(socket, c::IPPROTO_IPV6, c::IPV6_MULTICAST_LOOP, flag(on)),
        Domain::Unix => Err(not_ip()),
    }
}

/// Reads `IP_MULTICAST_LOOP` or `IPV6_MULTICAST_LOOP`.
pub(crate) fn multicast_loop(socket: BorrowedFd<'_>, domain: Domain) -> io::Result<bool> {
    let value = match domain {
        Domain::Ipv4 => getsockopt_int(socket, c::IPPROTO_IP, c::IP_MULTICAST_LOOP)? & 0xff,
        Domain::Ipv6 => getsockopt_int(socket, c::IPPROTO_IPV6, c::IPV6_MULTICAST_LOOP)?,
        Domain::Unix => return Err(not_ip()),
    };
    Ok(value != 0)
}

/// `IP_MULTICAST_TTL` or `IPV6_MULTICAST_HOPS`, chosen by `domain`. `InvalidInput`
/// outside 0..=255.
pub(crate) fn set_multicast_ttl(socket: BorrowedFd<'_>, domain: Domain, ttl: i32) -> io::Result<()> {
    let ttl = u8::try_from(ttl)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "multicast time to live must be 0..=255"))?;
    match domain {
        Domain::Ipv4 => set_ipv4_byte_option(socket, c::IP_MULTICAST_TTL, ttl),
        Domain::Ipv6 => setsockopt(socket, c::IPPROTO_IPV6, c::IPV6_MULTICAST_HOPS, c_int::from(ttl)),
        Domain::Unix => Err(not_ip()),
    }
}

/// Reads `IP_MULTICAST_TTL` or `IPV6_MULTICAST_HOPS`.
pub(crate) fn multicast_ttl(socket: BorrowedFd<'_>, domain: Domain) -> io::Result<i32> {
    match domain {
        Domain::Ipv4 => Ok(getsockopt_int(socket, c::IPPROTO_IP, c::IP_MULTICAST_TTL)? & 0xff),
        Domain::Ipv6 => getsockopt_int(socket, c::IPPROTO_IPV6, c::IPV6_MULTICAST_HOPS),
        Domain::Unix => Err(not_ip()),
    }
}

/// The IPv4 multicast options take an `int` on Linux and an `u_char` elsewhere.
fn set_ipv4_byte_option(socket: BorrowedFd<'_>, name: c_int, value: u8) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return setsockopt(socket, c::IPPROTO_IP, name, c_int::from(value));
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    return setsockopt(socket, c::IPPROTO_IP, name, value);
}

fn not_ip() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "not an IP socket")
}

/// `send(2)` with `MSG_NOSIGNAL`: a closed peer gives `EPIPE`, never `SIGPIPE`.
#[inline]
pub(crate) fn send(socket: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: the pointer and length describe `buf`, valid for reads for the whole call.
    let n = cvt_retry(|| unsafe { c::send(socket.as_raw_fd(), buf.as_ptr().cast(), buf.len(), SEND_FLAGS) })?;
    Ok(n as usize)
}

/// `recv(2)` into `buf`.
#[inline]
pub(crate) fn recv(socket: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the pointer and length describe `buf`, valid for writes for the whole call.
    let n = cvt_retry(|| unsafe { c::recv(socket.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) })?;
    Ok(n as usize)
}

/// `sendto(2)` of one datagram to `addr`.
pub(crate) fn send_to(socket: BorrowedFd<'_>, buf: &[u8], addr: &RawSockAddr) -> io::Result<usize> {
    // SAFETY: `buf` is valid for reads of its length, `addr` for `addr.len` bytes.
    let n = cvt_retry(|| unsafe {
        c::sendto(socket.as_raw_fd(), buf.as_ptr().cast(), buf.len(), SEND_FLAGS, addr.as_ptr(), addr.len)
    })?;
    Ok(n as usize)
}

/// `recvfrom(2)` of one datagram, with the sender's address.
pub(crate) fn recv_from(socket: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<(usize, RawSockAddr)> {
    let mut addr = RawSockAddr::empty();
    // SAFETY: `buf` is valid for writes of its length; `addr` for `addr.len` bytes, and the
    // kernel stores the true address length in `addr.len`.
    let n = cvt_retry(|| unsafe {
        c::recvfrom(socket.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0, addr.as_mut_ptr(), &mut addr.len)
    })?;
    Ok((n as usize, addr))
}

/// `sendmsg(2)` of `bufs` with `MSG_NOSIGNAL`: a vectored write in one syscall that, unlike
/// `writev`, cannot raise `SIGPIPE`.
#[inline]
pub(crate) fn send_vectored(socket: BorrowedFd<'_>, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    let msg = c::msghdr {
        msg_iov: bufs.as_ptr() as *mut c::iovec,
        msg_iovlen: bufs.len().min(fd::MAX_IOVECS) as _,
        ..Default::default()
    };
    // SAFETY: `IoSlice` is ABI-compatible with `struct iovec`, and sendmsg only reads
    // through `msg_iov` (the `*mut` is C's signature, not a write); no name, no control data.
    let n = cvt_retry(|| unsafe { c::sendmsg(socket.as_raw_fd(), &msg, SEND_FLAGS) })?;
    Ok(n as usize)
}

/// `readv(2)`: a vectored read in one syscall.
#[inline]
pub(crate) fn recv_vectored(socket: BorrowedFd<'_>, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
    fd::readv(socket, bufs)
}

/// The control-message layout rules of `<sys/socket.h>` (`CMSG_ALIGN`, `CMSG_SPACE`,
/// `CMSG_LEN`, `CMSG_DATA`), written out because they are C macros bindgen cannot see.
mod cmsg {
    use super::c;
    use std::mem::size_of;

    /// Control data is aligned to `size_t` on Linux and the BSDs, to 4 bytes on Apple.
    #[cfg(not(target_vendor = "apple"))]
    const ALIGN: usize = size_of::<usize>();
    #[cfg(target_vendor = "apple")]
    const ALIGN: usize = 4;

    /// `CMSG_ALIGN(len)`.
    pub(super) const fn align(len: usize) -> usize {
        (len + ALIGN - 1) & !(ALIGN - 1)
    }

    /// Where the data starts after a header: `CMSG_DATA(cmsg) - (unsigned char *)cmsg`.
    pub(super) const HEADER: usize = align(size_of::<c::cmsghdr>());

    /// `CMSG_LEN(data_len)`: the value of `cmsg_len` for `data_len` bytes of data.
    pub(super) const fn len(data_len: usize) -> usize {
        HEADER + data_len
    }

    /// `CMSG_SPACE(data_len)`: the buffer room one message with `data_len` bytes takes.
    pub(super) const fn space(data_len: usize) -> usize {
        HEADER + align(data_len)
    }
}

/// How many fds one `recv_with_fd` can take in at most; extra fds a peer sends in the
/// same message are closed (we hand back only the first).
const MAX_RECEIVED_FDS: usize = 8;
const FD_SIZE: usize = size_of::<c_int>();

/// A control buffer aligned for `cmsghdr`.
#[repr(C, align(8))]
struct ControlBuffer<const N: usize>([u8; N]);

/// `sendmsg(2)` of `bufs` (one syscall however many there are, up to `MAX_IOVECS`) with one
/// fd attached as `SCM_RIGHTS`. The kernel duplicates `passed` into the receiver; the
/// caller keeps its own copy.
pub(crate) fn send_with_fd(socket: BorrowedFd<'_>, bufs: &[IoSlice<'_>], passed: RawFd) -> io::Result<usize> {
    const SPACE: usize = cmsg::space(FD_SIZE);
    let mut control = ControlBuffer([0u8; SPACE]);
    // glibc's cmsghdr ends in a flexible array member that needs the update; the BSDs' and
    // macOS's has no other field.
    #[allow(clippy::needless_update)]
    let header = c::cmsghdr {
        cmsg_len: cmsg::len(FD_SIZE) as _,
        cmsg_level: c::SOL_SOCKET,
        cmsg_type: c::SCM_RIGHTS,
        ..Default::default()
    };
    // SAFETY: the buffer holds SPACE >= HEADER + FD_SIZE bytes and is aligned for cmsghdr;
    // the header and the fd are plain old data written within it.
    unsafe {
        ptr::write(control.0.as_mut_ptr().cast::<c::cmsghdr>(), header);
        ptr::write_unaligned(control.0.as_mut_ptr().add(cmsg::HEADER).cast::<c_int>(), passed);
    }
    let msg = c::msghdr {
        msg_iov: bufs.as_ptr() as *mut c::iovec,
        msg_iovlen: bufs.len().min(fd::MAX_IOVECS) as _,
        msg_control: control.0.as_mut_ptr().cast(),
        msg_controllen: SPACE as _,
        ..Default::default()
    };
    // SAFETY: `IoSlice` is ABI-compatible with `struct iovec` and sendmsg only reads through
    // `msg_iov` (describing `bufs`); `msg` also points at `control`. All outlive the call.
    let n = cvt_retry(|| unsafe { c::sendmsg(socket.as_raw_fd(), &msg, SEND_FLAGS) })?;
    Ok(n as usize)
}

/// `recvmsg(2)` into `buf`, taking in an fd passed as `SCM_RIGHTS` if one came with the
/// data. Received fds are close-on-exec (`MSG_CMSG_CLOEXEC`, or `fcntl` right after on
/// Apple). If a message carried several fds, all but the first are closed.
pub(crate) fn recv_with_fd(socket: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<(usize, Option<OwnedFd>)> {
    const SPACE: usize = cmsg::space(FD_SIZE * MAX_RECEIVED_FDS);
    let mut control = ControlBuffer([0u8; SPACE]);
    let mut iov = c::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    let mut msg = c::msghdr {
        msg_iov: &mut iov,
        msg_iovlen: 1,
        msg_control: control.0.as_mut_ptr().cast(),
        msg_controllen: SPACE as _,
        ..Default::default()
    };
    // SAFETY: `msg` points at `iov` (describing `buf`, valid for writes) and at `control`
    // (SPACE writable bytes); the kernel writes within them and updates the lengths.
    let n = cvt_retry(|| unsafe { c::recvmsg(socket.as_raw_fd(), &mut msg, RECV_FD_FLAGS) })?;

    let mut received: Option<OwnedFd> = None;
    // msg_controllen is a size_t on Linux and a socklen_t on the BSDs.
    #[allow(clippy::unnecessary_cast)]
    let filled = (msg.msg_controllen as usize).min(SPACE);
    let mut offset = 0;
    while offset + cmsg::HEADER <= filled {
        // SAFETY: a whole header lies within the buffer at `offset` (checked above).
        let header: c::cmsghdr = unsafe { ptr::read_unaligned(control.0.as_ptr().add(offset).cast()) };
        let message_len = header.cmsg_len as usize;
        if message_len < cmsg::HEADER || offset + message_len > filled {
            break;
        }
        if header.cmsg_level == c::SOL_SOCKET && header.cmsg_type == c::SCM_RIGHTS {
            let count = (message_len - cmsg::HEADER) / FD_SIZE;
            for i in 0..count {
                let at = offset + cmsg::HEADER + i * FD_SIZE;
                // SAFETY: `at + FD_SIZE <= offset + message_len <= filled`.
                let raw: c_int = unsafe { ptr::read_unaligned(control.0.as_ptr().add(at).cast()) };
                // The kernel installed this fd in our table for us: we own it. Any fd past
                // the first is closed by dropping it.
                let owned = fd::owned(raw);
                if received.is_none() {
                    received = Some(owned);
                }
            }
        }
        offset += cmsg::align(message_len);
    }
    // The data is consumed by now, so a failure here must not turn into an error that
    // loses it; F_SETFD cannot fail on an fd the kernel just installed anyway.
    #[cfg(target_vendor = "apple")]
    if let Some(received) = &received {
        let result = fd::set_cloexec(received.as_fd());
        debug_assert!(result.is_ok(), "FD_CLOEXEC on a received fd failed: {result:?}");
    }
    Ok((n as usize, received))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sockaddr_struct_fits_in_the_storage() {
        fn fits<T: SockAddrStruct>() {
            assert!(size_of::<T>() <= size_of::<c::sockaddr_storage>());
            assert!(mem::align_of::<T>() <= mem::align_of::<c::sockaddr_storage>());
        }
        fits::<c::sockaddr_in>();
        fits::<c::sockaddr_in6>();
        fits::<c::sockaddr_un>();
    }

    #[test]
    fn cmsg_arithmetic_matches_the_libc_crate() {
        for data_len in [0usize, 1, 4, 8, 12, 32, 33] {
            // SAFETY: CMSG_SPACE and CMSG_LEN are pure computations.
            let (space, len) = unsafe { (libc::CMSG_SPACE(data_len as u32), libc::CMSG_LEN(data_len as u32)) };
            assert_eq!(cmsg::space(data_len), space as usize, "CMSG_SPACE({data_len})");
            assert_eq!(cmsg::len(data_len), len as usize, "CMSG_LEN({data_len})");
        }
    }

    #[test]
    fn inet_addresses_round_trip_through_the_kernel_form() {
        let addrs = [
            "127.0.0.1:80".parse().unwrap(),
            "10.1.2.3:65535".parse().unwrap(),
            SocketAddr::V6(SocketAddrV6::new("fe80::1:2".parse().unwrap(), 443, 0x12345, 7)),
            "[::1]:1".parse().unwrap(),
        ];
        for addr in addrs {
            assert_eq!(RawSockAddr::from_inet(&addr).to_inet().unwrap(), addr);
        }
    }

    #[test]
    fn unix_path_limits_leave_room_for_the_nul() {
        let capacity = mem::size_of::<c::sockaddr_un>() - SUN_PATH_OFFSET;
        let fits = "p".repeat(capacity - 1);
        let addr = RawSockAddr::from_unix_path(Path::new(&fits)).unwrap();
        assert_eq!(addr.to_unix().unwrap().as_pathname(), Some(Path::new(&fits)));
        let too_long = "p".repeat(capacity);
        let error = RawSockAddr::from_unix_path(Path::new(&too_long)).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn abstract_names_may_fill_sun_path() {
        use std::os::linux::net::SocketAddrExt;
        let capacity = mem::size_of::<c::sockaddr_un>() - SUN_PATH_OFFSET;
        let name = format!("\0{}", "a".repeat(capacity - 1));
        let addr = RawSockAddr::from_unix_path(Path::new(&name)).unwrap();
        assert_eq!(addr.to_unix().unwrap().as_abstract_name(), Some(&name.as_bytes()[1..]));
    }

    #[test]
    fn a_unix_address_is_not_an_inet_one() {
        let addr = RawSockAddr::from_unix_path(Path::new("/tmp/x")).unwrap();
        assert_eq!(addr.to_inet().unwrap_err().kind(), io::ErrorKind::InvalidInput);
        let addr = RawSockAddr::from_inet(&"127.0.0.1:1".parse().unwrap());
        assert_eq!(addr.to_unix().unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }
}
