//! UDP on real loopback sockets: datagrams over IPv4 and IPv6, options (broadcast,
//! multicast membership, loop and TTL), errors and conversions from std.

use readyio::udp::UdpSocket;
use readyio::{EventSet, Poll, PollOpt, Token};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const RECEIVER: Token = Token(1);

fn v4() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn v6() -> SocketAddr {
    "[::1]:0".parse().unwrap()
}

/// Receives one datagram, waiting for it with a poll, for at most 5 s.
fn receive(socket: &UdpSocket, buf: &mut [u8]) -> (usize, SocketAddr) {
    let mut poll = Poll::new().unwrap();
    poll.register(socket, RECEIVER, EventSet::readable(), PollOpt::level()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(datagram) = socket.recv_from(buf).unwrap() {
            return datagram;
        }
        assert!(Instant::now() < deadline, "no datagram within 5 s");
        poll.poll_timeout(Some(Duration::from_millis(100))).unwrap();
    }
}

fn datagram_round_trip(addr: SocketAddr) {
    let receiver = UdpSocket::bound(&addr).unwrap();
    let sender = UdpSocket::bound(&addr).unwrap();
    let target = receiver.local_addr().unwrap();

    let mut poll = Poll::new().unwrap();
    poll.register(&receiver, RECEIVER, EventSet::readable(), PollOpt::edge()).unwrap();
    assert_eq!(sender.send_to(b"datagram", &target).unwrap(), Some(8));

    let deadline = Instant::now() + Duration::from_secs(5);
    while !poll.events().any(|e| e.token == RECEIVER && e.kind.is_readable()) {
        assert!(Instant::now() < deadline, "receiver never became readable");
        poll.poll_timeout(Some(Duration::from_millis(100))).unwrap();
    }
    let mut buf = [0u8; 64];
    let (len, from) = receiver.recv_from(&mut buf).unwrap().expect("a queued datagram");
    assert_eq!(&buf[..len], b"datagram");
    assert_eq!(from, sender.local_addr().unwrap());
}

#[test]
fn datagrams_travel_over_ipv4() {
    datagram_round_trip(v4());
}

#[test]
fn datagrams_travel_over_ipv6() {
    datagram_round_trip(v6());
}

#[test]
fn unbound_sockets_send_from_an_ephemeral_port() {
    let receiver = UdpSocket::bound(&v6()).unwrap();
    let sender = UdpSocket::v6().unwrap();
    assert_eq!(sender.local_addr().unwrap().port(), 0);
    sender.send_to(b"x", &receiver.local_addr().unwrap()).unwrap();
    let (_, from) = receive(&receiver, &mut [0u8; 8]);
    assert_ne!(from.port(), 0);
    assert_eq!(sender.local_addr().unwrap().port(), from.port());
}

#[test]
fn bind_after_creation_takes_the_address() {
    let socket = UdpSocket::v4().unwrap();
    socket.bind(&v4()).unwrap();
    let addr = socket.local_addr().unwrap();
    assert_eq!(addr.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_ne!(addr.port(), 0);
}

#[test]
fn recv_from_returns_none_when_nothing_is_queued() {
    let socket = UdpSocket::bound(&v4()).unwrap();
    assert!(socket.recv_from(&mut [0u8; 16]).unwrap().is_none());
}

#[test]
fn binding_an_address_in_use_returns_addr_in_use() {
    let first = UdpSocket::bound(&v4()).unwrap();
    let error = UdpSocket::bound(&first.local_addr().unwrap()).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
}

#[test]
fn long_datagrams_are_truncated_to_the_buffer() {
    let receiver = UdpSocket::bound(&v4()).unwrap();
    let sender = UdpSocket::v4().unwrap();
    sender.send_to(b"0123456789", &receiver.local_addr().unwrap()).unwrap();
    let mut buf = [0u8; 4];
    let (len, _) = receive(&receiver, &mut buf);
    assert_eq!(len, 4);
    assert_eq!(&buf, b"0123");
    // The rest of the datagram is gone, not delivered as another one.
    assert!(receiver.recv_from(&mut buf).unwrap().is_none());
}

#[test]
fn sending_to_the_other_family_is_a_clean_error() {
    let socket = UdpSocket::v4().unwrap();
    let error = socket.send_to(b"x", &"[::1]:9".parse().unwrap()).unwrap_err();
    assert!(error.raw_os_error().is_some(), "{error:?}");
}

#[test]
fn broadcast_option_gates_sending_to_a_broadcast_address() {
    let socket = UdpSocket::bound(&"0.0.0.0:0".parse().unwrap()).unwrap();
    assert!(!socket.broadcast().unwrap());
    // 127.255.255.255 is the loopback network's broadcast address.
    let broadcast: SocketAddr =
        SocketAddr::new(Ipv4Addr::new(127, 255, 255, 255).into(), socket.local_addr().unwrap().port());
    let error = socket.send_to(b"all", &broadcast).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::PermissionDenied, "{error:?}");

    socket.set_broadcast(true).unwrap();
    assert!(socket.broadcast().unwrap());
    assert_eq!(socket.send_to(b"all", &broadcast).unwrap(), Some(3));
    let mut buf = [0u8; 8];
    let (len, _) = receive(&socket, &mut buf);
    assert_eq!(&buf[..len], b"all");

    socket.set_broadcast(false).unwrap();
    assert!(!socket.broadcast().unwrap());
}

#[test]
fn ipv4_multicast_join_send_receive_and_leave() {
    let group = Ipv4Addr::new(239, 255, 42, 99);
    let receiver = UdpSocket::bound(&"0.0.0.0:0".parse().unwrap()).unwrap();
    let port = receiver.local_addr().unwrap().port();
    match receiver.join_multicast(&IpAddr::V4(group)) {
        Ok(()) => {}
        // A kernel with no multicast-capable route refuses with ENODEV, a clean error. Any
        // other error fails: EINVAL, for one, is what a group the kernel receives in the
        // wrong byte order (99.42.255.239, not multicast) gets.
        Err(error) if error.raw_os_error() == Some(libc::ENODEV) => {
            eprintln!("kernel refused the IPv4 multicast join: {error}");
            return;
        }
        Err(error) => panic!("joining {group} failed: {error}"),
    }
    let sender = UdpSocket::v4().unwrap();
    sender.set_multicast_loop(true).unwrap();
    sender.set_multicast_time_to_live(1).unwrap();
    sender.send_to(b"group", &SocketAddr::new(group.into(), port)).unwrap();
    let mut buf = [0u8; 8];
    let (len, _) = receive(&receiver, &mut buf);
    assert_eq!(&buf[..len], b"group");

    receiver.leave_multicast(&IpAddr::V4(group)).unwrap();
    // Leaving twice: not a member any more.
    assert!(receiver.leave_multicast(&IpAddr::V4(group)).is_err());
}

#[test]
fn ipv6_multicast_join_and_leave_are_clean() {
    let group: Ipv6Addr = "ff02::1:4242".parse().unwrap();
    let socket = UdpSocket::bound(&"[::]:0".parse().unwrap()).unwrap();
    match socket.join_multicast(&IpAddr::V6(group)) {
        Ok(()) => {
            socket.leave_multicast(&IpAddr::V6(group)).unwrap();
        }
        Err(error) => {
            assert!(error.raw_os_error().is_some(), "{error:?}");
            eprintln!("kernel refused the IPv6 multicast join: {error}");
        }
    }
}

#[test]
fn joining_a_non_multicast_address_is_an_error() {
    let socket = UdpSocket::bound(&"0.0.0.0:0".parse().unwrap()).unwrap();
    let error = socket.join_multicast(&IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap_err();
    assert!(error.raw_os_error().is_some(), "{error:?}");
    let error = socket.join_multicast(&IpAddr::V6(Ipv6Addr::LOCALHOST)).unwrap_err();
    assert!(error.raw_os_error().is_some(), "{error:?}");
}

#[test]
fn multicast_loop_and_ttl_round_trip_on_both_families() {
    for socket in [UdpSocket::v4().unwrap(), UdpSocket::v6().unwrap()] {
        assert!(socket.multicast_loop().unwrap(), "loop is on by default");
        socket.set_multicast_loop(false).unwrap();
        assert!(!socket.multicast_loop().unwrap());
        socket.set_multicast_loop(true).unwrap();
        assert!(socket.multicast_loop().unwrap());

        socket.set_multicast_time_to_live(7).unwrap();
        assert_eq!(socket.multicast_time_to_live().unwrap(), 7);
        socket.set_multicast_time_to_live(0).unwrap();
        assert_eq!(socket.multicast_time_to_live().unwrap(), 0);
    }
}

#[test]
fn out_of_range_multicast_ttl_is_invalid_input() {
    let socket = UdpSocket::v4().unwrap();
    assert_eq!(socket.set_multicast_time_to_live(256).unwrap_err().kind(), io::ErrorKind::InvalidInput);
    assert_eq!(socket.set_multicast_time_to_live(-1).unwrap_err().kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn std_sockets_convert_and_become_non_blocking() {
    let std_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = std_socket.local_addr().unwrap();
    let socket = UdpSocket::from(std_socket);
    assert_eq!(socket.local_addr().unwrap(), addr);
    assert!(socket.recv_from(&mut [0u8; 4]).unwrap().is_none(), "a blocking socket would hang here");

    let socket = UdpSocket::from_std(std::net::UdpSocket::bind("[::1]:0").unwrap()).unwrap();
    assert!(socket.recv_from(&mut [0u8; 4]).unwrap().is_none());
}

#[test]
fn clones_share_the_socket() {
    let socket = UdpSocket::bound(&v4()).unwrap();
    let clone = socket.try_clone().unwrap();
    assert_ne!(clone.as_raw_fd(), socket.as_raw_fd());
    assert_eq!(clone.local_addr().unwrap(), socket.local_addr().unwrap());
    UdpSocket::v4().unwrap().send_to(b"c", &socket.local_addr().unwrap()).unwrap();
    let (len, _) = receive(&clone, &mut [0u8; 4]);
    assert_eq!(len, 1);
    assert!(socket.take_error().unwrap().is_none());
    socket.take_socket_error().unwrap();
}

#[test]
fn debug_shows_fd_and_address() {
    let socket = UdpSocket::bound(&v6()).unwrap();
    let text = format!("{socket:?}");
    assert!(text.contains(&format!("fd: {}", socket.as_raw_fd())), "{text}");
    assert!(text.contains(&socket.local_addr().unwrap().to_string()), "{text}");
}

#[test]
fn udp_socket_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<UdpSocket>();
}

#[test]
fn udp_sockets_are_non_blocking_and_cloexec() {
    for socket in [UdpSocket::v4().unwrap(), UdpSocket::v6().unwrap(), UdpSocket::bound(&v4()).unwrap()] {
        // SAFETY: F_GETFL and F_GETFD only read the flags of an open fd we borrow.
        let (status, descriptor) =
            unsafe { (libc::fcntl(socket.as_raw_fd(), libc::F_GETFL), libc::fcntl(socket.as_raw_fd(), libc::F_GETFD)) };
        assert!(status & libc::O_NONBLOCK != 0);
        assert!(descriptor & libc::FD_CLOEXEC != 0);
    }
}
